"""RDS for PostgreSQL instances and Aurora PostgreSQL cluster members in the lab, as RDS moves them: a real PostgreSQL
server behind each (`creating -> backing-up -> available`), an Aurora reader a physical standby of its writer, the
cluster and reader endpoints routed as for Aurora MySQL (clusters.route_endpoints); deletion with a final snapshot
that is a real pg_dump (instances.delete, clusters.delete_member and clusters.delete, through the lab's
engine-neutral server calls). The records' lifecycle is the MySQL one; only the servers differ."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook_lib.lab import moto_internals, postgres_catalog
from runbook_lib.lab.control import clusters, instances
from runbook_lib.lab.control.events import record_event

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab


def settings_for(lab: Lab, group: str | None, cluster: bool = False) -> dict[str, str]:
    """The user-set values of a (cluster) parameter group that a lab PostgreSQL server honours."""
    groups = lab.backend.db_cluster_parameter_groups if cluster else lab.backend.db_parameter_groups
    if not group or group not in groups:
        return {}
    out = {}
    for name, param in groups[group].parameters.items():
        value = param.get("ParameterValue") if isinstance(param, dict) else getattr(param, "parameter_value", None)
        if name in postgres_catalog.SERVER_SETTINGS and value not in (None, ""):
            out[name] = str(value)
    return out


def parameter(lab: Lab, group: str | None, name: str, cluster: bool = False) -> str | None:
    """A parameter's value in a (cluster) parameter group: the user's, else the family default."""
    groups = lab.backend.db_cluster_parameter_groups if cluster else lab.backend.db_parameter_groups
    if not group or group not in groups:
        return None
    record = groups[group]
    param = record.parameters.get(name)
    if isinstance(param, dict) and param.get("ParameterValue") is not None:
        return str(param["ParameterValue"])
    family = str(getattr(record, "family", None) or getattr(record, "db_parameter_group_family", ""))
    default = postgres_catalog.default_parameters(family, cluster).get(name, {}) if family else {}
    value = default.get("ParameterValue")
    return None if value is None else str(value)


def create(lab: Lab, inst: Any, seed: bool = False) -> None:
    """An RDS for PostgreSQL instance: its server (seeded with the shop sample when asked), then available."""
    with lab.lock:
        lab.adopt_instance(inst)
        inst.status = "creating"
        dbi, name, version = inst.dbi_resource_id, inst.db_instance_identifier, inst.engine_version
        settings = settings_for(lab, inst.db_parameter_group_name)

    def job() -> None:
        lab.pg.start_server(dbi, version, name, settings)
        if seed:
            lab.pg.seed(dbi)
        instances.become_available(lab, dbi, name)
    lab.submit(f"create {name}", job)


def create_member(lab: Lab, inst: Any, cluster: Any, seed: bool = False) -> None:
    """An Aurora PostgreSQL instance: the writer a writable server, a reader a physical standby of the writer
    (Aurora's readers share the volume; a hot standby is the lab's closest real thing)."""
    with lab.lock:
        lab.adopt_instance(inst)
        moto_internals.join_cluster(inst, cluster)
        inst.status = "creating"
        dbi, name = inst.dbi_resource_id, inst.db_instance_identifier
        version = cluster.engine_version
        settings = settings_for(lab, cluster.parameter_group, cluster=True)
        source = None if inst.is_cluster_writer else clusters.writer_dbi(cluster)
        resource_id = cluster.db_cluster_resource_id

    def job() -> None:
        if source is None:
            lab.pg.start_server(dbi, version, name, settings)
            if seed:
                lab.pg.seed(dbi)
        else:
            lab.pg.start_standby(dbi, source, version, name, settings)
        with lab.lock:
            lab.attach(lab.instance_name(dbi), dbi)
        lab.set_status(dbi, "backing-up")
        with lab.lock:
            current = clusters.by_resource_id(lab, resource_id)
            if current is not None:
                clusters.route_endpoints(lab, current)
        lab.pause(60)
        lab.set_status(dbi, "available")
        with lab.lock:
            current = clusters.by_resource_id(lab, resource_id)
            if current is not None:
                clusters.route_endpoints(lab, current)
            record_event(lab.backend, "db-instance", name, "DB instance created")
    lab.submit(f"create {name}", job)
