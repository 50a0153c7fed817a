"""The downtime probe for PostgreSQL: the MySQL probe's two loops (a new connection per tick; one
long-lived writer of acknowledged sequence numbers) over psycopg, recording the same Attempt rows, so
probe_report's windows, summary, timeline and files work unchanged. Only the driver differs: the
connection, the identity query, the heartbeat table, and how an error says "the connection broke"."""

from __future__ import annotations

import socket
import time
import zlib
from typing import Any

import psycopg

from runbook_lib.engines.postgresql.connection import ssl_args
from runbook_lib.probe.mysql import Attempt, Probe, ProbeData, Target

SCHEMA = "runbook_probe"   # the heartbeat table lives in this schema of Target.database

# Who answered: a PostgreSQL server has no server_id, so the probe derives one from where it answered
# (address and port as the server sees them) and the cluster's system identifier; RDS's blue and green
# differ in address, the lab's in port.
_IDENTITY = """SELECT inet_server_addr()::text, inet_server_port(), (SELECT system_identifier FROM pg_control_system()),
    coalesce(current_setting('rds_lab.engine_version', true), current_setting('server_version')),
    current_setting('cluster_name'), pg_is_in_recovery() OR current_setting('default_transaction_read_only') = 'on',
    clock_timestamp()::text"""


def _server_id(address: str | None, port: int | None, system_identifier: int | None) -> int:
    return zlib.crc32(f"{address}:{port}:{system_identifier}".encode()) & 0x7FFFFFFF


def _error(exc: BaseException) -> str:
    """SQLSTATE and message ('25006: cannot execute INSERT in a read-only transaction')."""
    if isinstance(exc, psycopg.Error):
        message = exc.diag.message_primary or str(exc).strip().splitlines()[0]
        return f"{exc.sqlstate}: {message}" if exc.sqlstate else message
    return f"{type(exc).__name__}: {exc}"


