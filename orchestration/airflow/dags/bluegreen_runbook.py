"""The runbook for one database per DAG run: the same notebooks `runbook run` executes, one papermill task per step.

Trigger with conf {"params_file": "/abs/path/to/params.yaml"} (and optionally "keep_lab": true). Airflow runs in its
own virtual environment (.venv-airflow, scripts/airflow-env.sh); everything that needs runbook_lib runs with the
project's interpreter: the notebooks in the `bluegreen-runbook` Jupyter kernel (the project's .venv, registered into
.venv-airflow by the set-up script), and `prepare` / `seal` / `verdict` as commands of the project's .venv.

- prepare: validates the parameters, resets the lab (lab mode), refuses when an unsealed run of the same deployment is
  open, creates the run folder; its last output line (the folder) is the XCom every later task reads.
- 01 … 06: PapermillOperator, injecting params_file, run_dir and run_id exactly as runbook_lib/runner.py does. Each
  step's kernel takes the deployment's lock while it runs. Retries: 1 for read-only/idempotent steps (01, 02, 04),
  0 for the destructive ones (03 upgrade, 05 switchover, 06 delete): a person looks before they run again.
- seal: `runbook audit seal RUN_DIR`, whatever happened before (trigger_rule all_done).
- verdict: fails the DAG run unless the sealed record verifies and says `succeeded`.

Concurrency across databases: every step task takes one slot of the pool `bluegreen_runbook`
(`airflow pools set bluegreen_runbook N "..."`), so at most N steps of any databases run at once.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.papermill.operators.papermill import PapermillOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

HOME = Path(os.environ.get("BLUEGREEN_RUNBOOK_HOME") or Path(__file__).resolve().parents[3])
PYTHON = os.environ.get("BLUEGREEN_RUNBOOK_PYTHON") or str(HOME / ".venv" / "bin" / "python")
KERNEL = os.environ.get("BLUEGREEN_RUNBOOK_KERNEL", "bluegreen-runbook")
POOL = "bluegreen_runbook"

STEPS = [("01", "01_prerequisites", False), ("02", "02_create_blue_green", False), ("03", "03_upgrade_green", True),
         ("04", "04_upgrade_logs", False), ("05", "05_switchover", True), ("06", "06_cleanup", True)]
RUN_DIR = "{{ ti.xcom_pull(task_ids='prepare') }}"

with DAG(
    dag_id="bluegreen_runbook",
    description="RDS blue/green deployment runbook for one database (papermill, one task per step)",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=1,
    params={"params_file": Param(type="string", description="absolute path of the database's parameter file"),
            "keep_lab": Param(False, type="boolean", description="lab mode: do not reset the lab first")},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["bluegreen-runbook"],
) as dag:
    prepare = BashOperator(
        task_id="prepare", retries=0,
        bash_command=(f"'{PYTHON}' -m runbook_lib.fleet.airflow_support open '{{{{ params.params_file }}}}'"
                      "{% if params.keep_lab %} --keep-lab{% endif %}"))
    previous = prepare
    for number, name, destructive in STEPS:
        task = PapermillOperator(
            task_id=f"step_{name}",
            input_nb=str(HOME / "notebooks" / f"{name}.ipynb"),
            output_nb=f"{RUN_DIR}/{name}.ipynb",
            parameters={"params_file": "{{ params.params_file }}", "run_dir": RUN_DIR,
                        "run_id": "{{ ti.xcom_pull(task_ids='prepare').rstrip('/').split('/')[-1] }}"},
            kernel_name=KERNEL,
            pool=POOL,
            retries=0 if destructive else 1,
        )
        previous >> task
        previous = task
    seal = BashOperator(task_id="seal", retries=0, trigger_rule="all_done",
                        bash_command=f"'{HOME / '.venv' / 'bin' / 'runbook'}' audit seal '{RUN_DIR}'")
    verdict = BashOperator(task_id="verdict", retries=0, trigger_rule="all_done",
                           bash_command=f"'{PYTHON}' -m runbook_lib.fleet.airflow_support verdict '{RUN_DIR}'")
    previous >> seal >> verdict
