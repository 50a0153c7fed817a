"""The lab's PostgreSQL side, through boto3 over HTTP with real PostgreSQL servers behind it, against what RDS documents
(docs/lab-rules.md, "PostgreSQL"): the seed (pg-1, apg-1), engine versions and parameters, blue/green creation with
the documented replication method, Replication degraded (DDL, large objects) and the refused switchover, the switchover
with sequences ahead and blue read-only, and cleanup. The tests share one lab (seeded once) and run in file order."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError
from conftest import runbook_cli, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.control import postgres_seed
from runbook_lib.lab.paths import LabPaths

PG, APG = postgres_seed.INSTANCE, postgres_seed.CLUSTER
WRITER, READER = postgres_seed.WRITER, postgres_seed.READER


def _reachable(path: Path) -> None:
    """The postgres system user must pass through the lab folder's parents when tests run as root."""
    if os.geteuid() != 0:
        return
    for folder in [path, *path.parents]:
        if folder.exists() and folder.stat().st_uid == 0 and not folder.stat().st_mode & 0o001:
            folder.chmod(folder.stat().st_mode | 0o011)


@pytest.fixture(scope="module")
def pglab(lab_paths: LabPaths) -> Iterator[dict[str, Any]]:
    _reachable(lab_paths.root)
    client.reset(lab_paths)
    started = time.monotonic()
    state = client.seed_postgres(lab_paths)
    state["seed_s"] = time.monotonic() - started
    yield state


@pytest.fixture
def rds(pglab: dict[str, Any]) -> Any:
    return boto3.client("rds", endpoint_url=pglab["endpoint_url"], region_name="us-east-1",
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _connect(paths: LabPaths, host: str, port: int, dbname: str = "shop") -> psycopg.Connection[Any]:
    creds = paths.read_credentials() or {}
    return psycopg.connect(host=host, port=port, user=creds["master_user"], password=creds["master_password"],
                           dbname=dbname, autocommit=True, sslmode="disable", connect_timeout=5)


def _one(paths: LabPaths, host: str, port: int, sql: str) -> Any:
    with _connect(paths, host, port) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


def _instance(rds: Any, name: str) -> dict[str, Any]:
    return dict(rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0])


def _cluster(rds: Any, name: str = APG) -> dict[str, Any]:
    return dict(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0])


def _ep(inst: dict[str, Any]) -> tuple[str, int]:
    return str(inst["Endpoint"]["Address"]), int(inst["Endpoint"]["Port"])


def _deployment(rds: Any, ident: str) -> dict[str, Any]:
    return dict(rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)["BlueGreenDeployments"][0])


def _create(rds: Any, name: str, cluster: bool = False, target: str | None = None, **extra: Any) -> dict[str, Any]:
    if cluster:
        args = {"Source": _cluster(rds)["DBClusterArn"], "TargetEngineVersion": target or "16.4",
                "TargetDBClusterParameterGroupName": "aurora-postgresql16-bluegreen"}
    else:
        version = target or "16.3"
        args = {"Source": _instance(rds, PG)["DBInstanceArn"], "TargetEngineVersion": version,
                "TargetDBParameterGroupName": f"postgres{version.split('.')[0]}-bluegreen"}
    args.update(extra)
    return dict(rds.create_blue_green_deployment(BlueGreenDeploymentName=name, **args)["BlueGreenDeployment"])


def _available(rds: Any, ident: str, timeout: float = 60) -> dict[str, Any]:
    return dict(wait_for(lambda: _deployment(rds, ident), lambda d: d["Status"] != "PROVISIONING", timeout))


def _events(rds: Any, ident: str) -> list[str]:
    return [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment",
                                                       SourceIdentifier=ident)["Events"]]


def _delete_with_green(rds: Any, ident: str) -> None:
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, DeleteTarget=True)
    wait_for(lambda: [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
             + [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]],
             lambda names: not any("-green-" in n for n in names), 60)


