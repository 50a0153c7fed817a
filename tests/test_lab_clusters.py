"""The lab's Aurora MySQL clusters, through boto3 over HTTP and real MariaDB servers, against what RDS documents
(docs/lab-rules.md, "Aurora MySQL clusters"). Each test names the moto 5.2.5 defect it covers
(shared/docs/moto-gaps.md, "Aurora clusters"); on plain moto each would fail."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from botocore.exceptions import ClientError
from conftest import deployment, runbook_cli, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.control import aurora_seed
from runbook_lib.lab.paths import LabPaths

CLUSTER, WRITER, READER = aurora_seed.CLUSTER, aurora_seed.WRITER, aurora_seed.READER
TARGET = aurora_seed.TARGET_VERSION
TARGET_GROUP, TARGET_INSTANCE_GROUP = aurora_seed.GROUPS[1][0], aurora_seed.GROUPS[1][1]


@pytest.fixture
def aurora(lab: dict[str, Any], lab_paths: LabPaths) -> Iterator[dict[str, Any]]:
    """A fresh lab with the Aurora cluster seeded beside the instance."""
    yield client.seed_aurora(lab_paths)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _cluster(rds: Any, name: str = CLUSTER) -> dict[str, Any]:
    return dict(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0])


def _connect(paths: LabPaths, host: str, port: int) -> Any:
    creds = paths.read_credentials() or {}
    return pymysql.connect(host=host, port=port, user=creds["master_user"], password=creds["master_password"],
                           autocommit=True, connect_timeout=5)


def _query(paths: LabPaths, host: str, port: int, sql: str) -> Any:
    with _connect(paths, host, port) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def _create(rds: Any, name: str = "bg-aurora", **overrides: Any) -> dict[str, Any]:
    args = {"BlueGreenDeploymentName": name, "Source": _cluster(rds)["DBClusterArn"], "TargetEngineVersion": TARGET,
            "TargetDBClusterParameterGroupName": TARGET_GROUP, "TargetDBParameterGroupName": TARGET_INSTANCE_GROUP}
    args.update(overrides)
    return dict(rds.create_blue_green_deployment(**{k: v for k, v in args.items() if v is not None})
                ["BlueGreenDeployment"])


def _available(rds: Any) -> dict[str, Any]:
    created = _create(rds)
    return wait_for(lambda: deployment(rds, created["BlueGreenDeploymentIdentifier"]),
                    lambda d: d["Status"] != "PROVISIONING", timeout=120)


def test_cluster_and_reader_endpoints_reach_writer_and_a_replicating_reader(aurora: dict[str, Any], rds: Any,
                                                                             lab_paths: LabPaths) -> None:
    """moto: describe_db_cluster_endpoints is NotImplemented; no server behind a cluster."""
    cluster = _cluster(rds)
    members = {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in cluster["DBClusterMembers"]}
    assert members == {WRITER: True, READER: False}
    endpoints = {e["EndpointType"]: e for e in rds.describe_db_cluster_endpoints(
        DBClusterIdentifier=CLUSTER)["DBClusterEndpoints"]}
    assert set(endpoints) == {"WRITER", "READER"}
    assert endpoints["WRITER"]["Endpoint"] == cluster["Endpoint"] != cluster["ReaderEndpoint"]
    port = cluster["Port"]
    assert _query(lab_paths, cluster["Endpoint"], port, "SELECT @@read_only")[0][0] == 0
    assert _query(lab_paths, cluster["ReaderEndpoint"], port, "SELECT @@read_only")[0][0] == 1
    _query(lab_paths, cluster["Endpoint"], port, "CREATE TABLE shop.through_writer (id INT PRIMARY KEY)")
    _query(lab_paths, cluster["Endpoint"], port, "INSERT INTO shop.through_writer VALUES (7)")
    wait_for(lambda: _query(lab_paths, cluster["ReaderEndpoint"], port,
                            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'through_writer'"),
             lambda rows: rows[0][0] == 1, timeout=20)
    assert wait_for(lambda: _query(lab_paths, cluster["ReaderEndpoint"], port, "SELECT id FROM shop.through_writer"),
                    lambda rows: len(rows) == 1, timeout=20)[0][0] == 7


def test_aurora_engine_versions_have_upgrade_targets(aurora: dict[str, Any], rds: Any) -> None:
    """moto: describe_db_engine_versions is NotImplemented for Aurora."""
    record = rds.describe_db_engine_versions(Engine="aurora-mysql",
                                             EngineVersion=aurora_seed.SOURCE_VERSION)["DBEngineVersions"][0]
    assert record["DBParameterGroupFamily"] == "aurora-mysql5.7"
    targets = {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in record["ValidUpgradeTarget"]}
    assert targets[TARGET] is True and targets["5.7.mysql_aurora.2.12.4"] is False
    from_212 = rds.describe_db_engine_versions(Engine="aurora-mysql",
                                               EngineVersion="5.7.mysql_aurora.2.12.4")["DBEngineVersions"][0]
    assert "8.0.mysql_aurora.3.04.3" not in {t["EngineVersion"] for t in from_212["ValidUpgradeTarget"]}


def test_cluster_versions_and_default_groups_per_family(aurora: dict[str, Any], rds: Any) -> None:
    """moto: a bogus EngineVersion is accepted; every cluster gets `default.aurora8.0`; default.aurora-mysql5.7 is
    not found."""
    with pytest.raises(ClientError) as bogus:
        rds.create_db_cluster(DBClusterIdentifier="bogus", Engine="aurora-mysql", EngineVersion="9.9.bogus",
                              MasterUsername="admin", MasterUserPassword="x" * 12)
    assert _code(bogus) == "InvalidParameterCombination"
    created = rds.create_db_cluster(DBClusterIdentifier="plain", Engine="aurora-mysql",
                                    EngineVersion="5.7.mysql_aurora.2.11.2", MasterUsername="admin",
                                    MasterUserPassword="x" * 12)["DBCluster"]
    assert created["DBClusterParameterGroup"] == "default.aurora-mysql5.7"
    group = rds.describe_db_cluster_parameter_groups(
        DBClusterParameterGroupName="default.aurora-mysql5.7")["DBClusterParameterGroups"][0]
    assert group["DBParameterGroupFamily"] == "aurora-mysql5.7"


def test_cluster_parameters_list_every_parameter_with_source(aurora: dict[str, Any], rds: Any) -> None:
    """moto: describe_db_cluster_parameters returns only what was set, without Source."""
    params = {p["ParameterName"]: p for p in rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName=aurora_seed.GROUPS[0][0])["Parameters"]}
    assert params["binlog_format"]["ParameterValue"] == "ROW" and params["binlog_format"]["Source"] == "user"
    assert params["innodb_file_per_table"]["Source"] == "system"
    assert params["binlog_row_image"]["Source"] == "engine-default"
    defaults = {p["ParameterName"]: p for p in rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName="default.aurora-mysql8.0")["Parameters"]}
    assert defaults["binlog_format"]["ParameterValue"] == "OFF" and "event_scheduler" in defaults
    with pytest.raises(ClientError) as wrong:
        rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=TARGET_GROUP, Parameters=[
            {"ParameterName": "no_such_parameter", "ParameterValue": "1", "ApplyMethod": "immediate"}])
    assert _code(wrong) == "InvalidParameterValue"


def test_cluster_deployment_validates_version_group_and_one_per_source(aurora: dict[str, Any], rds: Any) -> None:
    """moto: a bogus target version, a missing or wrong-family cluster parameter group and several deployments per
    source are all accepted; 2.08/2.09 are accepted as a source."""
    cases = [({"TargetEngineVersion": "9.9.bogus"}, "InvalidParameterCombination"),
             ({"TargetDBClusterParameterGroupName": "no-such-group"}, "DBClusterParameterGroupNotFound"),
             ({"TargetDBClusterParameterGroupName": aurora_seed.GROUPS[0][0]}, "InvalidParameterCombination"),
             ({"TargetDBClusterParameterGroupName": None}, "InvalidParameterCombination")]
    for overrides, code in cases:
        with pytest.raises(ClientError) as refused:
            _create(rds, "bg-refused", **overrides)
        assert _code(refused) == code, overrides
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    _create(rds)
    with pytest.raises(ClientError) as second:
        _create(rds, "bg-second")
    assert _code(second) == "InvalidDBClusterStateFault"
    old = rds.create_db_cluster(DBClusterIdentifier="old-208", Engine="aurora-mysql",
                                EngineVersion="5.7.mysql_aurora.2.08.3", MasterUsername="admin",
                                MasterUserPassword="x" * 12)["DBCluster"]
    wait_for(lambda: _cluster(rds, "old-208"), lambda c: c["Status"] == "available")
    with pytest.raises(ClientError) as unsupported:
        _create(rds, "bg-208", Source=old["DBClusterArn"])
    assert _code(unsupported) == "SourceClusterNotSupportedFault"


def test_cluster_deployment_switchover_renames_clusters_and_instances(aurora: dict[str, Any], rds: Any,
                                                                      lab_paths: LabPaths) -> None:
    """moto: one SwitchoverDetails row, instance task names, no events, stop accepted, switchover renames clusters
    only with membership by name, and the cluster endpoint changes."""
    blue = _cluster(rds)
    port = blue["Port"]
    t0 = time.monotonic()
    bgd = _available(rds)
    provisioned_s = time.monotonic() - t0
    assert bgd["Status"] == "AVAILABLE", bgd
    assert [t["Name"] for t in bgd["Tasks"]] == ["CREATING_READ_REPLICA_OF_SOURCE", "DB_ENGINE_VERSION_UPGRADE",
                                                 "CREATE_DB_INSTANCES_FOR_CLUSTER", "CREATE_CUSTOM_ENDPOINTS"]
    details = bgd["SwitchoverDetails"]
    assert len(details) == 3 and details[0]["SourceMember"] == blue["DBClusterArn"]
    green_names = [d["TargetMember"].rsplit(":", 1)[1] for d in details]
    suffixes = {n.rsplit("-green-", 1)[1] for n in green_names}
    assert len(suffixes) == 3 and all(n.startswith(s.rsplit(":", 1)[1] + "-green-")
                                      for n, s in zip(green_names, [d["SourceMember"] for d in details], strict=True))
    with pytest.raises(ClientError) as stop:
        rds.stop_db_cluster(DBClusterIdentifier=CLUSTER)
    assert _code(stop) == "InvalidDBClusterStateFault"
    green = _cluster(rds, green_names[0])
    assert green["EngineVersion"] == TARGET and green["DBClusterParameterGroup"] == TARGET_GROUP
    # green's writer replicates from blue's writer (and green's reader from green's writer)
    _query(lab_paths, blue["Endpoint"], port, "CREATE TABLE shop.before_switch (id INT PRIMARY KEY)")
    _query(lab_paths, blue["Endpoint"], port, "INSERT INTO shop.before_switch VALUES (1), (2)")
    wait_for(lambda: _query(lab_paths, green["ReaderEndpoint"], green["Port"],
                            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'before_switch'"),
             lambda rows: rows[0][0] == 1, timeout=20)
    blue_ids = {i["DBInstanceIdentifier"]: i["DbiResourceId"] for i in rds.describe_db_instances()["DBInstances"]}

    t0 = time.monotonic()
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd["BlueGreenDeploymentIdentifier"])
    done = wait_for(lambda: deployment(rds, bgd["BlueGreenDeploymentIdentifier"]),
                    lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS", timeout=120)
    switchover_s = time.monotonic() - t0
    assert done["Status"] == "SWITCHOVER_COMPLETED", done
    assert {d["Status"] for d in done["SwitchoverDetails"]} == {"SWITCHOVER_COMPLETED"}
    production, old = _cluster(rds), _cluster(rds, f"{CLUSTER}-old1")
    assert production["EngineVersion"] == TARGET and old["EngineVersion"] == aurora_seed.SOURCE_VERSION
    assert production["DbClusterResourceId"] == green["DbClusterResourceId"]
    assert {(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in production["DBClusterMembers"]} == {
        (WRITER, True), (READER, False)}
    assert {(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in old["DBClusterMembers"]} == {
        (f"{WRITER}-old1", True), (f"{READER}-old1", False)}
    after = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    assert after[f"{WRITER}-old1"]["DbiResourceId"] == blue_ids[WRITER] != after[WRITER]["DbiResourceId"]
    assert after[WRITER]["DBClusterIdentifier"] == CLUSTER and after[f"{READER}-old1"]["DBClusterIdentifier"] == \
        f"{CLUSTER}-old1"
    assert not any("-green-" in n for n in after)
    # the endpoints kept their names: the same host and port now reach the 3.x writer, with the data
    assert production["Port"] == port and production["Endpoint"] == blue["Endpoint"]
    assert _query(lab_paths, production["Endpoint"], port, "SELECT VERSION()")[0][0].startswith("8.0.")
    assert _query(lab_paths, production["Endpoint"], port, "SELECT COUNT(*) FROM shop.before_switch")[0][0] == 2
    _query(lab_paths, production["Endpoint"], port, "INSERT INTO shop.before_switch VALUES (3)")
    assert wait_for(lambda: _query(lab_paths, production["ReaderEndpoint"], port,
                                   "SELECT COUNT(*) FROM shop.before_switch"), lambda r: r[0][0] == 3)
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment",
                                                          SourceIdentifier=bgd["BlueGreenDeploymentIdentifier"])
                ["Events"]]
    assert any("Renamed DB cluster" in m for m in messages) and any(f"Renamed {READER} to" in m for m in messages)
    print(f"\ncluster deployment provisioned in {provisioned_s:.2f} s, switched over in {switchover_s:.2f} s (lab)")


def test_lab_status_json_lists_clusters_beside_instances(aurora: dict[str, Any]) -> None:
    """`runbook lab status --json` keeps its top-level keys and adds the clusters."""
    done = runbook_cli("lab", "status", "--json")
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert state["endpoint_url"] and state["region"] == "us-east-1" and "database-1" in state["instances"]
    (cluster,) = [c for c in state["clusters"] if c["identifier"] == CLUSTER]
    assert cluster["engine_version"] == aurora_seed.SOURCE_VERSION
    assert [(m["identifier"], m["writer"]) for m in cluster["members"]] == [(WRITER, True), (READER, False)]
    assert cluster["endpoints"]["cluster"]["port"] == cluster["endpoints"]["reader"]["port"]
    assert cluster["endpoints"]["cluster"]["host"] != cluster["endpoints"]["reader"]["host"]


def test_moto_cluster_internals_the_lab_uses_exist() -> None:
    """lab/moto_internals.py names what it reads on moto's records; a moto release that renames them fails here."""
    from runbook_lib.lab import moto_internals
    backend = moto_internals.rds_backend(moto_internals.DEFAULT_ACCOUNT_ID, "ap-south-2")
    for name in moto_internals.RDS_BACKEND_ATTRIBUTES:
        assert hasattr(backend, name), name
    cluster = backend.create_db_cluster({"db_cluster_identifier": "internals", "engine": "aurora-mysql",
                                         "engine_version": "5.7.mysql_aurora.2.11.5", "master_username": "admin",
                                         "master_user_password": "x" * 12})
    try:
        for name in moto_internals.CLUSTER_ATTRIBUTES:
            assert hasattr(cluster, name), name
        moto_internals.adopt_cluster(cluster)
        assert cluster._members == [] and cluster.endpoint == moto_internals.CLUSTER_HOST
    finally:
        moto_internals.reset_backends(moto_internals.DEFAULT_ACCOUNT_ID, "ap-south-2")


