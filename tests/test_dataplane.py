"""The lab's databases are real: replication, a switchover under write load with no lost write,
rollback on a stalled replica, snapshots that restore, and nothing left running after `lab down`."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pymysql
import pytest
from conftest import create_available_deployment, deployment, instance, master_password, upgrade_green, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.dataplane.mariadb_servers import Admin, MariaDBServer, ServerSpec, new_server
from runbook_lib.lab.paths import LabPaths


def _connect(endpoint: dict[str, Any], password: str, timeout: float = 2.0) -> pymysql.connections.Connection:
    return pymysql.connect(host=endpoint["Address"], port=endpoint["Port"], user="admin", password=password,
                           database="shop", autocommit=True, connect_timeout=timeout, read_timeout=timeout,
                           write_timeout=timeout, ssl_disabled=True)


class WriteLoad:
    """Autocommit inserts through an endpoint, reconnecting on failure; remembers what was acknowledged
    and which server acknowledged it."""

    def __init__(self, endpoint: dict[str, Any], password: str) -> None:
        self.endpoint, self.password = endpoint, password
        self.acked: list[tuple[int, int, float]] = []  # (seq, server_id, time)
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WriteLoad:
        with _connect(self.endpoint, self.password) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS load_test (seq INT PRIMARY KEY, at DOUBLE)")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        seq, conn, server_id = 0, None, 0
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = _connect(self.endpoint, self.password)
                    with conn.cursor() as cur:
                        cur.execute("SELECT @@server_id")
                        server_id = int(cur.fetchone()[0])
                seq += 1
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO load_test VALUES (%s, %s)", (seq, time.time()))
                self.acked.append((seq, server_id, time.time()))
                time.sleep(0.002)
            except pymysql.MySQLError:
                self.failures += 1
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
                time.sleep(0.01)


def test_rows_written_on_blue_appear_on_green(rds: Any, lab_paths: LabPaths) -> None:
    green = instance(rds, create_available_deployment(rds)["Target"].split(":")[-1])
    password = master_password(lab_paths)
    with _connect(instance(rds, "database-1")["Endpoint"], password) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO customers VALUES (900001, 'new', 'new@example.com', NOW())")
    def seen() -> int:
        with _connect(green["Endpoint"], password) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM customers WHERE id = 900001")
            return int(cur.fetchone()[0])
    wait_for(seen, lambda n: n == 1, timeout=10)
    with _connect(green["Endpoint"], password) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders")
        assert cur.fetchone()[0] == 6000
        with pytest.raises(pymysql.err.OperationalError) as err:   # green is read-only for the master user
            cur.execute("INSERT INTO customers VALUES (900002, 'x', 'x@example.com', NOW())")
        assert err.value.args[0] == 1290


def test_switchover_under_write_load_loses_nothing(rds: Any, lab_paths: LabPaths) -> None:
    bgd = create_available_deployment(rds)
    green_name = bgd["Target"].split(":")[-1]
    upgrade_green(rds, green_name)
    password = master_password(lab_paths)
    endpoint = instance(rds, "database-1")["Endpoint"]
    with _connect(endpoint, password) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@server_id")
        blue_id = cur.fetchone()[0]
    with _connect(instance(rds, green_name)["Endpoint"], password) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@server_id, @@version")
        green_id, green_version = cur.fetchone()
    assert green_version.startswith("8.0.39") and "MariaDB" in green_version
    with WriteLoad(endpoint, password) as load:
        wait_for(lambda: len(load.acked), lambda n: n >= 200, timeout=30)
        before = len(load.acked)
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd["BlueGreenDeploymentIdentifier"])
        final = wait_for(lambda: deployment(rds, bgd["BlueGreenDeploymentIdentifier"]),
                         lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS")
        done_at = time.time()
        wait_for(lambda: sum(1 for a in load.acked if a[2] > done_at), lambda n: n >= 200, timeout=30)
    assert final["Status"] == "SWITCHOVER_COMPLETED"
    assert before >= 200
    after = [a for a in load.acked if a[2] > done_at]
    assert {a[1] for a in after} == {green_id}
    assert {a[1] for a in load.acked[:before]} == {blue_id}
    with _connect(endpoint, password) as conn, conn.cursor() as cur:   # the original name now reaches green
        cur.execute("SELECT @@server_id, @@version, @@read_only")
        server_id, version, read_only = cur.fetchone()
        assert server_id == green_id and version.startswith("8.0.39") and read_only == 0
        cur.execute("SELECT seq FROM load_test")
        present = {r[0] for r in cur.fetchall()}
    missing = [a[0] for a in load.acked if a[0] not in present]
    assert missing == []
    with _connect(instance(rds, "database-1-old1")["Endpoint"], password) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@server_id, @@read_only")
        assert cur.fetchone() == (blue_id, 1)


def test_stalled_replica_makes_switchover_fail_and_roll_back(rds: Any, lab_paths: LabPaths) -> None:
    bgd = create_available_deployment(rds)
    green_name = bgd["Target"].split(":")[-1]
    client.set_switches(lab_paths, stall_green_sql_thread=True, switchover_rollback_status="SWITCHOVER_FAILED")
    ident = bgd["BlueGreenDeploymentIdentifier"]
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=60)
    final = wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS")
    assert final["Status"] == "SWITCHOVER_FAILED"
    assert "did not catch up" in final["StatusDetails"]
    names = sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"])
    assert names == sorted(["database-1", green_name])
    password = master_password(lab_paths)
    with _connect(instance(rds, "database-1")["Endpoint"], password) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@read_only")
        assert cur.fetchone()[0] == 0
        cur.execute("INSERT INTO customers VALUES (900003, 'after', 'after@example.com', NOW())")
    messages = [e["Message"] for e in rds.describe_events(SourceType="blue-green-deployment",
                                                          SourceIdentifier=ident)["Events"]]
    assert "Switchover canceled on blue/green deployment." in messages
    client.set_switches(lab_paths, stall_green_sql_thread=False)


def test_final_snapshot_restores_with_the_same_row_counts(rds: Any, lab_paths: LabPaths, tmp_path: Path) -> None:
    password = master_password(lab_paths)
    with _connect(instance(rds, "database-1")["Endpoint"], password) as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM orders), "
                    "(SELECT COUNT(*) FROM products)")
        counts = cur.fetchone()
    rds.delete_db_instance(DBInstanceIdentifier="database-1", FinalDBSnapshotIdentifier="restore-me")
    wait_for(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="restore-me")["DBSnapshots"][0]["Status"],
             lambda s: s == "available")
    internal = __import__("json").loads((lab_paths.root / "internal.json").read_text())
    admin = Admin("root", internal["admin_password"])
    server: MariaDBServer = new_server(tmp_path / "restored", lab_paths.template, admin)
    server.start(ServerSpec("5.7.44", 999))
    try:
        env = {"MYSQL_PWD": admin.password, "PATH": "/usr/bin:/bin"}
        with (lab_paths.snapshots / "restore-me.sql").open("rb") as dump:
            subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{server.port}", "-uroot", "--skip-ssl"],
                           stdin=dump, env=env, check=True)
        restored = server.execute("SELECT (SELECT COUNT(*) FROM shop.customers), (SELECT COUNT(*) FROM shop.orders), "
                                  "(SELECT COUNT(*) FROM shop.products)")[0]
        assert restored == counts
    finally:
        server.remove()


def test_lab_down_leaves_no_process_or_port(lab: dict[str, Any], lab_paths: LabPaths, rds: Any) -> None:
    create_available_deployment(rds)
    state = client.status(lab_paths)
    pids = [state["pid"]] + [i["server_pid"] for i in state["instances"].values()]
    ports = [i["endpoint_port"] for i in state["instances"].values()] + \
            [i["server_port"] for i in state["instances"].values()]
    assert len(pids) == 3
    assert client.down(lab_paths) is True
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    for port in ports:
        assert f":{port} " not in listening
    assert client.status(lab_paths)["running"] is False


def test_endpoint_faults_refuse_stall_and_cut(rds: Any, lab_paths: LabPaths) -> None:
    endpoint = instance(rds, "database-1")["Endpoint"]
    password = master_password(lab_paths)
    held = _connect(endpoint, password)
    client.inject(lab_paths, ["database-1"], "refuse", seconds=1.0, cut=True)
    started = time.monotonic()
    with pytest.raises(pymysql.MySQLError):   # the existing session was cut
        with held.cursor() as cur:
            cur.execute("SELECT 1")
    refused = 0
    while True:
        try:
            _connect(endpoint, password, timeout=1).close()
            break
        except pymysql.MySQLError:
            refused += 1
            time.sleep(0.02)
    outage = time.monotonic() - started
    assert refused > 0 and 0.9 <= outage <= 1.5
    client.inject(lab_paths, ["database-1"], "stall", seconds=0.6)
    started = time.monotonic()
    _connect(endpoint, password, timeout=3).close()  # held, then served
    assert 0.5 <= time.monotonic() - started <= 1.5


def test_upgrade_applies_the_new_parameter_group_and_delete_removes_the_server(rds: Any, lab_paths: LabPaths) -> None:
    rds.modify_db_parameter_group(DBParameterGroupName="pg-mysql-80", Parameters=[
        {"ParameterName": "max_connections", "ParameterValue": "123", "ApplyMethod": "pending-reboot"}])
    green = create_available_deployment(rds)["Target"].split(":")[-1]
    upgrade_green(rds, green)
    with _connect(instance(rds, green)["Endpoint"], master_password(lab_paths)) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@max_connections, @@version, @@read_only")
        assert cur.fetchone() == (123, "8.0.39-MariaDB-lab", 1)
    dbi = instance(rds, green)["DbiResourceId"]
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=rds.describe_blue_green_deployments()[
        "BlueGreenDeployments"][0]["BlueGreenDeploymentIdentifier"], DeleteTarget=True)
    wait_for(lambda: [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]],
             lambda names: names == ["database-1"])
    assert not (lab_paths.servers / dbi).exists()


def test_endpoint_records_when_a_fault_really_started_and_ended(rds: Any, lab_paths: LabPaths) -> None:
    """The truth a probe is checked against: the router's own record of each change of mode."""
    from runbook_lib.lab.dataplane import endpoints
    port = instance(rds, "database-1")["Endpoint"]["Port"]
    asked = time.time()
    answer = client.call(lab_paths, "fault", {"names": ["database-1"], "mode": "stall", "seconds": 0.4, "cut": True})
    started = answer["applied"]["database-1"]
    assert started["mode"] == "stall" and started["cut"] is True and started["port"] == port
    assert asked <= started["at"] <= time.time()
    time.sleep(0.7)
    history = client.status(lab_paths)["endpoints"]["database-1"]["history"]
    [span] = endpoints.outages(history, since=asked)
    assert span["start"] == started["at"] and span["modes"] == ["stall"] and span["cut"]
    assert 0.4 <= span["seconds"] < 0.5   # reopened by the router's own timer, recorded when it happened
    with pytest.raises(Exception, match="unknown endpoint mode"):
        client.call(lab_paths, "fault", {"names": ["database-1"], "mode": "sideways"})
