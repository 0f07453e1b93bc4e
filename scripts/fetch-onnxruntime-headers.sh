#!/usr/bin/env bash
# Obtain the ONNX Runtime C/C++ API headers without installing anything system-wide: download
# Debian's libonnxruntime-dev package (trixie, headers of API version 21, compatible with newer
# runtimes) with a private apt state directory and extract only its headers into
# .deps/onnxruntime/usr/include/onnxruntime. Idempotent. Needs network access, apt-get and dpkg-deb.
#
# This is the last resort of cmake/FindOrtHeaders.cmake. Elsewhere (AlmaLinux, conda, LCG) point
# the build at existing headers instead, e.g. from an ONNX Runtime release tarball:
#   pip install . -Ccmake.define.ONNXRUNTIME_INCLUDE_DIR=/path/to/onnxruntime-linux-x64-1.21.0/include
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/.deps/onnxruntime"
if [[ -f "$dest/usr/include/onnxruntime/onnxruntime_c_api.h" ]]; then
  echo "ONNX Runtime headers already in $dest"; exit 0
fi
for tool in apt-get dpkg-deb; do
  if ! command -v "$tool" >/dev/null; then
    echo "fetch-onnxruntime-headers.sh: '$tool' not found (not a Debian-like system). Point the build at" \
      "ONNX Runtime headers instead: ONNXRUNTIME_INCLUDE_DIR=<folder with onnxruntime_c_api.h> or" \
      "ONNXRUNTIME_ROOT=<install prefix> (see README, 'Building elsewhere')." >&2
    exit 1
  fi
done
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$work/sources.list"
apt_opts=(-q -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
  -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work" && apt-get "${apt_opts[@]}" download libonnxruntime-dev >/dev/null)
deb="$(ls "$work"/libonnxruntime-dev_*.deb)"
mkdir -p "$work/x" "$dest/usr/include"
dpkg-deb -x "$deb" "$work/x"
cp -r "$work/x/usr/include/onnxruntime" "$dest/usr/include/"
echo "ONNX Runtime headers from $(basename "$deb") in $dest/usr/include/onnxruntime"
