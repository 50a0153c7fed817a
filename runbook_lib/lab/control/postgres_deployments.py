"""Blue/green deployments of RDS for PostgreSQL instances and Aurora PostgreSQL clusters in the lab: green built by real
work the way RDS builds it for the case (postgres_catalog.replication_method: a physical standby, or a publication on
blue and a subscription on green per database), tasks that follow that work, the record-level major version change
(the servers are all PostgreSQL 15: docs/postgresql.md), and the watcher that notices what logical replication cannot
carry (DDL, large objects, a stalled subscription) and reports green as "Replication degraded" (RDS-EVENT-0409,
StatusDetails; the Status stays: docs/lab-rules.md, "PostgreSQL")."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runbook_lib.lab import moto_internals
from runbook_lib.lab.control import cluster_deployments, deployments, postgres_instances
from runbook_lib.lab.control.deployments import created, creation_failed, set_task
from runbook_lib.lab.control.events import record_event
from runbook_lib.lab.dataplane import postgres_replication as repl
from runbook_lib.lab.dataplane.postgres_servers import PgServerSpec, PostgresServer

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab

DEGRADED = "Replication degraded"
WATCH_EVERY_S = 0.5


@dataclass
class PgDeployment:
    """What the lab keeps about a PostgreSQL deployment beside moto's record (bgd.lab_pg)."""

    method: str                                   # "logical" | "physical"
    blue_dbi: str                                 # blue's writer / instance
    green_dbi: str                                # green's writer / instance
    logical: list[repl.LogicalLink] = field(default_factory=list)
    physical: repl.PhysicalLink | None = None
    lo_baseline: dict[str, dict[str, str | None]] = field(default_factory=dict)   # database -> large objects
    degraded: list[str] = field(default_factory=list)                             # reasons, once noticed
    ready: bool = False                           # green built and replicating


def link_name(bgd_id: str, database: str) -> str:
    """Publication, subscription and slot share one name per database (a valid slot name: [a-z0-9_])."""
    return re.sub(r"[^a-z0-9_]", "_", f"rds_bg_{bgd_id.removeprefix('bgd-')}_{database}".lower())[:63]


def _incompatible(lab: Lab, bgd: Any, names: list[str]) -> None:
    """RDS accepts the call, then fails the creation naming the parameters (re:Post "postgres rds blue green
    deployment setup not working": "Creation of blue/green deployment failed due to incompatible parameter(s)")."""
    with lab.lock:
        for t in bgd.tasks:
            if t.Status in ("IN_PROGRESS", "PENDING") and t.Name == "CREATING_READ_REPLICA_OF_SOURCE":
                t.Status = "FAILED"
        bgd.status = "INVALID_CONFIGURATION"
        bgd.status_details = f"Creation failed: incompatible parameter(s): [{', '.join(names)}]"
        record_event(lab.backend, "blue-green-deployment", bgd.blue_green_deployment_identifier,
                     f"Creation of blue/green deployment failed due to incompatible parameter(s): [{', '.join(names)}]"
                     ". See the blue/green prerequisites for PostgreSQL, then delete and recreate the blue/green "
                     "deployment.")


# Logical replication takes, per database, a slot, a WAL sender and an apply worker (one subscription per database):
# fewer than that in blue's group and RDS fails the creation naming the parameter (re:Post, as above). The per-database
# count is the lab's reading (docs/lab-rules.md).
CAPACITY = ("max_replication_slots", "max_wal_senders", "max_logical_replication_workers", "max_worker_processes")


def incompatible_parameters(lab: Lab, group: str | None, databases: int, cluster: bool) -> list[str]:
    """The parameters of blue's (cluster) group that rule logical replication out."""
    value = postgres_instances.parameter
    names = [] if value(lab, group, "rds.logical_replication", cluster) == "1" else ["rds.logical_replication"]
    for name in CAPACITY:
        setting = value(lab, group, name, cluster)
        if setting is not None and setting.isdigit() and int(setting) < max(databases, 1):
            names.append(name)
    return names


def _build_writer(lab: Lab, state: PgDeployment, bgd_id: str, source_version: str, name: str,
                  settings: dict[str, str]) -> None:
    """Green's writer (or instance), replicating from blue as the method says, on the source version for now."""
    blue = lab.pg.servers[state.blue_dbi]
    if state.method == "physical":
        state.physical = lab.pg.start_standby(state.green_dbi, state.blue_dbi, source_version, name, settings)
        return
    green = lab.pg.start_server(state.green_dbi, source_version, name, settings)
    for database in lab.pg.app_databases(state.blue_dbi):
        green.set_read_only(False)
        link = repl.build_logical_green(blue, green, database, link_name(bgd_id, database))
        state.logical.append(link)
        state.lo_baseline[database] = repl.large_objects(blue, database)


