"""Private PostgreSQL servers for the lab's PostgreSQL DB instances and Aurora PostgreSQL clusters: one
`postgres` process per database, started from a template data directory built once per lab folder, on
its own loopback port and socket directory, never the machine's own server on 5432.

Only Debian's PostgreSQL 15 is installable here, so every server really is 15: the engine version the
lab's record says (e.g. 16.3) is carried in the custom setting `rds_lab.engine_version`, and a major
version change in the lab is a change of that record-level setting, not of the binaries.
PostgreSQL refuses to run as root: when the lab runs as root, every server (and initdb, pg_basebackup,
pg_dump, psql) runs as the `postgres` system user that Debian's package creates.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from runbook_lib.errors import RunbookError
from runbook_lib.lab.dataplane.mariadb_servers import free_port

PG_MAJOR_INSTALLED = "15"
PG_BIN_DIR = Path(f"/usr/lib/postgresql/{PG_MAJOR_INSTALLED}/bin")
ENGINE_VERSION_SETTING = "rds_lab.engine_version"
LAB_APPLICATION = "runbook-lab"        # application_name of the lab's own sessions (never fenced)
REPLICATION_USER = "rdsrepladmin"     # the role green servers replicate with, as RDS names its own

INSTALL_HINT = ("PostgreSQL {major} is needed for the lab's PostgreSQL databases but '{what}' was not found. "
                "Install it with 'sudo apt-get install -y postgresql-{major}' (Debian/Ubuntu; scripts/setup.sh "
                "does it), then run the command again.")

# What RDS's rds_superuser may do that the lab can grant on vanilla PostgreSQL 15 (it is not a superuser:
# publications FOR ALL TABLES, subscriptions and event triggers stay with the lab's own superuser).
RDS_SUPERUSER_MEMBERSHIPS = ("pg_monitor", "pg_signal_backend", "pg_read_all_settings", "pg_read_all_stats",
                             "pg_stat_scan_tables", "pg_checkpoint")

# Fixed settings of every lab server; a spec's settings come after them and win.
_BASE_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "wal_level": "logical",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "max_logical_replication_workers": "4",
    "max_worker_processes": "16",
    "max_connections": "100",
    "hot_standby": "on",
    "wal_keep_size": "64MB",
    "wal_receiver_status_interval": "1s",
    "shared_buffers": "16MB",
    "fsync": "off",                        # throwaway lab data: no flush to disk
    "ssl": "off",
    "log_line_prefix": "%m [%p] ",
    "log_min_error_statement": "panic",    # never write statements (they may hold a password) to the log
    "lc_messages": "C",
}


@dataclass(frozen=True)
class PgLogin:
    """A role and its password (the password never appears in a repr, a log or an error)."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Account:
    """The operating-system user the servers run as (the `postgres` system user when we are root)."""

    uid: int
    gid: int
    name: str

    def popen_args(self) -> dict[str, Any]:
        if self.uid == os.geteuid():
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def pg_binary(name: str) -> str:
    path = PG_BIN_DIR / name
    if not os.access(path, os.X_OK):
        raise RunbookError(INSTALL_HINT.format(major=PG_MAJOR_INSTALLED, what=path))
    return str(path)


def service_account() -> Account:
    """Who runs the servers: ourselves, or the `postgres` system user when we are root."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return Account(me.pw_uid, me.pw_gid, me.pw_name)
    try:
        pg = pwd.getpwnam("postgres")
    except KeyError:
        raise RunbookError("PostgreSQL refuses to run as root and there is no 'postgres' system user to run the "
                           "lab's servers as. Install Debian's server package (sudo apt-get install -y "
                           f"postgresql-{PG_MAJOR_INSTALLED}), which creates that user, or run the lab as an "
                           "ordinary user.") from None
    return Account(pg.pw_uid, pg.pw_gid, pg.pw_name)


def ensure_reachable(folder: Path, account: Account) -> None:
    """Refuse early, with the fix, when the server's user could not even reach its data directory."""
    if account.uid == os.geteuid():
        return
    for parent in [folder, *folder.parents]:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid == account.uid:
            continue
        can_search = st.st_mode & stat.S_IXOTH or (st.st_gid == account.gid and st.st_mode & stat.S_IXGRP)
        if not can_search:
            raise RunbookError(
                f"The lab runs its PostgreSQL servers as the '{account.name}' system user (PostgreSQL refuses to "
                f"run as root), and that user cannot enter {parent} (mode {stat.filemode(st.st_mode)}), so it "
                f"cannot reach {folder}. Put the lab folder where that user can reach it (for example "
                f"RUNBOOK_LAB_DIR=/var/tmp/bluegreen-lab), or allow it to pass through: chmod o+x {parent}.")


def give_to(path: Path, account: Account) -> None:
    """Make a folder the server user's own (0700), as PostgreSQL requires of its data directory."""
    path.mkdir(parents=True, exist_ok=True)
    if account.uid != os.geteuid():
        os.chown(path, account.uid, account.gid)
    path.chmod(0o700)


