"""The lab's control plane: moto's RDS records, moved through RDS's states by real work on the data
plane. API handlers (rds_api.py) validate and enqueue; one worker thread does the slow work and moves
the records, holding the lock only while it touches them."""

from __future__ import annotations

import queue
import random
import string
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.models import BlueGreenDeployment, BlueGreenDeploymentTask, DBInstance, SwitchoverDetails, rds_backends

from . import catalog, sample
from .dataplane import Credentials, DataPlane
from .events import record_event
from .paths import LabPaths

# RDS takes minutes; the lab takes (RDS seconds x time scale) for the waits that are not real work.
DEFAULT_TIME_SCALE = 0.01
LOG_PORTION_LINES = 40  # lab pages logs by lines so that the runbook's Marker paging is exercised


def dbi_resource_id() -> str:
    return "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))


@dataclass
class LogFile:
    text: str
    written: float = field(default_factory=time.time)


@dataclass
class Faults:
    """Switches that make failure paths deterministic (tests and demos)."""

    stall_green_sql_thread: bool = False   # green stops applying during switchover -> timeout, rollback
    skip_catchup_wait: bool = False        # promote green without waiting (unsafe; zero-loss must catch it)

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown lab fault {key!r}; known: {', '.join(vars(self))}")
            setattr(self, key, bool(value))