def pglab_cloudwatch(rds: Any) -> Any:
    return boto3.client("cloudwatch", endpoint_url=rds.meta.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def _replica_lag(cloudwatch: Any, green: str) -> None:
    """Green's ReplicaLag reaches CloudWatch within seconds, and a green that keeps up shows (about) 0."""
    def fetch() -> list[float]:
        now = datetime.now(timezone.utc)
        data = cloudwatch.get_metric_data(MetricDataQueries=[{"Id": "lag", "MetricStat": {"Metric": {
            "Namespace": "AWS/RDS", "MetricName": "ReplicaLag",
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": green}]}, "Period": 60, "Stat": "Maximum"}}],
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1))
        return list(data["MetricDataResults"][0].get("Values", []))
    values = wait_for(fetch, bool, 10)
    assert values[0] < 5, values


# -- seed, versions, parameters ------------------------------------------------------------------------------------
def test_seed_brings_up_pg_instance_and_aurora_cluster_beside_mysql(pglab: dict[str, Any], rds: Any,
                                                                     lab_paths: LabPaths) -> None:
    assert pglab["seed_s"] < 60
    pg = _instance(rds, PG)
    assert (pg["Engine"], pg["EngineVersion"], pg["DBInstanceStatus"]) == ("postgres", "15.7", "available")
    assert pg["MasterUsername"] == "admin" and pg["DbiResourceId"].startswith("db-")
    assert pg["DBParameterGroups"] == [{"DBParameterGroupName": "postgres15-bluegreen",
                                        "ParameterApplyStatus": "in-sync"}]
    assert _instance(rds, "database-1")["DBInstanceStatus"] == "available"
    apg = _cluster(rds)
    assert (apg["Engine"], apg["EngineVersion"], apg["Status"]) == ("aurora-postgresql", "15.7", "available")
    assert apg["DBClusterParameterGroup"] == "aurora-postgresql15-bluegreen"
    assert apg["DbClusterResourceId"].startswith("cluster-")
    assert [(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in apg["DBClusterMembers"]] == [
        (WRITER, True), (READER, False)]
    for host, port in (_ep(pg), (apg["Endpoint"], apg["Port"])):
        assert _one(lab_paths, host, port, "SELECT count(*) FROM orders") == 6000
        assert _one(lab_paths, host, port, "SELECT count(*) FROM pg_largeobject_metadata") == 1
        assert _one(lab_paths, host, port, "SELECT count(*) FROM pg_matviews") == 1
        assert _one(lab_paths, host, port, "SHOW rds_lab.engine_version") == "15.7"
    # the reader endpoint reaches a physical standby of the writer
    assert _one(lab_paths, apg["ReaderEndpoint"], apg["Port"], "SELECT pg_is_in_recovery()") is True
    params = {p["ParameterName"]: p for p in rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName="aurora-postgresql15-bluegreen")["Parameters"]}
    assert (params["rds.logical_replication"]["ParameterValue"], params["rds.logical_replication"]["Source"]) == (
        "1", "user")
    assert rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName="aurora-postgresql16-bluegreen")[
        "DBClusterParameterGroups"][0]["DBParameterGroupFamily"] == "aurora-postgresql16"
    logs = [f["LogFileName"] for f in rds.describe_db_log_files(DBInstanceIdentifier=PG)["DescribeDBLogFiles"]]
    assert len(logs) == 1 and logs[0].startswith("error/postgresql.log.")
    assert "database system is ready" in rds.download_db_log_file_portion(
        DBInstanceIdentifier=PG, LogFileName=logs[0], NumberOfLines=1000)["LogFileData"]
    again = client.seed_postgres(lab_paths)  # idempotent
    assert again["instances"][PG]["dbi_resource_id"] == pg["DbiResourceId"]
    status = json.loads(runbook_cli("lab", "status", "--json").stdout)
    assert {"running", "endpoint_url", "region", "instances", "clusters", "endpoints"} <= set(status)
    assert status["instances"][PG]["engine"] == "postgres" and status["instances"][PG]["server_port"]
    assert any(c["identifier"] == APG for c in status["clusters"])


def test_engine_versions_and_default_parameters(rds: Any) -> None:
    for engine, target in (("postgres", "16.3"), ("aurora-postgresql", "16.4")):
        record = rds.describe_db_engine_versions(Engine=engine, EngineVersion="15.7")["DBEngineVersions"][0]
        assert record["DBParameterGroupFamily"] == f"{engine}15"
        targets = {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in record["ValidUpgradeTarget"]}
        assert targets[target] is True
    wanted = {"rds.logical_replication", "max_replication_slots", "max_wal_senders", "max_logical_replication_workers",
              "max_worker_processes", "shared_preload_libraries", "logical_decoding_work_mem", "wal_sender_timeout",
              "wal_receiver_timeout", "rds.logically_replicate_unlogged_tables"}
    for family in ("postgres15", "postgres16"):
        params = {p["ParameterName"]: p for p in rds.describe_engine_default_parameters(
            DBParameterGroupFamily=family)["EngineDefaults"]["Parameters"]}
        assert wanted <= set(params)
        assert params["rds.logical_replication"]["ApplyType"] == "static"
        assert all({"Source", "ApplyType", "IsModifiable"} <= set(p) for p in params.values())
    for family in ("aurora-postgresql15", "aurora-postgresql16"):
        params = {p["ParameterName"]: p for p in rds.describe_engine_default_cluster_parameters(
            DBParameterGroupFamily=family)["EngineDefaults"]["Parameters"]}
        assert wanted | {"apg_plan_mgmt.capture_plan_baselines"} <= set(params)
    with pytest.raises(ClientError) as exc:
        rds.modify_db_parameter_group(DBParameterGroupName="postgres16-bluegreen", Parameters=[
            {"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "immediate"}])
    assert _code(exc) == "InvalidParameterValue"


def test_creation_is_refused_or_fails_as_rds_documents(rds: Any) -> None:
    with pytest.raises(ClientError) as exc:
        _create(rds, "bg-bad-target", target="17.1", TargetDBParameterGroupName="postgres16-bluegreen")
    assert _code(exc) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as exc:  # a major version needs a group of the new family
        _create(rds, "bg-bad-group", TargetDBParameterGroupName="postgres15-bluegreen")
    assert _code(exc) == "InvalidParameterCombination"
    rds.create_db_parameter_group(DBParameterGroupName="pg15-plain", DBParameterGroupFamily="postgres15",
                                  Description="no logical replication")
    for name, version, group in (("pg-old", "15.3", "postgres15-bluegreen"), ("pg-plain", "15.7", "pg15-plain")):
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", EngineVersion=version,
                               DBInstanceClass="db.t3.micro", MasterUsername="admin", MasterUserPassword="x" * 12,
                               AllocatedStorage=20, BackupRetentionPeriod=1, DBParameterGroupName=group)
    for name in ("pg-old", "pg-plain"):
        wait_for(lambda n=name: _instance(rds, n)["DBInstanceStatus"], lambda s: s == "available", 60)
    # replication-methods page: no major version at creation from 15.3 and lower
    with pytest.raises(ClientError) as exc:
        rds.create_blue_green_deployment(BlueGreenDeploymentName="bg-old", Source=_instance(rds, "pg-old")[
            "DBInstanceArn"], TargetEngineVersion="16.3", TargetDBParameterGroupName="postgres16-bluegreen")
    assert _code(exc) == "InvalidParameterCombination" and "15.3" in str(exc.value)
    # logical replication without rds.logical_replication = 1: accepted, then the creation fails naming it
    created = rds.create_blue_green_deployment(
        BlueGreenDeploymentName="bg-plain", Source=_instance(rds, "pg-plain")["DBInstanceArn"],
        TargetEngineVersion="16.3", TargetDBParameterGroupName="postgres16-bluegreen")["BlueGreenDeployment"]
    ident = created["BlueGreenDeploymentIdentifier"]
    failed = _available(rds, ident)
    assert failed["Status"] == "INVALID_CONFIGURATION"
    assert "rds.logical_replication" in failed["StatusDetails"]
    assert any("incompatible parameter(s): [rds.logical_replication]" in m for m in _events(rds, ident))
    _delete_with_green(rds, ident)
    # too few logical replication workers for blue's databases: the same failure, naming that parameter
    rds.modify_db_parameter_group(DBParameterGroupName="pg15-plain", Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"},
        {"ParameterName": "max_logical_replication_workers", "ParameterValue": "0", "ApplyMethod": "pending-reboot"}])
    ident = rds.create_blue_green_deployment(
        BlueGreenDeploymentName="bg-plain", Source=_instance(rds, "pg-plain")["DBInstanceArn"],
        TargetEngineVersion="16.3", TargetDBParameterGroupName="postgres16-bluegreen")["BlueGreenDeployment"][
        "BlueGreenDeploymentIdentifier"]
    failed = _available(rds, ident)
    assert failed["Status"] == "INVALID_CONFIGURATION"
    assert failed["StatusDetails"].endswith("[max_logical_replication_workers]"), failed
    _delete_with_green(rds, ident)
    for name in ("pg-old", "pg-plain"):
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    wait_for(lambda: {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]},
             lambda names: not names & {"pg-old", "pg-plain"}, 60)


def test_same_major_is_physical_green_read_only_and_caught_up(rds: Any, lab_paths: LabPaths) -> None:
    started = time.monotonic()
    ident = _create(rds, "bg-pg-minor", target="15.8")["BlueGreenDeploymentIdentifier"]
    bgd = _available(rds, ident)
    built = time.monotonic() - started
    assert bgd["Status"] == "AVAILABLE", bgd
    green = _instance(rds, bgd["Target"].rsplit(":", 1)[1])
    assert green["DBInstanceIdentifier"].startswith(f"{PG}-green-") and green["EngineVersion"] == "15.8"
    with _connect(lab_paths, *_ep(_instance(rds, PG))) as conn:
        conn.execute("INSERT INTO products (sku, price) VALUES ('SKU-PHYS', 1)")
    host, port = _ep(green)
    assert _one(lab_paths, host, port, "SELECT pg_is_in_recovery()") is True   # a physical standby
    assert _one(lab_paths, host, port, "SHOW rds_lab.engine_version") == "15.8"
    wait_for(lambda: _one(lab_paths, host, port, "SELECT count(*) FROM products WHERE sku = 'SKU-PHYS'"),
             lambda n: n == 1, 10)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), _connect(lab_paths, host, port) as conn:
        conn.execute("INSERT INTO products (sku, price) VALUES ('SKU-GREEN', 1)")
    print(f"physical green built through the API in {built:.2f} s")
    _replica_lag(pglab_cloudwatch(rds), green["DBInstanceIdentifier"])
    # a physical switchover: green promoted, the old blue read-only; then the old blue goes
    blue = _instance(rds, PG)
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    bgd = wait_for(lambda: _deployment(rds, ident), lambda d: d["Status"] not in ("AVAILABLE",
                                                                                   "SWITCHOVER_IN_PROGRESS"), 60)
    assert bgd["Status"] == "SWITCHOVER_COMPLETED", bgd
    new = _instance(rds, PG)
    assert new["EngineVersion"] == "15.8" and new["DbiResourceId"] == green["DbiResourceId"]
    with _connect(lab_paths, *_ep(new)) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        conn.execute("INSERT INTO products (sku, price) VALUES ('SKU-AFTER-PHYS', 1)")
    assert not any("Sequence sync" in m for m in _events(rds, ident))   # physical replication carries sequences
    assert _one(lab_paths, *_ep(_instance(rds, f"{PG}-old1")), "SHOW default_transaction_read_only") == "on"
    assert _instance(rds, f"{PG}-old1")["DbiResourceId"] == blue["DbiResourceId"]
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    rds.delete_db_instance(DBInstanceIdentifier=f"{PG}-old1", SkipFinalSnapshot=True)
    wait_for(lambda: [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]],
             lambda names: f"{PG}-old1" not in names, 30)


def test_ddl_on_blue_degrades_and_blocks_switchover_until_recreated(rds: Any, lab_paths: LabPaths) -> None:
    """DDL on blue (logical replication) → RDS-EVENT-0409 and StatusDetails; DCL does not count; the switchover is
    refused; deleted with green, the next deployment from the same blue is healthy (the next test switches it)."""
    ident = _create(rds, "bg-pg-ddl")["BlueGreenDeploymentIdentifier"]
    bgd = _available(rds, ident)
    assert bgd["Status"] == "AVAILABLE"
    green = _instance(rds, bgd["Target"].rsplit(":", 1)[1])
    assert green["EngineVersion"] == "16.3"
    _replica_lag(pglab_cloudwatch(rds), green["DBInstanceIdentifier"])
    assert _one(lab_paths, *_ep(green), "SHOW rds_lab.engine_version") == "16.3"   # record-level major version
    assert _one(lab_paths, *_ep(green), "SHOW transaction_read_only") == "on"
    assert _one(lab_paths, *_ep(green), "SELECT pg_is_in_recovery()") is False   # a subscriber, not a standby
    with _connect(lab_paths, *_ep(_instance(rds, PG))) as conn:
        conn.execute("INSERT INTO products (sku, price) VALUES ('SKU-LOGICAL', 1)")
    wait_for(lambda: _one(lab_paths, *_ep(green), "SELECT count(*) FROM products WHERE sku = 'SKU-LOGICAL'"),
             lambda n: n == 1, 10)
    with _connect(lab_paths, *_ep(_instance(rds, PG))) as conn:
        conn.execute("GRANT SELECT ON customers TO PUBLIC")
        time.sleep(1.2)   # two rounds of the watcher: DCL only warns
        assert not (_deployment(rds, ident).get("StatusDetails") or "")
        conn.execute("ALTER TABLE customers ADD COLUMN nickname text")
    with pytest.raises(ClientError) as exc:   # at once: the API looks at blue itself
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    assert _code(exc) == "InvalidBlueGreenDeploymentStateFault" and "ALTER TABLE" in str(exc.value)
    bgd = _deployment(rds, ident)
    assert bgd["Status"] == "AVAILABLE" and bgd["StatusDetails"].startswith("Replication degraded: DDL on blue")
    assert any(m.startswith("Replication degraded: DDL changes in the blue environment") for m in _events(rds, ident))
    _delete_with_green(rds, ident)


def test_large_object_change_on_blue_degrades_and_blocks_switchover(rds: Any, lab_paths: LabPaths) -> None:
    ident = _create(rds, "bg-pg-lo")["BlueGreenDeploymentIdentifier"]
    assert _available(rds, ident)["Status"] == "AVAILABLE"
    with _connect(lab_paths, *_ep(_instance(rds, PG))) as conn:
        conn.execute("SELECT lo_from_bytea(0, 'new contract')")
    bgd = wait_for(lambda: _deployment(rds, ident), lambda d: "Replication degraded" in (d.get("StatusDetails") or ""),
                   10)
    assert bgd["Status"] == "AVAILABLE"   # no invented status value
    assert "large object" in bgd["StatusDetails"]
    degraded = [e for e in rds.describe_events(SourceType="blue-green-deployment", SourceIdentifier=ident)["Events"]
                if e["Message"].startswith("Replication degraded: large object changes")]
    assert len(degraded) == 1 and degraded[0]["EventCategories"] == ["notification"]
    with pytest.raises(ClientError) as exc:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    assert _code(exc) == "InvalidBlueGreenDeploymentStateFault" and "large object" in str(exc.value)
    _delete_with_green(rds, ident)
    with _connect(lab_paths, *_ep(_instance(rds, PG))) as conn:   # blue carries no lab leftovers
        assert conn.execute("SELECT count(*) FROM pg_publication").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_event_trigger").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone() == (0,)
        conn.execute("SELECT lo_unlink(max(oid)) FROM pg_largeobject_metadata")


def _writer(paths: LabPaths, host: str, port: int, stop: threading.Event, acked: list[int]) -> None:
    """One row per attempt through the endpoint, a new connection after any failure (what an application does)."""
    conn: psycopg.Connection[Any] | None = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = _connect(paths, host, port)
            row = conn.execute("INSERT INTO customers (name, email, created_at) VALUES ('w', "
                               "'w' || clock_timestamp() || random() || '@x', now()) RETURNING id").fetchone()
            assert row is not None
            acked.append(int(row[0]))
        except psycopg.Error:
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)
    if conn is not None:
        conn.close()


