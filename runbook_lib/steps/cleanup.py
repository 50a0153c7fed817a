"""Step 06: delete the deployment, then the old blue instance its switchover produced (with a final snapshot
unless skipped).

Both deletions act only on recorded identity. The old blue is the instance the deployment's own description names
as its source after the switchover, and it must carry the DbiResourceId the runs recorded for the blue instance
the deployment was created from; its name is whatever RDS gave it (`-old1`, or `-old2` when `-old1` was taken) and
is never derived from a pattern. A name in `confirm_delete` confirms the resource recorded in that role: a confirmed
name whose live resource is another one is refused, naming both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from runbook_lib.aws.types import DBSnapshot
from runbook_lib.aws.waiting import wait_until
from runbook_lib.errors import GateClosed, RunbookError
from runbook_lib.run import gates, history
from runbook_lib.run.context import Step
from runbook_lib.steps import flows
from runbook_lib.ui import display

SWITCHOVER_COMPLETED_EVENT = "Switchover completed on blue/green deployment"


@dataclass
class Targets:
    """What step 06 deletes, resolved before anything is deleted and recorded in the step's result."""

    deployment_name: str
    deployment_id: str | None            # None: already deleted
    deployment_status: str | None
    old_instance: str | None             # its current name; None: already deleted
    old_dbi_resource_id: str | None
    switched_over_at: datetime | None
    sources: list[str] = field(default_factory=list)   # where each identity came from
    planned: bool = False                # dry run: step 02 of this run only planned the deployment

    @property
    def names(self) -> list[str]:
        return [n for n in (self.deployment_name if self.deployment_id else None, self.old_instance) if n]


def _recorded_blue_dbi(records: list[history.StepRecord]) -> tuple[str, str] | None:
    """The blue instance's DbiResourceId as runs recorded it (old blue after the switchover, or the source the
    deployment was created from: ids do not move with names)."""
    for key in ("old_dbi_resource_id", "blue_dbi_resource_id"):
        found = history.recorded(records, key)
        if found:
            return str(found[0]), f"{key} in {found[1].run_id}/steps/{found[1].number}.json"
    return None


def _switched_over_at(step: Step, deployment_id: str, records: list[history.StepRecord]) -> datetime | None:
    """When the switchover completed: the deployment's own event (RDS keeps events 14 days), else the record."""
    since = datetime.now(timezone.utc) - timedelta(days=14)
    for event in reversed(step.rds.events("blue-green-deployment", deployment_id, since)):
        if event["Message"].startswith(SWITCHOVER_COMPLETED_EVENT):
            return event["Date"]
    found = history.recorded(records, "switchover_completed_at")
    return datetime.fromisoformat(str(found[0])) if found else None


