"""Private MariaDB servers that back the lab's DB instances: one mariadbd per instance, started from a
prepared template data directory, on its own loopback port, reporting the version its record says."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from runbook_lib.errors import RunbookError

INSTALL_HINT = ("MariaDB is needed for the lab's databases but '{what}' was not found. Install it with "
                "'sudo apt-get install -y mariadb-server mariadb-client' (Debian/Ubuntu) or "
                "'conda install -c conda-forge mariadb', then run the command again.")

# What an RDS master user may do: everything but SUPER-like powers, so read_only really fences it.
MASTER_GRANTS = ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, "
                 "SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, "
                 "BINLOG MONITOR, SLAVE MONITOR, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, "
                 "CREATE USER, EVENT, TRIGGER")


def find_binary(name: str) -> str:
    for candidate in (name, f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        found = shutil.which(candidate)
        if found:
            return found
    raise RunbookError(INSTALL_HINT.format(what=name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """Ask the kernel to stop this child if the lab process dies, so no server is ever orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass(frozen=True)
class Admin:
    """The lab's own superuser on its servers (never shown to the runbook)."""

    user: str
    password: str


def connect(port: int, user: str, password: str, database: str | None = None,
            timeout: float = 5.0, tls_ca: Path | None = None, **kwargs: Any) -> pymysql.connections.Connection:
    """The lab's own connection to a server: plain, or TLS verified against the lab CA when the server refuses plain
    connections (require_secure_transport)."""
    tls: dict[str, Any] = {"ssl_ca": str(tls_ca), "ssl_verify_cert": True} if tls_ca else {"ssl_disabled": True}
    return pymysql.connect(host="127.0.0.1", port=port, user=user, password=password, database=database,
                           connect_timeout=timeout, read_timeout=max(timeout, 30), write_timeout=30,
                           autocommit=True, **tls, **kwargs)


def _on(value: str | None) -> bool:
    return str(value or "").strip().upper() in ("1", "ON", "TRUE")


