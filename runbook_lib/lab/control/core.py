"""The lab's control plane: moto's RDS records, moved through RDS's states by real work on the data plane. API
handlers (lab/api/rds.py) validate and enqueue; one worker thread does the slow work and moves the records,
holding the lock only while it touches them. The flows live beside this module, one per resource kind:
instances.py, deployments.py, switchover.py; metrics.py publishes CloudWatch data; faults.py holds the switches."""

from __future__ import annotations

import queue
import random
import shutil
import string
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib.lab import engine_versions as catalog
from runbook_lib.lab import moto_internals
from runbook_lib.lab.control import metrics
from runbook_lib.lab.control.faults import Faults
from runbook_lib.lab.dataplane.mysql import Credentials, DataPlane
from runbook_lib.lab.dataplane.postgres_plane import PgDataPlane
from runbook_lib.lab.dataplane.postgres_servers import PgLogin
from runbook_lib.lab.paths import LabPaths

# RDS takes minutes; the lab takes (RDS seconds x time scale) for the waits that are not real work.
DEFAULT_TIME_SCALE = 0.01
LOG_PORTION_LINES = 40  # lab pages logs by lines so that the runbook's Marker paging is exercised


def dbi_resource_id() -> str:
    return "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))


@dataclass
class LogFile:
    text: str
    written: float = field(default_factory=time.time)


