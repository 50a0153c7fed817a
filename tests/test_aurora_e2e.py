"""`runbook run --params parameters/lab-aurora-mysql.yaml`: the cluster flow end to end on the lab, as a user runs it
(issue 15's 'done when'): the run folder printed last, one production cluster on 3.x with its writer and reader named
as before, nothing `-green-`, no deployment, the `-old1` cluster and its instances deleted with a final snapshot, and
zero lost writes through the cluster endpoint with reads through the reader endpoint during the switchover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import lab_rds, runbook_cli

from runbook_lib.lab.control import aurora_seed
from runbook_lib.lab.paths import LabPaths


@pytest.mark.e2e
@pytest.mark.full
def test_cluster_flow_end_to_end(lab_paths: LabPaths) -> None:
    done = runbook_cli("run", "--params", "parameters/lab-aurora-mysql.yaml")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert (run_dir / "steps" / "06.json").exists()
    rds = lab_rds(lab_paths)
    clusters = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
    assert set(clusters) == {aurora_seed.CLUSTER}
    prod = clusters[aurora_seed.CLUSTER]
    assert prod["EngineVersion"] == aurora_seed.TARGET_VERSION
    assert {(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in prod["DBClusterMembers"]} == {
        (aurora_seed.WRITER, True), (aurora_seed.READER, False)}
    names = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    assert not any("-green-" in n or "-old" in n for n in names), names
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    final = [s for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
             if s["DBClusterIdentifier"] == f"{aurora_seed.CLUSTER}-old1" and s["SnapshotType"] == "manual"]
    assert len(final) == 1 and final[0]["Status"] == "available"
    switch = json.loads((run_dir / "steps" / "05.json").read_text())["findings"]
    assert switch["zero_loss"]["missing"] == 0 and switch["zero_loss"]["acknowledged"] > 0
    assert switch["downtime"]["reader_endpoint"]["reads_ok"] > 0
    print(f"\ncluster switchover (lab): writes unavailable {switch['downtime']['write_unavailable_s']} s, reader "
          f"endpoint unavailable {switch['downtime']['reader_endpoint']['read_unavailable_s']} s, "
          f"{switch['zero_loss']['acknowledged']} writes acknowledged, none missing")


@pytest.mark.e2e
@pytest.mark.full
def test_cluster_blocker_fails_creation_and_step_04_explains_the_json_log(lab_paths: LabPaths, tmp_path: Path) -> None:
    """The workshop path on a cluster: a seeded 5.7 -> 8.0 blocker, acknowledged in step 01; Aurora's prechecks fail
    the deployment's creation (step 02 records it, step 03 records the cancelled upgrade), step 04 reads
    upgrade-prechecks.log (JSON) from green's writer, explains it, lists the fixes, and stops: recreating the
    deployment after the fix is the person's (or a later step's) job."""
    import yaml
    from conftest import ROOT
    values = yaml.safe_load((ROOT / "parameters" / "lab-aurora-mysql.yaml").read_text())
    values.update(lab_seed_blocker=True, acknowledge_precheck_errors=["removedFunctionsCheck"])
    params = tmp_path / "blocked.yaml"
    params.write_text(yaml.safe_dump(values))
    done = runbook_cli("run", "--params", str(params))
    assert done.returncode != 0
    assert "step 04" in done.stdout + done.stderr
    steps = Path(done.stdout.strip().splitlines()[-1]) / "steps"   # the run folder, printed last even on failure
    created = json.loads((steps / "02.json").read_text())
    assert {c["id"]: c["result"] for c in created["checks"]}["deploymentCreation"] == "warn"
    assert json.loads((steps / "03.json").read_text())["outcome"] == "expected-failure"
    log = json.loads((steps / "04.json").read_text())["findings"]
    assert "removedFunctionsCheck" in log["precheck_log"]["blocking"]
    assert any(f["check"] == "removedFunctionsCheck" for f in log["fixes"])


@pytest.mark.e2e
@pytest.mark.full
def test_cluster_dry_run_changes_nothing(lab: dict[str, object], lab_paths: LabPaths) -> None:
    """A dry run keeps the lab as it is (`lab` gives it fresh): the cluster is seeded, nothing is created."""
    done = runbook_cli("run", "--dry-run", "--params", "parameters/lab-aurora-mysql.yaml")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    rds = lab_rds(lab_paths)
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    assert _cluster_names(rds) == [aurora_seed.CLUSTER]
    calls = json.loads((run_dir / "steps" / "02.json").read_text())["rds_calls"]
    assert [c["operation"] for c in calls] == ["create_blue_green_deployment"] and not calls[0]["performed"]


def _cluster_names(rds: object) -> list[str]:
    return [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]]  # type: ignore[attr-defined]
