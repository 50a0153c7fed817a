#!/usr/bin/env bash
# Airflow in its own virtual environment (.venv-airflow), so its dependencies never touch jupyterlab and moto in the
# project's .venv. Pinned: apache-airflow and the papermill provider by version, everything else by the constraints
# file next to the DAG (Airflow's documented way to pin; ours was frozen from a resolved install because Airflow's
# published constraints are not reachable from here — only PyPI is). Then the project's .venv is registered as the
# Jupyter kernel `bluegreen-runbook` inside .venv-airflow, which is where the DAG's papermill tasks find it.
# Idempotent: a stamp of the pins skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

AIRFLOW_VERSION=3.3.2
PAPERMILL_PROVIDER_VERSION=3.13.3
CONSTRAINTS=orchestration/airflow/constraints-${AIRFLOW_VERSION}-py3.11.txt
PY=${PYTHON:-python3}

[ -x .venv/bin/python ] || bash scripts/setup.sh     # the kernel is the project's interpreter
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
  echo "scripts/airflow-env.sh: $CONSTRAINTS pins packages for CPython 3.11; this is $("$PY" -V). Use a 3.11" \
       "interpreter (PYTHON=python3.11 bash scripts/airflow-env.sh) or regenerate the constraints file." >&2
  exit 1
}
if [ ! -x .venv-airflow/bin/python ]; then
  "$PY" -m venv .venv-airflow
fi
stamp=.venv-airflow/.installed-$(cat "$CONSTRAINTS" | sha256sum | cut -c1-16)-${AIRFLOW_VERSION}-${PAPERMILL_PROVIDER_VERSION}
if [ ! -f "$stamp" ]; then
  started=$(date +%s)
  .venv-airflow/bin/python -m pip install -q --upgrade pip >&2
  .venv-airflow/bin/python -m pip install -q -c "$CONSTRAINTS" \
    "apache-airflow==${AIRFLOW_VERSION}" "apache-airflow-providers-papermill==${PAPERMILL_PROVIDER_VERSION}" >&2
  rm -f .venv-airflow/.installed-*
  touch "$stamp"
  echo "Airflow ${AIRFLOW_VERSION} installed in .venv-airflow in $(( $(date +%s) - started )) s" >&2
fi
# The project's interpreter as a kernel papermill (running in .venv-airflow) can start: kernel.json's argv is the
# absolute path of .venv/bin/python, so the notebooks import runbook_lib exactly as under `runbook run`.
.venv/bin/python -m ipykernel install --prefix "$PWD/.venv-airflow" --name bluegreen-runbook \
  --display-name "bluegreen-runbook (.venv)" >/dev/null 2>&1   # (it warns that .venv-airflow is not on its own path)
echo "$PWD/.venv-airflow"
