"""The lab's data plane: real MariaDB servers behind per-name endpoints, driven the way RDS drives
its instances (copy and replicate, restart on upgrade, fence and promote at switchover, dump at
deletion). Keyed by DbiResourceId, which does not move with names."""

from __future__ import annotations

import gzip
import json
import math
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from runbook_lib.errors import RunbookError
from runbook_lib.lab.dataplane.endpoints import EndpointRouter
from runbook_lib.lab.dataplane.mariadb_servers import (
    Admin,
    MariaDBServer,
    ServerSpec,
    build_template,
    find_binary,
    new_server,
)
from runbook_lib.lab.dataplane.tls import ensure_certificates
from runbook_lib.lab.paths import LabPaths

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
# Tables RDS keeps in the `mysql` schema of an instance (LIKE pattern, `_` escaped).
RDS_MANAGED_PATTERN = "rds\\\\_%"
# Sessions the lab itself owns; everything else is a client and is dropped at switchover.
_LAB_USERS = ("root", "rdsrepladmin", "system user", "event_scheduler")


@dataclass
class Credentials:
    master_user: str
    master_password: str
    admin: Admin


class DataPlane:
    def __init__(self, paths: LabPaths, creds: Credentials) -> None:
        self.paths = paths
        self.creds = creds
        self.router = EndpointRouter()
        self.servers: dict[str, MariaDBServer] = {}
        self._next_server_id = 100
        self._ids = threading.Lock()
        self.tls: dict[str, Path] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def prepare(self) -> None:
        find_binary("mariadbd")
        self.tls = ensure_certificates(self.paths.root / "tls")
        build_template(self.paths.template, self.creds.admin, self.creds.master_user,
                       self.creds.master_password)

    def _server_id(self) -> int:
        with self._ids:
            self._next_server_id += 1
            return self._next_server_id

    def open_endpoint(self, name: str, port: int = 0) -> int:
        return self.router.add(name, None, port)

    def start_server(self, dbi: str, version: str, settings: dict[str, str],
                     read_only: bool = False) -> MariaDBServer:
        server = new_server(self.paths.servers / dbi, self.paths.template, self.creds.admin, self.tls)
        server.start(ServerSpec(version, self._server_id(), dict(settings), read_only))
        self.servers[dbi] = server
        self._record_pids()
        return server

    def _record_pids(self) -> None:
        pids = {dbi: s.proc.pid for dbi, s in self.servers.items() if s.proc}
        self.paths.pids_file.write_text(json.dumps(pids))

    def attach(self, name: str, dbi: str) -> None:
        """Route the endpoint of `name` to the server of `dbi`."""
        self.router.route(name, self.servers[dbi].port)

    def remove_server(self, dbi: str) -> None:
        server = self.servers.pop(dbi, None)
        if server:
            server.remove()
        self._record_pids()

    def close(self) -> None:
        for dbi in list(self.servers):
            self.servers[dbi].stop()
        self.servers.clear()
        self._record_pids()
        self.router.close()

    # -- copying and replication ---------------------------------------------------------------------
    def app_schemas(self, dbi: str) -> list[str]:
        rows = self.servers[dbi].execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN "
            f"({','.join(repr(s) for s in SYSTEM_SCHEMAS)}) ORDER BY 1")
        return [r[0] for r in rows]

    def rds_tables(self, dbi: str) -> list[str]:
        """The tables RDS itself keeps inside the instance (mysql.rds_topology, mysql.rds_heartbeat2, ...)."""
        rows = self.servers[dbi].execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mysql' "
            f"AND table_name LIKE '{RDS_MANAGED_PATTERN}' ORDER BY 1")
        return [str(r[0]) for r in rows]

    def dump(self, dbi: str, out: Path, master_data: bool = False,
             with_rds_tables: bool = False) -> tuple[str, int] | None:
        """A consistent logical dump of the application schemas; with `master_data` the binlog
        position it is consistent with; with `with_rds_tables` also the RDS-managed mysql.rds_* tables,
        in the same snapshot (a copy that replicates needs them: the lab writes them on the source)."""
        server = self.servers[dbi]
        schemas = self.app_schemas(dbi)
        rds_tables = self.rds_tables(dbi) if with_rds_tables else []
        cmd = [find_binary("mariadb-dump"), "--no-defaults", "-h127.0.0.1", f"-P{server.port}",
               f"-u{self.creds.admin.user}", "--single-transaction", "--routines", "--triggers",
               "--events", "--hex-blob", *server.cli_tls_args()]
        if rds_tables:
            # Never --add-drop-database here: the list includes `mysql`. Only the rds_* tables of it go along.
            others = server.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'mysql' "
                                    f"AND table_name NOT LIKE '{RDS_MANAGED_PATTERN}'")
            cmd += [f"--ignore-table=mysql.{r[0]}" for r in others]
            schemas = [*schemas, "mysql"]
        elif schemas:
            cmd += ["--add-drop-database"]
        if master_data:
            cmd += ["--master-data=2"]
        # Nothing to copy (an instance without application data): only the position, never `mysql`'s tables (a
        # copy of them would replace the copy's own accounts).
        cmd += ["--databases", *schemas] if schemas else ["--databases", "mysql", "--no-data", "--no-create-info"]
        env = {"MYSQL_PWD": self.creds.admin.password, "PATH": "/usr/bin:/bin"}
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as fh:
            done = subprocess.run(cmd, stdout=fh, stderr=subprocess.PIPE, env=env)
        if done.returncode != 0:
            raise RunbookError(f"mariadb-dump of the lab server failed: {done.stderr.decode()[-800:]}")
        if not master_data:
            return None
        with out.open("rb") as fh:
            head = fh.read(200_000).decode(errors="replace")
        match = re.search(r"MASTER_LOG_FILE='([^']+)',\s*MASTER_LOG_POS=(\d+)", head)
        if not match:
            raise RunbookError("The lab's copy of the source has no binlog position; cannot start replication.")
        return match.group(1), int(match.group(2))

    def load(self, dbi: str, dump: Path) -> None:
        server = self.servers[dbi]
        cmd = [find_binary("mariadb"), "--no-defaults", "-h127.0.0.1", f"-P{server.port}",
               f"-u{self.creds.admin.user}", *server.cli_tls_args(), "--binary-mode"]
        env = {"MYSQL_PWD": self.creds.admin.password, "PATH": "/usr/bin:/bin"}
        with (gzip.open(dump, "rb") if dump.suffix == ".gz" else dump.open("rb")) as fh:
            done = subprocess.run(cmd, stdin=fh, stderr=subprocess.PIPE, env=env)  # type: ignore[arg-type]  # a binary file object is what stdin takes
        if done.returncode != 0:
            raise RunbookError(f"Loading {dump.name} into a lab server failed: {done.stderr.decode()[-800:]}")

    def copy_and_replicate(self, blue: str, green: str) -> None:
        """Make `green` a consistent copy of `blue` and replicate from it (binlog file/position:
        a replica reads a master that reports a 5.7/8.0 version as pre-GTID MariaDB). RDS copies the whole
        instance, so the tables it manages in `mysql` come along too: after one switchover the production
        holds them, and a green without them stops replicating at the lab's next write to them."""
        dump = self.paths.servers / green / "initial-copy.sql"
        position = self.dump(blue, dump, master_data=True, with_rds_tables=True)
        assert position is not None
        self.load(green, dump)
        dump.unlink(missing_ok=True)
        self.replicate(green, blue, position)

    def replicate(self, replica: str, source: str, position: tuple[str, int]) -> None:
        self.servers[replica].execute(
            "STOP SLAVE", "RESET SLAVE ALL", "RESET MASTER",
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.servers[source].port}, "
            f"MASTER_USER='rdsrepladmin', MASTER_PASSWORD='{self.creds.admin.password}', "
            f"MASTER_LOG_FILE='{position[0]}', MASTER_LOG_POS={position[1]}, MASTER_CONNECT_RETRY=1"
            f"{self.servers[source].master_ssl_clause()}",
            "START SLAVE")

    def replica_status(self, dbi: str) -> dict[str, Any] | None:
        with self.servers[dbi].connect() as conn, conn.cursor() as cur:
            cur.execute("SHOW SLAVE STATUS")
            row = cur.fetchone()
            if row is None:
                return None
            return dict(zip([d[0] for d in cur.description], row, strict=True))

    def binlog_pos(self, dbi: str) -> tuple[str, int]:
        row = self.servers[dbi].execute("SHOW MASTER STATUS")[0]
        return str(row[0]), int(row[1])

    def wait_applied(self, dbi: str, position: tuple[str, int], timeout: float) -> bool:
        """True once `dbi` applied its source's binlog up to `position` (MASTER_POS_WAIT)."""
        # MariaDB rounds MASTER_POS_WAIT's timeout to whole seconds (0.3 s waited forever): wait whole seconds,
        # bounded on the server by the real budget.
        whole = max(1, math.ceil(timeout))
        try:
            rows = self.servers[dbi].execute(
                f"SET STATEMENT max_statement_time={max(timeout, 0.05):.3f} FOR "
                f"SELECT MASTER_POS_WAIT('{position[0]}', {position[1]}, {whole})")
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] == 1969:  # max_statement_time exceeded: not caught up in time
                return False
            raise
        return rows[0][0] is not None and rows[0][0] >= 0

    def caught_up(self, replica: str, source: str, timeout: float) -> bool:
        return self.wait_applied(replica, self.binlog_pos(source), timeout)

    # -- fencing ---------------------------------------------------------------------------------------
    def set_read_only(self, dbi: str, on: bool) -> None:
        self.servers[dbi].execute(f"SET GLOBAL read_only = {'ON' if on else 'OFF'}")

    def kill_clients(self, dbi: str) -> int:
        """Drop every client session (not the lab's own, not replication)."""
        server = self.servers[dbi]
        killed = 0
        with server.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT id, user FROM information_schema.processlist WHERE id <> CONNECTION_ID()")
            for pid, user in cur.fetchall():
                if user in _LAB_USERS:
                    continue
                try:
                    cur.execute(f"KILL CONNECTION {int(pid)}")
                    killed += 1
                except Exception:  # noqa: BLE001 - the session may have ended on its own
                    pass
        return killed

    def long_write_transactions(self, dbi: str, older_than_s: float) -> list[dict[str, Any]]:
        with self.servers[dbi].connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT trx_mysql_thread_id, trx_started, TIMESTAMPDIFF(MICROSECOND, trx_started, NOW())"
                        "/1e6, trx_rows_modified FROM information_schema.innodb_trx "
                        "WHERE trx_rows_modified > 0 OR trx_state <> 'RUNNING'")
            return [{"thread": r[0], "started": str(r[1]), "age_s": float(r[2]), "rows_modified": r[3]}
                    for r in cur.fetchall() if float(r[2]) >= older_than_s]

    def promote(self, dbi: str) -> None:
        """Stop replication for good and make the server writable."""
        self.servers[dbi].execute("STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF")

    def write_heartbeat(self, dbi: str, note: str) -> None:
        """RDS writes its own heartbeat rows; the lab does too, so a catch-up wait always has a target."""
        self.servers[dbi].execute(
            "CREATE TABLE IF NOT EXISTS mysql.rds_heartbeat2 (id INT PRIMARY KEY, value BIGINT, note VARCHAR(200))",
            f"REPLACE INTO mysql.rds_heartbeat2 VALUES (1, {int(time.time() * 1000)}, '{note}')")

    # -- in-database status (mysql.rds_topology, as RDS keeps it during a deployment) ---------------------
    def write_topology(self, dbi: str, members: list[tuple[str, int, str, str]]) -> None:
        """(endpoint, port, role, status) rows, replacing what was there."""
        values = ", ".join(f"({n + 1}, '{e}', {p}, '{r}', '{s}', '1.0')" for n, (e, p, r, s) in enumerate(members))
        self.servers[dbi].execute(
            "CREATE TABLE IF NOT EXISTS mysql.rds_topology (id INT PRIMARY KEY, endpoint VARCHAR(255), port INT, "
            "role VARCHAR(64), status VARCHAR(64), version VARCHAR(16))",
            "DELETE FROM mysql.rds_topology", *( [f"INSERT INTO mysql.rds_topology VALUES {values}"] if members else []))

    # -- upgrade -----------------------------------------------------------------------------------
    def restart(self, dbi: str, version: str, settings: dict[str, str] | None = None,
                read_only: bool | None = None) -> None:
        server = self.servers[dbi]
        assert server.spec is not None
        spec = ServerSpec(version, server.spec.server_id,
                          dict(server.spec.settings if settings is None else settings),
                          server.spec.read_only if read_only is None else read_only)
        server.restart(spec)
        self._record_pids()

    def error_log(self, dbi: str) -> str:
        server = self.servers.get(dbi)
        if server is None or not server.error_log.exists():
            return ""
        return server.error_log.read_text(errors="replace")

