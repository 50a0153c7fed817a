"""The lab as an oracle: the RDS rules the destructive steps depend on, each as RDS documents it (docs/lab-rules.md),
tested at the API, so a runbook that assumes otherwise fails against the lab as it would against RDS."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import create_available_deployment, deployment, instance, upgrade_green, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _switch(rds: Any, ident: str) -> dict[str, Any]:
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=60)
    return wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS")


def test_old_blue_is_named_old2_when_old1_is_taken_and_keeps_its_resource_id(rds: Any) -> None:
    """User guide: blue becomes <name>-old1, or -oldN with the next free number; resource ids never move."""
    rds.create_db_instance(DBInstanceIdentifier="database-1-old1", DBInstanceClass="db.t3.micro", Engine="mysql",
                           EngineVersion="5.7.44", MasterUsername="admin", MasterUserPassword="unrelated-1",
                           AllocatedStorage=20, BackupRetentionPeriod=1)
    unrelated = wait_for(lambda: instance(rds, "database-1-old1"), lambda i: i["DBInstanceStatus"] == "available")
    bgd = create_available_deployment(rds)
    blue = instance(rds, "database-1")
    upgrade_green(rds, bgd["Target"].split(":")[-1])
    final = _switch(rds, bgd["BlueGreenDeploymentIdentifier"])
    assert final["Status"] == "SWITCHOVER_COMPLETED"
    old = instance(rds, "database-1-old2")
    assert old["DbiResourceId"] == blue["DbiResourceId"]
    assert final["Source"].endswith(":database-1-old2")          # the deployment names its old blue
    assert instance(rds, "database-1-old1")["DbiResourceId"] == unrelated["DbiResourceId"]
    by_id = rds.describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": [blue["DbiResourceId"]]}])
    assert [i["DBInstanceIdentifier"] for i in by_id["DBInstances"]] == ["database-1-old2"]


def test_delete_target_cannot_be_given_at_all_after_switchover(rds: Any) -> None:
    """API reference, DeleteBlueGreenDeployment: DeleteTarget can't be specified when SWITCHOVER_COMPLETED."""
    bgd = create_available_deployment(rds)
    ident = bgd["BlueGreenDeploymentIdentifier"]
    assert _switch(rds, ident)["Status"] == "SWITCHOVER_COMPLETED"
    for value in (True, False):
        with pytest.raises(ClientError) as err:
            rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, DeleteTarget=value)
        assert _code(err) == "InvalidParameterCombination"
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []


@pytest.mark.parametrize("after", ["AVAILABLE", "SWITCHOVER_FAILED"])
def test_a_rolled_back_switchover_leaves_the_setting_s_status_and_changes_nothing(rds: Any, lab_paths: LabPaths,
                                                                                  after: str) -> None:
    """API reference: past the timeout every change is rolled back and neither environment changes. The status
    afterwards is not documented: a lab setting, both values tested."""
    bgd = create_available_deployment(rds)
    ident = bgd["BlueGreenDeploymentIdentifier"]
    blue, green = instance(rds, "database-1"), instance(rds, bgd["Target"].split(":")[-1])
    client.set_switches(lab_paths, stall_green_sql_thread=True, switchover_rollback_status=after)
    try:
        final = _switch(rds, ident)
    finally:
        client.set_switches(lab_paths, stall_green_sql_thread=False, switchover_rollback_status="AVAILABLE")
    assert final["Status"] == after and "rolled back" in final["StatusDetails"]
    assert instance(rds, "database-1")["DbiResourceId"] == blue["DbiResourceId"]
    assert instance(rds, green["DBInstanceIdentifier"])["DbiResourceId"] == green["DbiResourceId"]
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment",
                                                          SourceIdentifier=ident)["Events"]]
    assert "Switchover canceled on blue/green deployment." in messages
    if after == "AVAILABLE":
        assert _switch(rds, ident)["Status"] == "SWITCHOVER_COMPLETED"   # and it can be switched over again
    else:
        with pytest.raises(ClientError) as err:
            rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
        assert _code(err) == "InvalidBlueGreenDeploymentStateFault"
        rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, DeleteTarget=True)
        wait_for(lambda: [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]],
                 lambda names: names == ["database-1"])


def test_unknown_or_bad_lab_switches_are_refused(lab: dict[str, Any], lab_paths: LabPaths) -> None:
    from runbook_lib.errors import RunbookError
    with pytest.raises(RunbookError, match="switchover_rollback_status must be one of"):
        client.set_switches(lab_paths, switchover_rollback_status="MAYBE")
    with pytest.raises(RunbookError, match="unknown lab switch"):
        client.set_switches(lab_paths, no_such_switch=True)


def test_a_final_snapshot_carries_the_deleted_instance_s_resource_id(rds: Any) -> None:
    """DescribeDBSnapshots: DbiResourceId of the source instance; filter dbi-resource-id."""
    blue = instance(rds, "database-1")
    rds.delete_db_instance(DBInstanceIdentifier="database-1", FinalDBSnapshotIdentifier="last-of-blue")
    snap = wait_for(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="last-of-blue")["DBSnapshots"][0],
                    lambda s: s["Status"] == "available")
    assert snap["DbiResourceId"] == blue["DbiResourceId"]
    found = rds.describe_db_snapshots(SnapshotType="manual", Filters=[{"Name": "dbi-resource-id",
                                                                       "Values": [blue["DbiResourceId"]]}])
    assert [s["DBSnapshotIdentifier"] for s in found["DBSnapshots"]] == ["last-of-blue"]
