"""The fleet in the lab: `runbook lab up --fleet`, the inventory of what must move, and `runbook fleet run` for three
databases at concurrency 2 — all finish with their own verified records; killed mid-way and resumed, nothing is
repeated; a database the plan does not confirm by name and resource id is not switched over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, lab_rds, runbook_cli, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

pytestmark = pytest.mark.e2e


def _plan(tmp_path: Path, paths: LabPaths, entries: list[dict[str, Any]]) -> Path:
    ids = {i["DBInstanceIdentifier"]: i["DbiResourceId"] for i in lab_rds(paths).describe_db_instances()["DBInstances"]}
    databases = []
    for entry in entries:
        item: dict[str, Any] = {"source": entry["source"]}
        if entry.get("confirm", True):
            item["confirm"] = {"resource_id": entry.get("resource_id") or ids[entry["source"]], "switchover": True,
                               "delete": True}
        databases.append(item)
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"defaults": str(ROOT / "parameters" / "lab.yaml"), "databases": databases}))
    return plan


@pytest.fixture
def fleet(lab_paths: LabPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabPaths:
    monkeypatch.setenv("RUNBOOK_RUNS_DIR", str(tmp_path / "runs"))
    client.reset(lab_paths)
    client.seed_fleet(lab_paths)
    return lab_paths


def test_the_inventory_lists_what_must_move(fleet: LabPaths) -> None:
    done = runbook_cli("fleet", "inventory", "--lab", "--region", "us-east-1", "--region", "eu-west-1",
                       "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout[:done.stdout.rindex("}") + 1])["rows"]
    by_name = {r["identifier"]: r for r in rows}
    move = sorted(n for n, r in by_name.items() if r["action"] == "move")
    assert move == ["billing-db", "database-1", "eu-orders-db", "orders-db"]
    assert by_name["legacy-db-old1"]["action"] == "skip" and by_name["reports-db"]["action"] == "skip"
    assert by_name["inventory-db"]["action"] == "moving"
    for name in move:
        assert by_name[name]["estimate"]["monthly_usd"] > 0 and by_name[name]["estimate"]["source"]


def test_three_databases_at_concurrency_two_then_a_kill_and_a_resume(fleet: LabPaths, tmp_path: Path) -> None:
    plan = _plan(tmp_path, fleet, [{"source": "database-1"}, {"source": "orders-db"}, {"source": "billing-db"}])
    batch = subprocess.Popen([sys.executable, "-m", "runbook_lib.cli", "fleet", "run", "--plan", str(plan),
                              "--concurrency", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ))
    state_file = tmp_path / "plan.state.json"

    def some_step_03_underway() -> bool:
        runs = Path(os.environ["RUNBOOK_RUNS_DIR"])
        return any(json.loads(p.read_text()).get("outcome") == "running" for p in runs.glob("2*/steps/03.json"))
    wait_for(some_step_03_underway, lambda ok: ok, timeout=600)
    batch.send_signal(signal.SIGKILL)             # the batch dies; its runs are stopped and sealed as interrupted
    batch.communicate(timeout=60)
    time.sleep(3)
    before = json.loads(state_file.read_text())["databases"]
    assert any(s["status"] == "IN_PROGRESS" for s in before.values())

    resumed = runbook_cli("fleet", "run", "--plan", str(plan), "--concurrency", "2", "--resume")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    after = json.loads(state_file.read_text())["databases"]
    assert {n: s["status"] for n, s in after.items()} == {"bg-database-1": "COMPLETED", "bg-orders-db": "COMPLETED",
                                                          "bg-billing-db": "COMPLETED"}
    rds = lab_rds(fleet)
    for name, state in after.items():
        records = [json.loads((Path(r) / "run.json").read_text()) for r in state["runs"]]
        performed = [c["operation"] for rec in records for c in rec["rds_calls"] if c["performed"]]
        assert performed.count("create_blue_green_deployment") == 1, (name, performed)
        assert performed.count("switchover_blue_green_deployment") == 1, (name, performed)
        succeeded = [s["step"] for rec in records for s in rec["steps"] if s["outcome"] == "succeeded"]
        assert sorted(succeeded) == sorted(set(succeeded)), (name, succeeded)   # no step done twice
        for run in state["runs"]:
            verified = runbook_cli("audit", "verify", run)
            assert verified.returncode == 0, verified.stdout
        source = name.removeprefix("bg-")
        assert rds.describe_db_instances(DBInstanceIdentifier=source)["DBInstances"][0]["EngineVersion"] == "8.0.39"
    names = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    assert not [n for n in names if "-green-" in n and not n.startswith("inventory-db")]
    assert "legacy-db-old1" in names                        # never touched


def test_a_database_not_confirmed_by_resource_id_is_not_switched_over(fleet: LabPaths, tmp_path: Path) -> None:
    plan = _plan(tmp_path, fleet, [{"source": "orders-db", "resource_id": "db-NOTTHEONE0000000000000000"},
                                   {"source": "billing-db", "confirm": False}])
    done = runbook_cli("fleet", "run", "--plan", str(plan))
    assert done.returncode == 1
    states = json.loads((tmp_path / "plan.state.json").read_text())["databases"]
    assert states["bg-orders-db"]["status"] == "FAILED" and "db-NOTTHEONE" in states["bg-orders-db"]["detail"]
    assert states["bg-orders-db"]["runs"] == []            # nothing ran for it
    assert states["bg-billing-db"]["status"] == "SKIPPED" and "switchover gate" in states["bg-billing-db"]["detail"]
    rds = lab_rds(fleet)
    versions = {i["DBInstanceIdentifier"]: i["EngineVersion"] for i in rds.describe_db_instances()["DBInstances"]}
    assert versions["orders-db"] == "5.7.44" and versions["billing-db"] == "5.7.44"


def test_readiness_ranks_ready_blocked_and_unreachable(fleet: LabPaths, tmp_path: Path) -> None:
    rds = lab_rds(fleet)
    rds.modify_db_instance(DBInstanceIdentifier="billing-db", BackupRetentionPeriod=0, ApplyImmediately=True)
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"defaults": str(ROOT / "parameters" / "lab.yaml"), "databases": [
        {"source": "ghost-db"}, {"source": "billing-db"}, {"source": "database-1"}]}))
    done = runbook_cli("fleet", "readiness", "--plan", str(plan))
    assert done.returncode == 1, done.stderr[-2000:]
    lines = [line.split()[:2] for line in done.stdout.strip().splitlines()[:-1]]
    assert lines == [["ready", "bg-database-1"], ["blocked", "bg-billing-db"], ["unreachable", "bg-ghost-db"]]
    assert "automatedBackups" in done.stdout
    folder = Path(done.stdout.strip().splitlines()[-1])
    rows = json.loads((folder / "fleet-readiness.json").read_text())["databases"]
    for row in rows:
        verified = runbook_cli("audit", "verify", row["run_dir"])
        assert verified.returncode == 0, verified.stdout
    assert runbook_cli("audit", "verify", str(folder)).returncode == 0
