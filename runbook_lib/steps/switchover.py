"""Step 05: compare blue and green, then switch over and wait for the names to move."""

from __future__ import annotations

from typing import Any

from .. import db, display, gates, preflight, probe_report
from ..errors import RunbookError
from ..probe import Probe, Target
from ..step import Step
from ..waiting import wait_until
from .deployment import Sides, current_or_planned

_COMPARED = [("Engine version", lambda i: i["EngineVersion"]),
             ("Parameter group", lambda i: ", ".join(g["DBParameterGroupName"] for g in i.get("DBParameterGroups", []))),
             ("Option group", lambda i: ", ".join(o["OptionGroupName"] for o in i.get("OptionGroupMemberships", []))),
             ("Instance class", lambda i: i["DBInstanceClass"]),
             ("Storage", lambda i: f"{i.get('AllocatedStorage')} GiB {i.get('StorageType', '')}"),
             ("Status", lambda i: i["DBInstanceStatus"]),
             ("Endpoint", lambda i: f"{i['Endpoint']['Address']}:{i['Endpoint']['Port']}"),
             ("DbiResourceId", lambda i: i["DbiResourceId"])]


def compare(step: Step) -> Sides | None:
    """Blue and green side by side, as the console shows them before switching."""
    sides = current_or_planned(step)
    if sides is None:
        display.note("Dry run: no deployment exists yet, so there is nothing to compare.")
        return None
    if sides.blue and sides.green:
        rows = [{"": label, "blue: " + sides.blue["DBInstanceIdentifier"]: get(sides.blue),
                 "green: " + sides.green["DBInstanceIdentifier"]: get(sides.green)} for label, get in _COMPARED]
        display.table(rows, title=f"Blue/green deployment {step.params.deployment_name} ({sides.deployment['Status']})")
    return sides


def check_guardrails(step: Step) -> list[dict[str, Any]]:
    """The switchover guardrails, checked again right before switching (nothing changes if one fails)."""
    sides = current_or_planned(step)
    if sides is None:
        display.note("Dry run: the guardrails can only be checked once the deployment exists.")
        return []
    if sides.deployment["Status"] in ("SWITCHOVER_COMPLETED", "SWITCHOVER_IN_PROGRESS"):
        display.note(f"The switchover is already {sides.deployment['Status'].split('_', 1)[1].lower().replace('_', ' ')} "
                     "(a re-run): no guardrail to check.")
        step.findings["preflight"] = "not needed"
        return []
    checks = preflight.before_switchover(step, sides)
    step.findings["preflight"] = "passed"
    display.table(checks, ["id", "result", "evidence", "remediation"], title="Switchover preflight")
    return checks


def start_probe(step: Step) -> Probe | None:
    """Measure what clients see through the production endpoint, from before the switchover."""
    p = step.params
    if p.dry_run:
        return None
    prod = step.rds.instance(p.source_db_instance)
    probe = Probe(Target(prod["Endpoint"]["Address"], int(prod["Endpoint"]["Port"]), p.db_user, step.password(),
                         p.probe_database), interval_ms=p.probe_interval_ms, run_id=step.run.run_id)
    probe.start()
    step.on_failure.append(lambda: _stop_and_save(step, probe))
    if not probe.wait_for_baseline():
        raise RunbookError(f"The probe could not read and write through {prod['Endpoint']['Address']}:"
                           f"{prod['Endpoint']['Port']} before the switchover: {probe.snapshot()[-1].error}. Check "
                           "db_user, the password and probe_database; nothing was changed.")
    display.note(f"Probe running against {prod['Endpoint']['Address']}:{prod['Endpoint']['Port']} every "
                 f"{p.probe_interval_ms} ms (new connections for reads, one long-lived connection for writes).")
    return probe


def _stop_and_save(step: Step, probe: Probe) -> dict[str, Any]:
    probe.stop()
    paths = probe_report.write_files(probe, step.run.path / "probe")
    return {"files": {k: str(v) for k, v in paths.items()}}


def finish_probe(step: Step, probe: Probe | None, settle_s: float = 2.0) -> dict[str, Any] | None:
    """Stop after a settle period, report the outage and prove that no acknowledged write was lost."""
    if probe is None:
        return None
    import time
    time.sleep(settle_s)
    probe.stop()
    step.on_failure.clear()
    p = step.params
    prod = step.rds.instance(p.source_db_instance)
    with db.connect(prod["Endpoint"], p.db_user, step.password()) as conn:
        proof = probe_report.zero_loss(probe, conn)
    summary = probe_report.summary(probe)
    paths = probe_report.write_files(probe, step.run.path / "probe", {"zero_loss": proof})
    step.findings["downtime"] = {k: summary[k] for k in ("read_unavailable_s", "write_unavailable_s", "interval_ms",
                                                         "resolution", "identity_changes", "windows")}
    step.findings["zero_loss"] = proof
    display.table([{"kind": w["kind"], "from": w["start"], "to": w["end"], "seconds": w["seconds"],
                    "failed attempts": w["failed_attempts"], "errors": w["errors"]} for w in summary["windows"]],
                  title=f"Unavailability windows (resolution {summary['resolution']})")
    display.table([{"measure": k, "value": v} for k, v in (
        ("writes unavailable (s)", summary["write_unavailable_s"]), ("reads unavailable (s)", summary["read_unavailable_s"]),
        ("server changed at", ", ".join(f"{c['at']} → {c['to_version']}" for c in summary["identity_changes"]) or "-"),
        ("writes acknowledged", proof["acknowledged"]), ("acknowledged and present", proof["present"]),
        ("acknowledged but MISSING", proof["missing"]), ("in doubt", proof["in_doubt"]),
        ("probe load", f"{summary['load']['connections_per_s']} conn/s, {summary['load']['queries_per_s']} queries/s"))],
        title="Measured downtime and zero-loss proof")
    if display.in_notebook():
        from IPython.display import Image
        display.show(Image(filename=str(paths["png"])))
    if proof["missing"]:
        raise RunbookError(f"DATA LOSS: {proof['missing']} writes that production acknowledged before the switchover are "
                           f"not on the new production (sequence numbers {proof['missing_seqs'][:10]}…). Stop writes, "
                           "compare the old blue (-old1, still intact) with the new production, and recover them from it.")
    display.note(f"Zero lost writes: all {proof['acknowledged']} acknowledged writes are on the new production.", "ok")
    return {"summary": summary, "zero_loss": proof}


def switch_over(step: Step, timeout_s: float = 7200) -> dict[str, Any]:
    p = step.params
    sides = current_or_planned(step)
    if sides is None:
        gates.require_switchover(p, p.deployment_name, step.confirmations)
        step.rds.plan("switchover_blue_green_deployment", BlueGreenDeploymentIdentifier=f"<id of {p.deployment_name}>",
                      SwitchoverTimeout=p.switchover_timeout_s)
        display.note("Dry run: would switch over (planned call recorded).")
        return {"outcome": "dry-run"}
    ident = sides.deployment_id
    status = sides.deployment["Status"]
    if status == "SWITCHOVER_COMPLETED":
        display.note("The switchover already completed (a re-run): nothing to do.")
        return {"outcome": "already-switched", "deployment": sides.deployment}
    gates.require_switchover(p, p.deployment_name, step.confirmations)
    if status == "AVAILABLE" and step.findings.get("preflight") != "passed":
        raise RunbookError("The switchover preflight has not passed in this run: run switchover.check_guardrails(step) "
                           "first (the cell above). Nothing was changed.")
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
    display.events(events, "Switchover events")
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