def test_cluster_diagram_shows_members_endpoints_and_replication(aurora: dict[str, Any], rds: Any) -> None:
    from runbook_lib.aws.rds import RdsFacade
    from runbook_lib.ui import diagram
    _available(rds)
    source = diagram.cluster_topology(RdsFacade(rds), CLUSTER, "bg-aurora", "test").source
    for text in (WRITER, READER, "cluster endpoint", "reader endpoint", "binlog replication", "-green-",
                 "writer", "reader", TARGET):
        assert text in source, text


def test_failed_upgrade_precheck_fails_creation_with_a_json_log(lab: dict[str, Any], lab_paths: LabPaths,
                                                                 rds: Any) -> None:
    """Aurora runs its upgrade prechecks while creating a deployment with a major target version; a blocker makes
    the creation fail (INVALID_CONFIGURATION, events), green stays on the source version with upgrade-prechecks.log
    (JSON) on its writer; DeleteTarget then deletes green's cluster and instances. moto: AVAILABLE at once."""
    from runbook_lib.engines.mysql.upgrade_checks import parse_log
    client.seed_aurora(lab_paths, seed_blocker=True)
    bgd = _available(rds)
    assert bgd["Status"] == "INVALID_CONFIGURATION", bgd
    assert {t["Name"]: t["Status"] for t in bgd["Tasks"]}["DB_ENGINE_VERSION_UPGRADE"] == "FAILED"
    green_name = bgd["Target"].rsplit(":", 1)[1]
    green = _cluster(rds, green_name)
    assert green["EngineVersion"] == aurora_seed.SOURCE_VERSION
    writer = next(m["DBInstanceIdentifier"] for m in green["DBClusterMembers"] if m["IsClusterWriter"])
    files = [f["LogFileName"] for f in rds.describe_db_log_files(DBInstanceIdentifier=writer)["DescribeDBLogFiles"]]
    assert "upgrade-prechecks.log" in files
    text = rds.download_db_log_file_portion(DBInstanceIdentifier=writer, LogFileName="upgrade-prechecks.log",
                                            NumberOfLines=10000)["LogFileData"]
    report = parse_log(text)
    assert getattr(report, "format", None) == "aurora-json" and report.errorCount > 0
    assert "removedFunctionsCheck" in {c.id for c, p in report.problems() if p.level == "Error"}
    cluster_events = [e["Message"] for e in rds.describe_events(SourceType="db-cluster",
                                                                SourceIdentifier=green_name)["Events"]]
    assert any("Upgrade prechecks failed" in m for m in cluster_events)
    deployment_events = [e["Message"] for e in rds.describe_events(
        SourceType="blue-green-deployment", SourceIdentifier=bgd["BlueGreenDeploymentIdentifier"])["Events"]]
    assert any(m.startswith("Creation of blue/green deployment failed") for m in deployment_events)
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd["BlueGreenDeploymentIdentifier"],
                                     DeleteTarget=True)
    wait_for(lambda: [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]],
             lambda names: names == [CLUSTER], timeout=60)
    assert not any("-green-" in i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"])
