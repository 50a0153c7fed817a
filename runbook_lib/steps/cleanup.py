"""Step 06: delete the deployment, then the old blue instance (with a final snapshot unless skipped)."""

from __future__ import annotations

from typing import Any

from .. import display, gates
from ..errors import RunbookError
from ..step import Step
from ..waiting import wait_until


def delete_deployment(step: Step, timeout_s: float = 3600) -> str:
    p = step.params
    found = step.rds.find_deployment(p.deployment_name)
    if found is None and p.dry_run:
        gates.require_delete(p, p.deployment_name, step.confirmations)
        step.rds.plan("delete_blue_green_deployment", BlueGreenDeploymentIdentifier=f"<id of {p.deployment_name}>",
                      DeleteTarget=False)
        return "dry-run"
    if found is None:
        display.note(f"Deployment {p.deployment_name} is already gone.")
        return "already-deleted"
    if found["Status"] != "SWITCHOVER_COMPLETED":
        raise RunbookError(f"Deployment {p.deployment_name} is {found['Status']}, not switched over. Deleting it now "
                           "would abandon the green environment; finish step 05 first.")
    gates.require_delete(p, p.deployment_name, step.confirmations)
    ident = found["BlueGreenDeploymentIdentifier"]
    if step.rds.delete_deployment(ident, delete_target=False) is None:
        display.note(f"Dry run: would delete deployment {p.deployment_name} ({ident}).")
        return "dry-run"
    step.changed("deleted blue/green deployment", deployment_id=ident)
    wait_until(lambda: step.rds.find_deployment(p.deployment_name), lambda d: d is None,
               what=f"deletion of {p.deployment_name}", state_of=lambda d: d["Status"] if d else "deleted",
               timeout_s=timeout_s)
    return "deleted"


def delete_old_blue(step: Step, timeout_s: float = 3600) -> dict[str, Any]:
    p = step.params
    old_name = f"{p.source_db_instance}-old1"
    old = step.rds.find_instance(old_name)
    snapshot_id = None if p.skip_final_snapshot else p.final_snapshot_for(old_name)
    if old is None and p.dry_run:
        gates.require_delete(p, old_name, step.confirmations)
        step.rds.plan("delete_db_instance", DBInstanceIdentifier=old_name,
                      **({"FinalDBSnapshotIdentifier": snapshot_id} if snapshot_id else {"SkipFinalSnapshot": True}))
        return {"outcome": "dry-run"}
    if old is None:
        display.note(f"{old_name} is already gone.")
        return {"outcome": "already-deleted", "snapshot": snapshot_id and step.rds.find_snapshot(snapshot_id)}
    step.identifiers.update(old_instance=old_name, old_dbi_resource_id=old["DbiResourceId"],
                            final_snapshot_id=snapshot_id)
    gates.require_delete(p, old_name, step.confirmations)
    if old["DBInstanceStatus"] != "deleting":
        if step.rds.delete_instance(old_name, snapshot_id) is None:
            display.note(f"Dry run: would delete {old_name}" + (f" with final snapshot {snapshot_id}." if snapshot_id
                                                                  else " without a final snapshot."))
            return {"outcome": "dry-run"}
        step.changed("deleted old blue instance", instance=old_name, final_snapshot_id=snapshot_id)
    wait_until(lambda: step.rds.find_instance(old_name), lambda i: i is None, what=f"deletion of {old_name}",
               state_of=lambda i: i["DBInstanceStatus"] if i else "deleted", timeout_s=timeout_s)
    snapshot = step.rds.find_snapshot(snapshot_id) if snapshot_id else None
    if snapshot_id:
        snapshot = wait_until(lambda: step.rds.find_snapshot(snapshot_id), lambda s: bool(s) and s["Status"] == "available",
                              what=f"final snapshot {snapshot_id}", state_of=lambda s: s["Status"] if s else "absent",
                              timeout_s=timeout_s)
        step.findings["final_snapshot"] = {"id": snapshot_id, "status": snapshot["Status"]}
        display.note(f"Final snapshot **{snapshot_id}** is {snapshot['Status']}.", "ok")
    return {"outcome": "deleted", "snapshot": snapshot}