def wait_ready(port: int, admin: Admin, proc: subprocess.Popen[bytes] | None, log: Path,
               timeout: float = 30.0, tls_ca: Path | None = None) -> None:
    """Until a real query answers (a ping answers even on 'access denied')."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RunbookError(f"A lab MariaDB server exited during start-up (code {proc.returncode}). "
                               f"Its error log ({log}) ends with:\n{tail}")
        try:
            with connect(port, admin.user, admin.password, timeout=1, tls_ca=tls_ca) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
                return
        except pymysql.MySQLError as exc:
            last = exc
            time.sleep(0.05)
    raise RunbookError(f"A lab MariaDB server on port {port} did not answer within {timeout:.0f} s "
                       f"({last}); see {log}.")


@dataclass
class ServerSpec:
    """What a server is started with; changes (an upgrade, a new parameter group) mean a restart."""

    version: str
    server_id: int
    settings: dict[str, str] = field(default_factory=dict)
    read_only: bool = False


class MariaDBServer:
    """One mariadbd process with its own data directory, tmpdir, socket and port."""

    def __init__(self, home: Path, admin: Admin, tls: dict[str, Path] | None = None) -> None:
        self.home = home
        self.admin = admin
        self.tls = tls
        self.port: int = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.spec: ServerSpec | None = None

    @property
    def requires_tls(self) -> bool:
        """The server refuses plain TCP connections (require_secure_transport from its parameter group)."""
        return bool(self.tls and self.spec and _on(self.spec.settings.get("require-secure-transport")))

    @property
    def _tls_ca(self) -> Path | None:
        return self.tls["ca"] if self.tls and self.requires_tls else None

    def cli_tls_args(self) -> list[str]:
        """mariadb / mariadb-dump options for the lab's own client connections to this server."""
        if self._tls_ca is None:
            return ["--skip-ssl"]
        return ["--ssl", f"--ssl-ca={self._tls_ca}"]

    def master_ssl_clause(self) -> str:
        """What CHANGE MASTER needs for a replica of this server (its replication connection must use TLS too)."""
        if self._tls_ca is None:
            return ""
        return f", MASTER_SSL=1, MASTER_SSL_CA='{self._tls_ca}'"

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def error_log(self) -> Path:
        return self.home / "error.log"

    def _command(self, spec: ServerSpec) -> list[str]:
        tmp = self.home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        sock = Path(tempfile.gettempdir()) / f"runbook-lab-{self.port}.sock"
        cmd = [find_binary("mariadbd"), "--no-defaults", f"--datadir={self.datadir}",
               f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={sock}", f"--tmpdir={tmp}",
               f"--pid-file={self.home / 'mariadbd.pid'}", f"--log-error={self.error_log}",
               f"--version={spec.version}-MariaDB-lab", f"--server-id={spec.server_id}",
               "--log-bin=binlog", "--binlog-format=ROW", "--log-slave-updates=ON",
               "--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--performance-schema=OFF",
               "--innodb-log-file-size=16M", "--max-connections=300",
               # replicas apply in parallel, commit order kept (RDS for MySQL 8.0: replica_parallel_workers=4)
               "--slave-parallel-threads=4",
               f"--read-only={'ON' if spec.read_only else 'OFF'}", "--character-set-server=utf8mb4",
               "--collation-server=utf8mb4_general_ci"]
        if self.tls:
            cmd += [f"--ssl-ca={self.tls['ca']}", f"--ssl-cert={self.tls['cert']}", f"--ssl-key={self.tls['key']}"]
        cmd += [f"--{k}={v}" for k, v in sorted(spec.settings.items())]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        return cmd

    def start(self, spec: ServerSpec, port: int | None = None) -> None:
        self.spec = spec
        for attempt in range(3):
            self.port = port or self.port or free_port()
            log_size = self.error_log.stat().st_size if self.error_log.exists() else 0
            self.proc = subprocess.Popen(self._command(spec), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                         cwd=self.datadir)
            try:
                wait_ready(self.port, self.admin, self.proc, self.error_log, tls_ca=self._tls_ca)
                return
            except RunbookError:
                taken = "Address already in use" in self.error_log.read_text(errors="replace")[log_size:]
                self.stop()
                if not taken or port or attempt == 2:
                    raise
                self.port = 0  # someone took the port between choosing and binding it: choose again

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server and wait until the process is really gone (not a zombie)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, spec: ServerSpec) -> None:
        self.stop()
        self.start(spec, port=self.port)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def connect(self, database: str | None = None, **kwargs: Any) -> pymysql.connections.Connection:
        return connect(self.port, self.admin.user, self.admin.password, database, tls_ca=self._tls_ca, **kwargs)

    def execute(self, *statements: str, database: str | None = None) -> list[tuple[Any, ...]]:
        """Run statements as the lab's admin; the rows of the last one."""
        rows: list[tuple[Any, ...]] = []
        with self.connect(database) as conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
                rows = list(cur.fetchall())
        return rows

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def build_template(template: Path, admin: Admin, master_user: str, master_password: str) -> None:
    """Initialise a data directory once, with the lab's admin and the RDS-like master user."""
    marker = template / "READY"
    if marker.exists():
        return
    shutil.rmtree(template, ignore_errors=True)
    work = template.with_name(template.name + "-building")
    shutil.rmtree(work, ignore_errors=True)
    (work / "tmp").mkdir(parents=True)
    install = [find_binary("mariadb-install-db"), "--no-defaults", f"--datadir={work / 'data'}",
               "--auth-root-authentication-method=normal", "--skip-test-db", f"--tmpdir={work / 'tmp'}"]
    if os.geteuid() == 0:
        install.append("--user=root")
    done = subprocess.run(install, capture_output=True, text=True)
    if done.returncode != 0:
        raise RunbookError(f"mariadb-install-db failed (code {done.returncode}):\n{done.stderr[-1500:]}")
    server = MariaDBServer(work, Admin("root", ""))
    server.start(ServerSpec(version="5.7.44", server_id=1))
    esc = master_password.replace("\\", "\\\\").replace("'", "\\'")
    adm = admin.password.replace("\\", "\\\\").replace("'", "\\'")
    server.execute(
        "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost','127.0.0.1'))",
        "FLUSH PRIVILEGES",
        f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{adm}'",
        f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{adm}'",
        f"CREATE USER '{master_user}'@'%' IDENTIFIED BY '{esc}'",
        f"GRANT {MASTER_GRANTS} ON *.* TO '{master_user}'@'%' WITH GRANT OPTION",
        f"CREATE USER 'rdsrepladmin'@'%' IDENTIFIED BY '{adm}'",
        "GRANT REPLICATION SLAVE ON *.* TO 'rdsrepladmin'@'%'",
        "RESET MASTER",
    )
    server.admin = admin
    server.stop()
    for leftover in ("error.log", "mariadbd.pid"):
        (work / leftover).unlink(missing_ok=True)
    (work / "data" / "READY").touch()
    os.replace(work / "data", template)
    shutil.rmtree(work, ignore_errors=True)
    marker.touch()


def new_server(home: Path, template: Path, admin: Admin, tls: dict[str, Path] | None = None) -> MariaDBServer:
    """A server whose data directory is a fresh copy of the template (not yet started)."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copytree(template, home / "data", ignore=shutil.ignore_patterns("READY"))
    # Every copy must get its own InnoDB/binlog identity for GTID domains: server_id differs per spec.
    return MariaDBServer(home, admin, tls)