class PgProbe(Probe):
    """Start it before the switchover, stop it after; `attempts` is the raw record (as for MySQL).
    Target.database is the database to connect to; the heartbeat table is runbook_probe.heartbeat there,
    and must be created before the deployment (creating it afterwards is DDL on blue)."""

    def prepare(self) -> None:
        with self._connect_pg() as conn:
            row = conn.execute(f"SELECT to_regclass('{SCHEMA}.heartbeat') IS NOT NULL").fetchone()
            if not (row and row[0]):  # else not even a no-op CREATE … IF NOT EXISTS: during a deployment, DDL on blue
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.heartbeat (run_id text NOT NULL, seq bigint NOT "
                             "NULL, written_at timestamptz NOT NULL, server_id bigint NOT NULL, PRIMARY KEY (run_id, "
                             "seq))")
            # continue where an earlier probe of the same run id left off (a step re-run in the same run)
            last = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {SCHEMA}.heartbeat WHERE run_id = %s",
                                (self.run_id,)).fetchone()
            self._first_seq = int(last[0]) if last else 0

    def start(self) -> PgProbe:
        super().start()
        return self

    def _connect_pg(self) -> psycopg.Connection[Any]:
        t = self.target
        ssl = ssl_args(t.settings())
        return psycopg.connect(host=t.host, port=t.port, user=t.user, password=t.password, dbname=t.database,
                               connect_timeout=max(2, round(self.timeout)), autocommit=True,
                               application_name="runbook-probe", tcp_user_timeout=int(self.timeout * 1000),
                               options=f"-c statement_timeout={int(self.timeout * 1000)}", **ssl)

    def _connect_loop(self) -> None:
        n = 0
        for _ in self._ticks():
            n += 1
            start = time.time()
            try:
                dns = ",".join(sorted({str(a[4][0]) for a in socket.getaddrinfo(self.target.host, self.target.port,
                                                                             type=socket.SOCK_STREAM)}))
            except OSError as exc:
                dns = f"error: {exc}"
            try:
                with self._connect_pg() as conn:
                    row = conn.execute(_IDENTITY).fetchone()
                    assert row is not None
                    address, port, sysid, version, cluster, read_only, now = row
                    topology = self._topology_pg(conn) if (n - 1) % self.topology_every == 0 else None
                self._record(Attempt("connect", start, _now(), True, "ok", server_id=_server_id(address, port, sysid),
                                     hostname=cluster or address, version=version, read_only=bool(read_only),
                                     server_time=now, dns=dns, topology=topology, connected=True,
                                     queries=1 + int(topology is not None)))
            except (psycopg.Error, OSError) as exc:
                self._record(Attempt("connect", start, _now(), False, "failed", None, _error(exc), dns=dns,
                                     connected=True, failure="timeout" if "timeout" in _error(exc).lower()
                                     else "refused"))

    def _topology_pg(self, conn: Any) -> str | None:
        """RDS for PostgreSQL's rds_tools.show_topology() (rds_tools ≥ 1.7), when readable."""
        try:
            with conn.transaction():
                rows = conn.execute("SELECT * FROM rds_tools.show_topology()").fetchall()
            return "; ".join(":".join(str(v) for v in r) for r in rows)
        except psycopg.Error as exc:
            return f"not readable ({exc.sqlstate})"

    def _write_loop(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        server_id = 0
        seq = self._first_seq
        statement = f"INSERT INTO {SCHEMA}.heartbeat VALUES (%s, %s, clock_timestamp(), %s)"
        for _ in self._ticks():
            start = _now()
            sent = False
            try:
                if conn is None:
                    conn = self._connect_pg()
                    row = conn.execute(_IDENTITY).fetchone()
                    assert row is not None
                    server_id = _server_id(row[0], row[1], row[2])
                seq += 1
                sent = True
                conn.execute(statement, (self.run_id, seq, server_id), prepare=False)
                self._record(Attempt("write", start, _now(), True, "ok", server_id=server_id, seq=seq, queries=1))
            except (psycopg.Error, OSError) as exc:
                broken = conn is None or conn.broken or conn.closed or isinstance(exc, OSError)
                outcome = "in-doubt" if sent and broken else "refused" if sent else "failed"
                self._record(Attempt("write", start, _now(), False, outcome, None, _error(exc),
                                     seq=seq if sent else None, failure="in-doubt" if outcome == "in-doubt" else
                                     "timeout" if "timeout" in _error(exc).lower() else "refused"))
                if broken:
                    _close(conn)
                    conn = None
        _close(conn)


def _now() -> float:
    return time.time()


def _close(conn: psycopg.Connection[Any] | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - it is broken already
            pass


def zero_loss(probe: Probe, conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Every acknowledged sequence number looked up on the (new) production; missing > 0 is data loss
    (the same record as probe_report.zero_loss, which speaks MySQL)."""
    return zero_loss_of(probe.data(), conn)


def zero_loss_of(data: ProbeData, conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The zero-loss proof from a probe's record (its journal, loaded): conn is a connection to the database the
    heartbeat table lives in."""
    rows = conn.execute(f"SELECT seq FROM {SCHEMA}.heartbeat WHERE run_id = %s", (data.run_id,)).fetchall()
    present = {int(r[0]) for r in rows}
    acked, doubt = set(data.acknowledged), set(data.in_doubt)
    missing = sorted(acked - present)
    return {"acknowledged": len(acked), "present": len(acked & present), "missing": len(missing),
            "missing_seqs": missing[:50], "in_doubt": len(doubt), "in_doubt_committed": len(doubt & present),
            "in_doubt_not_committed": len(doubt - present)}


def target(host: str, port: int, user: str, password: str, database: str, ca_bundle: str | None = None,
           verify_identity: bool = False, tls: bool = False) -> Target:
    """A probe target for PostgreSQL (database: the one the heartbeat schema lives in)."""
    return Target(host, port, user, password, database, ca_bundle, verify_identity, tls)
