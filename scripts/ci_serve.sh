#!/usr/bin/env bash
# What the `kgfm serve` tests need beyond scripts/setup.sh, installed idempotently:
#   * Debian's chromium (apt) for the page test in headless Chromium (Playwright drives it through
#     executable_path; `playwright install` is never run, no browser is downloaded);
#   * the .venv with the [dev] extra (fastapi, uvicorn, httpx, playwright) via scripts/setup.sh.
# Usage:  bash scripts/ci_serve.sh          # install only (then the suite runs tests/serve too)
#         bash scripts/ci_serve.sh --test   # install, then run tests/serve with chromium required
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "[ci_serve] installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q chromium
fi
echo "[ci_serve] $(chromium --version 2>/dev/null || echo 'chromium: version unknown')"
source scripts/setup.sh
.venv/bin/python -c "import fastapi, uvicorn, httpx, playwright.sync_api, fastapi_offline" \
  || .venv/bin/python -m pip install -q "fastapi>=0.110" "uvicorn>=0.29" "httpx>=0.27" "playwright>=1.40" "fastapi-offline>=1.7"
echo "[ci_serve] python deps ok: $(.venv/bin/python -c 'import fastapi, uvicorn; print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)')"
if [ "${1:-}" = "--test" ]; then
  KGFM_REQUIRE_CHROMIUM=1 exec .venv/bin/python -m pytest -q -p no:cacheprovider tests/serve
fi
