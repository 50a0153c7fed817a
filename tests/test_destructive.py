"""Destructive steps act only on what the run recorded, one run at a time, and a failed switchover has a way on.
Each case is a headless run against the lab, as a DBA would start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, instance, lab_rds, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

pytestmark = pytest.mark.e2e


def _params(tmp_path: Path, name: str = "p", **overrides: Any) -> str:
    values = yaml.safe_load((ROOT / "parameters" / "lab.yaml").read_text())
    values.update(overrides)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def _runbook(*args: str, wait: bool = True) -> Any:
    cmd = [sys.executable, "-m", "runbook_lib.cli", *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=600)


def _run_dir(done: subprocess.CompletedProcess[str]) -> Path:
    return Path(done.stdout.strip().splitlines()[-1])


def _step(run: Path, number: str) -> dict[str, Any]:
    return dict(json.loads((run / "steps" / f"{number}.json").read_text()))


def test_an_unrelated_old1_is_never_touched_and_the_real_old_blue_is_deleted_by_name(lab_paths: LabPaths,
                                                                                    tmp_path: Path) -> None:
    client.reset(lab_paths)
    rds = lab_rds(lab_paths)
    rds.create_db_instance(DBInstanceIdentifier="database-1-old1", DBInstanceClass="db.t3.micro", Engine="mysql",
                           EngineVersion="5.7.44", MasterUsername="admin", MasterUserPassword="unrelated-1",
                           AllocatedStorage=20, BackupRetentionPeriod=1)
    unrelated = wait_for(lambda: instance(rds, "database-1-old1"), lambda i: i["DBInstanceStatus"] == "available")
    blue = instance(rds, "database-1")

    first = _runbook("run", "--params", _params(tmp_path, confirm_delete=["bg-deployment", "database-1-old1"]),
                     "--keep-lab")
    assert first.returncode == 1
    run = _run_dir(first)
    assert _step(run, "05")["identifiers"]["old_instance"] == "database-1-old2"
    refused = _step(run, "06")
    message = refused["findings"]["waiting_for"]
    assert "database-1-old1" in message and "database-1-old2" in message and blue["DbiResourceId"] in message
    assert unrelated["DbiResourceId"] in message
    assert not [c for c in refused["rds_calls"] if c["performed"]]        # nothing deleted, not even the deployment
    assert instance(rds, "database-1-old1")["DbiResourceId"] == unrelated["DbiResourceId"]

    second = _runbook("run", "--params", _params(tmp_path, "q", confirm_delete=["bg-deployment", "database-1-old2"]),
                      "--from", "06", "--keep-lab")
    assert second.returncode == 0, second.stderr[-2000:]
    names = sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"])
    assert names == ["database-1", "database-1-old1"]
    assert instance(rds, "database-1-old1")["DbiResourceId"] == unrelated["DbiResourceId"]
    cleanup = _step(_run_dir(second), "06")
    deleted = [c for c in cleanup["rds_calls"] if c["performed"]]
    assert [c["operation"] for c in deleted] == ["delete_blue_green_deployment", "delete_db_instance"]
    assert "DeleteTarget" not in deleted[0]["arguments"]          # not allowed after SWITCHOVER_COMPLETED
    assert deleted[1]["arguments"]["DBInstanceIdentifier"] == "database-1-old2"
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier=cleanup["identifiers"]["final_snapshot_id"])["DBSnapshots"][0]
    assert snap["DbiResourceId"] == blue["DbiResourceId"]


def test_the_old_blue_is_kept_for_keep_old_blue_hours(lab_paths: LabPaths, tmp_path: Path) -> None:
    client.reset(lab_paths)
    done = _runbook("run", "--params", _params(tmp_path, keep_old_blue_hours=24), "--keep-lab")
    assert done.returncode == 1
    refused = _step(_run_dir(done), "06")
    assert "is kept until" in refused["findings"]["waiting_for"] and "h left" in refused["findings"]["waiting_for"]
    assert not [c for c in refused["rds_calls"] if c["performed"]]
    rds = lab_rds(lab_paths)
    assert instance(rds, "database-1-old1") and rds.describe_blue_green_deployments()["BlueGreenDeployments"]
    again = _runbook("run", "--params", _params(tmp_path, "q", keep_old_blue_hours=0), "--from", "06", "--keep-lab")
    assert again.returncode == 0, again.stderr[-2000:]
    assert [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]] == ["database-1"]


def test_two_runs_on_one_deployment_the_second_is_refused_naming_the_first(lab_paths: LabPaths, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_RUNS_DIR", str(tmp_path / "runs"))   # to see the first run's own folder
    client.reset(lab_paths)
    client.set_switches(lab_paths, switchover_hold_s=2.0)   # keeps the first run's switchover visible a while
    try:
        first = _runbook("run", "--params", _params(tmp_path), "--keep-lab", "--operator", "alice", wait=False)
        runs = Path(os.environ["RUNBOOK_RUNS_DIR"])
        wait_for(lambda: sorted(runs.glob("*/steps/02.json")), lambda found: bool(found), timeout=120)
        second = _runbook("run", "--params", _params(tmp_path, "q"), "--keep-lab")
        assert second.returncode == 4, second.stderr
        assert "bg-deployment is in use by another run" in second.stderr and f"pid {first.pid}" in second.stderr
        reset = _runbook("run", "--params", _params(tmp_path, "r"))       # would reset the lab under the first run
        assert reset.returncode == 4 and "in use" in reset.stderr
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err[-2000:]
    finally:
        client.set_switches(lab_paths, switchover_hold_s=0)
    record = json.loads((Path(out.strip().splitlines()[-1]) / "run.json").read_text())
    assert record["outcome"] == "succeeded"
    rds = lab_rds(lab_paths)
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment")["Events"]]
    assert messages.count("Switchover completed on blue/green deployment.") == 1


@pytest.mark.parametrize("after", ["AVAILABLE", "SWITCHOVER_FAILED"])
def test_a_switchover_timeout_then_the_documented_way_on(lab_paths: LabPaths, tmp_path: Path, after: str) -> None:
    client.reset(lab_paths)
    client.set_switches(lab_paths, stall_green_sql_thread=True, switchover_rollback_status=after)
    try:
        failed = _runbook("run", "--params", _params(tmp_path), "--keep-lab")
    finally:
        client.set_switches(lab_paths, stall_green_sql_thread=False, switchover_rollback_status="AVAILABLE")
    assert failed.returncode == 1
    run = _run_dir(failed)
    step = _step(run, "05")
    assert step["outcome"] == "failed"
    assert step["findings"]["downtime"]["observed"] is False and step["findings"]["downtime"]["write_unavailable_s"] is None
    rds = lab_rds(lab_paths)
    assert instance(rds, "database-1")["EngineVersion"] == "5.7.44"          # blue is still production
    if after == "AVAILABLE":
        assert "AVAILABLE again" in step["findings"]["error"] and "re-run this step" in step["findings"]["error"]
        again = _runbook("run", "--params", _params(tmp_path), "--from", "05", "--keep-lab")
    else:
        assert "step 02 deletes it with its green instance" in step["findings"]["error"]
        green = _step(run, "02")["identifiers"]["green_instance"]
        refused = _runbook("run", "--params", _params(tmp_path), "--from", "02", "--keep-lab")
        assert refused.returncode == 1 and "confirm_delete" in refused.stderr and green in refused.stderr
        again = _runbook("run", "--params", _params(tmp_path, "q", confirm_delete=["bg-deployment", green,
                                                                                  "database-1-old1"]),
                         "--from", "02", "--keep-lab")
    assert again.returncode == 0, again.stderr[-3000:]
    record = json.loads((_run_dir(again) / "run.json").read_text())
    assert record["findings"]["downtime"]["05"]["observed"] is True
    assert [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]] == ["database-1"]
    assert instance(rds, "database-1")["EngineVersion"] == "8.0.39"


def test_no_parameter_file_for_aws_pre_confirms_a_destructive_step() -> None:
    for path in sorted((ROOT / "parameters").glob("*.yaml")):
        values = yaml.safe_load(path.read_text()) or {}
        if values.get("mode") == "aws":
            assert not values.get("confirm_switchover") and not values.get("confirm_delete"), path.name
            assert values.get("keep_old_blue_hours", 24) in (0, 24), path.name


def test_a_wait_names_what_it_waited_for_and_scales_with_the_lab(lab: dict[str, Any], tmp_path: Path) -> None:
    from runbook_lib.run.context import begin
    step = begin("06", _params(tmp_path), {})
    assert step.clients.time_scale == pytest.approx(0.01)
    assert step.wait_s(3600) == pytest.approx(36.0) and step.wait_s(60) == 30.0
    from runbook_lib.aws.waiting import wait_until
    from runbook_lib.errors import WaitTimeout
    with pytest.raises(WaitTimeout, match="final snapshot nope: still not done.*last state seen: absent"):
        wait_until(lambda: None, lambda s: False, what="final snapshot nope", state_of=lambda s: "absent",
                   timeout_s=0.3, progress=False)
