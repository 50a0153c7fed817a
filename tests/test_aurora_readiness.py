"""Aurora MySQL readiness rules (engines/aurora_mysql/readiness.py) against the lab's cluster: each rule passes on a
ready cluster and fails (or warns) on the state it exists to catch, made through the RDS API or the writer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from conftest import wait_for

from runbook_lib.engines.aurora_mysql import readiness
from runbook_lib.lab import client
from runbook_lib.lab.control import aurora_seed
from runbook_lib.lab.paths import LabPaths

CLUSTER, WRITER = aurora_seed.CLUSTER, aurora_seed.WRITER
SOURCE_GROUP, TARGET_GROUP = aurora_seed.GROUPS[0][0], aurora_seed.GROUPS[1][0]


@pytest.fixture
def aurora(lab: dict[str, Any], lab_paths: LabPaths) -> Iterator[dict[str, Any]]:
    yield client.seed_aurora(lab_paths)


def _cluster(rds: Any, name: str = CLUSTER) -> dict[str, Any]:
    return dict(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0])


def _params(rds: Any, group: str) -> dict[str, dict[str, Any]]:
    return {p["ParameterName"]: p for p in rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName=group)["Parameters"]}


def _writer(paths: LabPaths, rds: Any) -> Any:
    cluster, creds = _cluster(rds), paths.read_credentials() or {}
    return pymysql.connect(host=cluster["Endpoint"], port=cluster["Port"], user=creds["master_user"],
                           password=creds["master_password"], autocommit=True)


def _results(records: list[readiness.CheckRecord]) -> dict[str, str]:
    return {r["id"]: r["result"] for r in records}


def test_seeded_cluster_passes_and_null_binlog_retention_fails(aurora: dict[str, Any], rds: Any,
                                                               lab_paths: LabPaths) -> None:
    cluster = _cluster(rds)
    with _writer(lab_paths, rds) as conn, conn.cursor() as cur:
        ready = readiness.source_rules(cluster, _params(rds, SOURCE_GROUP), cur)
        assert set(_results(ready).values()) == {"pass"}, ready
        cur.execute("CALL mysql.rds_set_configuration('binlog retention hours', NULL)")
        first = readiness.source_rules(cluster, _params(rds, SOURCE_GROUP), cur)
        assert _results(first)["auroraBinlogRetention"] == "fail"   # Aurora's default: NULL
        retention = next(r for r in first if r["id"] == "auroraBinlogRetention")
        assert "rds_set_configuration('binlog retention hours', 24)" in str(retention["remediation"])
        cur.execute("CALL mysql.rds_set_configuration('binlog retention hours', 24)")
        again = readiness.source_rules(cluster, _params(rds, SOURCE_GROUP), cur)
    assert set(_results(again).values()) == {"pass"}, again


def test_binlog_off_and_writer_out_of_sync_fail_until_reboot(aurora: dict[str, Any], rds: Any) -> None:
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=SOURCE_GROUP, Parameters=[
        {"ParameterName": "binlog_format", "ParameterValue": "OFF", "ApplyMethod": "pending-reboot"}])
    cluster = _cluster(rds)
    assert readiness.binlog_format(cluster, _params(rds, SOURCE_GROUP))["result"] == "fail"
    out_of_sync = readiness.writer_in_sync(cluster)
    assert out_of_sync["result"] == "fail" and WRITER in str(out_of_sync["remediation"])
    rds.reboot_db_instance(DBInstanceIdentifier=WRITER)
    assert readiness.writer_in_sync(_cluster(rds))["result"] == "pass"


def test_default_group_backtrack_and_managed_password(aurora: dict[str, Any], rds: Any) -> None:
    plain = rds.create_db_cluster(DBClusterIdentifier="plain", Engine="aurora-mysql",
                                  EngineVersion="5.7.mysql_aurora.2.11.5", MasterUsername="admin",
                                  MasterUserPassword="x" * 12, BacktrackWindow=3600)["DBCluster"]
    wait_for(lambda: _cluster(rds, "plain"), lambda c: c["Status"] == "available")
    plain = _cluster(rds, "plain")
    assert readiness.custom_cluster_parameter_group(plain)["result"] == "fail"
    assert readiness.binlog_format(plain, _params(rds, plain["DBClusterParameterGroup"]))["result"] == "fail"
    assert readiness.backtrack(plain)["result"] == "warn"
    assert readiness.backtrack(_cluster(rds))["result"] == "pass"
    rds.modify_db_cluster(DBClusterIdentifier="plain", ManageMasterUserPassword=True, ApplyImmediately=True)
    assert readiness.master_password_not_managed(_cluster(rds, "plain"))["result"] == "fail"
    assert readiness.master_password_not_managed(_cluster(rds))["result"] == "pass"


def test_tmp_database_fails(aurora: dict[str, Any], rds: Any, lab_paths: LabPaths) -> None:
    with _writer(lab_paths, rds) as conn, conn.cursor() as cur:
        assert readiness.no_tmp_database(cur)["result"] == "pass"
        cur.execute("CREATE DATABASE tmp")
        assert readiness.no_tmp_database(cur)["result"] == "fail"


def test_versions_2_08_2_09_and_invalid_targets_fail(aurora: dict[str, Any], rds: Any) -> None:
    def targets(version: str) -> list[str]:
        record = rds.describe_db_engine_versions(Engine="aurora-mysql", EngineVersion=version)["DBEngineVersions"][0]
        return [t["EngineVersion"] for t in record["ValidUpgradeTarget"]]
    source = aurora_seed.SOURCE_VERSION
    assert readiness.versions(source, aurora_seed.TARGET_VERSION, targets(source))["result"] == "pass"
    assert readiness.versions(source, "8.0.mysql_aurora.9.99.0", targets(source))["result"] == "fail"
    old = "5.7.mysql_aurora.2.09.2"
    assert readiness.versions(old, aurora_seed.TARGET_VERSION, targets(old))["result"] == "fail"
    older = readiness.versions("5.7.mysql_aurora.2.08.3", "5.7.mysql_aurora.2.09.2", targets("5.7.mysql_aurora.2.08.3"))
    assert older["result"] == "fail" and len(older["evidence"]["unsupported"]) == 2


def test_green_group_event_scheduler_and_read_only(aurora: dict[str, Any], rds: Any) -> None:
    target = aurora_seed.TARGET_VERSION
    assert readiness.green_event_scheduler_off(TARGET_GROUP, _params(rds, TARGET_GROUP))["result"] == "pass"
    assert readiness.green_read_only(target, TARGET_GROUP, _params(rds, TARGET_GROUP))["result"] == "warn"
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=TARGET_GROUP, Parameters=[
        {"ParameterName": "event_scheduler", "ParameterValue": "ON", "ApplyMethod": "immediate"},
        {"ParameterName": "read_only", "ParameterValue": "1", "ApplyMethod": "immediate"}])
    assert readiness.green_event_scheduler_off(TARGET_GROUP, _params(rds, TARGET_GROUP))["result"] == "fail"
    assert readiness.green_read_only(target, TARGET_GROUP, _params(rds, TARGET_GROUP))["result"] == "pass"
    assert readiness.green_read_only("5.7.mysql_aurora.2.12.4", SOURCE_GROUP, {})["result"] == "pass"


def test_iam_actions_for_clusters(aurora: dict[str, Any], lab_paths: LabPaths) -> None:
    import boto3
    state = client.status(lab_paths)
    session = {"endpoint_url": state["endpoint_url"], "region_name": "us-east-1", "aws_access_key_id": "lab",
               "aws_secret_access_key": "lab"}
    sts, iam = boto3.client("sts", **session), boto3.client("iam", **session)
    assert readiness.iam_permissions(sts, iam)["result"] == "pass"
    client.set_iam_policy(lab_paths, ["*"], ["rds:DeleteDBCluster", "rds:CreateDBClusterEndpoint"])
    denied = readiness.iam_permissions(sts, iam)
    assert denied["result"] == "fail"
    assert denied["evidence"]["denied"] == ["rds:CreateDBClusterEndpoint", "rds:DeleteDBCluster"]
