"""Blue/green deployments in the lab: the green environment built by real work (a consistent copy of blue that
replicates from it), tasks that follow that work, and mysql.rds_topology as RDS keeps it while a deployment
exists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook_lib.lab import moto_internals
from runbook_lib.lab.control.events import record_event

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab


def adopt_green(lab: Lab, bgd: Any, blue: Any, green: Any) -> None:
    """The records of a new instance deployment, whatever the engine: green `creating` as blue's replica, the
    deployment PROVISIONING with its tasks pending and one SwitchoverDetails row (call under the lab's lock)."""
    lab.adopt_instance(green)
    green.status = "creating"
    green.source_db_instance_identifier = blue.db_instance_identifier
    green.is_replica = True
    blue.add_replica(green)
    green.option_group_name = blue.option_group_name
    bgd.status = "PROVISIONING"
    bgd.tasks = [moto_internals.new_task(n, "PENDING") for n in
                 ("CREATING_READ_REPLICA_OF_SOURCE", "DB_ENGINE_VERSION_UPGRADE", "CONFIGURE_BACKUPS",
                  "CREATING_TOPOLOGY_OF_SOURCE")]
    if green.engine_version == blue.engine_version:
        bgd.tasks.pop(1)
    bgd.switchover_details = [moto_internals.new_switchover_detail(blue.db_instance_arn, green.db_instance_arn,
                                                                    "PROVISIONING")]
    bgd.status_details = "Creating the green environment"


def provision_green(lab: Lab, bgd: Any, blue: Any, green: Any) -> None:
    with lab.lock:
        adopt_green(lab, bgd, blue, green)
        blue_dbi, green_dbi = blue.dbi_resource_id, green.dbi_resource_id
        version = green.engine_version
        settings = lab.settings_for(green.db_parameter_group_name)
        bgd_id = bgd.blue_green_deployment_identifier

    def task(name: str, status: str) -> None:
        set_task(lab, bgd, name, status)

    def job() -> None:
        try:
            task("CREATING_READ_REPLICA_OF_SOURCE", "IN_PROGRESS")
            lab.data.start_server(green_dbi, version, settings, read_only=True)
            lab.data.copy_and_replicate(blue_dbi, green_dbi)
            with lab.lock:
                lab.data.attach(lab.instance_name(green_dbi), green_dbi)
            task("CREATING_READ_REPLICA_OF_SOURCE", "COMPLETED")
            if any(t.Name == "DB_ENGINE_VERSION_UPGRADE" for t in bgd.tasks):
                task("DB_ENGINE_VERSION_UPGRADE", "COMPLETED")
            task("CONFIGURE_BACKUPS", "IN_PROGRESS")
            lab.set_status(green_dbi, "backing-up")
            lab.pause(60)
            task("CONFIGURE_BACKUPS", "COMPLETED")
            task("CREATING_TOPOLOGY_OF_SOURCE", "IN_PROGRESS")
            if not lab.data.caught_up(green_dbi, blue_dbi, timeout=60):
                raise RuntimeError("green did not catch up with blue within 60 s")
            topology(lab, blue_dbi, green_dbi, "AVAILABLE", on=[blue_dbi])
            task("CREATING_TOPOLOGY_OF_SOURCE", "COMPLETED")
            lab.set_status(green_dbi, "available")
            created(lab, bgd)
        except Exception as exc:
            creation_failed(lab, bgd, exc)
            raise
    lab.submit(f"provision green for {bgd_id}", job)


def set_task(lab: Lab, bgd: Any, name: str, status: str) -> None:
    """One of the deployment's Tasks moves on (the names RDS uses for the engine: instance or Aurora)."""
    with lab.lock:
        for t in bgd.tasks:
            if t.Name == name:
                t.Status = status

def created(lab: Lab, bgd: Any) -> None:
    """Green is ready: the deployment and every SwitchoverDetails row become AVAILABLE, with RDS's event."""
    with lab.lock:
        bgd.status = "AVAILABLE"
        bgd.status_details = None
        for d in bgd.switchover_details:
            d.Status = "AVAILABLE"
        record_event(lab.backend, "blue-green-deployment", bgd.blue_green_deployment_identifier,
                     "Blue/green deployment tasks completed. You can make more modifications to "
                     "the green environment databases or switch over the deployment.")


def creation_failed(lab: Lab, bgd: Any, exc: BaseException) -> None:
    """Creation failed: the running task FAILED, the deployment INVALID_CONFIGURATION with the reason, and an event."""
    with lab.lock:
        for t in bgd.tasks:
            if t.Status == "IN_PROGRESS":
                t.Status = "FAILED"
        bgd.status = "INVALID_CONFIGURATION"
        bgd.status_details = f"Creation failed: {exc}"
        record_event(lab.backend, "blue-green-deployment", bgd.blue_green_deployment_identifier,
                     f"Creation of blue/green deployment failed because {exc}.")


def topology(lab: Lab, blue_dbi: str, green_dbi: str, status: str, on: list[str]) -> None:
    """mysql.rds_topology as RDS keeps it while a deployment exists (written where it may be written:
    on blue while green replicates it, on both once replication has stopped)."""
    members = []
    for dbi, role in ((blue_dbi, "BLUE_GREEN_DEPLOYMENT_SOURCE"), (green_dbi, "BLUE_GREEN_DEPLOYMENT_TARGET")):
        inst = lab.by_dbi(dbi)
        if inst is not None:
            members.append((inst.db_instance_identifier, inst.port, role, status))
    for dbi in on:
        if dbi in lab.data.servers:
            lab.data.write_topology(dbi, members)