def _upgrade(lab: Lab, dbi: str, version: str) -> None:
    """The record-level version change: a restart with the target version recorded (docs/postgresql.md)."""
    server = lab.pg.servers[dbi]
    spec = server.spec or PgServerSpec(version)
    server.restart(PgServerSpec(version, name=spec.name, settings=dict(spec.settings), read_only=True))


def provision_instance(lab: Lab, bgd: Any, blue: Any, green: Any, method: str) -> None:
    """An RDS for PostgreSQL instance's green, built in the worker; the call answers PROVISIONING at once."""
    with lab.lock:
        deployments.adopt_green(lab, bgd, blue, green)
        state = PgDeployment(method, blue.dbi_resource_id, green.dbi_resource_id)
        bgd.lab_pg = state
        bgd_id, green_name = bgd.blue_green_deployment_identifier, green.db_instance_identifier
        source_version, target_version = blue.engine_version, green.engine_version
        settings = postgres_instances.settings_for(lab, green.db_parameter_group_name)
        blue_group = blue.db_parameter_group_name

    def task(name: str, status: str) -> None:
        set_task(lab, bgd, name, status)

    def job() -> None:
        try:
            task("CREATING_READ_REPLICA_OF_SOURCE", "IN_PROGRESS")
            refused = incompatible_parameters(lab, blue_group, len(lab.pg.app_databases(state.blue_dbi)), False) \
                if method == "logical" else []
            if refused:
                lab.set_status(state.green_dbi, "incompatible-parameters")
                _incompatible(lab, bgd, refused)
                return
            _build_writer(lab, state, bgd_id, source_version, green_name, settings)
            with lab.lock:
                lab.attach(lab.instance_name(state.green_dbi), state.green_dbi)
            task("CREATING_READ_REPLICA_OF_SOURCE", "COMPLETED")
            if target_version != source_version:
                task("DB_ENGINE_VERSION_UPGRADE", "IN_PROGRESS")
                lab.set_status(state.green_dbi, "upgrading")
                lab.pause(60)
                _upgrade(lab, state.green_dbi, target_version)
                task("DB_ENGINE_VERSION_UPGRADE", "COMPLETED")
            task("CONFIGURE_BACKUPS", "IN_PROGRESS")
            lab.set_status(state.green_dbi, "backing-up")
            lab.pause(60)
            task("CONFIGURE_BACKUPS", "COMPLETED")
            task("CREATING_TOPOLOGY_OF_SOURCE", "IN_PROGRESS")
            _wait_caught_up(lab, state)
            task("CREATING_TOPOLOGY_OF_SOURCE", "COMPLETED")
            lab.set_status(state.green_dbi, "available")
            state.ready = True
            created(lab, bgd)
            ensure_watcher(lab)
        except Exception as exc:
            creation_failed(lab, bgd, exc)
            raise
    lab.submit(f"provision green for {bgd_id}", job)


