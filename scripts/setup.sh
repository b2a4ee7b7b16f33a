#!/usr/bin/env bash
# Create .venv and install kgfm with its test extras. Idempotent; sourced by demo.sh and test.sh.
# KGFM_TORCH picks the torch requirement installed first (default torch==2.13.0, the CPU build
# cached on the project's machines; e.g. KGFM_TORCH="torch>=2.2" elsewhere).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing ${KGFM_TORCH:-torch==2.13.0}"
  .venv/bin/python -m pip install -q "${KGFM_TORCH:-torch==2.13.0}"
fi
stamp=.venv/.kgfm-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing kgfm and its dependencies into .venv"
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
