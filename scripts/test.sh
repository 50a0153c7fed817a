#!/usr/bin/env bash
# Set up, then run the test suite (real moto server over HTTP, real MariaDB servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
