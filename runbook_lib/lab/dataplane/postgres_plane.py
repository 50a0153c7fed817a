"""The lab's PostgreSQL servers, keyed by DbiResourceId like the MariaDB ones (dataplane/mysql.py) and behind the same
endpoint router: the template built once per lab folder, servers started from it (or as physical standbys),
final-snapshot dumps. Kept apart from the MariaDB data plane so that nothing written for MySQL ever meets a
PostgreSQL server (and the reverse)."""

from __future__ import annotations

import threading
from pathlib import Path

from runbook_lib.lab import postgres_sample
from runbook_lib.lab.dataplane.endpoints import EndpointRouter
from runbook_lib.lab.dataplane.postgres_replication import PhysicalLink, build_physical_green
from runbook_lib.lab.dataplane.postgres_servers import (
    PgLogin,
    PgServerSpec,
    PostgresServer,
    build_template,
    new_server,
    pg_binary,
    run_tool,
)
from runbook_lib.lab.paths import LabPaths

# Databases every server has that belong to PostgreSQL or the lab, not to the application.
SYSTEM_DATABASES = ("postgres", "template0", "template1", "rdsadmin")


class PgDataPlane:
    def __init__(self, paths: LabPaths, router: EndpointRouter, admin: PgLogin, master: PgLogin) -> None:
        self.paths = paths
        self.router = router
        self.admin = admin
        self.master = master
        self.servers: dict[str, PostgresServer] = {}
        self._template_lock = threading.Lock()

    @property
    def template(self) -> Path:
        return self.paths.root / "pg-template"

    def prepare(self) -> None:
        """The template data directory (built once per lab folder: initdb is seconds, a copy a tenth of that)."""
        with self._template_lock:
            self.paths.root.chmod(self.paths.root.stat().st_mode | 0o011)
            build_template(self.template, self.admin, self.master)

    def home(self, dbi: str) -> Path:
        return self.paths.servers / f"pg-{dbi}"

    def start_server(self, dbi: str, version: str, name: str, settings: dict[str, str] | None = None,
                     read_only: bool = False) -> PostgresServer:
        self.prepare()
        self.paths.servers.mkdir(parents=True, exist_ok=True)
        self.paths.servers.chmod(0o711)
        server = new_server(self.home(dbi), self.template, self.admin)
        server.start(PgServerSpec(version, name=name, settings=dict(settings or {}), read_only=read_only))
        self.servers[dbi] = server
        return server

    def start_standby(self, dbi: str, source_dbi: str, version: str, name: str,
                      settings: dict[str, str] | None = None) -> PhysicalLink:
        """A physical standby of `source_dbi` (an Aurora reader, or an RDS for PostgreSQL green on the same major)."""
        self.paths.servers.mkdir(parents=True, exist_ok=True)
        server, link = build_physical_green(self.servers[source_dbi], self.home(dbi),
                                            PgServerSpec(version, name=name, settings=dict(settings or {}),
                                                         read_only=True),
                                            "rds_standby_" + dbi[3:].lower()[:40])
        self.servers[dbi] = server
        return link

    def seed(self, dbi: str) -> dict[str, int]:
        """The shop sample in database `shop`, owned by the master user."""
        server = self.servers[dbi]
        with server.connect() as admin_conn:
            postgres_sample.create_database(admin_conn, self.master.user)
        with server.connect(postgres_sample.APP_DATABASE, login=self.master) as conn:
            return postgres_sample.seed(conn)

    def app_databases(self, dbi: str) -> list[str]:
        rows = self.servers[dbi].execute("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1")
        return [str(r[0]) for r in rows if r[0] not in SYSTEM_DATABASES]

    def attach(self, name: str, dbi: str) -> None:
        """Route the endpoint of `name` to the server of `dbi`."""
        self.router.route(name, self.servers[dbi].port)

    def dump(self, dbi: str, out: Path) -> None:
        """A final snapshot: pg_dump --create of every application database, one file."""
        server = self.servers[dbi]
        out.parent.mkdir(parents=True, exist_ok=True)
        parts = []
        for database in self.app_databases(dbi):
            part = server.home / f"dump-{database}.sql"
            run_tool([pg_binary("pg_dump"), "-h", "127.0.0.1", "-p", str(server.port), "-U", self.admin.user,
                      "--create", "-f", str(part), database], server.account, password=self.admin.password,
                     what=f"pg_dump of {database}")
            parts.append(part.read_text())
            part.unlink(missing_ok=True)
        out.write_text("".join(parts))

    def remove_server(self, dbi: str) -> None:
        server = self.servers.pop(dbi, None)
        if server is not None:
            server.remove()

    def close(self) -> None:
        for dbi in list(self.servers):
            self.servers[dbi].stop()
        self.servers.clear()
