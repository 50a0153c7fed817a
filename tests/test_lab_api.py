"""Every lab extension over moto, through boto3 over HTTP, against RDS's documented behaviour
(shared/docs/moto-gaps.md, one test or more per row)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import create_available_deployment, deployment, instance, upgrade_green, wait_for


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_instance_creation_takes_states_and_gets_its_own_resource_id(rds: Any) -> None:
    created = rds.create_db_instance(DBInstanceIdentifier="second", DBInstanceClass="db.t3.micro", Engine="mysql",
                                     EngineVersion="5.7.44", MasterUsername="admin", MasterUserPassword="x" * 12,
                                     AllocatedStorage=20)["DBInstance"]
    assert created["DBInstanceStatus"] == "creating"
    seen = set()
    final = wait_for(lambda: instance(rds, "second"), lambda i: seen.add(i["DBInstanceStatus"]) or
                     i["DBInstanceStatus"] == "available")
    assert "backing-up" in seen or "creating" in seen
    assert final["DbiResourceId"] != instance(rds, "database-1")["DbiResourceId"]
    assert final["Endpoint"]["Address"] == "127.0.0.1"


def test_parameters_have_sources_and_page(rds: Any) -> None:
    pages = list(rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName="pg-mysql-57",
                                                                      MaxRecords=20))
    assert len(pages) > 1
    params = {p["ParameterName"]: p for page in pages for p in page["Parameters"]}
    assert params["binlog_format"]["ParameterValue"] == "ROW" and params["binlog_format"]["Source"] == "user"
    assert params["innodb_file_per_table"]["Source"] == "system"
    assert params["autocommit"]["Source"] == "engine-default"
    user_only = rds.describe_db_parameters(DBParameterGroupName="pg-mysql-57", Source="user")["Parameters"]
    assert [p["ParameterName"] for p in user_only] == ["binlog_format"]
    with pytest.raises(ClientError) as err:
        rds.describe_db_parameters(DBParameterGroupName="nope")
    assert _code(err) == "DBParameterGroupNotFound"


def test_engine_versions_list_valid_upgrade_targets(rds: Any) -> None:
    v = rds.describe_db_engine_versions(Engine="mysql", EngineVersion="5.7.44")["DBEngineVersions"]
    assert len(v) == 1 and v[0]["DBParameterGroupFamily"] == "mysql5.7"
    targets = {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in v[0]["ValidUpgradeTarget"]}
    assert targets["8.0.39"] is True
    later = rds.describe_db_engine_versions(Engine="mysql", EngineVersion="8.0.39")["DBEngineVersions"][0]
    assert all(not t["IsMajorVersionUpgrade"] for t in later["ValidUpgradeTarget"])


def test_create_deployment_validates_like_rds(rds: Any) -> None:
    arn = instance(rds, "database-1")["DBInstanceArn"]
    cases = [
        ({"BlueGreenDeploymentName": "bad--name", "Source": arn}, "InvalidParameterValue"),
        ({"BlueGreenDeploymentName": "bg", "Source": arn, "TargetEngineVersion": "9.9.9"},
         "InvalidParameterCombination"),
        # the source has a custom option group: no major version at creation (the lab's own flow)
        ({"BlueGreenDeploymentName": "bg", "Source": arn, "TargetEngineVersion": "8.0.39",
          "TargetDBParameterGroupName": "pg-mysql-80"}, "InvalidParameterCombination"),
        ({"BlueGreenDeploymentName": "bg", "Source": arn, "TargetDBParameterGroupName": "pg-mysql-80"},
         "InvalidParameterCombination"),
        ({"BlueGreenDeploymentName": "bg", "Source": arn.replace("database-1", "missing")}, "DBInstanceNotFound"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as err:
            rds.create_blue_green_deployment(**kwargs)
        assert _code(err) == code, kwargs
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    assert len(rds.describe_db_instances()["DBInstances"]) == 1


def test_deployment_provisions_for_real_and_green_is_a_replica(rds: Any) -> None:
    blue = instance(rds, "database-1")
    created = rds.create_blue_green_deployment(BlueGreenDeploymentName="bg-deployment", Source=blue["DBInstanceArn"],
                                               TargetEngineVersion="5.7.44",
                                               TargetDBParameterGroupName="pg-mysql-57")["BlueGreenDeployment"]
    assert created["Status"] == "PROVISIONING"
    assert {t["Status"] for t in created["Tasks"]} == {"PENDING"}
    ident = created["BlueGreenDeploymentIdentifier"]
    final = wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] == "AVAILABLE")
    assert [t["Name"] for t in final["Tasks"]] == ["CREATING_READ_REPLICA_OF_SOURCE", "CONFIGURE_BACKUPS",
                                                   "CREATING_TOPOLOGY_OF_SOURCE"]
    assert {t["Status"] for t in final["Tasks"]} == {"COMPLETED"}
    green = instance(rds, final["Target"].split(":")[-1])
    assert green["DBInstanceIdentifier"].startswith("database-1-green-")
    assert green["ReadReplicaSourceDBInstanceIdentifier"] == "database-1"
    assert green["OptionGroupMemberships"][0]["OptionGroupName"] == "mysql57-option-group"
    assert green["DbiResourceId"] != blue["DbiResourceId"]
    assert green["DBInstanceIdentifier"] in instance(rds, "database-1")["ReadReplicaDBInstanceIdentifiers"]
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment",
                                                          SourceIdentifier=ident)["Events"]]
    assert any(m.startswith("Blue/green deployment tasks completed") for m in messages)
    with pytest.raises(ClientError) as err:
        rds.create_blue_green_deployment(BlueGreenDeploymentName="bg-deployment", Source=blue["DBInstanceArn"])
    assert _code(err) == "BlueGreenDeploymentAlreadyExistsFault"


def test_green_upgrade_is_validated_then_takes_time(rds: Any) -> None:
    green = create_available_deployment(rds)["Target"].split(":")[-1]
    base = {"DBInstanceIdentifier": green, "ApplyImmediately": True}
    bad = [
        ({"EngineVersion": "8.0.39", "DBParameterGroupName": "pg-mysql-80",
          "OptionGroupName": "mysql80-option-group"}, "InvalidParameterCombination"),  # no AllowMajorVersionUpgrade
        ({"EngineVersion": "8.0.39", "AllowMajorVersionUpgrade": True, "DBParameterGroupName": "pg-mysql-57",
          "OptionGroupName": "mysql80-option-group"}, "InvalidParameterCombination"),  # wrong family
        ({"EngineVersion": "8.0.39", "AllowMajorVersionUpgrade": True, "DBParameterGroupName": "pg-mysql-80",
          "OptionGroupName": "nope"}, "OptionGroupNotFoundFault"),
        ({"EngineVersion": "8.0.39", "AllowMajorVersionUpgrade": True, "DBParameterGroupName": "pg-mysql-80",
          "OptionGroupName": "mysql57-option-group"}, "InvalidParameterCombination"),  # option group of 5.7
        ({"EngineVersion": "8.0.39", "AllowMajorVersionUpgrade": True, "DBParameterGroupName": "pg-mysql-80"},
         "InvalidParameterCombination"),  # keeps the 5.7 custom option group
        ({"EngineVersion": "banana", "AllowMajorVersionUpgrade": True}, "InvalidParameterCombination"),
        ({"Engine": "banana"}, "InvalidParameterValue"),
    ]
    for kwargs, code in bad:
        with pytest.raises(ClientError) as err:
            rds.modify_db_instance(**base, **kwargs)
        assert _code(err) == code, kwargs
        assert instance(rds, green)["EngineVersion"] == "5.7.44"
    answer = rds.modify_db_instance(**base, EngineVersion="8.0.39", AllowMajorVersionUpgrade=True,
                                    DBParameterGroupName="pg-mysql-80", OptionGroupName="mysql80-option-group")
    # RDS's order: the answer shows the version pending while the status is still available (docs/lab-rules.md)
    assert answer["DBInstance"]["DBInstanceStatus"] == "available"
    assert answer["DBInstance"]["PendingModifiedValues"] == {"EngineVersion": "8.0.39"}
    assert answer["DBInstance"]["EngineVersion"] == "5.7.44"
    final = wait_for(lambda: instance(rds, green),
                     lambda i: i["DBInstanceStatus"] == "available" and not i.get("PendingModifiedValues"))
    assert final["EngineVersion"] == "8.0.39"
    assert final["DBParameterGroups"][0]["DBParameterGroupName"] == "pg-mysql-80"
    assert final["OptionGroupMemberships"][0]["OptionGroupName"] == "mysql80-option-group"


def test_log_files_filter_and_download_in_portions(rds: Any) -> None:
    green = create_available_deployment(rds)["Target"].split(":")[-1]
    upgrade_green(rds, green)
    files = rds.describe_db_log_files(DBInstanceIdentifier=green)["DescribeDBLogFiles"]
    names = {f["LogFileName"] for f in files}
    assert {"PrePatchCompatibility.log", "error/mysql-error-running.log"} <= names
    only = rds.describe_db_log_files(DBInstanceIdentifier=green, FilenameContains="PrePatch")["DescribeDBLogFiles"]
    assert [f["LogFileName"] for f in only] == ["PrePatchCompatibility.log"]
    marker, parts, portions = "0", [], 0
    while True:
        page = rds.download_db_log_file_portion(DBInstanceIdentifier=green, LogFileName="error/mysql-error-running.log",
                                                Marker=marker)
        parts.append(page["LogFileData"])
        portions += 1
        if not page["AdditionalDataPending"]:
            break
        marker = page["Marker"]
    text = "".join(parts)
    assert portions > 1 and "ready for connections" in text
    with pytest.raises(ClientError) as err:
        rds.download_db_log_file_portion(DBInstanceIdentifier=green, LogFileName="nope.log")
    assert _code(err) == "DBLogFileNotFoundFault"


def test_switchover_is_validated_renames_and_keeps_endpoints(rds: Any) -> None:
    bgd = create_available_deployment(rds)
    ident = bgd["BlueGreenDeploymentIdentifier"]
    blue, green = instance(rds, "database-1"), instance(rds, bgd["Target"].split(":")[-1])
    unchecked = boto3.client("rds", endpoint_url=rds.meta.endpoint_url, region_name="us-east-1",
                             aws_access_key_id="lab", aws_secret_access_key="lab",
                             config=Config(parameter_validation=False))  # let the server judge
    with pytest.raises(ClientError) as err:
        unchecked.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=10)
    assert _code(err) == "InvalidParameterValue"
    answer = rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    assert answer["BlueGreenDeployment"]["Status"] == "SWITCHOVER_IN_PROGRESS"
    final = wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS")
    assert final["Status"] == "SWITCHOVER_COMPLETED"
    prod, old = instance(rds, "database-1"), instance(rds, "database-1-old1")
    assert prod["DbiResourceId"] == green["DbiResourceId"] and old["DbiResourceId"] == blue["DbiResourceId"]
    assert prod["Endpoint"] == blue["Endpoint"]          # the name keeps its endpoint
    assert "ReadReplicaSourceDBInstanceIdentifier" not in prod
    with pytest.raises(ClientError) as err:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    assert _code(err) == "InvalidBlueGreenDeploymentStateFault"
    with pytest.raises(ClientError) as err:
        rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, DeleteTarget=True)
    assert _code(err) == "InvalidParameterCombination"
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    assert instance(rds, "database-1-old1")  # deleting the deployment leaves -old1 alone
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment",
                                                          SourceIdentifier=ident)["Events"]]
    assert any("Switchover completed on blue/green deployment" in m for m in messages)
    assert any(m == "Blue/green deployment deleted." for m in messages)


def test_delete_instance_requires_a_final_snapshot_decision(rds: Any, lab_paths: Any) -> None:
    with pytest.raises(ClientError) as err:
        rds.delete_db_instance(DBInstanceIdentifier="database-1")
    assert _code(err) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as err:
        rds.delete_db_instance(DBInstanceIdentifier="database-1", SkipFinalSnapshot=True,
                               FinalDBSnapshotIdentifier="snap")
    assert _code(err) == "InvalidParameterCombination"
    answer = rds.delete_db_instance(DBInstanceIdentifier="database-1", FinalDBSnapshotIdentifier="final-one")
    assert answer["DBInstance"]["DBInstanceStatus"] == "deleting"
    wait_for(lambda: rds.describe_db_instances()["DBInstances"], lambda found: found == [])
    snap = wait_for(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="final-one")["DBSnapshots"][0],
                    lambda s: s["Status"] == "available")
    assert snap["DBInstanceIdentifier"] == "database-1"
    assert (lab_paths.snapshots / "final-one.sql").stat().st_size > 100_000
