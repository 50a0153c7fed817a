"""Step 05: compare blue and green, then switch over and wait for the names to move."""

from __future__ import annotations

from typing import Any

from .. import display, gates
from ..errors import RunbookError
from ..step import Step
from ..waiting import wait_until
from .deployment import Sides, current

_COMPARED = [("Engine version", lambda i: i["EngineVersion"]),
             ("Parameter group", lambda i: ", ".join(g["DBParameterGroupName"] for g in i.get("DBParameterGroups", []))),
             ("Option group", lambda i: ", ".join(o["OptionGroupName"] for o in i.get("OptionGroupMemberships", []))),
             ("Instance class", lambda i: i["DBInstanceClass"]),
             ("Storage", lambda i: f"{i.get('AllocatedStorage')} GiB {i.get('StorageType', '')}"),
             ("Status", lambda i: i["DBInstanceStatus"]),
             ("Endpoint", lambda i: f"{i['Endpoint']['Address']}:{i['Endpoint']['Port']}"),
             ("DbiResourceId", lambda i: i["DbiResourceId"])]


def compare(step: Step) -> Sides:
    """Blue and green side by side, as the console shows them before switching."""
    sides = current(step)
    if sides.blue and sides.green:
        rows = [{"": label, "blue: " + sides.blue["DBInstanceIdentifier"]: get(sides.blue),
                 "green: " + sides.green["DBInstanceIdentifier"]: get(sides.green)} for label, get in _COMPARED]
        display.table(rows, title=f"Blue/green deployment {step.params.deployment_name} ({sides.deployment['Status']})")
    return sides


def switch_over(step: Step, timeout_s: float = 7200) -> dict[str, Any]:
    p = step.params
    sides = current(step)
    ident = sides.deployment_id
    status = sides.deployment["Status"]
    if status == "SWITCHOVER_COMPLETED":
        display.note("The switchover already completed (a re-run): nothing to do.")
        return {"outcome": "already-switched", "deployment": sides.deployment}
    gates.require_switchover(p, p.deployment_name)
    if status == "AVAILABLE":
        if step.rds.switchover(ident, p.switchover_timeout_s) is None:
            display.note(f"Dry run: would switch over {p.deployment_name} with a {p.switchover_timeout_s} s timeout.")
            return {"outcome": "dry-run", "deployment": sides.deployment}
        step.changed("requested switchover", deployment_id=ident, timeout_s=p.switchover_timeout_s)
    elif status != "SWITCHOVER_IN_PROGRESS":
        raise RunbookError(f"Deployment {p.deployment_name} is {status} ({sides.deployment.get('StatusDetails')}); "
                           "it can be switched over only when AVAILABLE.")
    final = wait_until(lambda: step.rds.deployment(ident),
                       lambda d: d["Status"] in ("SWITCHOVER_COMPLETED", "SWITCHOVER_FAILED"),
                       what=f"switchover of {p.deployment_name}", state_of=lambda d: d["Status"],
                       first_poll_s=0.05, max_poll_s=5, timeout_s=timeout_s)
    events = step.rds.events("blue-green-deployment", ident)
    display.table([{"Date": e["Date"], "Message": e["Message"]} for e in events], title="Switchover events")
    if final["Status"] == "SWITCHOVER_FAILED":
        step.findings["switchover"] = {"status": final["Status"], "details": final.get("StatusDetails")}
        raise RunbookError(f"The switchover failed and RDS rolled it back: {final.get('StatusDetails')}. Blue is "
                           "still production; fix the cause and re-run this step.")
    new_prod = step.rds.instance(p.source_db_instance)
    old = step.rds.find_instance(final["Source"].split(":")[-1])
    step.identifiers.update(new_production_dbi_resource_id=new_prod["DbiResourceId"],
                            old_instance=old and old["DBInstanceIdentifier"],
                            old_dbi_resource_id=old and old["DbiResourceId"])
    step.findings["switchover"] = {"status": final["Status"], "new_production_version": new_prod["EngineVersion"]}
    display.table([{"name": i["DBInstanceIdentifier"], "version": i["EngineVersion"], "DbiResourceId": i["DbiResourceId"],
                    "endpoint": f"{i['Endpoint']['Address']}:{i['Endpoint']['Port']}"} for i in (new_prod, old) if i],
                  title="After switchover")
    return {"outcome": "switched", "deployment": final}