def test_instance_switchover_with_writes_sequences_ahead_and_old_blue_read_only(rds: Any,
                                                                                 lab_paths: LabPaths) -> None:
    started = time.monotonic()
    ident = _create(rds, "bg-pg-major")["BlueGreenDeploymentIdentifier"]
    assert _available(rds, ident)["Status"] == "AVAILABLE"
    built = time.monotonic() - started
    blue = _instance(rds, PG)
    # green stops applying during the switchover: past SwitchoverTimeout it is rolled back, blue writable again
    client.set_switches(lab_paths, stall_green_sql_thread=True)
    t0 = time.monotonic()
    try:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=30)
        bgd = wait_for(lambda: _deployment(rds, ident), lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS", 30)
    finally:
        client.set_switches(lab_paths, stall_green_sql_thread=False)
    print(f"rolled back after {time.monotonic() - t0:.2f} s")
    assert bgd["Status"] == "AVAILABLE", bgd
    assert bgd["StatusDetails"] == ("Switchover failed and was rolled back: the green environment did not catch up "
                                    "with the blue environment within the switchover timeout"), bgd
    assert any("Switchover canceled on blue/green deployment." == m for m in _events(rds, ident))
    assert _one(lab_paths, *_ep(_instance(rds, PG)), "SHOW default_transaction_read_only") == "off"
    with _connect(lab_paths, *_ep(blue)) as conn:   # green applies again after the rollback
        conn.execute("INSERT INTO products (sku, price) VALUES ('SKU-ROLLED-BACK', 1)")
    green_ep = _ep(_instance(rds, _deployment(rds, ident)["Target"].rsplit(":", 1)[1]))
    wait_for(lambda: _one(lab_paths, *green_ep, "SELECT count(*) FROM products WHERE sku = 'SKU-ROLLED-BACK'"),
             lambda n: n == 1, 10)
    with _connect(lab_paths, *_ep(blue)) as conn:
        invoice = conn.execute("SELECT nextval('invoice_numbers')").fetchone()
        blue_invoice = int(invoice[0]) if invoice else 0
    stop, acked = threading.Event(), []  # type: ignore[var-annotated]
    thread = threading.Thread(target=_writer, args=(lab_paths, *_ep(blue), stop, acked))
    thread.start()
    time.sleep(0.5)
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    bgd = wait_for(lambda: _deployment(rds, ident), lambda d: d["Status"] not in ("AVAILABLE",
                                                                                   "SWITCHOVER_IN_PROGRESS"), 60)
    # right after switchover: every sequence is ahead of what blue handed out
    new = _instance(rds, PG)
    with _connect(lab_paths, *_ep(new)) as conn:
        conn.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at) VALUES (1, 1, 1, now())")
        conn.execute("INSERT INTO products (sku, price) VALUES ('SKU-AFTER', 2)")
        after = conn.execute("INSERT INTO customers (name, email, created_at) VALUES ('after', 'after@x', now()) "
                             "RETURNING id").fetchone()
        next_invoice = conn.execute("SELECT nextval('invoice_numbers')").fetchone()
    time.sleep(0.3)
    stop.set()
    thread.join(10)
    assert bgd["Status"] == "SWITCHOVER_COMPLETED", bgd
    assert new["EngineVersion"] == "16.3" and new["DbiResourceId"] != blue["DbiResourceId"]
    assert after is not None and acked
    assert next_invoice is not None and int(next_invoice[0]) > blue_invoice
    old = _instance(rds, f"{PG}-old1")
    query = "SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences"
    with _connect(lab_paths, *_ep(old)) as conn:
        handed_out = {r[0]: r[1] for r in conn.execute(query).fetchall()}
    with _connect(lab_paths, *_ep(new)) as conn:
        for sequence, value in handed_out.items():   # the next value of every sequence is past blue's
            row = conn.execute("SELECT nextval(%s::regclass)", (sequence,)).fetchone()
            assert row is not None and (value is None or row[0] > value), (sequence, value, row)
    with _connect(lab_paths, *_ep(new)) as conn:   # zero lost writes
        have = {r[0] for r in conn.execute("SELECT id FROM customers WHERE name = 'w'").fetchall()}
    assert set(acked) <= have
    assert old["DbiResourceId"] == blue["DbiResourceId"]
    assert _one(lab_paths, *_ep(old), "SHOW default_transaction_read_only") == "on"
    messages = _events(rds, ident)
    for wanted in ("Sequence sync for switchover of DB instance pg-1", "has initiated", "has completed",
                   "Switchover completed on blue/green deployment."):
        assert any(wanted in m for m in messages), (wanted, messages)
    print(f"logical green built through the API in {built:.2f} s; {len(acked)} writes acked")
    # cleanup: the deployment, then the old blue with a final snapshot
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    rds.delete_db_instance(DBInstanceIdentifier=f"{PG}-old1", FinalDBSnapshotIdentifier="pg-1-old1-final")
    snap = wait_for(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="pg-1-old1-final")["DBSnapshots"],
                    lambda s: s and s[0]["Status"] == "available", 30)
    assert snap[0]["Engine"] == "postgres"
    wait_for(lambda: [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]],
             lambda names: f"{PG}-old1" not in names, 30)
    assert not rds.describe_blue_green_deployments()["BlueGreenDeployments"]



