#!/usr/bin/env bash
# Set up auralign on a fresh machine: .venv, the CPU build of torch first (a looser torch spec would
# pull several GB of CUDA), then the package with its dev extras, then the pretrained backbones.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -e '.[dev]'
.venv/bin/auralign models fetch
