"""The whole runbook, headless, against the lab: the README's main command, twice, and a bad
parameter that must stop in step 01 before anything is created."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from browser import render
from conftest import ROOT, lab_rds, runbook_cli

from runbook_lib.lab.paths import LabPaths

pytestmark = pytest.mark.e2e


def _assert_clean_run(done: subprocess.CompletedProcess[str]) -> Path:
    assert done.returncode == 0, done.stderr[-3000:]
    run = Path(done.stdout.strip().splitlines()[-1])
    assert run.is_dir()
    books = sorted(run.glob("*.ipynb"))
    assert [b.stem[:2] for b in books] == ["01", "02", "03", "04", "05", "06"]
    for book in books:
        nb = json.loads(book.read_text())
        outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"], book.name
        assert any("image/svg+xml" in o.get("data", {}) for o in outputs), f"{book.name} shows no diagram"
    for number in ("01", "02", "03", "04", "05", "06"):
        result = json.loads((run / "steps" / f"{number}.json").read_text())
        assert result["outcome"] == "succeeded", (number, result.get("findings"))
    return run


def _assert_end_state(rds: Any, run: Path) -> None:
    prod = rds.describe_db_instances(DBInstanceIdentifier="database-1")["DBInstances"][0]
    assert prod["EngineVersion"] == "8.0.39"
    assert prod["DBParameterGroups"][0]["DBParameterGroupName"] == "pg-mysql-80"
    names = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    assert names == ["database-1"]
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    snapshot_id = json.loads((run / "steps" / "06.json").read_text())["identifiers"]["final_snapshot_id"]
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
    assert snap["Status"] == "available" and snap["DBInstanceIdentifier"] == "database-1-old1"


def _assert_audit_record(run: Path) -> None:
    verified = runbook_cli("audit", "verify", str(run))
    assert verified.returncode == 0, verified.stdout
    record = json.loads((run / "run.json").read_text())
    assert record["outcome"] == "succeeded" and record["operator"]["ticket"] == "CHG-42"
    assert record["aws_identity"]["Account"] and record["runbook"]["commit"]
    assert record["findings"]["zero_loss"]["05"]["missing"] == 0
    assert record["findings"]["downtime"]["05"]["write_unavailable_s"] < 5
    assert record["resources"]["new_production_dbi_resource_id"] != record["resources"]["source_dbi_resource_id"]
    assert record["secret_scan"] == {"hits": [], "values_checked": 1}
    for page in sorted(run.glob("*.html")):
        seen = render(page)
        number = int(page.stem[:2])
        assert any(h.startswith(f"Step {number} ") for h in seen["headings"]), (page.name, seen)
        assert seen["svg_rendered"] >= 2 and seen["svg_rendered"] == seen["svg_images"], (page.name, seen)


def test_full_headless_run_twice_then_a_bad_instance(lab_paths: LabPaths, tmp_path: Path) -> None:
    first = _assert_clean_run(runbook_cli("run", "--params", "parameters/lab.yaml", "--ticket", "CHG-42"))
    _assert_end_state(lab_rds(lab_paths), first)
    _assert_audit_record(first)
    second = _assert_clean_run(runbook_cli("run", "--params", "parameters/lab.yaml"))
    assert second != first
    _assert_end_state(lab_rds(lab_paths), second)

    bad = tmp_path / "missing.yaml"
    bad.write_text((ROOT / "parameters" / "lab.yaml").read_text().replace("source_db_instance: database-1",
                                                                           "source_db_instance: no-such-db"))
    def shape(rds: Any) -> list[tuple[Any, ...]]:
        return [(i["DBInstanceIdentifier"], i["DBInstanceStatus"], i["EngineVersion"], i["DbiResourceId"])
                for i in rds.describe_db_instances()["DBInstances"]]
    before = shape(lab_rds(lab_paths))
    done = runbook_cli("run", "--params", str(bad), "--keep-lab")
    assert done.returncode == 1
    assert "step 01" in done.stderr and "no-such-db" in done.stderr
    after = lab_rds(lab_paths)
    assert shape(after) == before
    assert after.describe_blue_green_deployments()["BlueGreenDeployments"] == []


def test_notebooks_run_with_plain_papermill(lab: dict[str, Any], tmp_path: Path) -> None:
    """What a user gets with `papermill … -f parameters/lab.yaml` once the lab is up: the first step opens a
    run folder, the next joins it."""
    for name in ("01_prerequisites", "02_create_blue_green"):
        done = subprocess.run([sys.executable, "-m", "papermill", f"notebooks/{name}.ipynb", str(tmp_path / f"{name}.ipynb"),
                               "-f", "parameters/lab.yaml", "--no-progress-bar"], capture_output=True, text=True,
                              cwd=ROOT, env=dict(os.environ), timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    runs = Path(os.environ["RUNBOOK_RUNS_DIR"])
    current = Path((runs / "CURRENT").read_text().strip())
    assert sorted(p.name for p in (current / "steps").glob("*.json")) == ["01.json", "02.json"]
    assert json.loads((current / "steps" / "02.json").read_text())["outcome"] == "succeeded"


def test_workshop_path_blocked_upgrade_fix_retry_success(lab_paths: LabPaths) -> None:
    """lab_seed_blocker: 01 reports the blocker and goes on, RDS cancels the upgrade in 03 (expected), 04 reads
    the log, fixes blue, upgrades again; the run ends like any other."""
    done = runbook_cli("run", "--params", "parameters/lab-workshop.yaml")
    assert done.returncode == 0, done.stderr[-3000:]
    run = Path(done.stdout.strip().splitlines()[-1])
    steps = {n: json.loads((run / "steps" / f"{n}.json").read_text()) for n in ("01", "03", "04")}
    precheck = next(c for c in steps["01"]["checks"] if c["id"] == "upgradePrecheck")
    assert precheck["result"] == "warn" and precheck["evidence"]["acknowledged"] == ["removedFunctionsCheck"]
    assert steps["03"]["outcome"] == "expected-failure"
    assert steps["04"]["outcome"] == "succeeded"
    assert steps["04"]["findings"]["precheck_log"]["blocking"] == ["removedFunctionsCheck"]
    assert any("SHA2(" in c.get("sql", "") for c in steps["04"]["changes"])
    _assert_end_state(lab_rds(lab_paths), run)