def test_physical_deployment_deleted_with_green_leaves_blue_without_slot(rds: Any, lab_paths: LabPaths) -> None:
    """pg-1 is on 16.3 now: 16.4 is the same major, so physical; deleted with its green, blue keeps no slot."""
    ident = _create(rds, "bg-pg-phys-delete", target="16.4")["BlueGreenDeploymentIdentifier"]
    bgd = _available(rds, ident)
    assert bgd["Status"] == "AVAILABLE", bgd
    green = _instance(rds, bgd["Target"].rsplit(":", 1)[1])
    assert _one(lab_paths, *_ep(green), "SELECT pg_is_in_recovery()") is True
    _delete_with_green(rds, ident)
    assert _one(lab_paths, *_ep(_instance(rds, PG)), "SELECT count(*) FROM pg_replication_slots") == 0
    assert not client.status(lab_paths)["failures"]


@pytest.mark.full
def test_cluster_ddl_degrades_then_recreated_deployment_switches_over(rds: Any, lab_paths: LabPaths) -> None:
    """Aurora PostgreSQL: DDL on blue → Replication degraded (event, StatusDetails) → switchover refused → delete with
    green → recreate from the same blue → switchover → apg-1 is the 16.4 cluster, writable, sequences ahead."""
    started = time.monotonic()
    ident = _create(rds, "bg-apg", cluster=True)["BlueGreenDeploymentIdentifier"]
    bgd = _available(rds, ident)
    print(f"Aurora PostgreSQL green (writer + reader) built through the API in {time.monotonic() - started:.2f} s")
    assert bgd["Status"] == "AVAILABLE", bgd
    assert [t["Name"] for t in bgd["Tasks"]] == ["CREATING_READ_REPLICA_OF_SOURCE", "DB_ENGINE_VERSION_UPGRADE",
                                                 "CREATE_DB_INSTANCES_FOR_CLUSTER", "CREATE_CUSTOM_ENDPOINTS"]
    assert len(bgd["SwitchoverDetails"]) == 3   # the cluster and each member
    green = _cluster(rds, bgd["Target"].rsplit(":", 1)[1])
    assert green["DBClusterIdentifier"].startswith(f"{APG}-green-") and green["EngineVersion"] == "16.4"
    assert _one(lab_paths, green["Endpoint"], green["Port"], "SHOW transaction_read_only") == "on"
    assert _one(lab_paths, green["ReaderEndpoint"], green["Port"], "SELECT pg_is_in_recovery()") is True
    blue = _cluster(rds)
    with _connect(lab_paths, blue["Endpoint"], blue["Port"]) as conn:
        conn.execute("GRANT SELECT ON orders TO PUBLIC")   # DCL: not degrading
        conn.execute("INSERT INTO products (sku, price) VALUES ('SKU-CAUGHT', 3)")
    wait_for(lambda: _one(lab_paths, green["Endpoint"], green["Port"],
                          "SELECT count(*) FROM products WHERE sku = 'SKU-CAUGHT'"), lambda n: n == 1, 10)
    time.sleep(1.2)   # two rounds of the watcher
    assert not (_deployment(rds, ident).get("StatusDetails") or "")
    with _connect(lab_paths, blue["Endpoint"], blue["Port"]) as conn:
        conn.execute("ALTER TABLE orders ADD COLUMN note text")
    bgd = wait_for(lambda: _deployment(rds, ident), lambda d: "Replication degraded" in (d.get("StatusDetails") or ""),
                   10)
    assert bgd["Status"] == "AVAILABLE" and "ALTER TABLE" in bgd["StatusDetails"]
    assert any(m.startswith("Replication degraded: DDL changes in the blue environment") for m in _events(rds, ident))
    with pytest.raises(ClientError) as exc:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    assert _code(exc) == "InvalidBlueGreenDeploymentStateFault" and "ALTER TABLE" in str(exc.value)
    _delete_with_green(rds, ident)
    # recreated from the same blue (which now has the column): healthy, and it switches over
    ident = _create(rds, "bg-apg", cluster=True)["BlueGreenDeploymentIdentifier"]
    assert _available(rds, ident)["Status"] == "AVAILABLE"
    time.sleep(1.2)
    assert not (_deployment(rds, ident).get("StatusDetails") or "")
    with _connect(lab_paths, blue["Endpoint"], blue["Port"]) as conn:
        for _ in range(20):
            conn.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at, note) "
                         "VALUES (1, 1, 1, now(), 'blue')")
        blue_max = conn.execute("SELECT max(id) FROM orders").fetchone()
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    bgd = wait_for(lambda: _deployment(rds, ident), lambda d: d["Status"] not in ("AVAILABLE",
                                                                                   "SWITCHOVER_IN_PROGRESS"), 60)
    assert bgd["Status"] == "SWITCHOVER_COMPLETED", bgd
    new = _cluster(rds)
    assert new["EngineVersion"] == "16.4" and new["DbClusterResourceId"] != blue["DbClusterResourceId"]
    with _connect(lab_paths, new["Endpoint"], new["Port"]) as conn:
        row = conn.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at, note) "
                           "VALUES (1, 1, 1, now(), 'green') RETURNING id").fetchone()
    assert row is not None and blue_max is not None and row[0] > blue_max[0]
    assert _one(lab_paths, new["ReaderEndpoint"], new["Port"], "SELECT pg_is_in_recovery()") is True
    old = _cluster(rds, f"{APG}-old1")
    assert old["DbClusterResourceId"] == blue["DbClusterResourceId"]
    assert _one(lab_paths, old["Endpoint"], old["Port"], "SHOW default_transaction_read_only") == "on"
    assert {m["DBInstanceIdentifier"] for m in old["DBClusterMembers"]} == {f"{WRITER}-old1", f"{READER}-old1"}
    messages = _events(rds, ident)
    for wanted in ("Sequence sync for switchover of DB cluster apg-1", "Switchover completed on blue/green deployment."):
        assert any(wanted in m for m in messages), (wanted, messages)
    # cleanup: deployment, old cluster's instances, old cluster with a final snapshot; no -green- left
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    for member in (f"{WRITER}-old1", f"{READER}-old1"):
        rds.delete_db_instance(DBInstanceIdentifier=member)
    rds.delete_db_cluster(DBClusterIdentifier=f"{APG}-old1", FinalDBSnapshotIdentifier="apg-1-old1-final")
    wait_for(lambda: [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]],
             lambda names: f"{APG}-old1" not in names, 30)
    snaps = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="apg-1-old1-final")["DBClusterSnapshots"]
    assert snaps and Path(lab_paths.snapshots / "apg-1-old1-final.sql").read_text().count("CREATE DATABASE shop") == 1
    names = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    assert not [n for n in names if "-green-" in n or "-old" in n]
    assert not rds.describe_blue_green_deployments()["BlueGreenDeployments"]


