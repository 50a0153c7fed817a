"""Kill points: a run killed at each point (kill -9 of the kernel and of the `runbook run` that started it, or of
the kernel alone), then resumed with --from, ends in the right state with nothing duplicated, the killed run's
folder sealed as interrupted by the next command, and a record that states only what was observed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import ROOT

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

pytestmark = pytest.mark.e2e


# (step, kill point, what kills, params, lab switches, was the switchover observed in the end?)
KILL_POINTS = [
    ("01", "at:finish@01", "all", "lab", {}, True),
    ("02", "after:create_blue_green_deployment", "all", "lab", {}, True),
    ("03", "after:modify_db_instance", "kernel", "lab", {}, True),
    ("04", "after:modify_db_instance@04", "all", "lab-workshop", {}, True),   # the workshop's retried upgrade
    ("05", "at:before-switchover", "all", "lab", {}, True),                   # probe running, no switchover yet
    ("05", "at:switchover-in-progress", "all", "lab", {"switchover_hold_s": 1.5}, False),
    ("05", "at:before-report", "all", "lab", {}, True),                      # completed; the killed run's probe saw it
    ("05", "after:switchover_blue_green_deployment", "kernel", "lab", {}, False),
    ("06", "after:delete_blue_green_deployment", "all", "lab", {}, True),
    ("06", "at:old-blue-deleting", "all", "lab", {"deletion_hold_s": 3.0}, True),
]


def _run(*args: str, crash: str | None = None, kills: str = "all",
         params: str = "parameters/lab.yaml") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for key in ("RUNBOOK_CRASH_AFTER", "RUNBOOK_CRASH_AT", "RUNBOOK_CRASH_KILLS_RUNNER"):
        env.pop(key, None)
    if crash:
        kind, _, where = crash.partition(":")
        env["RUNBOOK_CRASH_AFTER" if kind == "after" else "RUNBOOK_CRASH_AT"] = where
        env["RUNBOOK_CRASH_KILLS_RUNNER"] = "1" if kills == "all" else "0"
    return subprocess.run([sys.executable, "-m", "runbook_lib.cli", "run", "--params", params, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _runs() -> Path:
    return Path(os.environ["RUNBOOK_RUNS_DIR"])


def _newest_folder(before: set[str]) -> Path:
    new = sorted(p for p in _runs().iterdir() if p.is_dir() and p.name not in before and (p / "steps").is_dir())
    assert new, "the killed run left no folder"
    return new[-1]


@pytest.mark.parametrize(("step", "point", "kills", "params", "switches", "observed"), KILL_POINTS,
                         ids=[f"{p[0]}-{p[1].split(':')[1]}-{p[2]}" for p in KILL_POINTS])
def test_kill_then_resume(lab_paths: LabPaths, step: str, point: str, kills: str, params: str,
                          switches: dict[str, Any], observed: bool, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_RUNS_DIR", str(tmp_path / "runs"))   # this test's own record, verified whole
    params = f"parameters/{params}.yaml"
    before = {p.name for p in _runs().iterdir()} if _runs().is_dir() else set()
    client.reset(lab_paths, seed_blocker="workshop" in params)
    if switches:
        client.set_switches(lab_paths, **switches)
    crashed = _run("--keep-lab", crash=point, kills=kills, params=params)
    killed = _newest_folder(before)
    if kills == "all":
        assert crashed.returncode == -9, crashed.stderr[-1500:]
        assert not (killed / "manifest.json").exists()          # nobody sealed it: the next command must
    else:
        assert crashed.returncode == 1 and f"step {step}" in crashed.stderr, crashed.stderr[-1500:]
    client.set_switches(lab_paths, switchover_hold_s=0, deletion_hold_s=0)

    resumed = _run("--from", step, "--keep-lab", params=params)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    second = Path(resumed.stdout.strip().splitlines()[-1])
    first_record = json.loads((killed / "run.json").read_text())
    assert first_record["outcome"] == ("interrupted" if kills == "all" else "failed")
    assert first_record["complete"] is False and first_record["failure"]["step"] == step
    second_record = json.loads((second / "run.json").read_text())
    if kills == "all":  # the killed run's lock freed itself; the next run says whose it took over
        assert second_record["lock"]["taken_over_from"]["run_id"] == killed.name
    if step != "01":   # (--from 01 is a new run from the start)
        assert second_record["resumed_from"]["run_id"] == killed.name
    assert second_record["outcome"] == "succeeded"

    state = client.status(lab_paths)
    rds: Any = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                            aws_access_key_id="lab", aws_secret_access_key="lab")
    prod = rds.describe_db_instances()["DBInstances"]
    assert [(i["DBInstanceIdentifier"], i["EngineVersion"]) for i in prod] == [("database-1", "8.0.39")]
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    snapshots = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert len(snapshots) == 1 and snapshots[0]["Status"] == "available"     # the one final snapshot
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment")["Events"]]
    assert sum(m.startswith("Blue/green deployment tasks completed") for m in messages) == 1   # one deployment
    assert messages.count("Switchover completed on blue/green deployment.") == 1                 # one switchover
    performed = [c["operation"] for record in (first_record, second_record)
                 for c in record["rds_calls"] if c["performed"]]
    assert performed.count("create_blue_green_deployment") == 1
    assert performed.count("switchover_blue_green_deployment") == 1
    assert performed.count("delete_db_instance") == 1

    downtime = {**first_record["findings"].get("downtime", {}), **second_record["findings"].get("downtime", {})}
    zero_loss = {**first_record["findings"].get("zero_loss", {}), **second_record["findings"].get("zero_loss", {})}
    figures = downtime.get("05") or {}
    assert figures, "no step 05 downtime entry at all"
    if observed:
        assert figures["observed"] is True and figures["write_unavailable_s"] is not None
        assert zero_loss["05"]["missing"] == 0
    else:
        assert figures["observed"] is False and figures["write_unavailable_s"] is None
        assert figures["read_unavailable_s"] is None and figures["not_observed_reason"]
        loss = zero_loss["05"]
        assert loss["missing"] is None and loss["acknowledged"] is None
    if step == "06":
        requested = [c for c in first_record["changes"] if c["what"] == "deleted old blue instance"]
        if requested:   # the resumed run waited for the snapshot the killed run asked for
            assert second_record["resources"]["final_snapshot_id"] == requested[0]["final_snapshot_id"]
    verified = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "audit", "verify"], cwd=ROOT,
                              capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert verified.returncode == 0, verified.stdout[-2000:]
