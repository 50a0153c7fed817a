"""`runbook run --params parameters/lab-aurora-mysql.yaml`: the cluster flow end to end on the lab, as a user runs it
(issue 15's 'done when'): the run folder printed last, one production cluster on 3.x with its writer and reader named
as before, nothing `-green-`, no deployment, the `-old1` cluster and its instances deleted with a final snapshot, and
zero lost writes through the cluster endpoint with reads through the reader endpoint during the switchover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import lab_rds, runbook_cli

from runbook_lib.lab import aurora_seed
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
