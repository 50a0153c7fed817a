"""The Airflow DAG runs one database end to end against the lab with `airflow dags test` (real Airflow, real
papermill provider, the project's .venv as the notebooks' kernel), and its run folder verifies.

Full run only: needs .venv-airflow (bash scripts/airflow-env.sh, about 2-3 minutes from PyPI); skipped without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"
KERNEL = ROOT / ".venv-airflow" / "share" / "jupyter" / "kernels" / "bluegreen-runbook" / "kernel.json"

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.skipif(not AIRFLOW.exists() or not KERNEL.exists(),
                       reason="Airflow is not installed: run `bash scripts/airflow-env.sh` (creates .venv-airflow and "
                              "registers the bluegreen-runbook kernel); this test belongs to the full run"),
]


def _airflow_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "orchestration" / "airflow" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "BLUEGREEN_RUNBOOK_HOME": str(ROOT),
    })
    return env


def _airflow(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(1200)
def test_the_dag_runs_one_lab_database_end_to_end_and_its_record_verifies(lab_paths: Any, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook_lib.run.folder import runs_root
    # this test's own runs folder: steps other tests ran in-process leave unsealed runs of the same deployment in the
    # worker's, and the DAG (rightly) refuses to start beside an open run
    monkeypatch.setenv("RUNBOOK_RUNS_DIR", str(tmp_path / "runs"))
    env = _airflow_env(tmp_path / "airflow")
    migrated = _airflow(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    pool = _airflow(env, "pools", "set", "bluegreen_runbook", "2", "runbook steps of all databases")
    assert pool.returncode == 0, pool.stderr[-3000:]
    before = {p.name for p in runs_root().glob("2*")} if runs_root().is_dir() else set()
    started = time.monotonic()
    conf = json.dumps({"params_file": str(ROOT / "parameters" / "lab.yaml")})
    done = _airflow(env, "dags", "test", "bluegreen_runbook", "--conf", conf, timeout=1100)
    elapsed = time.monotonic() - started
    (tmp_path / "dags-test.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    print(f"airflow dags test: {elapsed:.1f} s, exit {done.returncode} (log {tmp_path / 'dags-test.log'})")
    new = sorted(p for p in runs_root().glob("2*") if p.name not in before)
    assert len(new) == 1, f"expected one new run folder, found {new}; log tail: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    run_dir = new[0]
    run = json.loads((run_dir / "run.json").read_text())
    errors = {s["step"]: (json.loads((run_dir / "steps" / f"{s['step']}.json").read_text()).get("findings") or {}).get(
        "error") for s in run["steps"] if (run_dir / "steps" / f"{s['step']}.json").exists() and s["outcome"] != "succeeded"}
    assert [(s["step"], s["outcome"]) for s in run["steps"]] == [
        (n, "succeeded") for n in ("01", "02", "03", "04", "05", "06")], (errors, done.stdout[-3000:])
    assert run["outcome"] == "succeeded"
    for name in ("01_prerequisites", "03_upgrade_green", "05_switchover", "06_cleanup"):
        assert (run_dir / f"{name}.ipynb").is_file() and (run_dir / f"{name}.html").is_file()
    verified = subprocess.run([str(ROOT / ".venv" / "bin" / "runbook"), "audit", "verify", str(run_dir)],
                              capture_output=True, text=True, env=env, timeout=300)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(f"checked {run_dir}"), verified.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    assert "outcome succeeded" in done.stdout + done.stderr   # the verdict task's line


def test_the_dag_shape_one_task_per_step_no_retries_for_destructive_steps_one_pool(tmp_path: Path) -> None:
    """Parsed by Airflow itself (DagBag in .venv-airflow): what the operators were built with."""
    script = (
        "import json\n"
        "from airflow.models.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(ROOT / 'orchestration' / 'airflow' / 'dags')!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.dags['bluegreen_runbook']\n"
        "print(json.dumps({t.task_id: {'type': type(t).__name__, 'retries': t.retries, 'pool': t.pool,\n"
        "  'kernel': getattr(t, 'kernel_name', None), 'up': sorted(t.upstream_task_ids),\n"
        "  'trigger': str(t.trigger_rule), 'params': sorted((getattr(t, 'parameters', None) or {}))}\n"
        "  for t in dag.tasks}))\n")
    done = subprocess.run([str(ROOT / ".venv-airflow" / "bin" / "python"), "-c", script], env=_airflow_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    tasks = json.loads(done.stdout.strip().splitlines()[-1])
    steps = ["01_prerequisites", "02_create_blue_green", "03_upgrade_green", "04_upgrade_logs", "05_switchover",
             "06_cleanup"]
    assert [t for t in tasks if t.startswith("step_")] == [f"step_{s}" for s in steps]
    for s in steps:
        t = tasks[f"step_{s}"]
        assert t["type"] == "PapermillOperator" and t["pool"] == "bluegreen_runbook" and t["kernel"] == "bluegreen-runbook"
        assert t["params"] == ["params_file", "run_dir", "run_id"]
        assert t["retries"] == (0 if s[:2] in ("03", "05", "06") else 1), (s, t["retries"])
    assert tasks["step_01_prerequisites"]["up"] == ["prepare"]
    assert tasks["seal"]["up"] == ["step_06_cleanup"] and tasks["seal"]["trigger"].lower().endswith("all_done")
    assert tasks["verdict"]["up"] == ["seal"]