class Lab:
    """Everything one lab process owns: records, data plane, worker, faults."""

    def __init__(self, paths: LabPaths, creds: Credentials, region: str = "us-east-1",
                 time_scale: float = DEFAULT_TIME_SCALE, account: str = DEFAULT_ACCOUNT_ID) -> None:
        self.paths = paths
        self.region = region
        self.account = account
        self.time_scale = time_scale
        self.creds = creds
        self.lock = threading.RLock()
        self.data = DataPlane(paths, creds)
        self.faults = Faults()
        self.logs: dict[str, dict[str, LogFile]] = {}   # dbi -> file name -> content
        self.precheck: Callable[[Any, str], tuple[bool, str]] | None = None
        self._jobs: queue.Queue[tuple[str, Callable[[], None]] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="lab-worker", daemon=True)
        self._worker.start()
        self.failures: list[str] = []
        self._metrics_stop = threading.Event()
        self._metrics = threading.Thread(target=self._publish_metrics, name="lab-metrics", daemon=True)
        self._metrics.start()

    @property
    def backend(self) -> Any:
        return rds_backends[self.account][self.region]

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

    def _publish_metrics(self) -> None:
        """ReplicaLag of every replica, measured on its server, into (moto's) CloudWatch once a second, as RDS
        publishes it; the runbook's preflight reads it there in both modes."""
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.core.utils import utcnow
        while not self._metrics_stop.wait(1.0):
            with self.lock:
                replicas = [(i.db_instance_identifier, i.dbi_resource_id) for i in self.backend.databases.values()
                            if i.source_db_instance_identifier and i.dbi_resource_id in self.data.servers]
            for name, dbi in replicas:
                try:
                    status = self.data.replica_status(dbi) or {}
                except Exception:  # noqa: BLE001 - a server restarting has no lag to report
                    continue
                lag = status.get("Seconds_Behind_Master")
                if lag is None:
                    continue
                with self.lock:
                    cloudwatch_backends[self.account][self.region].put_metric_data("AWS/RDS", [{
                        "MetricName": "ReplicaLag", "Value": float(lag), "Unit": "Seconds", "Timestamp": utcnow(),
                        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": name}]}])

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

    def stop(self) -> None:
        self._metrics_stop.set()
        self._jobs.put(None)
        self._worker.join(timeout=120)
        self.data.close()

    # -- records -------------------------------------------------------------------------------------
    def instance(self, name: str) -> DBInstance:
        return self.backend.databases[name]

    def by_dbi(self, dbi: str) -> DBInstance | None:
        for inst in list(self.backend.databases.values()):
            if inst.dbi_resource_id == dbi:
                return inst
        return None

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
        files = {"error/mysql-error-running.log": LogFile(self.data.error_log(dbi))}
        files.update(self.logs.get(dbi, {}))
        return files

    def adopt_instance(self, inst: DBInstance) -> None:
        """Give a new moto instance what RDS would: its own resource id and a lab endpoint."""
        inst.dbi_resource_id = dbi_resource_id()
        inst.__class__ = _LabDBInstance
        inst.lab_endpoint_port = self.data.open_endpoint(inst.db_instance_identifier)
        inst.port = inst.lab_endpoint_port

    # -- instance creation -----------------------------------------------------------------------------
    def create_instance(self, inst: DBInstance, seed: bool = False, seed_blocker: bool = False) -> None:
        """Build the server behind a new instance: creating -> backing-up -> available."""
        with self.lock:
            self.adopt_instance(inst)
            inst.status = "creating"
            dbi, name, version = inst.dbi_resource_id, inst.db_instance_identifier, inst.engine_version
            settings = self.settings_for(inst.db_parameter_group_name)

        def job() -> None:
            self.data.start_server(dbi, version, settings)
            if seed:
                server = self.data.servers[dbi]
                with server.connect() as conn, conn.cursor() as cur:
                    for sql in sample.statements(self.creds.master_user, seed_blocker):
                        cur.execute(sql)
            with self.lock:
                self.data.attach(self.instance_name(dbi), dbi)
            self.set_status(dbi, "backing-up")
            self.pause(60)
            self.set_status(dbi, "available")
            with self.lock:
                record_event(self.backend, "db-instance", name, "DB instance created")
        self.submit(f"create {name}", job)

    def instance_name(self, dbi: str) -> str:
        inst = self.by_dbi(dbi)
        assert inst is not None, dbi
        return str(inst.db_instance_identifier)

    # -- blue/green creation -----------------------------------------------------------------------------
    def provision_green(self, bgd: BlueGreenDeployment, blue: DBInstance, green: DBInstance) -> None:
        with self.lock:
            self.adopt_instance(green)
            green.status = "creating"
            green.source_db_instance_identifier = blue.db_instance_identifier
            green.is_replica = True
            blue.add_replica(green)
            green.option_group_name = blue.option_group_name
            bgd.status = "PROVISIONING"
            bgd.tasks = [BlueGreenDeploymentTask(n, "PENDING") for n in
                         ("CREATING_READ_REPLICA_OF_SOURCE", "DB_ENGINE_VERSION_UPGRADE", "CONFIGURE_BACKUPS",
                          "CREATING_TOPOLOGY_OF_SOURCE")]
            if green.engine_version == blue.engine_version:
                bgd.tasks.pop(1)
            bgd.switchover_details = [SwitchoverDetails(blue.db_instance_arn, green.db_instance_arn, "PROVISIONING")]
            bgd.status_details = "Creating the green environment"
            blue_dbi, green_dbi = blue.dbi_resource_id, green.dbi_resource_id
            version = green.engine_version
            settings = self.settings_for(green.db_parameter_group_name)
            bgd_id = bgd.blue_green_deployment_identifier

        def task(name: str, status: str) -> None:
            with self.lock:
                for t in bgd.tasks:
                    if t.Name == name:
                        t.Status = status

        def job() -> None:
            try:
                task("CREATING_READ_REPLICA_OF_SOURCE", "IN_PROGRESS")
                self.data.start_server(green_dbi, version, settings, read_only=True)
                self.data.copy_and_replicate(blue_dbi, green_dbi)
                with self.lock:
                    self.data.attach(self.instance_name(green_dbi), green_dbi)
                task("CREATING_READ_REPLICA_OF_SOURCE", "COMPLETED")
                if any(t.Name == "DB_ENGINE_VERSION_UPGRADE" for t in bgd.tasks):
                    task("DB_ENGINE_VERSION_UPGRADE", "COMPLETED")
                task("CONFIGURE_BACKUPS", "IN_PROGRESS")
                self.set_status(green_dbi, "backing-up")
                self.pause(60)
                task("CONFIGURE_BACKUPS", "COMPLETED")
                task("CREATING_TOPOLOGY_OF_SOURCE", "IN_PROGRESS")
                if not self.data.caught_up(green_dbi, blue_dbi, timeout=60):
                    raise RuntimeError("green did not catch up with blue within 60 s")
                self.topology(blue_dbi, green_dbi, "AVAILABLE", on=[blue_dbi])
                task("CREATING_TOPOLOGY_OF_SOURCE", "COMPLETED")
                self.set_status(green_dbi, "available")
                with self.lock:
                    bgd.status = "AVAILABLE"
                    bgd.status_details = None
                    for d in bgd.switchover_details:
                        d.Status = "AVAILABLE"
                    record_event(self.backend, "blue-green-deployment", bgd_id,
                                 "Blue/green deployment tasks completed. You can make more modifications to "
                                 "the green environment databases or switch over the deployment.")
            except Exception as exc:
                with self.lock:
                    for t in bgd.tasks:
                        if t.Status == "IN_PROGRESS":
                            t.Status = "FAILED"
                    bgd.status = "INVALID_CONFIGURATION"
                    bgd.status_details = f"Creation failed: {exc}"
                    record_event(self.backend, "blue-green-deployment", bgd_id,
                                 f"Creation of blue/green deployment failed because {exc}.")
                raise
        self.submit(f"provision green for {bgd_id}", job)

    # -- modification (upgrade) --------------------------------------------------------------------------
    def upgrade(self, inst: DBInstance, version: str | None, group: str | None, option_group: str | None,
                on_done: Callable[[], None] | None = None) -> None:
        """Prechecks, then restart the server on the new version with the new group's settings."""
        with self.lock:
            dbi, name, old_version = inst.dbi_resource_id, inst.db_instance_identifier, inst.engine_version
            inst.status = "upgrading" if version and version != old_version else "modifying"
            target = version or old_version
            settings = self.settings_for(group or inst.db_parameter_group_name)
            read_only = bool(self.data.servers[dbi].spec and self.data.servers[dbi].spec.read_only)
            major = catalog.major_of(target) != catalog.major_of(old_version)

        def job() -> None:
            if major and self.precheck is not None:
                passed, log_text = self.precheck(self.data.servers[dbi], target)
                self.add_log(dbi, "PrePatchCompatibility.log", log_text)
                if not passed:
                    with self.lock:
                        inst.status = "available"
                        record_event(self.backend, "db-instance", self.instance_name(dbi),
                                     "Database instance is in a state that cannot be upgraded: "
                                     "PreUpgrade checks failed: More details can be found in the "
                                     "PrePatchCompatibility.log file.")
                    return
            self.data.restart(dbi, target, settings, read_only)
            self.pause(30)
            with self.lock:
                inst.engine_version = target
                if group:
                    inst.db_parameter_group_name = group
                if option_group:
                    inst.option_group_name = option_group
                inst.status = "available"
                if version and version != old_version:
                    record_event(self.backend, "db-instance", self.instance_name(dbi),
                                 f"Database instance upgraded from engine version {old_version} to {target}.")
            if on_done:
                on_done()
        self.submit(f"modify {name}", job)

    # -- switchover ----------------------------------------------------------------------------------------
    def switchover(self, bgd: BlueGreenDeployment, timeout_s: int) -> None:
        """RDS's switchover: guardrails, fence, catch up, promote, rename, reopen; or roll back."""
        with self.lock:
            blue = self.backend.find_db_from_id(bgd.source)
            green = self.backend.find_db_from_id(bgd.target)
            blue_name, green_name = blue.db_instance_identifier, green.db_instance_identifier
            blue_dbi, green_dbi = blue.dbi_resource_id, green.dbi_resource_id
            bgd_id = bgd.blue_green_deployment_identifier
            bgd.status = "SWITCHOVER_IN_PROGRESS"
            bgd.status_details = "Switchover in progress"
            for d in bgd.switchover_details:
                d.Status = "SWITCHOVER_IN_PROGRESS"
            record_event(self.backend, "blue-green-deployment", bgd_id,
                         f"Switchover from DB instance {blue_name} to {green_name} started.")
            record_event(self.backend, "blue-green-deployment", bgd_id,
                         f"Switchover from primary source {blue_name} to target {green_name} started.")
        budget = max(timeout_s * self.time_scale, 1.0)
        router = self.data.router

        def job() -> None:
            deadline = time.monotonic() + budget
            fenced = stalled = False
            try:
                self.topology(blue_dbi, green_dbi, "SWITCHOVER_INITIATED", on=[blue_dbi])
                if self.faults.skip_catchup_wait:  # the unsafe variant: green lags and nobody waits for it
                    self.data.servers[green_dbi].execute("STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=1", "START SLAVE")
                    time.sleep(0.3)
                while True:  # a replica that just restarted reconnects within a moment
                    status = self.data.replica_status(green_dbi) or {}
                    if status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes":
                        break
                    if time.monotonic() > deadline or status.get("Last_SQL_Error") or not status:
                        raise _Abort("replication from the blue to the green environment is not running"
                                     + (f" ({status.get('Last_SQL_Error') or status.get('Last_IO_Error')})"
                                        if status.get("Last_SQL_Error") or status.get("Last_IO_Error") else ""))
                    time.sleep(0.05)
                lag = status.get("Seconds_Behind_Master")
                if lag is None or lag * self.time_scale > budget:
                    raise _Abort(f"the replica lag of the green environment ({lag} s) is too high for the "
                                 f"switchover timeout of {timeout_s} s")
                long_trx = self.data.long_write_transactions(blue_dbi, older_than_s=max(budget / 2, 0.5))
                if long_trx:
                    raise _Abort(f"long-running write transactions are active on {blue_name}: {long_trx}")
                # Stop new writes and drop every client on both environments.
                router.set_mode([blue_name, green_name], "refuse", cut=True)
                fenced = True
                self.data.set_read_only(blue_dbi, True)
                self.data.kill_clients(blue_dbi)
                self.data.kill_clients(green_dbi)
                if self.faults.stall_green_sql_thread:
                    self.data.servers[green_dbi].execute("STOP SLAVE SQL_THREAD")
                    stalled = True
                self.topology(blue_dbi, green_dbi, "SWITCHOVER_IN_PROGRESS", on=[blue_dbi])
                self.data.write_heartbeat(blue_dbi, bgd_id)
                if not self.faults.skip_catchup_wait:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self.data.wait_applied(green_dbi, self.data.binlog_pos(blue_dbi), remaining):
                        raise _Abort("the green environment did not catch up with the blue environment "
                                     "within the switchover timeout")
                if time.monotonic() > deadline:
                    raise _Abort("the switchover timeout elapsed")
                self.data.promote(green_dbi)
                self.topology(blue_dbi, green_dbi, "SWITCHOVER_IN_POST_PROCESSING", on=[blue_dbi, green_dbi])
                with self.lock:
                    old_name = self._old_name(blue_name)
                    self.backend.modify_db_instance(blue_name, {"new_db_instance_identifier": old_name})
                    self.backend.modify_db_instance(green_name, {"new_db_instance_identifier": blue_name})
                    router.rename(blue_name, "__switching__")
                    router.rename(green_name, old_name)
                    router.rename("__switching__", blue_name)
                    blue.port, green.port = green.port, blue.port
                    self.data.attach(blue_name, green_dbi)
                    self.data.attach(old_name, blue_dbi)
                    green.source_db_instance_identifier = None
                    green.is_replica = False
                    blue.replicas = []
                    green.tags = list(blue.tags)
                    bgd.source, bgd.target = blue.db_instance_arn, green.db_instance_arn
                    bgd.status = "SWITCHOVER_COMPLETED"
                    bgd.status_details = "Switchover completed"
                    for d in bgd.switchover_details:
                        d.SourceMember, d.TargetMember, d.Status = blue.db_instance_arn, green.db_instance_arn, "SWITCHOVER_COMPLETED"
                    record_event(self.backend, "blue-green-deployment", bgd_id,
                                 f"Switchover from primary source {blue_name} to target {green_name} completed. "
                                 f"Renamed {blue_name} to {old_name} and {green_name} to {blue_name}.")
                    record_event(self.backend, "blue-green-deployment", bgd_id,
                                 "Switchover completed on blue/green deployment.")
                router.set_mode([blue_name, old_name], "open")
                self.topology(blue_dbi, green_dbi, "SWITCHOVER_COMPLETED", on=[blue_dbi, green_dbi])
            except Exception as exc:
                reason = str(exc)
                if fenced:
                    router.set_mode([blue_name, green_name], "open")
                self.data.set_read_only(blue_dbi, False)
                if stalled:
                    self.data.servers[green_dbi].execute("START SLAVE SQL_THREAD")
                self.topology(blue_dbi, green_dbi, "AVAILABLE", on=[blue_dbi])
                with self.lock:
                    bgd.status = "SWITCHOVER_FAILED"
                    bgd.status_details = f"Switchover failed and was rolled back: {reason}"
                    for d in bgd.switchover_details:
                        d.Status = "SWITCHOVER_FAILED"
                    record_event(self.backend, "blue-green-deployment", bgd_id,
                                 f"Switchover from primary source {blue_name} to target {green_name} was "
                                 f"canceled due to {reason}.")
                    record_event(self.backend, "blue-green-deployment", bgd_id,
                                 "Switchover canceled on blue/green deployment.")
                if not isinstance(exc, _Abort):
                    raise
        self.submit(f"switchover {bgd_id}", job)

    def topology(self, blue_dbi: str, green_dbi: str, status: str, on: list[str]) -> None:
        """mysql.rds_topology as RDS keeps it while a deployment exists (written where it may be written:
        on blue while green replicates it, on both once replication has stopped)."""
        members = []
        for dbi, role in ((blue_dbi, "BLUE_GREEN_DEPLOYMENT_SOURCE"), (green_dbi, "BLUE_GREEN_DEPLOYMENT_TARGET")):
            inst = self.by_dbi(dbi)
            if inst is not None:
                members.append((inst.db_instance_identifier, inst.port, role, status))
        for dbi in on:
            if dbi in self.data.servers:
                self.data.write_topology(dbi, members)

    def _old_name(self, name: str) -> str:
        n = 1
        while f"{name}-old{n}" in self.backend.databases:
            n += 1
        return f"{name}-old{n}"

    # -- deletion ------------------------------------------------------------------------------------------
    def delete_instance(self, inst: DBInstance, final_snapshot: str | None) -> None:
        with self.lock:
            dbi, name = inst.dbi_resource_id, inst.db_instance_identifier
            inst.status = "deleting"

        def job() -> None:
            if final_snapshot:
                dump = self.paths.snapshots / f"{final_snapshot}.sql"
                with self.lock:
                    snap = self.backend.create_db_snapshot(self.instance_name(dbi), final_snapshot)
                    snap.status = "creating"
                    snap.lab_dump = str(dump)
                self.data.dump(dbi, dump)
                self.pause(30)
                with self.lock:
                    snap.status = "available"
            self.pause(30)
            self.data.remove_server(dbi)  # the server and its data go first; the record last, as in RDS
            with self.lock:
                current = self.instance_name(dbi)
                self.backend.delete_db_instance(current)
                self.data.router.remove(current)
                record_event(self.backend, "db-instance", current, "DB instance deleted")
        self.submit(f"delete {name}", job)


class _Abort(Exception):
    """A switchover guardrail or timeout: roll back, report, keep the lab running."""


class _LabDBInstance(DBInstance):
    """A moto DB instance whose endpoint is the lab's loopback proxy for its name."""

    lab_endpoint_port: int = 0

    @property
    def address(self) -> str:
        return "127.0.0.1"
