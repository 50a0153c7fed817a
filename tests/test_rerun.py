"""Safe re-runs: a run killed right after each mutating call, then resumed with --from, ends in the right
state with nothing duplicated (one deployment, one switchover, one final snapshot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

from conftest import ROOT

pytestmark = pytest.mark.e2e

CRASH_POINTS = [("02", "create_blue_green_deployment", "lab"), ("03", "modify_db_instance", "lab"),
                ("04", "modify_db_instance@04", "lab-workshop"),  # the retried upgrade of the workshop path
                ("05", "switchover_blue_green_deployment", "lab"), ("06", "delete_blue_green_deployment", "lab"),
                ("06", "delete_db_instance", "lab")]


def _run(*args: str, crash: str | None = None, params: str = "parameters/lab.yaml") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("RUNBOOK_CRASH_AFTER", None)
    if crash:
        env["RUNBOOK_CRASH_AFTER"] = crash
    return subprocess.run([sys.executable, "-m", "runbook_lib.cli", "run", "--params", params, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(("step", "operation", "params"), CRASH_POINTS, ids=[f"{s}-{o}" for s, o, _ in CRASH_POINTS])
def test_crash_right_after_a_mutating_call_then_resume(lab_paths: LabPaths, step: str, operation: str,
                                                       params: str) -> None:
    params = f"parameters/{params}.yaml"
    crashed = _run(crash=operation, params=params)
    assert crashed.returncode == 1
    assert f"step {step}" in crashed.stderr, crashed.stderr[-1500:]
    first = Path(crashed.stdout.strip().splitlines()[-1])
    record = json.loads((first / "run.json").read_text())
    assert record["complete"] is False and record["outcome"] == "failed"

    resumed = _run("--from", step, "--keep-lab", params=params)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    second = Path(resumed.stdout.strip().splitlines()[-1])
    assert json.loads((second / "run.json").read_text())["resumed_from"]["run_id"] == first.name

    state = client.status(lab_paths)
    rds: Any = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                            aws_access_key_id="lab", aws_secret_access_key="lab")
    prod = rds.describe_db_instances()["DBInstances"]
    assert [(i["DBInstanceIdentifier"], i["EngineVersion"]) for i in prod] == [("database-1", "8.0.39")]
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    assert len(rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]) == 1  # the one final snapshot
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment")["Events"]]
    assert sum(m.startswith("Blue/green deployment tasks completed") for m in messages) == 1   # one deployment
    assert messages.count("Switchover completed on blue/green deployment.") == 1                 # one switchover
    performed = [c["operation"] for run in (first, second)
                 for c in json.loads((run / "run.json").read_text())["rds_calls"] if c["performed"]]
    assert performed.count("create_blue_green_deployment") == 1
    assert performed.count("modify_db_instance") == (2 if "workshop" in params else 1)  # (cancelled, then retried)
    assert performed.count("switchover_blue_green_deployment") == 1