def resolve(step: Step) -> Targets:
    """Find the deployment and its old blue from live state and the runs' records; refuse when they disagree.
    Nothing is deleted here; the result is recorded before any confirmation is asked for."""
    if (flow := flows.handler(step, "resolve")) is not None:
        return flow(step)  # type: ignore[no-any-return]  # a flow's own targets, with the same `names`
    p = step.params
    live = step.rds.find_deployment(p.deployment_name)
    if live is None and p.dry_run and step.planned_in_this_run("create_blue_green_deployment"):
        return Targets(p.deployment_name, None, None, None, None, None, ["dry run: step 02 only planned it"], True)
    records = history.about(live["BlueGreenDeploymentIdentifier"] if live else None, p.deployment_name)
    if live is None and not records:
        raise RunbookError(f"No deployment named {p.deployment_name} exists and no run in this runs folder recorded one: "
                           "there is nothing this run may delete. Check deployment_name.")
    if live is not None:
        ident = str(live["BlueGreenDeploymentIdentifier"])
        if not records:
            raise RunbookError(
                f"Deployment {p.deployment_name} ({ident}) exists, but no run in this runs folder created or reused "
                "it, so its resources carry no recorded identity the runbook could check before deleting. Run step "
                "02 for it first (it records the deployment and its blue instance), or delete it yourself. Nothing "
                "was deleted.")
        status = str(live["Status"])
        if status != "SWITCHOVER_COMPLETED":
            raise RunbookError(_not_switched_over(p.deployment_name, status, live.get("StatusDetails")))
        old = step.rds.find_instance(str(live["Source"]).split(":")[-1])
        targets = Targets(p.deployment_name, ident, status, None, None, _switched_over_at(step, ident, records),
                          [f"deployment {ident}: DescribeBlueGreenDeployments"])
    else:
        ident = str(records[0].identifiers["deployment_id"])
        found = history.recorded(records, "old_dbi_resource_id")
        old = step.rds.instance_by_resource_id(str(found[0])) if found else None
        targets = Targets(p.deployment_name, None, None, None, None, _switched_over_at(step, ident, records),
                          [f"deployment {ident}: already deleted (recorded in {records[0].run_id})"])
    expected = _recorded_blue_dbi(records)
    if expected is None:
        raise RunbookError(f"No run recorded the blue instance of {p.deployment_name} ({ident}), so the old blue cannot "
                           "be checked by resource id. Nothing was deleted.")
    if old is not None:
        if old["DbiResourceId"] != expected[0]:
            raise RunbookError(
                f"The deployment names {old['DBInstanceIdentifier']} ({old['DbiResourceId']}) as its old blue, but the "
                f"blue instance recorded for it is {expected[0]} ({expected[1]}). The runbook deletes only the recorded "
                "resource; nothing was deleted.")
        targets.old_instance, targets.old_dbi_resource_id = str(old["DBInstanceIdentifier"]), expected[0]
        targets.sources.append(f"old blue {old['DBInstanceIdentifier']}: the deployment's Source, {expected[0]} "
                               f"matches {expected[1]}")
    else:
        targets.old_dbi_resource_id = expected[0]
        targets.sources.append(f"old blue {expected[0]}: no instance carries it any more (already deleted)")
    step.identifiers.update(deployment_id=ident, old_instance=targets.old_instance,
                            old_dbi_resource_id=targets.old_dbi_resource_id,
                            switchover_completed_at=targets.switched_over_at and targets.switched_over_at.isoformat())
    step.save()
    display.table([{"role": "deployment", "name": p.deployment_name, "id": ident,
                    "state": targets.deployment_status or "already deleted"},
                   {"role": "old blue", "name": targets.old_instance or "-", "id": targets.old_dbi_resource_id,
                    "state": old["DBInstanceStatus"] if old else "already deleted"}],
                  title="What this step deletes (identities checked by resource id)")
    return targets


def _not_switched_over(name: str, status: str, details: Any) -> str:
    ways = {
        "AVAILABLE": "it has not been switched over: run step 05 first. To abandon it instead, delete it with its "
                     "green instance yourself (DeleteTarget=true).",
        "SWITCHOVER_FAILED": "its switchover failed and was rolled back (blue is still production). Step 02 deletes it "
                             "with its green instance and creates it anew when confirm_delete names both.",
        "INVALID_CONFIGURATION": "its green environment is broken. Step 02 deletes it with its green instance and "
                                 "creates it anew when confirm_delete names both.",
    }
    return (f"Deployment {name} is {status} ({details or 'no details'}), not switched over: "
            f"{ways.get(status, 'wait until it settles and re-run this step.')} Nothing was deleted.")


def check_confirmations(step: Step, targets: Targets) -> None:
    """Every name in confirm_delete must be one of the recorded targets, in its role: a name whose live resource is
    not the recorded one is refused, naming both."""
    p = step.params
    for name in p.confirm_delete:
        if name == p.deployment_name or name == targets.old_instance:
            continue
        live = step.rds.find_instance(name)
        if live is not None:
            raise GateClosed(
                f"confirm_delete names {name} ({live['DbiResourceId']}), but the old blue that {p.deployment_name}'s "
                f"switchover produced is {targets.old_instance or 'already deleted'} ({targets.old_dbi_resource_id}). "
                f"{name} is not a resource of this deployment and is never deleted here. "
                + (f"To delete the old blue, put {targets.old_instance} in confirm_delete. " if targets.old_instance
                   else "") + "Nothing was deleted.")