def provision_cluster(lab: Lab, bgd: Any, blue: Any, green: Any) -> None:
    """An Aurora PostgreSQL cluster's green: green's writer subscribes to blue's writer (logical, always), green's
    readers are physical standbys of green's writer; Aurora's task names, a detail row per member."""
    with lab.lock:
        twins = cluster_deployments.adopt_green(lab, bgd, blue, green)
        writer = next((b.dbi_resource_id, g.dbi_resource_id, g.db_instance_identifier) for b, g in twins
                      if g.is_cluster_writer)
        readers = [(g.dbi_resource_id, g.db_instance_identifier) for _b, g in twins if not g.is_cluster_writer]
        state = PgDeployment("logical", writer[0], writer[1])
        bgd.lab_pg = state
        bgd_id, green_rid = bgd.blue_green_deployment_identifier, green.db_cluster_resource_id
        source_version, target_version = blue.engine_version, green.engine_version
        settings = postgres_instances.settings_for(lab, green.parameter_group, cluster=True)
        blue_group = blue.parameter_group
        members = [g for _b, g in twins]

    def task(name: str, status: str) -> None:
        set_task(lab, bgd, name, status)

    def job() -> None:
        try:
            task("CREATING_READ_REPLICA_OF_SOURCE", "IN_PROGRESS")
            refused = incompatible_parameters(lab, blue_group, len(lab.pg.app_databases(state.blue_dbi)), True)
            if refused:
                for g in members:
                    lab.set_status(g.dbi_resource_id, "incompatible-parameters")
                _incompatible(lab, bgd, refused)
                return
            _build_writer(lab, state, bgd_id, source_version, writer[2], settings)
            task("CREATING_READ_REPLICA_OF_SOURCE", "COMPLETED")
            if target_version != source_version:
                task("DB_ENGINE_VERSION_UPGRADE", "IN_PROGRESS")
                lab.pause(60)
                _upgrade(lab, state.green_dbi, target_version)
                task("DB_ENGINE_VERSION_UPGRADE", "COMPLETED")
            task("CREATE_DB_INSTANCES_FOR_CLUSTER", "IN_PROGRESS")
            for dbi, name in readers:
                lab.pg.start_standby(dbi, state.green_dbi, target_version, name, settings)
            for dbi in [state.green_dbi, *(d for d, _n in readers)]:
                with lab.lock:
                    lab.attach(lab.instance_name(dbi), dbi)
                lab.set_status(dbi, "backing-up")
            lab.pause(60)
            task("CREATE_DB_INSTANCES_FOR_CLUSTER", "COMPLETED")
            task("CREATE_CUSTOM_ENDPOINTS", "IN_PROGRESS")
            _wait_caught_up(lab, state)
            cluster_deployments.green_available(lab, green_rid, [state.green_dbi, *(d for d, _n in readers)])
            task("CREATE_CUSTOM_ENDPOINTS", "COMPLETED")
            state.ready = True
            created(lab, bgd)
            ensure_watcher(lab)
        except Exception as exc:
            creation_failed(lab, bgd, exc)
            raise
    lab.submit(f"provision green cluster for {bgd_id}", job)


def _wait_caught_up(lab: Lab, state: PgDeployment, timeout: float = 60) -> None:
    blue, green = lab.pg.servers[state.blue_dbi], lab.pg.servers[state.green_dbi]
    links: list[repl.LogicalLink | repl.PhysicalLink] = [state.physical] if state.physical else list(state.logical)
    target = repl.current_lsn(blue)
    for link in links:
        if not repl.wait_caught_up(blue, green, link, target, timeout):
            raise RuntimeError(f"green did not confirm blue's WAL within {timeout:.0f} s")


# -- "Replication degraded" --------------------------------------------------------------------------------------
def degradation(lab: Lab, state: PgDeployment) -> list[str]:
    """Why green cannot follow blue any more (empty when it can): logical replication only; a physical standby
    carries everything."""
    if not state.ready or state.method != "logical":
        return []
    blue, green = lab.pg.servers.get(state.blue_dbi), lab.pg.servers.get(state.green_dbi)
    if blue is None or green is None:
        return []
    reasons: list[str] = []
    for link in state.logical:
        reasons += repl.degradation(blue, green, link, state.lo_baseline.get(link.database, {}))
    return [r for r in reasons if not any(t in r for t in TRANSIENT)]


# Worker errors that a restart of either side causes and that heal by themselves (the worker retries): not a stall.
TRANSIENT = ("is active for PID", "could not receive data from WAL stream", "could not connect to the publisher",
             "replication workers on green failed")


def check(lab: Lab, bgd: Any) -> list[str]:
    """Look now (the watcher, and a switchover request, which must not race it); report the first time."""
    state: PgDeployment | None = getattr(bgd, "lab_pg", None)
    if state is None:
        return []
    if state.degraded:
        return state.degraded
    reasons = degradation(lab, state)
    if reasons:
        with lab.lock:
            if bgd.status != "AVAILABLE" or state.degraded:
                return state.degraded
            state.degraded = reasons
            bgd.status_details = f"{DEGRADED}: {'; '.join(reasons)}"
            # RDS-EVENT-0409 (notification, free message): the event the lab uses for it (assumed).
            cause = ("DDL changes in the blue environment can't be replicated to the green environment"
                     if any(r.startswith("DDL") for r in reasons) else
                     "large object changes in the blue environment can't be replicated to the green environment"
                     if any("large object" in r for r in reasons) else
                     "replication from the blue environment to the green environment stopped")
            record_event(lab.backend, "blue-green-deployment", bgd.blue_green_deployment_identifier,
                         f"{DEGRADED}: {cause} ({'; '.join(reasons)}). Switchover is not available: delete the "
                         "blue/green deployment with its green databases and recreate it.")
            lab.backend.events[-1].event_categories = ["notification"]   # RDS-EVENT-0409's category
    return reasons


