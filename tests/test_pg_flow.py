"""The PostgreSQL flow's pieces that need no lab: the engine seam (which flow the live Engine picks, read once per
step), step 01 against a real PostgreSQL 15 server behind a stubbed RDS API (a table without a primary key stops it
with the fix), step 02's refusal to replace a replication-degraded deployment without a confirmation naming it and
its green, the parameter files, TLS for psycopg, the diagram's words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ROOT
from pg_fixtures import ServerFactory, pg_base, pg_logins, pg_servers, pg_template, seeded  # noqa: F401

from runbook_lib.aws.clients import Clients, make_clients
from runbook_lib.aws.rds import RdsFacade
from runbook_lib.engines.mysql.connection import TlsSettings
from runbook_lib.engines.postgresql.connection import ssl_args
from runbook_lib.errors import GateClosed, RunbookError
from runbook_lib.lab.dataplane.postgres_servers import PgLogin
from runbook_lib.params import ParamsError, load, validate
from runbook_lib.run.context import Step, StepContext
from runbook_lib.run.folder import RunFolder
from runbook_lib.run.step_record import StepRecord
from runbook_lib.steps import cluster_flow, create, flows, postgres_flow, prerequisites
from runbook_lib.ui.diagram import replication_label

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """aws-mode steps whose RDS client is stubbed; every stub must be used up by the end of the test."""
    monkeypatch.setenv("RUNBOOK_RUNS_DIR", str(tmp_path / "runs"))
    made: list[Stubber] = []

    def make(number: str = "01", **values: Any) -> tuple[Step, Stubber]:
        params = validate({"mode": "aws", "region": REGION, "source_db_instance": "orders-pg",
                           "deployment_name": "bg-pg", "target_engine_version": "16.3",
                           "green_parameter_group": "orders-pg16", "green_option_group": None, "tls": "off",
                           **values})
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                                        region_name=REGION)
        clients: Clients = make_clients(params, session=session)
        stub = Stubber(clients.rds)
        stub.activate()
        made.append(stub)
        for other in ("sts", "iam"):  # nothing answers: IAM simulation is recorded as not possible (a warning)
            Stubber(getattr(clients, other)).activate()
        run = RunFolder.create(tmp_path / "runs", f"run-{number}-{len(made)}")
        rds = RdsFacade(clients.rds, dry_run=params.dry_run)
        return Step(StepContext(params, clients, rds), StepRecord(number, run, params.redacted, rds.recorded_calls)), stub

    yield make
    for stub in made:
        stub.assert_no_pending_responses()


def _instance(name: str, engine: str = "postgres", version: str = "15.7", port: int = 5432,
              group: str = "orders-pg15") -> dict[str, Any]:
    return {"DBInstanceIdentifier": name, "Engine": engine, "EngineVersion": version, "DBInstanceStatus": "available",
            "DBInstanceArn": arn("db", name), "DbiResourceId": f"db-{name.upper()}",
            "Endpoint": {"Address": "127.0.0.1", "Port": port},
            "DBParameterGroups": [{"DBParameterGroupName": group, "ParameterApplyStatus": "in-sync"}]}


def _cluster(name: str, engine: str) -> dict[str, Any]:
    return {"DBClusterIdentifier": name, "Engine": engine, "EngineVersion": "15.7", "DBClusterArn": arn("cluster", name),
            "DbClusterResourceId": f"cluster-{name.upper()}", "Status": "available"}


# -- the engine seam ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("engine", "expected"), [("postgres", postgres_flow.check), ("mysql", None)])
def test_the_instance_flow_comes_from_the_live_engine_read_once_per_step(aws: Any, engine: str,
                                                                        expected: Any) -> None:
    step, rds = aws()
    rds.add_response("describe_db_instances", {"DBInstances": [_instance("orders-pg", engine)]},
                     {"DBInstanceIdentifier": "orders-pg"})
    assert flows.handler(step, "check") is expected
    assert flows.handler(step, "switch_over") is (postgres_flow.switch_over if expected else None)
    assert flows.engine(step) == engine                       # one DescribeDBInstances for the whole step


@pytest.mark.parametrize(("engine", "check", "delete"), [
    ("aurora-postgresql", postgres_flow.check, cluster_flow.delete_old_cluster),
    ("aurora-mysql", cluster_flow.check, cluster_flow.delete_old_cluster)])
def test_the_cluster_flow_comes_from_the_live_engine(aws: Any, engine: str, check: Any, delete: Any) -> None:
    step, rds = aws(source_db_cluster="orders", green_cluster_parameter_group="orders-16")
    rds.add_response("describe_db_clusters", {"DBClusters": [_cluster("orders", engine)]},
                     {"DBClusterIdentifier": "orders"})
    assert flows.handler(step, "check") is check
    assert flows.handler(step, "delete_old_blue") is delete
    assert flows.handler(step, "resolve") is cluster_flow.resolve


def test_an_engine_no_flow_walks_is_refused_by_name(aws: Any) -> None:
    step, rds = aws()
    rds.add_response("describe_db_instances", {"DBInstances": [_instance("orders-pg", "oracle-ee")]},
                     {"DBInstanceIdentifier": "orders-pg"})
    with pytest.raises(RunbookError, match="engine 'oracle-ee'.*Nothing was changed"):
        prerequisites.check(step)


# -- step 01 on a real server ------------------------------------------------------------------------------------
def _group_stubs(rds: Stubber, port: int) -> None:
    rds.add_response("describe_db_instances", {"DBInstances": [_instance("orders-pg", port=port)]},
                     {"DBInstanceIdentifier": "orders-pg"})
    rds.add_response("describe_db_engine_versions", {"DBEngineVersions": [
        {"Engine": "postgres", "EngineVersion": "15.7", "ValidUpgradeTarget": [
            {"Engine": "postgres", "EngineVersion": "16.3", "IsMajorVersionUpgrade": True}]}]},
        {"Engine": "postgres", "EngineVersion": "15.7"})
    rds.add_response("describe_db_parameter_groups", {"DBParameterGroups": [
        {"DBParameterGroupName": "orders-pg16", "DBParameterGroupFamily": "postgres16", "Description": "green"}]},
        {"DBParameterGroupName": "orders-pg16"})
    logical = [{"ParameterName": "rds.logical_replication", "ParameterValue": "1", "Source": "user"}]
    rds.add_response("describe_db_parameters", {"Parameters": logical}, {"DBParameterGroupName": "orders-pg16"})
    rds.add_response("describe_db_parameters", {"Parameters": logical}, {"DBParameterGroupName": "orders-pg15"})


def test_step_01_stops_on_a_table_without_a_primary_key_with_the_fix(
        aws: Any, pg_servers: ServerFactory, pg_logins: dict[str, PgLogin],
        monkeypatch: pytest.MonkeyPatch) -> None:
    master = pg_logins["master"]
    server = pg_servers("flow-blue", "15.7", settings={"wal_level": "logical"})
    seeded(server, master, with_no_pk_table=True)
    monkeypatch.setenv("RUNBOOK_DB_PASSWORD", master.password)
    step, rds = aws(db_user=master.user, acknowledge_precheck_errors=["pgLargeObjects"])
    step.context.source_engine = "postgres"
    _group_stubs(rds, server.port)
    with pytest.raises(RunbookError, match="pgTablesWithoutPrimaryKey.*REPLICA IDENTITY") as stopped:
        prerequisites.check(step)
    assert "Nothing was changed" in str(stopped.value)
    checks = {c["id"]: c for c in step.checks}
    assert checks["pgTablesWithoutPrimaryKey"]["result"] == "fail"
    assert "shop" in checks["pgTablesWithoutPrimaryKey"]["evidence"]["databases"]
    assert checks["replicationMethod"]["evidence"]["replication"] == "logical"
    assert checks["targetVersion"]["result"] == "pass" and checks["greenParameterGroup"]["result"] == "pass"
    # every rule about blue and green ran, each with its evidence
    for rule in ("pgUnloggedTables", "pgPartmanOnBlue", "pglogicalOnBlue", "pgactiveOnBlue", "pgLargeObjects",
                 "pgMaterializedViews", "pgSequenceCount", "pgPartitionedTables", "pgTriggersReplicaOrAlways",
                 "pgBlueNotLogicalSourceOrReplica", "pgLogicalReplicationSettings", "pgExtensionsUpToDate",
                 "pgLogicalDecodingWorkMem", "pgReplicationTimeouts", "pgForeignServersByEndpoint", "pgAwsS3Access",
                 "pgAuditOnBoth", "pgCronOffOnGreen", "iamPermissions"):
        assert rule in checks, rule
    # the sample holds a large object (its data would not reach green): accepted on purpose, so a warning
    assert checks["pgLargeObjects"]["result"] == "warn"
    assert checks["pgLargeObjects"]["evidence"]["acknowledged"] == "acknowledge_precheck_errors"


# -- step 02: a degraded deployment ------------------------------------------------------------------------------
def test_a_degraded_deployment_is_replaced_only_once_confirm_delete_names_it_and_its_green(aws: Any) -> None:
    degraded = {"BlueGreenDeploymentIdentifier": "bgd-1", "BlueGreenDeploymentName": "bg-pg",
                "Source": arn("db", "orders-pg"), "Target": arn("db", "orders-pg-green-abc"), "Status": "AVAILABLE",
                "StatusDetails": "Replication degraded: DDL changes in the blue environment can't be replicated"}
    step, rds = aws("02")
    step.context.source_engine = "postgres"
    search = {"Filters": [{"Name": "blue-green-deployment-name", "Values": ["bg-pg"]}]}
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": [degraded]}, search)
    assert create.replacement(step) == ["bg-pg", "orders-pg-green-abc"]
    rds.add_response("describe_db_instances", {"DBInstances": [_instance("orders-pg")]},
                     {"DBInstanceIdentifier": "orders-pg"})
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": [degraded]}, search)
    rds.add_response("describe_db_instances", {"DBInstances": [_instance("orders-pg-green-abc", version="16.3")]},
                     {"DBInstanceIdentifier": "orders-pg-green-abc"})
    with pytest.raises(GateClosed, match="Replication degraded.*orders-pg-green-abc"):
        create.ensure_deployment(step)          # no DeleteBlueGreenDeployment was stubbed: none was made
    assert {c["id"]: c["result"] for c in step.checks}["deploymentReplicating"] == "fail"


# -- step 04 --------------------------------------------------------------------------------------------------------
def test_step_04_reads_pg_upgrade_precheck_log_only_when_the_creation_failed(aws: Any) -> None:
    from runbook_lib.steps import logs
    failed = {"BlueGreenDeploymentIdentifier": "bgd-2", "BlueGreenDeploymentName": "bg-pg",
              "Source": arn("db", "orders-pg"), "Target": arn("db", "orders-pg-green-xyz"),
              "Status": "INVALID_CONFIGURATION", "StatusDetails": "upgrade precheck failed"}
    search = {"Filters": [{"Name": "blue-green-deployment-name", "Values": ["bg-pg"]}]}
    step, rds = aws("04")
    step.context.source_engine = "postgres"
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": [failed]}, search)
    rds.add_response("describe_db_instances", {"DBInstances": [_instance("orders-pg-green-xyz", version="15.7")]},
                     {"DBInstanceIdentifier": "orders-pg-green-xyz"})
    name = "error/pg_upgrade_precheck.log.2026-11-26-01"
    rds.add_response("describe_db_log_files", {"DescribeDBLogFiles": [
        {"LogFileName": "error/postgresql.log.2026-11-26-01", "Size": 10, "LastWritten": 1},
        {"LogFileName": name, "Size": 90, "LastWritten": 2}]}, {"DBInstanceIdentifier": "orders-pg-green-xyz"})
    text = "Checking for reg* data types in user tables                fatal\nUpgrade precheck failed\n"
    rds.add_response("download_db_log_file_portion", {"LogFileData": text, "AdditionalDataPending": False},
                     {"DBInstanceIdentifier": "orders-pg-green-xyz", "LogFileName": name, "Marker": "0"})
    log = logs.read_precheck_log(step)
    assert log["name"] == name and step.findings["precheck_log"]["problems"] == [
        "Checking for reg* data types in user tables                fatal", "Upgrade precheck failed"]
    with pytest.raises(RunbookError, match="re-run step 02"):
        logs.fix_and_retry(step, log)

    ok, rds = aws("04")
    ok.context.source_engine = "postgres"
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": [
        {**failed, "Status": "AVAILABLE", "StatusDetails": ""}]}, search)
    assert logs.read_precheck_log(ok) == {"not_applicable": True}
    assert ok.checks[0]["id"] == "precheckLog" and ok.checks[0]["result"] == "skip"


# -- parameters, TLS, words --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "source", "target"), [("lab-postgresql.yaml", "pg-1", "16.3"),
                                                        ("lab-aurora-postgresql.yaml", "apg-1", "16.4")])
def test_the_parameter_files_name_the_lab_sources(name: str, source: str, target: str) -> None:
    params = load(ROOT / "parameters" / name)
    assert source in (params.source_db_cluster, params.source_db_instance)
    assert params.target_engine_version == target and params.post_switchover_maintenance == "run"
    assert params.confirm_switchover == params.deployment_name and f"{source}-old1" in params.confirm_delete


def test_post_switchover_maintenance_takes_remind_or_run() -> None:
    assert validate({}).post_switchover_maintenance == "remind"
    with pytest.raises(ParamsError, match="post_switchover_maintenance"):
        validate({"post_switchover_maintenance": "always"})


def test_psycopg_gets_the_tls_the_parameters_ask_for(tmp_path: Path) -> None:
    assert ssl_args(TlsSettings("off")) == {"sslmode": "disable"}
    assert ssl_args(TlsSettings("required")) == {"sslmode": "require"}
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    assert ssl_args(TlsSettings("verify-identity", str(bundle))) == {"sslmode": "verify-full",
                                                                    "sslrootcert": str(bundle)}


def test_the_diagram_names_the_replication() -> None:
    assert replication_label({"Engine": "postgres", "EngineVersion": "15.7"},
                             {"Engine": "postgres", "EngineVersion": "16.3"}) == "logical replication"
    assert replication_label({"Engine": "postgres", "EngineVersion": "15.7"},
                             {"Engine": "postgres", "EngineVersion": "15.8"}) == "physical replication"
    assert replication_label({"Engine": "aurora-postgresql", "EngineVersion": "15.7"}, {}) == "logical replication"
    assert replication_label({"Engine": "mysql", "EngineVersion": "5.7.44"}, {}) == "binlog replication"
