"""Step 03: upgrade the green instance (engine version, parameter group, option group, at once)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .. import display
from ..errors import RunbookError
from ..step import Step
from ..waiting import wait_until
from .deployment import current_or_planned, planned_green


def _done(green: dict[str, Any], version: str, group: str, option_group: str | None) -> bool:
    groups = [g["DBParameterGroupName"] for g in green.get("DBParameterGroups", [])]
    options = [o["OptionGroupName"] for o in green.get("OptionGroupMemberships", [])]
    return (green["EngineVersion"] == version and group in groups
            and (option_group is None or option_group in options))


def upgrade_green(step: Step, target: str | None = None, timeout_s: float = 7200) -> dict[str, Any]:
    """Modify green and wait. Returns {'outcome': 'upgraded'|'already-upgraded'|'cancelled', ...};
    'cancelled' is RDS refusing the upgrade after its prechecks (green stays on the old version).
    `target` is a version chosen interactively (validated like the parameter)."""
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
    if _done(green, p.target_engine_version, p.green_parameter_group, p.green_option_group):
        display.note(f"{name} already runs {p.target_engine_version} with {p.green_parameter_group}: nothing to do.")
        return {"outcome": "already-upgraded", "green": green}
    if green["DBInstanceStatus"] == "available":
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
        display.note(f"{name} is {green['DBInstanceStatus']}: an upgrade is already under way, waiting for it.")

    seen: dict[str, bool] = {"busy": green["DBInstanceStatus"] != "available"}

    def settled(inst: dict[str, Any]) -> bool:
        if inst["DBInstanceStatus"] != "available":
            seen["busy"] = True
            return False
        if seen["busy"] or _done(inst, p.target_engine_version, p.green_parameter_group, p.green_option_group):
            return True
        # Fast enough to never be seen busy: RDS's event says whether the upgrade ran or was refused.
        return any("upgrade" in e["Message"].lower() for e in step.rds.events("db-instance", name, started))

    final = wait_until(lambda: step.rds.instance(name, "green instance"), settled, what=f"upgrade of {name}",
                       state_of=lambda i: f"{i['DBInstanceStatus']} {i['EngineVersion']}", timeout_s=timeout_s)
    events = step.rds.events("db-instance", name, start_time=started)
    display.events(events, f"Events of {name}")
    if _done(final, p.target_engine_version, p.green_parameter_group, p.green_option_group):
        step.findings["green_version"] = final["EngineVersion"]
        return {"outcome": "upgraded", "green": final}
    step.findings["upgrade_cancelled"] = [e["Message"] for e in events]
    display.note(f"RDS cancelled the upgrade of {name}: it is still on {final['EngineVersion']}. The reason is in "
                 "PrePatchCompatibility.log — step 04 reads it.", "warning")
    return {"outcome": "cancelled", "green": final}


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
