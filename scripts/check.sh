#!/usr/bin/env bash
# Every check of the project, as CI runs them (.ci/run, after scripts/setup.sh): lint (ruff check),
# formatting (ruff format --check), static types (mypy, strict, on python/rooeft), then the test
# suite (pytest; arguments are passed on, e.g. `bash scripts/check.sh -m "not slow"`).
# All four run even if one fails, so one run reports everything; the exit code is non-zero if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=.venv/bin
failed=()
step() {
  local name="$1"
  shift
  echo "== $name: $*"
  "$@" || failed+=("$name")
}
step "ruff check" "$bin/ruff" check .
step "ruff format" "$bin/ruff" format --check .
step "mypy" "$bin/mypy"
step "pytest" "$bin/python" -m pytest "$@"
if ((${#failed[@]})); then
  echo "scripts/check.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "scripts/check.sh: all checks passed"
