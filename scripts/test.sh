#!/usr/bin/env bash
# Set up, then run the test suite (real moto server over HTTP, real MariaDB and PostgreSQL servers, Chromium).
# The whole suite by default; the fast tier with:  bash scripts/test.sh -m "not full"
# Test files run in parallel (one lab per worker): RUNBOOK_TEST_WORKERS=1 runs them one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -n "${RUNBOOK_TEST_WORKERS:-2}" --dist loadfile "$@"