@pytest.mark.full
def test_unsafe_switchover_without_catch_up_loses_writes(rds: Any, lab_paths: LabPaths) -> None:
    """The switch `skip_catchup_wait` (the zero-loss proof's negative control): green stops applying before the fence
    and is promoted without the LSN wait, so writes blue acknowledged are missing on the new production."""
    cluster = _cluster(rds)
    ident = _create(rds, "bg-apg-unsafe", cluster=True, target=cluster["EngineVersion"],
                    TargetDBClusterParameterGroupName=cluster["DBClusterParameterGroup"])[
        "BlueGreenDeploymentIdentifier"]
    assert _available(rds, ident)["Status"] == "AVAILABLE"
    stop, acked = threading.Event(), []  # type: ignore[var-annotated]
    thread = threading.Thread(target=_writer, args=(lab_paths, cluster["Endpoint"], cluster["Port"], stop, acked))
    thread.start()
    time.sleep(0.5)
    client.set_switches(lab_paths, skip_catchup_wait=True)
    try:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
        bgd = wait_for(lambda: _deployment(rds, ident), lambda d: d["Status"] not in ("AVAILABLE",
                                                                                       "SWITCHOVER_IN_PROGRESS"), 60)
    finally:
        client.set_switches(lab_paths, skip_catchup_wait=False)
        stop.set()
        thread.join(10)
    assert bgd["Status"] == "SWITCHOVER_COMPLETED", bgd
    new = _cluster(rds)
    with _connect(lab_paths, new["Endpoint"], new["Port"]) as conn:
        have = {r[0] for r in conn.execute("SELECT id FROM customers WHERE name = 'w'").fetchall()}
    assert set(acked) - have, "the unsafe switchover lost nothing: the negative control proves nothing"
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
