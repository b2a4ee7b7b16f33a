#!/usr/bin/env bash
# The test suite: installs what it needs (scripts/setup.sh), then runs pytest.
# Neo4j tests run only when KGFM_NEO4J_URI (+ KGFM_NEO4J_USER, KGFM_NEO4J_PASSWORD) is set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
