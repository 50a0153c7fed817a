"""Fixtures for tests on real private PostgreSQL 15 servers: a template data directory built once per
session in a folder of its own (reachable by the `postgres` system user when tests run as root), and a
module-scoped factory of servers that stops and removes every server it started. Never the machine's own
server on 127.0.0.1:5432. Import the fixtures by name into a test module."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_lib.lab import postgres_sample
from runbook_lib.lab.dataplane.postgres_servers import (
    PG_BIN_DIR,
    PgLogin,
    PgServerSpec,
    PostgresServer,
    build_template,
    new_server,
)

EXTENSION_DIR = Path("/usr/share/postgresql/15/extension")


def require_package(control: str, package: str) -> None:
    """Fail (not skip) with what to install when an extension a test needs is missing."""
    if not (EXTENSION_DIR / f"{control}.control").exists():
        pytest.fail(f"The extension '{control}' is not installed: sudo apt-get install -y {package} "
                    "(scripts/setup.sh installs it).")


@pytest.fixture(scope="session")
def pg_base() -> Iterator[Path]:
    if not (PG_BIN_DIR / "postgres").exists():
        pytest.fail("PostgreSQL 15 is not installed: sudo apt-get install -y postgresql-15 (scripts/setup.sh does).")
    base = Path(tempfile.mkdtemp(prefix="runbook-pg-tests-"))
    base.chmod(0o711)  # the postgres system user must pass through it when tests run as root
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_logins() -> dict[str, PgLogin]:
    return {"admin": PgLogin("lab_admin", secrets.token_urlsafe(18) + "'\\"),
            "master": PgLogin("postgres_master", secrets.token_urlsafe(18) + "' x")}


@pytest.fixture(scope="session")
def pg_template(pg_base: Path, pg_logins: dict[str, PgLogin]) -> Path:
    template = pg_base / "template"
    build_template(template, pg_logins["admin"], pg_logins["master"])
    return template


class ServerFactory:
    """make(name, engine_version='15.4', settings=None, read_only=False, start=True) → a server; every
    server made or registered is removed when the module's tests are done."""

    def __init__(self, folder: Path, template: Path, admin: PgLogin) -> None:
        self.folder = folder
        self.template = template
        self.admin = admin
        self.started: list[PostgresServer] = []

    def __call__(self, name: str, engine_version: str = "15.4", settings: dict[str, str] | None = None,
                 read_only: bool = False, start: bool = True) -> PostgresServer:
        server = new_server(self.folder / name, self.template, self.admin)
        self.started.append(server)
        if start:
            server.start(PgServerSpec(engine_version, name=name, settings=dict(settings or {}), read_only=read_only))
            assert server.port != 5432
        return server

    def register(self, server: PostgresServer) -> None:
        self.started.append(server)

    def remove_all(self) -> None:
        for server in self.started:
            server.remove()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_servers(pg_base: Path, pg_template: Path, pg_logins: dict[str, PgLogin]) -> Iterator[ServerFactory]:
    folder = Path(tempfile.mkdtemp(prefix="m-", dir=pg_base))
    folder.chmod(0o711)
    factory = ServerFactory(folder, pg_template, pg_logins["admin"])
    yield factory
    factory.remove_all()


def seeded(server: PostgresServer, master: PgLogin, with_no_pk_table: bool = False) -> dict[str, int]:
    """Create the sample database on `server` and load it as the master user."""
    with server.connect() as conn:
        postgres_sample.create_database(conn, master.user)
    with server.connect(postgres_sample.APP_DATABASE, login=master) as conn:
        return postgres_sample.seed(conn, with_no_pk_table)