def _keep_until(step: Step, targets: Targets) -> None:
    hours = step.params.keep_old_blue_hours
    if not hours or targets.old_instance is None:
        return
    if targets.switched_over_at is None:
        raise GateClosed(f"keep_old_blue_hours is {hours}, but when {targets.deployment_name} switched over is not known "
                         "(no event, no record). Set keep_old_blue_hours: 0 to delete the old blue now. Nothing was "
                         "deleted.")
    until = targets.switched_over_at + timedelta(hours=hours)
    left = until - datetime.now(timezone.utc)
    if left.total_seconds() > 0:
        raise GateClosed(
            f"The old blue {targets.old_instance} is kept until {until:%Y-%m-%d %H:%M} UTC (keep_old_blue_hours: {hours} "
            f"after the switchover at {targets.switched_over_at:%Y-%m-%d %H:%M} UTC): {left.total_seconds() / 3600:.1f} h "
            "left. It is the only way back to the old version. Run this step again then, or set keep_old_blue_hours: 0 "
            "to delete it now. Nothing was deleted.")


def delete_deployment(step: Step, targets: Targets | None = None) -> str:
    if (flow := flows.handler(step, "delete_deployment")) is not None:
        return flow(step, targets or resolve(step))  # type: ignore[no-any-return]
    p = step.params
    targets = targets or resolve(step)
    check_confirmations(step, targets)
    if targets.deployment_id is None:
        if targets.planned:
            step.rds.plan("delete_blue_green_deployment", BlueGreenDeploymentIdentifier=f"<id of {p.deployment_name}>")
            display.note(f"Dry run: would delete deployment {p.deployment_name} once it exists (confirm_delete must "
                         "name it).")
            return "dry-run"
        display.note(f"Deployment {p.deployment_name} is already gone.")
        return "already-deleted"
    gates.require_delete(p, p.deployment_name, step.confirmations)
    if p.interactive and targets.old_instance:  # both buttons before either deletion: no half-done cell
        gates.require_delete(p, targets.old_instance, step.confirmations)
    _keep_until(step, targets)  # deleting the deployment first would lose nothing, but keep the two together
    ident = targets.deployment_id
    if step.rds.delete_deployment(ident) is None:
        display.note(f"Dry run: would delete deployment {p.deployment_name} ({ident}).")
        return "dry-run"
    step.changed("deleted blue/green deployment", deployment_id=ident)
    wait_until(lambda: step.rds.find_deployment(p.deployment_name), lambda d: d is None,
               what=f"deletion of deployment {p.deployment_name} ({ident})",
               state_of=lambda d: d["Status"] if d else "deleted", timeout_s=step.wait_s(3600))
    return "deleted"


def _requested_snapshot(step: Step, targets: Targets) -> str | None:
    """The final snapshot a run (this one or a killed one) already asked for when deleting this old blue."""
    records = history.about(step.identifiers.get("deployment_id"), step.params.deployment_name)
    for rec in records:
        for entry in reversed(rec.changes):
            if entry.get("what") == "deleted old blue instance" \
                    and entry.get("dbi_resource_id") == targets.old_dbi_resource_id:
                return str(entry["final_snapshot_id"]) if entry.get("final_snapshot_id") else None
    return None


