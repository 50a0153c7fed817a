"""Blue/green deployments of Aurora MySQL clusters in the lab: the green cluster and each green instance built by
real work (green's writer a copy of blue's writer that replicates from it, green's readers replicating from green's
writer), Aurora's task names, a SwitchoverDetails row for the cluster and for every instance; and the switchover,
which renames the clusters and every instance (`-oldN`) and leaves each endpoint with its name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook_lib.lab import aurora_catalog, moto_internals
from runbook_lib.lab.control import clusters
from runbook_lib.lab.control.clusters import install_rds_configuration
from runbook_lib.lab.control.deployments import created, creation_failed, set_task
from runbook_lib.lab.control.events import record_event
from runbook_lib.lab.control.switchover import Switchover, old_name
from runbook_lib.lab.upgrade_precheck import aurora_precheck

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab

# Task names of an Aurora deployment (facts: CREATE_DB_INSTANCES_FOR_CLUSTER and CREATE_CUSTOM_ENDPOINTS instead of
# an instance's CONFIGURE_BACKUPS and CREATING_TOPOLOGY_OF_SOURCE).
TASKS = ("CREATING_READ_REPLICA_OF_SOURCE", "DB_ENGINE_VERSION_UPGRADE", "CREATE_DB_INSTANCES_FOR_CLUSTER",
         "CREATE_CUSTOM_ENDPOINTS")


def pairs(lab: Lab, blue: Any, green: Any) -> list[tuple[Any, Any]]:
    """Each blue instance with the green instance made from it (`<blue name>-green-xxxxxx`), writer first."""
    green_members = list(green._members)
    out = []
    for b in clusters.members(blue):
        twin = next((g for g in green_members if g.db_instance_identifier.startswith(b.db_instance_identifier
                                                                                     + "-green-")), None)
        if twin is not None:
            out.append((b, twin))
    return out


def adopt_green(lab: Lab, bgd: Any, blue: Any, green: Any) -> list[tuple[Any, Any]]:
    """The records of a new cluster deployment, whatever the engine: green's cluster and members `creating` (each
    member paired with its blue twin, writer with writer), Aurora's tasks pending, a SwitchoverDetails row for the
    cluster and each member; returns the pairs (call under the lab's lock)."""
    clusters.create(lab, green)
    green.status = "creating"
    green_members = [i for i in lab.backend.databases.values()
                     if getattr(i, "db_cluster_identifier", None) == green.db_cluster_identifier
                     and not hasattr(i, "lab_cluster_resource_id")]
    for inst in green_members:
        moto_internals.join_cluster(inst, green)
    twins = pairs(lab, blue, green)
    for b, g in twins:
        g.is_cluster_writer = bool(b.is_cluster_writer)
        lab.adopt_instance(g)
        g.status = "creating"
    bgd.status = "PROVISIONING"
    bgd.status_details = "Creating the green environment"
    bgd.tasks = [moto_internals.new_task(n, "PENDING") for n in TASKS
                 if n != "DB_ENGINE_VERSION_UPGRADE" or green.engine_version != blue.engine_version]
    bgd.switchover_details = [moto_internals.new_switchover_detail(blue.db_cluster_arn, green.db_cluster_arn,
                                                                    "PROVISIONING")]
    bgd.switchover_details += [moto_internals.new_switchover_detail(b.db_instance_arn, g.db_instance_arn,
                                                                     "PROVISIONING") for b, g in twins]
    bgd.lab_pairs = [(b.dbi_resource_id, g.dbi_resource_id) for b, g in twins]
    bgd.lab_clusters = (blue.db_cluster_resource_id, green.db_cluster_resource_id)
    return twins


def provision_green(lab: Lab, bgd: Any, blue: Any, green: Any) -> None:
    with lab.lock:
        twins = adopt_green(lab, bgd, blue, green)
        version = aurora_catalog.mysql_version_of(green.engine_version)
        settings = clusters.server_settings(lab, green.parameter_group)
        # Aurora overview: in Aurora MySQL version 3 the green cluster accepts writes by default (read_only=0).
        green_writable = aurora_catalog.major_of(green.engine_version) == "3"
        plan = [(b.dbi_resource_id, g.dbi_resource_id, bool(g.is_cluster_writer)) for b, g in twins]
        bgd_id, green_rid = bgd.blue_green_deployment_identifier, green.db_cluster_resource_id
        major = aurora_catalog.major_of(green.engine_version) != aurora_catalog.major_of(blue.engine_version)
        target_mysql, target_version = version, green.engine_version
        source_version = blue.engine_version
        source_mysql = aurora_catalog.mysql_version_of(source_version)

    def task(name: str, status: str) -> None:
        set_task(lab, bgd, name, status)

    def job() -> None:
        try:
            task("CREATING_READ_REPLICA_OF_SOURCE", "IN_PROGRESS")
            writer = next(p for p in plan if p[2])
            # green starts as a copy of blue (the source version), then is upgraded: the prechecks see the source
            lab.data.start_server(writer[1], source_mysql if major else version, settings,
                                  read_only=not green_writable)
            clusters.install_rds_configuration(lab, writer[1])
            lab.data.copy_and_replicate(writer[0], writer[1])
            task("CREATING_READ_REPLICA_OF_SOURCE", "COMPLETED")
            if any(t.Name == "DB_ENGINE_VERSION_UPGRADE" for t in bgd.tasks):
                task("DB_ENGINE_VERSION_UPGRADE", "IN_PROGRESS")
                lab.pause(60)
                if major:
                    passed, log_text = aurora_precheck(lab.data.servers[writer[1]], target_mysql, target_version)
                    lab.add_log(writer[1], "upgrade-prechecks.log", log_text)
                    if not passed:
                        precheck_failed(lab, bgd, plan, source_mysql, settings, source_version)
                        return
                    lab.data.restart(writer[1], version, settings, not green_writable)
                task("DB_ENGINE_VERSION_UPGRADE", "COMPLETED")
            task("CREATE_DB_INSTANCES_FOR_CLUSTER", "IN_PROGRESS")
            for _blue_dbi, green_dbi, is_writer in plan:
                if not is_writer:
                    lab.data.start_server(green_dbi, version, settings, read_only=True)
                    clusters.install_rds_configuration(lab, green_dbi)
                    lab.data.copy_and_replicate(writer[1], green_dbi)
            for _blue_dbi, green_dbi, _w in plan:
                with lab.lock:
                    lab.data.attach(lab.instance_name(green_dbi), green_dbi)
                lab.set_status(green_dbi, "backing-up")
            lab.pause(60)
            task("CREATE_DB_INSTANCES_FOR_CLUSTER", "COMPLETED")
            task("CREATE_CUSTOM_ENDPOINTS", "IN_PROGRESS")
            if not lab.data.caught_up(writer[1], writer[0], timeout=60):
                raise RuntimeError("green's writer did not catch up with blue's writer within 60 s")
            green_available(lab, green_rid, [green_dbi for _b, green_dbi, _w in plan])
            task("CREATE_CUSTOM_ENDPOINTS", "COMPLETED")
            created(lab, bgd)
        except Exception as exc:
            creation_failed(lab, bgd, exc)
            raise
    lab.submit(f"provision green cluster for {bgd_id}", job)


def green_available(lab: Lab, green_rid: str, green_dbis: list[str]) -> None:
    """Green's instances and cluster `available`, its cluster and reader endpoints routed to its servers."""
    for dbi in green_dbis:
        lab.set_status(dbi, "available")
    with lab.lock:
        current = clusters.by_resource_id(lab, green_rid)
        if current is not None:
            clusters.route_endpoints(lab, current)
            current.status = "available"


def precheck_failed(lab: Lab, bgd: Any, plan: list[tuple[str, str, bool]], version: str, settings: dict[str, str],
                    source_version: str) -> None:
    """Aurora cancels the upgrade before it stops the instance (User Guide AuroraMySQL.upgrade-prechecks): green stays
    on the source version, every green instance still exists (readers included), the deployment is
    INVALID_CONFIGURATION, and the events say why: the cluster's precheck event, the writer's provisioning event
    (AWS knowledge center rds-aurora-mysql-troubleshoot-upgrades) and the deployment's creation failure (0245)."""
    writer = next(p for p in plan if p[2])
    for _blue_dbi, green_dbi, is_writer in plan:
        if not is_writer:
            lab.data.start_server(green_dbi, version, settings, read_only=True)
            install_rds_configuration(lab, green_dbi)
            lab.data.copy_and_replicate(writer[1], green_dbi)
        with lab.lock:
            lab.data.attach(lab.instance_name(green_dbi), green_dbi)
    with lab.lock:
        writer_inst = lab.by_dbi(writer[1])
        green = writer_inst.cluster if writer_inst is not None else None
        for _b, green_dbi, _w in plan:
            inst = lab.by_dbi(green_dbi)
            if inst is not None:  # an Aurora instance's version is its cluster's
                inst.status = "available"
        if green is not None:
            green.engine_version = source_version
            green.status = "available"
            clusters.route_endpoints(lab, green)
            record_event(lab.backend, "db-cluster", green.db_cluster_identifier,
                         "Database cluster is in a state that cannot be upgraded: Upgrade prechecks failed. For more "
                         "details, see the upgrade-prechecks.log file.")
        if writer_inst is not None:
            record_event(lab.backend, "db-instance", writer_inst.db_instance_identifier,
                         "Failed to provision due to upgrade incompatibilities.")
        for t in bgd.tasks:
            if t.Name == "DB_ENGINE_VERSION_UPGRADE":
                t.Status = "FAILED"
        bgd.status = "INVALID_CONFIGURATION"
        bgd.status_details = "Failed to provision due to upgrade incompatibilities."
        for d in bgd.switchover_details:
            d.Status = "AVAILABLE"
        record_event(lab.backend, "blue-green-deployment", bgd.blue_green_deployment_identifier,
                     "Creation of blue/green deployment failed because the upgrade prechecks of the green writer "
                     "failed (upgrade-prechecks.log).")


def start(lab: Lab, bgd: Any, timeout_s: int, kind: type[ClusterSwitchover] | None = None) -> None:
    """As switchover.start, with an event per member (`kind`: the engine's cluster switchover, default MySQL's)."""
    with lab.lock:
        run = (kind or ClusterSwitchover)(lab, bgd, timeout_s)
        bgd.status = "SWITCHOVER_IN_PROGRESS"
        bgd.status_details = "Switchover in progress"
        for d in bgd.switchover_details:
            d.Status = "SWITCHOVER_IN_PROGRESS"
        run.event(f"Switchover from DB cluster {run.blue_name} to {run.green_name} started.")
        for blue_name, green_name in run.member_names:
            run.event(f"Switchover from {'primary' if blue_name == run.writer_names[0] else 'replica'} source "
                      f"{blue_name} to target {green_name} started.")
    lab.submit(f"switchover {run.bgd_id}", run.run)


def _found(lab: Lab, resource_id: str) -> Any:
    cluster = clusters.by_resource_id(lab, resource_id)
    if cluster is None:
        raise RuntimeError(f"the deployment's cluster {resource_id} no longer exists")
    return cluster


class ClusterSwitchover(Switchover):
    """The instance switchover's guardrails, fence, catch-up and rollback, on the two writers; the rename covers the
    clusters and every member, and the cluster and reader endpoints keep their names."""

    def __init__(self, lab: Lab, bgd: Any, timeout_s: int) -> None:
        self.lab, self.bgd, self.timeout_s = lab, bgd, timeout_s
        blue_rid, green_rid = bgd.lab_clusters
        self.blue_cluster, self.green_cluster = _found(lab, blue_rid), _found(lab, green_rid)
        self.blue_name = self.blue_cluster.db_cluster_identifier
        self.green_name = self.green_cluster.db_cluster_identifier
        self.member_pairs: list[tuple[Any, Any]] = [(lab.by_dbi(b), lab.by_dbi(g)) for b, g in bgd.lab_pairs]
        self.member_names = [(b.db_instance_identifier, g.db_instance_identifier) for b, g in self.member_pairs]
        writer = next((b, g) for b, g in self.member_pairs if g.is_cluster_writer)
        self.writer_names = (writer[0].db_instance_identifier, writer[1].db_instance_identifier)
        self.blue_dbi, self.green_dbi = writer[0].dbi_resource_id, writer[1].dbi_resource_id
        self.bgd_id = bgd.blue_green_deployment_identifier
        self.budget = max(timeout_s * lab.time_scale, 1.0)
        self.deadline = 0.0
        self.fenced = self.stalled = False

    def _endpoint_names(self) -> list[str]:
        names = [n for pair in self.member_names for n in pair]
        for cluster in (self.blue_name, self.green_name):
            names += [clusters.writer_endpoint_name(cluster), clusters.reader_endpoint_name(cluster)]
        return names

    def _servers_to_drop(self) -> list[str]:
        return [s.dbi_resource_id for pair in self.member_pairs for s in pair]

    def promote_and_rename(self) -> None:
        lab, bgd = self.lab, self.bgd
        router = lab.data.router
        self.promote()
        self.topology("SWITCHOVER_IN_POST_PROCESSING", on=[self.blue_dbi, self.green_dbi])
        blue_c, green_c = self.blue_cluster, self.green_cluster
        blue_name, green_name = self.blue_name, self.green_name
        with lab.lock:
            old = old_name(lab, blue_name, lab.backend.clusters)
            lab.backend.modify_db_cluster({"db_cluster_identifier": blue_name, "new_db_cluster_identifier": old})
            lab.backend.modify_db_cluster({"db_cluster_identifier": green_name, "new_db_cluster_identifier": blue_name})
            blue_c.status = green_c.status = "available"
            for kind in (clusters.writer_endpoint_name, clusters.reader_endpoint_name):
                router.rename(kind(blue_name), "__switching__")
                router.rename(kind(green_name), kind(old))
                router.rename("__switching__", kind(blue_name))
            blue_c.port, green_c.port = green_c.port, blue_c.port
            renamed = []
            for blue, green in self.member_pairs:
                b_name, g_name = blue.db_instance_identifier, green.db_instance_identifier
                b_old = f"{b_name}-old{old.rsplit('-old', 1)[1]}"
                lab.backend.modify_db_instance(b_name, {"new_db_instance_identifier": b_old})
                lab.backend.modify_db_instance(g_name, {"new_db_instance_identifier": b_name})
                router.rename(b_name, "__switching__")
                router.rename(g_name, b_old)
                router.rename("__switching__", b_name)
                blue.port, green.port = green.port, blue.port
                lab.attach(b_name, green.dbi_resource_id)
                lab.attach(b_old, blue.dbi_resource_id)
                green.tags = list(blue.tags)
                renamed.append((b_name, b_old, g_name))
            for cluster in (blue_c, green_c):
                for member in cluster._members:
                    moto_internals.join_cluster(member, cluster)
                clusters.route_endpoints(lab, cluster)
            green_c.tags = list(blue_c.tags)
            bgd.source, bgd.target = blue_c.db_cluster_arn, green_c.db_cluster_arn
            bgd.status = "SWITCHOVER_COMPLETED"
            bgd.status_details = "Switchover completed"
            details = [(blue_c.db_cluster_arn, green_c.db_cluster_arn)]
            details += [(b.db_instance_arn, g.db_instance_arn) for b, g in self.member_pairs]
            bgd.switchover_details = [moto_internals.new_switchover_detail(s, t, "SWITCHOVER_COMPLETED")
                                      for s, t in details]
            for b_name, b_old, g_name in renamed:
                self.event(f"Switchover from {'primary' if b_name == self.writer_names[0] else 'replica'} source "
                           f"{b_name} to target {g_name} completed. Renamed {b_name} to {b_old} and {g_name} to "
                           f"{b_name}.")
            self.event(f"Renamed DB cluster {blue_name} to {old} and {green_name} to {blue_name}.")
            self.event("Switchover completed on blue/green deployment.")
        router.set_mode([n for n in router.snapshot() if n in self._renamed_endpoints(old)], "open")
        self.topology("SWITCHOVER_COMPLETED", on=[self.blue_dbi, self.green_dbi])

    def _renamed_endpoints(self, old: str) -> set[str]:
        names = {clusters.writer_endpoint_name(n) for n in (self.blue_name, old)}
        names |= {clusters.reader_endpoint_name(n) for n in (self.blue_name, old)}
        for b_name, _g in self.member_names:
            names |= {b_name, f"{b_name}-old{old.rsplit('-old', 1)[1]}"}
        return names

    def _canceled(self, reason: str) -> str:
        return f"Switchover from DB cluster {self.blue_name} to {self.green_name} was canceled due to {reason}."

