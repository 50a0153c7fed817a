#!/usr/bin/env bash
# The main job: set up, then run the whole runbook headless in lab mode. The last line is the run folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/runbook run --params "${1:-parameters/lab.yaml}"