class Lab:
    """Everything one lab process owns: records, data plane, worker, faults."""

    def __init__(self, paths: LabPaths, creds: Credentials, region: str = "us-east-1",
                 time_scale: float = DEFAULT_TIME_SCALE, account: str = moto_internals.DEFAULT_ACCOUNT_ID) -> None:
        self.paths = paths
        self.region = region
        self.account = account
        self.time_scale = time_scale
        self.creds = creds
        self.lock = threading.RLock()
        self.data = DataPlane(paths, creds)
        # PostgreSQL servers behind the same endpoint router; the lab's superuser is RDS's `rdsadmin`.
        self.pg = PgDataPlane(paths, self.data.router, PgLogin("rdsadmin", creds.admin.password),
                              PgLogin(creds.master_user, creds.master_password))
        self.faults = Faults()
        self.logs: dict[str, dict[str, LogFile]] = {}   # dbi -> file name -> content
        self.precheck: Callable[[Any, str], tuple[bool, str]] | None = None
        self._jobs: queue.Queue[tuple[str, Callable[[], None]] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="lab-worker", daemon=True)
        self._worker.start()
        self.failures: list[str] = []
        self._metrics_stop = threading.Event()
        self._metrics = threading.Thread(target=metrics.publish_replica_lag, args=(self, self._metrics_stop),
                                         name="lab-metrics", daemon=True)
        self._metrics.start()
        self.pg_monitor_stop = threading.Event()   # the PostgreSQL replication watcher (postgres_deployments)
        self.pg_monitor: threading.Thread | None = None

    @property
    def backend(self) -> Any:
        return moto_internals.rds_backend(self.account, self.region)

    # -- the worker --------------------------------------------------------------------------------
    def submit(self, what: str, job: Callable[[], None]) -> None:
        self._jobs.put((what, job))

    def run_sync(self, job: Callable[[], Any]) -> Any:
        """Run `job` on the worker thread (servers must be started there: they die with their thread's
        process parent) and wait for it."""
        done: queue.Queue[tuple[bool, Any]] = queue.Queue()

        def wrapped() -> None:
            try:
                done.put((True, job()))
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                done.put((False, exc))
        self.submit("sync", wrapped)
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            what, job = item
            try:
                job()
            except Exception:  # noqa: BLE001 - a lab job failing must not kill the lab
                self.failures.append(f"{what}: {traceback.format_exc()}")
                (self.paths.root / "lab-errors.log").open("a").write(self.failures[-1] + "\n")

    def pause(self, rds_seconds: float) -> None:
        time.sleep(rds_seconds * self.time_scale)

    def checksums(self) -> dict[str, dict[str, Any]]:
        """Per server: CHECKSUM TABLE of every application table (the data part of the lab's state digest)."""
        out: dict[str, dict[str, Any]] = {}
        for dbi in list(self.data.servers):
            server = self.data.servers[dbi]
            tables = server.execute(
                "SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables WHERE "
                "table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql','information_schema',"
                "'performance_schema','sys') ORDER BY 1")
            sums = server.execute(f"CHECKSUM TABLE {', '.join(t for (t,) in tables)}") if tables else []
            out[dbi] = {"tables": {str(t): int(c or 0) for t, c in sums},
                        "schemas": [r[0] for r in server.execute("SHOW DATABASES")]}
        return out

    def clear(self) -> None:
        """Back to an empty lab in this process (no record, no server, no endpoint, default switches), as a
        fresh `runbook lab up` has before seeding: what `runbook lab reset` does without restarting the process.
        Runs on the worker, after every queued job."""
        def job() -> None:
            for dbi in list(self.data.servers):
                self.data.remove_server(dbi)
            for dbi in list(self.pg.servers):
                self.pg.remove_server(dbi)
            for name in list(self.data.router.snapshot()):
                self.data.router.remove(name)
            with self.lock:
                moto_internals.reset_backends(self.account, self.region)
                self.logs.clear()
                self.faults = Faults()
                self.failures.clear()
            for folder in (self.paths.snapshots, self.paths.rds_logs):
                shutil.rmtree(folder, ignore_errors=True)
            (self.paths.root / "iam-policy.json").unlink(missing_ok=True)
        self.run_sync(job)

    def stop(self) -> None:
        self._metrics_stop.set()
        self.pg_monitor_stop.set()
        self._jobs.put(None)
        self._worker.join(timeout=120)
        self.pg.close()
        self.data.close()

    # -- records -------------------------------------------------------------------------------------
    def instance(self, name: str) -> Any:
        return self.backend.databases[name]

    def by_dbi(self, dbi: str) -> Any | None:
        for inst in list(self.backend.databases.values()):
            if inst.dbi_resource_id == dbi:
                return inst
        return None

    def server_port(self, dbi: str) -> int | None:
        """The port of the server behind `dbi`, MariaDB or PostgreSQL (None when it has none)."""
        server = self.data.servers.get(dbi) or self.pg.servers.get(dbi)
        return server.port if server is not None else None

    def has_server(self, dbi: str) -> bool:
        return dbi in self.data.servers or dbi in self.pg.servers

    def dump(self, dbi: str, out: Path) -> None:
        """A final snapshot's real dump of the server behind `dbi`, whichever engine it runs."""
        if dbi in self.pg.servers:
            self.pg.dump(dbi, out)
        else:
            self.data.dump(dbi, out)

    def remove_server(self, dbi: str) -> None:
        """The server behind `dbi` and its data go (whichever engine; none is fine)."""
        self.data.remove_server(dbi)
        self.pg.remove_server(dbi)

    def attach(self, name: str, dbi: str) -> None:
        """Route the endpoint of `name` to the server of `dbi`, whichever engine it runs."""
        self.data.router.route(name, self.server_port(dbi))

    def set_status(self, dbi: str, status: str) -> None:
        with self.lock:
            inst = self.by_dbi(dbi)
            if inst is not None:
                inst.status = status

    def settings_for(self, group: str | None) -> dict[str, str]:
        """The user-set values of a parameter group that MariaDB can honour, as server options."""
        if not group or group not in self.backend.db_parameter_groups:
            return {}
        out = {}
        for name, param in self.backend.db_parameter_groups[group].parameters.items():
            option = catalog.MARIADB_SETTINGS.get(name)
            value = param.get("ParameterValue") if isinstance(param, dict) else getattr(param, "parameter_value", None)
            if option and value not in (None, ""):
                out[option] = str(value)
        return out

    def add_log(self, dbi: str, name: str, text: str) -> None:
        with self.lock:
            self.logs.setdefault(dbi, {})[name] = LogFile(text)
        path = self.paths.rds_logs / dbi / name.replace("/", "_")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def log_files(self, dbi: str) -> dict[str, LogFile]:
        pg_server = self.pg.servers.get(dbi)
        if pg_server is not None:   # RDS for PostgreSQL names its logs error/postgresql.log.YYYY-MM-DD-HH
            log = pg_server.log_file
            written = log.stat().st_mtime if log.exists() else time.time()
            name = time.strftime("error/postgresql.log.%Y-%m-%d-%H", time.gmtime(written))
            return {name: LogFile(log.read_text(errors="replace") if log.exists() else "", written),
                    **self.logs.get(dbi, {})}
        files = {"error/mysql-error-running.log": LogFile(self.data.error_log(dbi))}
        files.update(self.logs.get(dbi, {}))
        return files

    def adopt_instance(self, inst: Any) -> None:
        """Give a new moto instance what RDS would: its own resource id and a lab endpoint."""
        inst.dbi_resource_id = dbi_resource_id()
        moto_internals.adopt(inst)
        inst.lab_endpoint_port = self.data.open_endpoint(inst.db_instance_identifier)
        inst.port = inst.lab_endpoint_port

    def instance_name(self, dbi: str) -> str:
        inst = self.by_dbi(dbi)
        assert inst is not None, dbi
        return str(inst.db_instance_identifier)

    # -- modification (upgrade) --------------------------------------------------------------------------
    # -- deletion ------------------------------------------------------------------------------------------
