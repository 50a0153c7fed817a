"""Aurora MySQL clusters in the lab, as RDS moves them: a cluster record with a cluster endpoint (follows the writer)
and a reader endpoint (a reader, or the writer when there is none), members that are real servers (the writer
writable, each reader read-only and replicating from the writer), all keyed by name so that endpoints move with
names at switchover as Aurora's DNS names do (docs/lab-rules.md, "Aurora MySQL clusters")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook_lib.lab import aurora_catalog, moto_internals
from runbook_lib.lab.control.events import record_event

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab

# Cluster parameters a MariaDB lab server can honour, and how to say them (binlog_format: the servers always log
# ROW; whether a group turns binary logging on is a readiness rule, not a server setting).
_SERVER_SETTINGS = {"character_set_server": "character-set-server", "collation_server": "collation-server",
                    "event_scheduler": "event-scheduler", "time_zone": "default-time-zone"}


# What Aurora MySQL keeps in each instance for `CALL mysql.rds_show_configuration` / `mysql.rds_set_configuration`
# ("binlog retention hours" is NULL until set: binary logs may be purged before a replica read them). Installed
# without binary logging on every server of a cluster; the value a user sets replicates like any write.
RDS_CONFIGURATION_SQL = [
    "SET SESSION sql_log_bin = 0",
    "CREATE TABLE IF NOT EXISTS mysql.rds_configuration (name VARCHAR(100) PRIMARY KEY, value VARCHAR(100) NULL, "
    "description VARCHAR(300) NOT NULL)",
    "INSERT IGNORE INTO mysql.rds_configuration VALUES ('binlog retention hours', NULL, 'binlog retention hours "
    "specifies the duration in hours before binary logs are automatically deleted.')",
    "CREATE PROCEDURE IF NOT EXISTS mysql.rds_show_configuration() SQL SECURITY DEFINER "
    "SELECT name, value, description FROM mysql.rds_configuration ORDER BY name",
    "CREATE PROCEDURE IF NOT EXISTS mysql.rds_set_configuration(IN p_name VARCHAR(100), IN p_value INT) "
    "SQL SECURITY DEFINER UPDATE mysql.rds_configuration SET value = p_value WHERE name = p_name",
    "SET SESSION sql_log_bin = 1",
]


def writer_endpoint_name(cluster_identifier: str) -> str:
    """The router's key for a cluster endpoint (instance endpoints are keyed by instance name)."""
    return f"cluster:{cluster_identifier}"


def reader_endpoint_name(cluster_identifier: str) -> str:
    return f"cluster-ro:{cluster_identifier}"


def server_settings(lab: Lab, group: str | None) -> dict[str, str]:
    """The user-set values of a cluster parameter group that MariaDB can honour, as server options."""
    groups = lab.backend.db_cluster_parameter_groups
    if not group or group not in groups:
        return {}
    out = {}
    for name, param in groups[group].parameters.items():
        option, value = _SERVER_SETTINGS.get(name), param.get("ParameterValue")
        if option and value not in (None, ""):
            out[option] = str(value)
    return out


def ensure_default_groups(lab: Lab) -> None:
    """RDS's default cluster parameter group of each Aurora MySQL family exists in every account (moto has none)."""
    with lab.lock:
        for family, name in aurora_catalog.DEFAULT_GROUP.items():
            if name not in lab.backend.db_cluster_parameter_groups:
                moto_internals.new_cluster_parameter_group(lab.backend, name, family,
                                                           f"Default cluster parameter group for {family}")


def create(lab: Lab, cluster: Any) -> None:
    """A new cluster: its two endpoints at once (the same port, two loopback addresses), `creating` until the
    lab's worker made it `available`."""
    with lab.lock:
        moto_internals.adopt_cluster(cluster)
        cluster.status = "creating"
        name = cluster.db_cluster_identifier
        port = lab.data.router.add(writer_endpoint_name(name), None, 0, moto_internals.CLUSTER_HOST)
        lab.data.router.add(reader_endpoint_name(name), None, port, moto_internals.READER_HOST)
        cluster.port = port
        resource_id = cluster.db_cluster_resource_id

    def job() -> None:
        lab.pause(60)
        with lab.lock:
            current = by_resource_id(lab, resource_id)
            if current is not None:
                current.status = "available"
                record_event(lab.backend, "db-cluster", current.db_cluster_identifier, "DB cluster created")
    lab.submit(f"create cluster {name}", job)