def replica_lag_s(lab: Lab, state: PgDeployment) -> float:
    """Green's lag behind blue in seconds, as the lab reports it in ReplicaLag (*the lab's reading*: 0 when green
    confirmed blue's WAL position; else the replay delay a physical standby shows, or the walsenders' replay_lag)."""
    blue, green = lab.pg.servers[state.blue_dbi], lab.pg.servers[state.green_dbi]
    target = repl.current_lsn(blue)
    if state.physical is not None:
        done = repl.replay_lsn(green)
        if done is not None and done >= target:
            return 0.0
        row = green.execute("SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)")
        return float(row[0][0])
    if all((repl.confirmed_lsn(blue, link) or 0) >= target for link in state.logical):
        return 0.0
    row = blue.execute("SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication "
                       "WHERE application_name = ANY(%s)", params=([link.name for link in state.logical],))
    return float(row[0][0])


def _publish_lag(lab: Lab, bgd: Any) -> None:
    """ReplicaLag of green's instance (the writer of a green cluster) into (moto's) CloudWatch, as metrics.py does
    for MySQL replicas: the runbook's switchover guardrail reads it there."""
    state: PgDeployment = bgd.lab_pg
    lag = replica_lag_s(lab, state)
    with lab.lock:
        green = lab.by_dbi(state.green_dbi)
        if green is None:
            return
        moto_internals.cloudwatch_put(lab.account, lab.region, "AWS/RDS", [{
            "MetricName": "ReplicaLag", "Value": lag, "Unit": "Seconds", "Timestamp": moto_internals.utcnow(),
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": green.db_instance_identifier}]}])


def watch(lab: Lab, stop: threading.Event) -> None:
    """The lab's own eyes on PostgreSQL deployments, as RDS watches them: every deployment that is AVAILABLE is checked
    for what logical replication cannot carry, and green's ReplicaLag is published once a second."""
    rounds = 0
    while not stop.wait(WATCH_EVERY_S):
        rounds += 1
        with lab.lock:
            watched = [b for b in lab.backend.blue_green_deployments.values()
                       if getattr(b, "lab_pg", None) is not None and b.status == "AVAILABLE" and b.lab_pg.ready]
        for bgd in watched:
            try:
                if not bgd.lab_pg.degraded:
                    check(lab, bgd)
                if rounds % 2 == 0:
                    _publish_lag(lab, bgd)
            except Exception:  # noqa: BLE001 - a server restarting or going away is looked at again next time
                continue


def ensure_watcher(lab: Lab) -> None:
    with lab.lock:
        if lab.pg_monitor is None or not lab.pg_monitor.is_alive():
            lab.pg_monitor = threading.Thread(target=watch, args=(lab, lab.pg_monitor_stop), name="lab-pg-watch",
                                              daemon=True)
            lab.pg_monitor.start()


# -- deletion --------------------------------------------------------------------------------------------------------
def tear_down(lab: Lab, bgd: Any, green_goes: bool) -> None:
    """DeleteBlueGreenDeployment: replication stops. Logical: the subscription (and so blue's slot), then blue's
    publication and DDL recorder; physical: blue's slot once green is gone (a standby left behind keeps following
    blue, as a read replica would). Queued before any deletion of green."""
    state: PgDeployment | None = getattr(bgd, "lab_pg", None)
    if state is None:
        return
    state.ready = False

    def job() -> None:
        blue, green = lab.pg.servers.get(state.blue_dbi), lab.pg.servers.get(state.green_dbi)
        if blue is None:
            return
        for link in state.logical:
            if green is not None:
                try:
                    with repl.writable(green, link.database) as conn:
                        conn.execute(f'DROP SUBSCRIPTION IF EXISTS "{link.name}"')
                except Exception:  # noqa: BLE001 - green's server may be gone; blue's side is cleaned below
                    pass
            with repl.writable(blue, link.database) as conn:
                conn.execute(f'DROP PUBLICATION IF EXISTS "{link.name}"')
            _drop_slot(blue, link.name)
            repl.remove_ddl_recorder(blue, link.database)
        if state.physical is not None and green_goes:
            if green is not None:
                green.stop()
            _drop_slot(blue, state.physical.slot)
    lab.submit(f"stop replication of {bgd.blue_green_deployment_identifier}", job)


def _drop_slot(blue: PostgresServer, slot: str, timeout: float = 10) -> None:
    """Blue keeps no slot of a deployment that is gone (it would hold WAL, and look like an external replica to the
    next preflight); its walsender may take a moment to leave once green disconnected."""
    deadline = time.monotonic() + timeout
    while True:
        with repl.writable(blue) as conn:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE slot_name = %s AND NOT active", (slot,))
            row = conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
        if not row or not row[0]:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"replication slot {slot} on blue stayed active for {timeout:.0f} s")
        time.sleep(0.05)
