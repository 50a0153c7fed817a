"""Step 03: upgrade the green instance (engine version, parameter group, option group, at once)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from runbook_lib.aws.types import DBInstance
from runbook_lib.aws.waiting import wait_until
from runbook_lib.errors import RunbookError
from runbook_lib.run.context import Step
from runbook_lib.steps import flows
from runbook_lib.steps.sides import current_or_planned, planned_green
from runbook_lib.ui import display


def _done(green: Mapping[str, Any], version: str, group: str, option_group: str | None) -> bool:
    groups = [g["DBParameterGroupName"] for g in green.get("DBParameterGroups", [])]
    options = [o["OptionGroupName"] for o in green.get("OptionGroupMemberships", [])]
    return (green["EngineVersion"] == version and group in groups
            and (option_group is None or option_group in options))


def upgrade_green(step: Step, target: str | None = None, timeout_s: float = 7200) -> dict[str, Any]:
    """Modify green and wait. Returns {'outcome': 'upgraded'|'already-upgraded'|'cancelled', ...};
    'cancelled' is RDS refusing the upgrade after its prechecks (green stays on the old version).
    `target` is a version chosen interactively (validated like the parameter)."""
    if (flow := flows.handler(step, "upgrade_green")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    p = step.params
    if target and target != p.target_engine_version:
        p.target_engine_version = target  # validated by the parameter model
        step.identifiers["target_engine_version"] = target
    sides = current_or_planned(step)
    if sides is None:
        step.rds.plan("modify_db_instance", DBInstanceIdentifier=planned_green(step),
                      EngineVersion=p.target_engine_version, AllowMajorVersionUpgrade=True,
                      DBParameterGroupName=p.green_parameter_group, OptionGroupName=p.green_option_group,
                      ApplyImmediately=True)
        display.note("Dry run: would upgrade the green instance (planned call recorded).")
        return {"outcome": "dry-run"}
    green = sides.green
    if green is None:
        raise RunbookError("The deployment has no green instance yet; wait for step 02 to finish.")
    name = green["DBInstanceIdentifier"]
    if upgrade_state(green, p.target_engine_version, p.green_parameter_group, p.green_option_group) == "upgraded":
        display.note(f"{name} already runs {p.target_engine_version} with {p.green_parameter_group}: nothing to do.")
        return {"outcome": "already-upgraded", "green": green}
    if green["DBInstanceStatus"] == "available" and pending_version(green) is None:
        changes: dict[str, Any] = {"EngineVersion": p.target_engine_version, "AllowMajorVersionUpgrade": True,
                                   "DBParameterGroupName": p.green_parameter_group, "ApplyImmediately": True}
        if p.green_option_group:
            changes["OptionGroupName"] = p.green_option_group
        started = datetime.now(timezone.utc)
        if step.rds.modify_instance(name, **changes) is None:
            display.note(f"Dry run: would modify {name} with {changes}.")
            return {"outcome": "dry-run", "green": green}
        step.changed("requested green upgrade", instance=name, **changes)
    else:
        started = datetime.now(timezone.utc)
        display.note(f"{name} is {green['DBInstanceStatus']} (engine version pending: {pending_version(green)}): an "
                     "upgrade is already under way, waiting for it.")

    target = p.target_engine_version
    # Busy as RDS shows it: a status other than available, or the engine version still pending. The modify call's
    # own answer already shows PendingModifiedValues.EngineVersion, before any status changes.
    seen = {"busy": green["DBInstanceStatus"] != "available" or pending_version(green) is not None}

    def settled(inst: DBInstance) -> bool:
        state = upgrade_state(inst, target, p.green_parameter_group, p.green_option_group)
        if state == "in-progress":
            seen["busy"] = True
            return False
        if state == "upgraded" or seen["busy"]:
            return True
        # Settled on the old version without ever being seen busy: only RDS's refusal, as evidence, ends the wait.
        return bool(cancel_events(step.rds.events("db-instance", name, started)))

    final = wait_until(lambda: step.rds.instance(name, "green instance"), settled, what=f"upgrade of {name}",
                       state_of=lambda i: f"{i['DBInstanceStatus']} {i['EngineVersion']}"
                                          f"{' (pending ' + str(pending_version(i)) + ')' if pending_version(i) else ''}",
                       timeout_s=timeout_s)
    events = step.rds.events("db-instance", name, start_time=started)
    display.events(events, f"Events of {name}")
    state = upgrade_state(final, target, p.green_parameter_group, p.green_option_group)
    evidence = {"status": final["DBInstanceStatus"], "engine_version": final["EngineVersion"],
                "pending_engine_version": pending_version(final), "seen_in_progress": seen["busy"],
                "events": [e["Message"] for e in events]}
    step.findings["upgrade_state"] = evidence
    if state == "upgraded":
        step.findings["green_version"] = final["EngineVersion"]
        return {"outcome": "upgraded", "green": final}
    step.findings["upgrade_cancelled"] = [e["Message"] for e in events]
    display.note(f"RDS cancelled the upgrade of {name}: it is available again, still on {final['EngineVersion']}, "
                 "with no engine version pending. The reason is in PrePatchCompatibility.log — step 04 reads it.",
                 "warning")
    return {"outcome": "cancelled", "green": final}


def pending_version(inst: Mapping[str, Any]) -> str | None:
    """The engine version RDS has yet to apply (PendingModifiedValues), if any."""
    value = (inst.get("PendingModifiedValues") or {}).get("EngineVersion")
    return str(value) if value else None


def upgrade_state(inst: Mapping[str, Any], version: str, group: str, option_group: str | None) -> str:
    """From the instance's own state only: 'upgraded' (target version and groups, available, nothing pending),
    'in-progress' (not available, or an engine version still pending), else 'not-upgraded'. Events never decide:
    RDS writes them before the status moves."""
    available = inst["DBInstanceStatus"] == "available"
    if available and pending_version(inst) is None and _done(inst, version, group, option_group):
        return "upgraded"
    if not available or pending_version(inst) is not None:
        return "in-progress"
    return "not-upgraded"


def cancel_events(events: list[Any]) -> list[str]:
    """RDS's messages that it refused or rolled back the upgrade (evidence, read after the state settled)."""
    words = ("cannot be upgraded", "preupgrade checks failed", "upgrade failed", "rolled back")
    return [e["Message"] for e in events if any(w in e["Message"].lower() for w in words)]


def conclude(step: Step, result: dict[str, Any]) -> None:
    """Finish step 03: an upgrade RDS cancelled is expected only when step 01's precheck errors were
    acknowledged on purpose (the workshop path); otherwise it stops the run."""
    if result["outcome"] == "cancelled":
        if step.params.acknowledge_precheck_errors:
            step.finish("expected-failure")
            return
        step.finish("failed")
        raise RunbookError("RDS cancelled the upgrade of the green instance after its prechecks. Read "
                           "PrePatchCompatibility.log (step 04), fix the objects it names on blue, and re-run step 03.")
    step.finish("succeeded")