def by_resource_id(lab: Lab, resource_id: str) -> Any | None:
    for cluster in list(lab.backend.clusters.values()):
        if cluster.db_cluster_resource_id == resource_id:
            return cluster
    return None


def members(cluster: Any) -> list[Any]:
    """The cluster's instances, writer first."""
    return sorted(cluster._members, key=lambda i: (not i.is_cluster_writer, i.db_instance_identifier))


def writer_dbi(cluster: Any) -> str | None:
    for inst in cluster._members:
        if inst.is_cluster_writer:
            return str(inst.dbi_resource_id)
    return None


def route_endpoints(lab: Lab, cluster: Any) -> None:
    """Point the cluster endpoint at the writer's server and the reader endpoint at the first reader's (or the
    writer's, when the cluster has no reader)."""
    port = lab.server_port
    writer = next((i for i in members(cluster) if i.is_cluster_writer and port(i.dbi_resource_id)), None)
    readers = [i for i in members(cluster) if not i.is_cluster_writer and port(i.dbi_resource_id)
               and i.status in ("available", "backing-up")]
    name = cluster.db_cluster_identifier
    if writer is not None:
        lab.data.router.route(writer_endpoint_name(name), port(writer.dbi_resource_id))
    reader = readers[0] if readers else writer
    if reader is not None:
        lab.data.router.route(reader_endpoint_name(name), port(reader.dbi_resource_id))


def create_member(lab: Lab, inst: Any, cluster: Any, seed_sql: list[str] | None = None) -> None:
    """A new instance in a cluster: the writer a writable server, a reader a read-only copy of the writer that
    replicates from it; creating -> backing-up -> available."""
    with lab.lock:
        lab.adopt_instance(inst)
        moto_internals.join_cluster(inst, cluster)
        inst.status = "creating"
        dbi, name = inst.dbi_resource_id, inst.db_instance_identifier
        version = aurora_catalog.mysql_version_of(cluster.engine_version)
        settings = server_settings(lab, cluster.parameter_group)
        is_writer = bool(inst.is_cluster_writer)
        source = None if is_writer else writer_dbi(cluster)
        resource_id = cluster.db_cluster_resource_id

    def job() -> None:
        lab.data.start_server(dbi, version, settings, read_only=not is_writer)
        install_rds_configuration(lab, dbi)
        if seed_sql:
            server = lab.data.servers[dbi]
            with server.connect() as conn, conn.cursor() as cur:
                for sql in seed_sql:
                    cur.execute(sql)
        if source is not None:
            lab.data.copy_and_replicate(source, dbi)
        with lab.lock:
            lab.data.attach(lab.instance_name(dbi), dbi)
        lab.set_status(dbi, "backing-up")
        with lab.lock:
            current = by_resource_id(lab, resource_id)
            if current is not None:
                route_endpoints(lab, current)
        lab.pause(60)
        lab.set_status(dbi, "available")
        with lab.lock:
            record_event(lab.backend, "db-instance", name, "DB instance created")
    lab.submit(f"create {name}", job)


def install_rds_configuration(lab: Lab, dbi: str) -> None:
    lab.data.servers[dbi].execute(*RDS_CONFIGURATION_SQL)


def mark_pending_reboot(lab: Lab, group: str) -> None:
    """A static parameter changed in a cluster parameter group: every instance of a cluster using it shows
    DBClusterParameterGroupStatus `pending-reboot` until it is rebooted (call under the lab's lock)."""
    for cluster in lab.backend.clusters.values():
        if cluster.parameter_group == group:
            for inst in cluster._members:
                inst.lab_cluster_group_status = "pending-reboot"


def in_deployment(lab: Lab, cluster: Any) -> Any | None:
    """The deployment this cluster is the source or target of, if any (switched-over ones included until deleted)."""
    for bgd in lab.backend.blue_green_deployments.values():
        if cluster.db_cluster_arn in (bgd.source, bgd.target):
            return bgd
    return None


