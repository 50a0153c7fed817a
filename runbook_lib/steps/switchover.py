"""Step 05: compare blue and green, then switch over while a probe watches, and report what clients saw.

Observed or nothing: a downtime or zero-loss figure is recorded only when a probe ran, unbroken, from before the
switchover call until after the deployment reached SWITCHOVER_COMPLETED; the record names that probe and its
window. Otherwise every figure is null and the record says why (a resumed run, a run killed mid-switchover, a probe
that broke off). The probe starts only after the confirmation gate and the preflight passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from runbook_lib.aws.types import BlueGreenDeployment, DBInstance
from runbook_lib.aws.waiting import wait_until
from runbook_lib.checks import switchover_guardrails
from runbook_lib.engines.mysql import connection as db
from runbook_lib.errors import RunbookError
from runbook_lib.probe import report as probe_report
from runbook_lib.probe.mysql import Probe, ProbeData, Target
from runbook_lib.run import gates, history
from runbook_lib.run.context import Step
from runbook_lib.steps import flows
from runbook_lib.steps.sides import Sides, current_or_planned
from runbook_lib.ui import display

_COMPARED: list[tuple[str, Callable[[DBInstance], object]]] = [
    ("Engine version", lambda i: i["EngineVersion"]),
    ("Parameter group", lambda i: ", ".join(g["DBParameterGroupName"] for g in i.get("DBParameterGroups", []))),
    ("Option group", lambda i: ", ".join(o["OptionGroupName"] for o in i.get("OptionGroupMemberships", []))),
    ("Instance class", lambda i: i["DBInstanceClass"]),
    ("Storage", lambda i: f"{i.get('AllocatedStorage')} GiB {i.get('StorageType', '')}"),
    ("Status", lambda i: i["DBInstanceStatus"]),
    ("Endpoint", lambda i: f"{i['Endpoint']['Address']}:{i['Endpoint']['Port']}"),
    ("DbiResourceId", lambda i: i["DbiResourceId"])]


def compare(step: Step) -> Sides | None:
    """Blue and green side by side, as the console shows them before switching."""
    if (flow := flows.handler(step, "compare")) is not None:
        return flow(step)  # type: ignore[no-any-return]
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
    if (flow := flows.handler(step, "check_guardrails")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    sides = current_or_planned(step)
    if sides is None:
        display.note("Dry run: the guardrails can only be checked once the deployment exists.")
        return []
    if sides.deployment["Status"] in ("SWITCHOVER_COMPLETED", "SWITCHOVER_IN_PROGRESS"):
        display.note(f"The switchover is already {sides.deployment['Status'].split('_', 1)[1].lower().replace('_', ' ')} "
                     "(a re-run): no guardrail to check.")
        step.findings["preflight"] = "not needed"
        return []
    gates.bind_switchover_click(step, sides.deployment_id)
    checks = switchover_guardrails.before_switchover(step, sides)
    step.findings["preflight"] = "passed"
    display.table(checks, ["id", "result", "evidence", "remediation"], title="Switchover preflight")
    return checks


PROBE_FOLDER = "probe"
JOURNAL = "probe-journal.jsonl"
COMPLETED_EVENT = "Switchover completed on blue/green deployment"
CANCELED_EVENT = "Switchover canceled on blue/green deployment"
FIGURES = ("read_unavailable_s", "write_unavailable_s", "read_unavailable_lower_s", "read_unavailable_upper_s",
           "write_unavailable_lower_s", "write_unavailable_upper_s")
LOSS_FIGURES = ("acknowledged", "present", "missing", "in_doubt", "in_doubt_committed", "in_doubt_not_committed")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def _start_probe(step: Step) -> Probe:
    """Measure what clients see through the production endpoint. Called only once the gate and the preflight
    passed, right before the switchover call; every attempt is journaled to the run folder as it happens."""
    p = step.params
    prod = step.rds.instance(p.source_db_instance)
    folder = step.run.path / PROBE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    probe = Probe(Target(prod["Endpoint"]["Address"], int(prod["Endpoint"]["Port"]), p.db_user, step.password(),
                         p.probe_database, tls_settings=db.tls_settings(p)),
                  interval_ms=p.probe_interval_ms, run_id=step.run.run_id,
                  slow_ms=p.probe_slow_ms, journal=folder / JOURNAL)
    probe.start()
    step.on_failure.append(lambda: _stop_and_save(step, probe))
    if not probe.wait_for_baseline():
        raise RunbookError(f"The probe could not read and write through {prod['Endpoint']['Address']}:"
                           f"{prod['Endpoint']['Port']} before the switchover: {probe.snapshot()[-1].error}. Check "
                           "db_user, the password and probe_database; nothing was changed.")
    step.findings["probe"] = {"state": "running", "started": _iso(probe.started_at), "journal": f"{PROBE_FOLDER}/{JOURNAL}",
                              "endpoint": f"{prod['Endpoint']['Address']}:{prod['Endpoint']['Port']}",
                              "interval_ms": p.probe_interval_ms}
    step.save()
    display.note(f"Probe running against {prod['Endpoint']['Address']}:{prod['Endpoint']['Port']} every "
                 f"{p.probe_interval_ms} ms (new connections for reads, one long-lived connection for writes).")
    return probe


def _stop_and_save(step: Step, probe: Probe) -> None:
    """Stop the probe and keep what it saw (also when the step fails half-way)."""
    probe.stop()
    probe_report.write_files(probe, step.run.path / PROBE_FOLDER)
    step.findings.setdefault("probe", {}).update(state="stopped", stopped=_iso(probe.stopped_at))
    step.save()


def _settle(probe: Probe, completed_at: float, settle_s: float) -> None:
    """Keep probing after the switchover until both loops answered well a few times on the new production."""
    deadline = time.monotonic() + max(settle_s * 5, 10.0)
    time.sleep(settle_s)
    while time.monotonic() < deadline:
        after = [a for a in probe.snapshot() if a.start > completed_at and a.ok]
        if all(sum(1 for a in after if a.loop == loop) >= 3 for loop in ("connect", "write")):
            return
        time.sleep(probe.interval)


def _completion_event(step: Step, deployment_id: str) -> datetime | None:
    since = _now() - timedelta(days=14)
    for event in reversed(step.rds.events("blue-green-deployment", deployment_id, since)):
        if event["Message"].startswith(COMPLETED_EVENT):
            return event["Date"]
    return None


def _wait(step: Step, ident: str, requested: datetime | None, timeout_s: float) -> BlueGreenDeployment:
    """Until the switchover completed, failed, or was rolled back to AVAILABLE (RDS's cancel event says which)."""
    p = step.params
    seen = {"in_progress": False}

    def done(d: BlueGreenDeployment) -> bool:
        if d["Status"] == "SWITCHOVER_IN_PROGRESS":
            if not seen["in_progress"]:
                seen["in_progress"] = True
                step.crash_point("switchover-in-progress")
            return False
        if d["Status"] in ("SWITCHOVER_COMPLETED", "SWITCHOVER_FAILED"):
            return True
        # Rolled back to AVAILABLE: only the cancel event tells it apart from "not started yet".
        return any(e["Message"].startswith(CANCELED_EVENT)
                   for e in step.rds.events("blue-green-deployment", ident, requested))
    return wait_until(lambda: step.rds.deployment(ident), done, what=f"switchover of {p.deployment_name}",
                      state_of=lambda d: d["Status"], first_poll_s=0.05, max_poll_s=5, timeout_s=timeout_s)


def require_cleared(step: Step) -> None:
    """The two locks on the switchover call, for every engine's flow: the gate (a confirmation that names this
    deployment) and the preflight passed in this step (check_guardrails, the cell above)."""
    p = step.params
    gates.require_switchover(p, p.deployment_name, step.confirmations)
    if step.findings.get("preflight") != "passed":
        raise RunbookError("The switchover preflight has not passed in this run: run switchover.check_guardrails(step) "
                           "first (the cell above). Nothing was changed.")


def switch_over(step: Step, timeout_s: float | None = None, settle_s: float = 2.0) -> dict[str, Any]:
    """The gate, then the probe, then the switchover; returns what happened and which probe watched it."""
    if (flow := flows.handler(step, "switch_over")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    p = step.params
    timeout = timeout_s or step.wait_s(p.switchover_timeout_s + 3600)
    sides = current_or_planned(step)
    if sides is None:
        gates.require_switchover(p, p.deployment_name, step.confirmations)
        step.rds.plan("switchover_blue_green_deployment", BlueGreenDeploymentIdentifier=f"<id of {p.deployment_name}>",
                      SwitchoverTimeout=p.switchover_timeout_s)
        display.note("Dry run: would switch over (planned call recorded).")
        return {"outcome": "dry-run", "observation": _not_observed("dry run: no switchover was made")}
    ident = sides.deployment_id
    status = sides.deployment["Status"]
    if status == "SWITCHOVER_COMPLETED":
        return _already_switched(step, sides.deployment)
    if status == "SWITCHOVER_IN_PROGRESS":
        display.note(f"A switchover of {p.deployment_name} is already under way (requested by an earlier run): waiting "
                     "for it. This run's probe did not watch it from the start.", "warning")
        final = _wait(step, ident, None, timeout)
        return _conclude(step, final, None, None)
    if status != "AVAILABLE":
        raise RunbookError(_failed_message(p.deployment_name, sides.deployment))
    require_cleared(step)
    if p.dry_run:
        step.rds.switchover(ident, p.switchover_timeout_s)
        display.note(f"Dry run: would switch over {p.deployment_name} with a {p.switchover_timeout_s} s timeout.")
        return {"outcome": "dry-run", "deployment": sides.deployment,
                "observation": _not_observed("dry run: no switchover was made")}
    probe = _start_probe(step)
    try:
        step.crash_point("before-switchover")
        requested = _now()
        step.rds.switchover(ident, p.switchover_timeout_s)
        step.changed("requested switchover", deployment_id=ident, timeout_s=p.switchover_timeout_s,
                     probe_journal=f"{PROBE_FOLDER}/{JOURNAL}")
        final = _wait(step, ident, requested, timeout)
        completed_seen = time.time()
        if final["Status"] == "SWITCHOVER_COMPLETED":
            step.crash_point("switchover-completed")
            _settle(probe, completed_seen, settle_s)
    finally:
        step.on_failure.clear()
        _stop_and_save(step, probe)
    return _conclude(step, final, requested, completed_seen)


def _failed_message(name: str, deployment: BlueGreenDeployment) -> str:
    status, details = deployment["Status"], deployment.get("StatusDetails")
    if status == "SWITCHOVER_FAILED":
        return (f"Deployment {name} is SWITCHOVER_FAILED ({details}): RDS rolled the switchover back (blue is still "
                "production) and this deployment cannot be switched over again. The way on: step 02 deletes it with "
                "its green instance (DeleteTarget=true) and creates it anew once confirm_delete names both; then steps "
                "03-05 again. Nothing was changed.")
    return (f"Deployment {name} is {status} ({details}); it can be switched over only when AVAILABLE. Nothing was "
            "changed.")


def _conclude(step: Step, final: BlueGreenDeployment, requested: datetime | None,
              completed_seen: float | None) -> dict[str, Any]:
    """Record the outcome; a rolled-back switchover raises with the documented way on."""
    p = step.params
    ident = str(final["BlueGreenDeploymentIdentifier"])
    events = step.rds.events("blue-green-deployment", ident, requested)
    display.events(events, "Switchover events")
    if final["Status"] != "SWITCHOVER_COMPLETED":
        step.findings["switchover"] = {"status": final["Status"], "details": final.get("StatusDetails"),
                                       "requested": _iso(requested)}
        step.findings["downtime"] = _not_observed_figures(FIGURES, "the switchover did not complete (rolled back)")
        step.save()
        if final["Status"] == "AVAILABLE":
            raise RunbookError(
                f"The switchover did not finish within {p.switchover_timeout_s} s and RDS rolled it back: "
                f"{final.get('StatusDetails') or 'see the events above'}. Blue is still production and the deployment is "
                "AVAILABLE again: fix the cause (the events say it; e.g. replica lag, long transactions), then re-run "
                "this step (runbook run --from 05).")
        raise RunbookError(_failed_message(p.deployment_name, final))
    new_prod = step.rds.instance(p.source_db_instance)
    old = step.rds.find_instance(str(final["Source"]).split(":")[-1])
    completed_event = _completion_event(step, ident)
    step.identifiers.update(deployment_id=ident, new_production_dbi_resource_id=new_prod["DbiResourceId"],
                            old_instance=old and old["DBInstanceIdentifier"],
                            old_dbi_resource_id=old and old["DbiResourceId"],
                            switchover_completed_at=_iso(completed_event or completed_seen))
    step.findings["switchover"] = {"status": final["Status"], "new_production_version": new_prod["EngineVersion"],
                                   "requested": _iso(requested), "completed_event": _iso(completed_event),
                                   "completed_seen": _iso(completed_seen)}
    step.save()
    display.table([{"name": i["DBInstanceIdentifier"], "version": i["EngineVersion"], "DbiResourceId": i["DbiResourceId"],
                    "endpoint": f"{i['Endpoint']['Address']}:{i['Endpoint']['Port']}"} for i in (new_prod, old) if i],
                  title="After switchover")
    if requested is None:
        return {"outcome": "switched", "deployment": final,
                "observation": _observation_of_earlier_run(step, ident, completed_event)}
    journal = step.run.path / PROBE_FOLDER / JOURNAL
    return {"outcome": "switched", "deployment": final,
            "observation": _observation(journal, step.run.run_id, requested, completed_seen, completed_event)}


def _already_switched(step: Step, deployment: BlueGreenDeployment) -> dict[str, Any]:
    result = _conclude(step, deployment, None, None)
    result["outcome"] = "already-switched"
    observation = result["observation"]
    who = observation.get("requested_by") or "an earlier run or someone else"
    display.note(f"The switchover of {step.params.deployment_name} had already completed (a re-run), requested by "
                 f"{who}; this run did not switch over. "
                 + ("That run's probe watched it: its figures follow." if observation.get("observed")
                    else f"Not observed: {observation.get('reason')}."), "warning")
    return result


def _observation_of_earlier_run(step: Step, ident: str, completed_event: datetime | None) -> dict[str, Any]:
    """The switchover was requested by another run (a killed one, resumed now): its journal, if it covers the
    whole switchover, is the observation; otherwise nothing was observed."""
    found = history.change(history.about(ident), "requested switchover")
    if found is None:
        return _not_observed("no run in this runs folder requested this switchover: it was made elsewhere (console, "
                             "another machine), so no probe of this runbook watched it")
    entry, record = found
    requested = datetime.fromisoformat(str(entry["at"]))
    journal = record.run_dir / str(entry.get("probe_journal") or f"{PROBE_FOLDER}/{JOURNAL}")
    observation = _observation(journal, record.run_id, requested, None, completed_event)
    observation["requested_by"] = record.run_id
    return observation


def _observation(journal: Path, run_id: str, requested: datetime, completed_seen: float | None,
                 completed_event: datetime | None) -> dict[str, Any]:
    """Did the probe journaled at `journal` watch the whole switchover, from before the call until after it
    completed? The end is the later of RDS's completion event and the moment this runbook saw COMPLETED."""
    if not journal.is_file():
        return _not_observed(f"run {run_id} requested the switchover at {_iso(requested)} but left no probe data "
                             f"({journal.name} missing)", run_id)
    ends = [t for t in (completed_seen, completed_event and completed_event.timestamp()) if t]
    if not ends:
        return _not_observed("when the switchover completed is not known (no completion event)", run_id)
    data = probe_report.load_journal(journal)
    cover = probe_report.coverage(data, requested.timestamp(), max(ends))
    base = {"run": run_id, "journal": f"{run_id}/{journal.relative_to(journal.parents[1]).as_posix()}",
            "window": {"from": _iso(requested), "to": _iso(max(ends))},
            "coverage": cover}
    if not cover.get("covered"):
        return {**base, "observed": False,
                "reason": f"the probe of run {run_id} did not watch the whole switchover: "
                          + "; ".join(cover.get("reasons") or ["unknown"])}
    return {**base, "observed": True, "reason": None}


def _not_observed(reason: str, run_id: str | None = None) -> dict[str, Any]:
    return {"observed": False, "reason": reason, "run": run_id}


def _not_observed_figures(keys: tuple[str, ...], reason: str) -> dict[str, Any]:
    return {**{k: None for k in keys}, "observed": False, "not_observed_reason": reason}


def report(step: Step, result: dict[str, Any]) -> dict[str, Any] | None:
    """Downtime and the zero-loss proof, from the probe that watched the switchover, or 'not observed' and why.
    Raises on data loss."""
    if (flow := flows.handler(step, "report")) is not None:
        return flow(step, result)  # type: ignore[no-any-return]
    p = step.params
    step.crash_point("before-report")
    observation = result.get("observation") or _not_observed("no switchover result")
    step.findings["observation"] = observation
    if not observation.get("observed"):
        reason = str(observation.get("reason"))
        step.findings["downtime"] = _not_observed_figures(FIGURES, reason)
        step.findings["zero_loss"] = _not_observed_figures(LOSS_FIGURES, reason)
        step.save()
        display.table([{"measure": "writes unavailable", "value": "not observed"},
                       {"measure": "reads unavailable", "value": "not observed"},
                       {"measure": "lost writes", "value": "not observed"},
                       {"measure": "why", "value": reason}], title="Downtime and zero-loss proof: NOT OBSERVED")
        display.note(f"No downtime or zero-loss figure is recorded for this switchover: {reason}.", "warning")
        return None
    data = probe_report.load_journal(step.run.path.parent / str(observation["journal"]))  # <run>/probe/… in runs/
    prod = step.rds.instance(p.source_db_instance)
    with db.connect(prod["Endpoint"], p.db_user, step.password(), tls=db.tls_settings(p)) as conn:
        proof = probe_report.zero_loss_of(data, conn)
    return record_measured(step, observation, data, proof)


def record_measured(step: Step, observation: dict[str, Any], data: ProbeData, proof: dict[str, Any],
                    reader_endpoint: dict[str, Any] | None = None) -> dict[str, Any]:
    """The observed switchover into the record, the probe files and the notebook: downtime figures, the windows, the
    zero-loss proof (raises on data loss). `reader_endpoint`: what a cluster's reader-endpoint watch saw."""
    summary = probe_report.summary_of(data)
    window = observation["window"]
    span = probe_report.during(data, datetime.fromisoformat(window["from"]).timestamp(),
                               datetime.fromisoformat(window["to"]).timestamp())
    folder = step.run.path / PROBE_FOLDER
    paths = probe_report.write_files_of(data, folder, {"zero_loss": proof, "observation": observation})
    step.findings["downtime"] = {**{k: summary.get(k) for k in FIGURES},
                                 **{k: summary.get(k) for k in ("interval_ms", "resolution", "identity_changes",
                                                                "windows", "estimate", "bounds", "slow_threshold_ms",
                                                                "by_class")},
                                 "during_switchover": {k: {f: v[f] for f in ("unavailable_s", "lower_s", "upper_s")}
                                                       for k, v in span.items()},
                                 **({"reader_endpoint": reader_endpoint} if reader_endpoint is not None else {}),
                                 "observed": True, "observed_by": {"run": observation["run"],
                                                                   "window": observation["window"]}}
    step.findings["zero_loss"] = {**proof, "observed": True}
    step.save()
    display.table([{"kind": w["kind"], "from": w["start"], "to": w["end"], "seconds": w["seconds"],
                    "failed attempts": w["failed_attempts"], "errors": w["errors"]} for w in summary["windows"]],
                  title=f"Unavailability windows (resolution {summary['resolution']})")
    reads: list[tuple[str, Any]] = [] if reader_endpoint is None else [
        ("reads through the reader endpoint: ok / failed",
         f"{reader_endpoint['reads_ok']} / {reader_endpoint['reads_failed']}"),
        ("reader endpoint unavailable (s)", reader_endpoint["read_unavailable_s"])]
    display.table([{"measure": k, "value": v} for k, v in (
        ("writes unavailable (s)", summary["write_unavailable_s"]), ("reads unavailable (s)", summary["read_unavailable_s"]),
        *reads,
        ("server changed at", ", ".join(f"{c['at']} → {c['to_version']}" for c in summary["identity_changes"]) or "-"),
        ("writes acknowledged", proof["acknowledged"]), ("acknowledged and present", proof["present"]),
        ("acknowledged but MISSING", proof["missing"]), ("in doubt", proof["in_doubt"]),
        ("watched by", f"probe of run {observation['run']}, {observation['window']['from']} → "
                       f"{observation['window']['to']}"))],
        title="Measured downtime and zero-loss proof")
    if display.in_notebook():
        display.show(display.ipython_display().Image(filename=str(paths["png"])))
    if proof["missing"]:
        raise RunbookError(f"DATA LOSS: {proof['missing']} writes that production acknowledged before the switchover are "
                           f"not on the new production (sequence numbers {proof['missing_seqs'][:10]}…). Stop writes, "
                           "compare the old blue (still intact, read-only) with the new production, and recover them "
                           "from it.")
    display.note(f"Zero lost writes: all {proof['acknowledged']} acknowledged writes are on the new production.", "ok")
    return {"summary": summary, "zero_loss": proof}
