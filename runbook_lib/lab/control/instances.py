"""DB instances in the lab, as RDS moves them: creation (creating -> backing-up -> available, a real server behind
it), modification and major upgrade (RDS's prechecks first; a failed precheck cancels the upgrade and writes
PrePatchCompatibility.log), deletion (the final snapshot is a real dump; the server and its data go first, the
record last)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runbook_lib.lab import engine_versions as catalog
from runbook_lib.lab import sample
from runbook_lib.lab.control.events import record_event

# RDS seconds between an upgrade's event and the status (or PendingModifiedValues) that follows it: RDS reports the
# event first (docs/lab-rules.md). Scaled like every lab wait.
UPGRADE_STATUS_LAG_S = 60

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab


def create(lab: Lab, inst: Any, seed: bool = False, seed_blocker: bool = False) -> None:
    """Build the server behind a new instance: creating -> backing-up -> available."""
    with lab.lock:
        lab.adopt_instance(inst)
        inst.status = "creating"
        dbi, name, version = inst.dbi_resource_id, inst.db_instance_identifier, inst.engine_version
        settings = lab.settings_for(inst.db_parameter_group_name)

    def job() -> None:
        lab.data.start_server(dbi, version, settings)
        if seed:
            server = lab.data.servers[dbi]
            with server.connect() as conn, conn.cursor() as cur:
                for sql in sample.statements(lab.creds.master_user, seed_blocker):
                    cur.execute(sql)
        become_available(lab, dbi, name)
    lab.submit(f"create {name}", job)


def become_available(lab: Lab, dbi: str, name: str) -> None:
    """A new instance's last stretch, whatever its engine: its endpoint routed to its server, the first backup,
    available, the event."""
    with lab.lock:
        lab.attach(lab.instance_name(dbi), dbi)
    lab.set_status(dbi, "backing-up")
    lab.pause(60)
    lab.set_status(dbi, "available")
    with lab.lock:
        record_event(lab.backend, "db-instance", name, "DB instance created")


def upgrade(lab: Lab, inst: Any, version: str | None, group: str | None, option_group: str | None,
            on_done: Callable[[], None] | None = None) -> None:
    """A modification applied at once, in RDS's order for an engine upgrade: the call answers with the new version in
    PendingModifiedValues while the status is still `available`; RDS's events come first (pre-upgrade checks
    started), the status moves later. A failed precheck cancels the upgrade: its event first, then the pending
    version is dropped, the status never having left `available`. A passed one: `upgrading`, the restart, the new
    version, the event, and only then `available` with nothing pending."""
    with lab.lock:
        dbi, name, old_version = inst.dbi_resource_id, inst.db_instance_identifier, inst.engine_version
        upgrading = bool(version and version != old_version)
        target = version or old_version
        if upgrading:
            inst.pending_modified_values = {"EngineVersion": target}   # status stays available for now
        else:
            inst.status = "modifying"
        settings = lab.settings_for(group or inst.db_parameter_group_name)
        spec = lab.data.servers[dbi].spec
        read_only = bool(spec and spec.read_only)
        major = catalog.major_of(target) != catalog.major_of(old_version)

    def event(message: str) -> None:
        with lab.lock:
            record_event(lab.backend, "db-instance", lab.instance_name(dbi), message)

    def job() -> None:
        if upgrading:
            event("Upgrade preparation in progress: Starting online pre-upgrade checks.")
            lab.pause(UPGRADE_STATUS_LAG_S)
        if major and lab.precheck is not None:
            passed, log_text = lab.precheck(lab.data.servers[dbi], target)
            lab.add_log(dbi, "PrePatchCompatibility.log", log_text)
            if not passed:
                event("Database instance is in a state that cannot be upgraded: PreUpgrade checks failed: More "
                      "details can be found in the PrePatchCompatibility.log file.")
                lab.pause(UPGRADE_STATUS_LAG_S)
                with lab.lock:
                    inst.pending_modified_values = {}
                    inst.status = "available"
                return
        if upgrading:
            event(f"Upgrade in progress: Upgrading to {target}.")
            lab.pause(UPGRADE_STATUS_LAG_S)
            lab.set_status(dbi, "upgrading")
        lab.data.restart(dbi, target, settings, read_only)
        lab.pause(30)
        with lab.lock:
            inst.engine_version = target
            if group:
                inst.db_parameter_group_name = group
            if option_group:
                inst.option_group_name = option_group
        if upgrading:
            event(f"Database instance upgraded from engine version {old_version} to {target}.")
            lab.pause(UPGRADE_STATUS_LAG_S)
        with lab.lock:
            inst.pending_modified_values = {}
            inst.status = "available"
        if on_done:
            on_done()
    lab.submit(f"modify {name}", job)


def delete(lab: Lab, inst: Any, final_snapshot: str | None) -> None:
    with lab.lock:
        dbi, name = inst.dbi_resource_id, inst.db_instance_identifier
        inst.status = "deleting"

    hold = lab.faults.deletion_hold_s

    def job() -> None:
        time.sleep(hold)
        if final_snapshot:
            dump = lab.paths.snapshots / f"{final_snapshot}.sql"
            with lab.lock:
                snap = lab.backend.create_db_snapshot(lab.instance_name(dbi), final_snapshot)
                snap.status = "creating"
                snap.lab_dump = str(dump)
            lab.dump(dbi, dump)
            lab.pause(30)
            with lab.lock:
                snap.status = "available"
        lab.pause(30)
        lab.remove_server(dbi)  # the server and its data go first; the record last, as in RDS
        with lab.lock:
            current = lab.instance_name(dbi)
            lab.backend.delete_db_instance(current)
            lab.data.router.remove(current)
            record_event(lab.backend, "db-instance", current, "DB instance deleted")
    lab.submit(f"delete {name}", job)
