#!/usr/bin/env bash
# Create (or update) the project virtual environment .venv with everything rooeft needs:
# PyTorch 2.13.0 (CPU), the pinned dependencies, the test tools, and rooeft itself (which builds
# libRooEFT; the ONNX Runtime headers are fetched into .deps/ on first build). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/pip install -q "torch==2.13.0"
# extras: ROOEFT_EXTRAS=train,test,dev adds the pre-commit tools (.pre-commit-config.yaml)
.venv/bin/pip install -q ".[${ROOEFT_EXTRAS:-train,test}]"
echo "rooeft $(.venv/bin/python -c 'import rooeft; print(rooeft.__version__)') installed in $here/.venv"