def status(lab: Lab) -> list[dict[str, Any]]:
    """What `runbook lab status --json` lists per cluster (call under the lab's lock)."""
    endpoints = lab.data.router.snapshot()
    out = []
    for cluster in lab.backend.clusters.values():
        name = cluster.db_cluster_identifier
        writer = endpoints.get(writer_endpoint_name(name), {})
        reader = endpoints.get(reader_endpoint_name(name), {})
        out.append({
            "identifier": name, "status": cluster.status, "engine": cluster.engine,
            "engine_version": cluster.engine_version, "resource_id": cluster.db_cluster_resource_id,
            "parameter_group": cluster.parameter_group,
            "members": [{"identifier": i.db_instance_identifier, "writer": bool(i.is_cluster_writer),
                         "status": i.status, "dbi_resource_id": i.dbi_resource_id} for i in members(cluster)],
            "endpoints": {"cluster": {"host": moto_internals.CLUSTER_HOST, "port": writer.get("port"),
                                      "server_port": writer.get("target")},
                          "reader": {"host": moto_internals.READER_HOST, "port": reader.get("port"),
                                     "server_port": reader.get("target")}}})
    return out


def _volume(lab: Lab, resource_id: str) -> Any:
    """Where a cluster's data outlives its instances (Aurora's cluster volume: the data is the cluster's, not an
    instance's), so that a final cluster snapshot taken after the last instance went still holds it."""
    return lab.paths.snapshots / f"cluster-volume-{resource_id}.sql"


def delete_member(lab: Lab, inst: Any) -> None:
    """An Aurora instance goes without a snapshot of its own; the last one with a server leaves the data in the
    cluster volume first."""
    with lab.lock:
        dbi, name = inst.dbi_resource_id, inst.db_instance_identifier
        inst.status = "deleting"
        resource_id = str(getattr(inst, "lab_cluster_resource_id", ""))

    def job() -> None:
        lab.pause(30)
        with lab.lock:
            cluster = by_resource_id(lab, resource_id)
            others = [i for i in (cluster._members if cluster is not None else [])
                      if i.dbi_resource_id != dbi and lab.has_server(i.dbi_resource_id)]
        if not others and lab.has_server(dbi):
            lab.dump(dbi, _volume(lab, resource_id))
        lab.remove_server(dbi)
        with lab.lock:
            current = lab.instance_name(dbi)
            lab.backend.delete_db_instance(current)
            lab.data.router.remove(current)
            record_event(lab.backend, "db-instance", current, "DB instance deleted")
            cluster = by_resource_id(lab, resource_id)
            if cluster is not None:
                route_endpoints(lab, cluster)
    lab.submit(f"delete {name}", job)


def delete(lab: Lab, cluster: Any, final_snapshot: str | None) -> None:
    """The cluster record goes after its instances (the worker runs their deletion first); a final cluster snapshot
    is a real dump of the cluster volume and keeps the cluster's identifier."""
    with lab.lock:
        cluster.status = "deleting"
        resource_id, name = cluster.db_cluster_resource_id, cluster.db_cluster_identifier

    def job() -> None:
        lab.pause(30)
        with lab.lock:
            current = by_resource_id(lab, resource_id)
            if current is None:
                return
            name_now = current.db_cluster_identifier
            writer = writer_dbi(current)
        volume = _volume(lab, resource_id)
        if final_snapshot:
            dump = lab.paths.snapshots / f"{final_snapshot}.sql"
            if writer and lab.has_server(writer):
                lab.dump(writer, dump)
            elif volume.exists():
                dump.parent.mkdir(parents=True, exist_ok=True)
                volume.replace(dump)
            with lab.lock:
                snap = lab.backend.create_db_cluster_snapshot(name_now, final_snapshot)
                snap.lab_dump = str(dump)
        volume.unlink(missing_ok=True)
        with lab.lock:
            for member in list(current._members):
                lab.backend.databases.pop(member.db_instance_identifier, None)
            lab.backend.clusters.pop(name_now, None)
            for endpoint in (writer_endpoint_name(name_now), reader_endpoint_name(name_now)):
                lab.data.router.remove(endpoint)
            record_event(lab.backend, "db-cluster", name_now, "DB cluster deleted")
    lab.submit(f"delete cluster {name}", job)


def delete_with_members(lab: Lab, cluster: Any) -> None:
    """DeleteBlueGreenDeployment with DeleteTarget before a switchover: green's instances, then green's cluster."""
    for member in members(cluster):
        delete_member(lab, member)
    delete(lab, cluster, None)