def run_tool(cmd: Sequence[str], account: Account, password: str | None = None, what: str = "",
             stdin: Any = None, stdout: Any = None, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    """Run a PostgreSQL client tool as the server user; the password goes through PGPASSWORD only."""
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PGCONNECT_TIMEOUT": "10", "PGSSLMODE": "disable"}
    if password is not None:
        env["PGPASSWORD"] = password
    done = subprocess.run(list(cmd), env=env, stdin=stdin, stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, cwd="/", **account.popen_args())
    if done.returncode != 0:
        raise RunbookError(f"{what or Path(cmd[0]).name} failed (exit code {done.returncode}): "
                           f"{done.stderr.decode(errors='replace')[-1200:]}")
    return done


def connect(port: int, login: PgLogin, dbname: str = "postgres", timeout: int = 5,
            **kwargs: Any) -> psycopg.Connection[Any]:
    """A lab connection over TCP (autocommit; marked as the lab's own so fencing never drops it)."""
    return psycopg.connect(host="127.0.0.1", port=port, user=login.user, password=login.password, dbname=dbname,
                           connect_timeout=max(timeout, 2), autocommit=True, sslmode="disable",
                           application_name=kwargs.pop("application_name", LAB_APPLICATION), **kwargs)


def _stop_with_parent() -> None:
    """Ask the kernel for a fast shutdown of this server if the lab process dies (no orphan servers).
    SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def wait_ready(port: int, admin: PgLogin, proc: subprocess.Popen[bytes] | None, log: Path,
               timeout: float = 30.0) -> None:
    """Until a real query answers (the port accepts connections before the database can serve them)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RunbookError(f"A lab PostgreSQL server exited during start-up (code {proc.returncode}). "
                               f"Its log ({log}) ends with:\n{tail}")
        try:
            with connect(port, admin, timeout=2) as conn:
                conn.execute("SELECT 1").fetchone()
                return
        except psycopg.Error as exc:
            last = exc
            time.sleep(0.05)
    raise RunbookError(f"A lab PostgreSQL server on port {port} did not answer within {timeout:.0f} s "
                       f"({last}); see {log}.")


@dataclass
class PgServerSpec:
    """What a server is started with; a change (new parameter group, new recorded version) is a restart."""

    engine_version: str                      # what the lab's record says; the process is PostgreSQL 15
    name: str = "lab"                        # cluster_name: shows in `ps` and in the probe's identity
    settings: dict[str, str] = field(default_factory=dict)
    read_only: bool = False                  # default_transaction_read_only, as RDS fences with


class PostgresServer:
    """One postgres process with its own data directory, socket directory and port."""

    def __init__(self, home: Path, admin: PgLogin, account: Account | None = None) -> None:
        self.home = home
        self.admin = admin
        self.account = account or service_account()
        self.port: int = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.spec: PgServerSpec | None = None

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        # A short path of its own: a Unix socket path is limited to 107 bytes.
        return Path(tempfile.gettempdir()) / f"runbook-pg-{self.port}"

    def _command(self, spec: PgServerSpec) -> list[str]:
        settings = dict(_BASE_SETTINGS)
        settings.update({"port": str(self.port), "unix_socket_directories": str(self.socket_dir),
                         "cluster_name": spec.name, ENGINE_VERSION_SETTING: spec.engine_version})
        settings.update(spec.settings)
        cmd = [pg_binary("postgres"), "-D", str(self.datadir)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def start(self, spec: PgServerSpec, port: int | None = None) -> None:
        self.spec = spec
        ensure_reachable(self.home, self.account)
        for attempt in range(3):
            self.port = port or self.port or free_port()
            if self.port == 5432:
                self.port = 0
                continue  # the machine's own server lives there
            give_to(self.socket_dir, self.account)
            log_size = self.log_file.stat().st_size if self.log_file.exists() else 0
            with self.log_file.open("ab") as log:
                if self.account.uid != os.geteuid():
                    os.chown(self.log_file, self.account.uid, self.account.gid)
                self.proc = subprocess.Popen(self._command(spec), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                             preexec_fn=_stop_with_parent, cwd=str(self.home),
                                             **self.account.popen_args())
            try:
                wait_ready(self.port, self.admin, self.proc, self.log_file)
                self.set_read_only(spec.read_only)
                return
            except RunbookError:
                taken = "Address already in use" in self.log_file.read_text(errors="replace")[log_size:]
                self.stop()
                if not taken or port or attempt == 2:
                    raise
                self.port = 0  # someone took the port between choosing and binding it: choose again
        raise RunbookError("Could not find a free loopback port for a lab PostgreSQL server.")

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown, then wait until the process is really gone (reaped, not a zombie)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0)):
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def restart(self, spec: PgServerSpec | None = None) -> None:
        """Stop and start on the same port, with a new spec (a parameter change, a recorded version)."""
        chosen = spec or self.spec
        if chosen is None:
            raise RunbookError("A lab PostgreSQL server that never started cannot be restarted.")
        self.stop()
        self.start(chosen, port=self.port)

    def set_read_only(self, on: bool) -> None:
        """default_transaction_read_only as a persisted server setting (ALTER SYSTEM, then reload), the way
        RDS fences a database; a command-line value would override it, so the lab never passes one.
        Returns once a new session sees the value (a reload reaches the server asynchronously)."""
        value = "on" if on else "off"
        with self.connect() as conn:
            conn.execute(f"ALTER SYSTEM SET default_transaction_read_only = {value}")
            conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while True:
            with self.connect() as conn:
                row = conn.execute("SHOW default_transaction_read_only").fetchone()
            if row and row[0] == value:
                return
            if time.monotonic() > deadline:
                raise RunbookError(f"A lab PostgreSQL server (port {self.port}) did not take "
                                   f"default_transaction_read_only={value} within 10 s.")
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def connect(self, dbname: str = "postgres", login: PgLogin | None = None,
                **kwargs: Any) -> psycopg.Connection[Any]:
        return connect(self.port, login or self.admin, dbname, **kwargs)

    def execute(self, *statements: str | sql.SQL | sql.Composed, dbname: str = "postgres",
                params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run statements as the lab's superuser; the rows of the last one (`params` go to the last one)."""
        rows: list[tuple[Any, ...]] = []
        with self.connect(dbname) as conn:
            for n, statement in enumerate(statements):
                cur = conn.execute(statement, params if n == len(statements) - 1 else None)
                rows = cur.fetchall() if cur.description else []
        return rows

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def build_template(template: Path, admin: PgLogin, master: PgLogin, account: Account | None = None) -> None:
    """initdb once (4.8 s for two clusters measured here, against 0.45 s to start a copy), with the lab's
    superuser, the replication role and an RDS-like master user that is a member of rds_superuser."""
    marker = template.parent / f"{template.name}.READY"
    if marker.exists() and template.exists():
        return
    account = account or service_account()
    ensure_reachable(template.parent, account)
    shutil.rmtree(template, ignore_errors=True)
    work = template.with_name(template.name + "-building")
    shutil.rmtree(work, ignore_errors=True)
    give_to(work, account)
    pwfile = work / "pw"
    pwfile.write_text(admin.password + "\n")
    pwfile.chmod(0o600)
    if account.uid != os.geteuid():
        os.chown(pwfile, account.uid, account.gid)
    try:
        run_tool([pg_binary("initdb"), "-D", str(work / "data"), "-U", admin.user, f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                 account, what="initdb")
    finally:
        pwfile.unlink(missing_ok=True)
    server = PostgresServer(work, admin, account)
    server.start(PgServerSpec(engine_version=PG_MAJOR_INSTALLED, name="template"))
    try:
        server.execute(
            "CREATE ROLE rds_superuser NOLOGIN",
            *(f"GRANT {role} TO rds_superuser" for role in RDS_SUPERUSER_MEMBERSHIPS),
            "CREATE ROLE rds_replication NOLOGIN",
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CREATEDB CREATEROLE IN ROLE rds_superuser, rds_replication")
            .format(sql.Identifier(master.user), sql.Literal(master.password)),
            sql.SQL("CREATE ROLE {} LOGIN REPLICATION PASSWORD {}")
            .format(sql.Identifier(REPLICATION_USER), sql.Literal(admin.password)),
            sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(REPLICATION_USER)),
            "CHECKPOINT",
        )
    finally:
        server.stop()
    server.log_file.unlink(missing_ok=True)
    os.replace(work / "data", template)
    shutil.rmtree(work, ignore_errors=True)
    marker.touch()


def new_server(home: Path, template: Path, admin: PgLogin, account: Account | None = None) -> PostgresServer:
    """A server whose data directory is a fresh copy of the template (not yet started)."""
    account = account or service_account()
    if home.exists():
        shutil.rmtree(home)
    give_to(home, account)
    run_tool(["cp", "-a", str(template), str(home / "data")], account, what="copying the template data directory")
    return PostgresServer(home, admin, account)


def empty_server(home: Path, admin: PgLogin, account: Account | None = None) -> PostgresServer:
    """A server home without a data directory yet (a physical standby gets its data from pg_basebackup)."""
    account = account or service_account()
    if home.exists():
        shutil.rmtree(home)
    give_to(home, account)
    return PostgresServer(home, admin, account)


def engine_version(conn: psycopg.Connection[Any]) -> str:
    """The version the lab's record says (the real server is 15); on a real server, server_version."""
    row = conn.execute(f"SELECT coalesce(current_setting('{ENGINE_VERSION_SETTING}', true), "
                       "current_setting('server_version'))").fetchone()
    assert row is not None
    return str(row[0])