def delete_old_blue(step: Step, targets: Targets | None = None) -> dict[str, Any]:
    if (flow := flows.handler(step, "delete_old_blue")) is not None:
        return flow(step, targets or resolve(step))  # type: ignore[no-any-return]
    p = step.params
    targets = targets or resolve(step)
    check_confirmations(step, targets)
    if targets.planned:
        planned = f"<old blue of {p.deployment_name}, named by its switchover>"
        step.rds.plan("delete_db_instance", DBInstanceIdentifier=planned,
                      **({"SkipFinalSnapshot": True} if p.skip_final_snapshot
                         else {"FinalDBSnapshotIdentifier": p.final_snapshot_id or f"<old blue>-final-{step.run.run_id}"}))
        display.note("Dry run: would delete the old blue once the switchover has named it (confirm_delete must name "
                     "it as step 05 reports it).")
        return {"outcome": "dry-run"}
    requested = _requested_snapshot(step, targets)
    dbi = targets.old_dbi_resource_id
    if targets.old_instance is None:
        display.note(f"The old blue ({dbi}) is already gone.")
        snapshot = _final_snapshot(step, targets, requested)
        return {"outcome": "already-deleted", "snapshot": snapshot}
    name = targets.old_instance
    gates.require_delete(p, name, step.confirmations)
    _keep_until(step, targets)
    old = step.rds.instance_by_resource_id(str(dbi))
    if old is None:
        return {"outcome": "already-deleted", "snapshot": _final_snapshot(step, targets, requested)}
    if old["DBInstanceStatus"] != "deleting":
        snapshot_id = None if p.skip_final_snapshot else (p.final_snapshot_id or requested
                                                           or p.final_snapshot_for(name))
        step.identifiers["final_snapshot_id"] = snapshot_id
        if step.rds.delete_instance(name, snapshot_id) is None:
            display.note(f"Dry run: would delete {name}" + (f" with final snapshot {snapshot_id}." if snapshot_id
                                                             else " without a final snapshot."))
            return {"outcome": "dry-run"}
        step.changed("deleted old blue instance", instance=name, dbi_resource_id=dbi, final_snapshot_id=snapshot_id)
        requested = snapshot_id
    else:
        display.note(f"{name} is already being deleted (by an earlier run): waiting for that deletion"
                     + (f" and its final snapshot {requested}." if requested else "."))
    step.crash_point("old-blue-deleting")
    wait_until(lambda: step.rds.instance_by_resource_id(str(dbi)), lambda i: i is None,
               what=f"deletion of {name} ({dbi})", state_of=lambda i: i["DBInstanceStatus"] if i else "deleted",
               timeout_s=step.wait_s(3600))
    return {"outcome": "deleted", "snapshot": _final_snapshot(step, targets, requested)}


def _final_snapshot(step: Step, targets: Targets, requested: str | None) -> DBSnapshot | None:
    """Wait for the final snapshot of the old blue: the one a run requested (by name), else one RDS holds for that
    DbiResourceId taken after the switchover."""
    if step.params.skip_final_snapshot and not requested:
        step.findings["final_snapshot"] = {"id": None, "status": "skipped (skip_final_snapshot)"}
        return None
    dbi = str(targets.old_dbi_resource_id)
    after = targets.switched_over_at

    def find() -> DBSnapshot | None:
        if requested:
            return step.rds.find_snapshot(requested)
        taken = [s for s in step.rds.manual_snapshots_of(dbi)
                 if after is None or (s.get("SnapshotCreateTime") and s["SnapshotCreateTime"] >= after)]
        return taken[-1] if taken else None
    found = wait_until(find, lambda s: s is not None and s["Status"] == "available",
                       what=f"final snapshot {requested or 'of ' + dbi}",
                       state_of=lambda s: s["Status"] if s else "absent", timeout_s=step.wait_s(3600))
    assert found is not None  # wait_until returned: the snapshot is available
    snapshot = found
    step.identifiers["final_snapshot_id"] = snapshot["DBSnapshotIdentifier"]
    step.findings["final_snapshot"] = {"id": snapshot["DBSnapshotIdentifier"], "status": snapshot["Status"],
                                       "dbi_resource_id": snapshot.get("DbiResourceId")}
    display.note(f"Final snapshot **{snapshot['DBSnapshotIdentifier']}** of {dbi} is {snapshot['Status']}.", "ok")
    return snapshot
