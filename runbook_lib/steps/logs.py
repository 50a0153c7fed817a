"""Step 04: find PrePatchCompatibility.log, read it whole, explain it; when RDS cancelled the upgrade, fix
blue (lab) or say exactly what to run (AWS), then upgrade green again."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from runbook_lib.engines.mysql import connection as db
from runbook_lib.engines.mysql.upgrade_checks import parse_log, render_text, run_prechecks
from runbook_lib.engines.mysql.upgrade_checks.explain import explain
from runbook_lib.errors import RunbookError
from runbook_lib.run.context import Step
from runbook_lib.steps import flows
from runbook_lib.steps.sides import current, current_or_planned
from runbook_lib.ui import display

PRECHECK_LOG = "PrePatchCompatibility.log"


def read_precheck_log(step: Step) -> dict[str, Any]:
    if (flow := flows.handler(step, "read_precheck_log")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    sides = current_or_planned(step)
    if sides is None:
        display.note("Dry run: the deployment does not exist, so there is no log to read yet.")
        return {"instance": None, "text": None, "report": None}
    side = sides.green or sides.blue
    if side is None and sides.deployment["Status"] != "SWITCHOVER_COMPLETED":
        raise RunbookError(f"Deployment {step.params.deployment_name} has neither a green nor a blue instance to read "
                           "logs from.")
    instance = str(side["DBInstanceIdentifier"]) if side else step.params.source_db_instance
    if sides.deployment["Status"] == "SWITCHOVER_COMPLETED":
        instance = step.params.source_db_instance  # green now carries the original name
    files = step.rds.log_files(instance)
    display.table([{"LogFileName": f["LogFileName"], "Size": f["Size"], "LastWritten": _when(f["LastWritten"])}
                   for f in files], title=f"Log files of {instance}")
    found = [f for f in files if PRECHECK_LOG in f["LogFileName"]]
    if not found:
        display.note(f"{instance} has no {PRECHECK_LOG}: RDS writes it only when it runs the major-version "
                     "prechecks (step 03).", "warning")
        step.check("precheckLogPresent", "warn", {"instance": instance, "files": [f["LogFileName"] for f in files]})
        return {"instance": instance, "text": None, "report": None}
    name = found[0]["LogFileName"]
    text = step.rds.download_log(instance, name)
    report = parse_log(text)
    consistent = getattr(report, "footerConsistent", True)
    step.check("precheckLogPresent", "pass", {"instance": instance, "file": name, "bytes": len(text.encode()),
                                              "size_reported": found[0]["Size"]})
    step.check("precheckLogTotals", "pass" if consistent else "warn",
               {"errors": report.errorCount, "warnings": report.warningCount, "notices": report.noticeCount,
                "footer": getattr(report, "footer", {})},
               None if consistent else "The log's footer totals disagree with its sections; read it in full.")
    step.findings["precheck_log"] = {"errors": report.errorCount, "warnings": report.warningCount,
                                     "notices": report.noticeCount, "blocking": sorted({c.id for c, p in report.problems()
                                                                                        if p.level == "Error"})}
    display.preformatted(render_text(report), title=f"{instance}: {name}, explained")
    display.preformatted(text, title=f"{instance}: {name} (as RDS wrote it)")
    return {"instance": instance, "name": name, "text": text, "report": report}


def fix_and_retry(step: Step, log: dict[str, Any], timeout_s: float = 600) -> dict[str, Any]:
    """If the upgrade was cancelled: apply the fixes the log calls for on blue (lab mode; in AWS mode print
    them and stop), wait until green has them, and upgrade green again."""
    if log.get("not_applicable"):
        return {"not_applicable": True}
    if (flow := flows.handler(step, "fix_and_retry")) is not None:
        return flow(step, log)  # type: ignore[no-any-return]
    from runbook_lib.steps.upgrade import upgrade_green
    p = step.params
    report = log.get("report")
    if report is None:
        display.note("No precheck log was read: nothing to fix.")
        return {"outcome": "nothing-to-fix"}
    sides = current(step)
    if sides.green is None or sides.green["EngineVersion"] == p.target_engine_version or report is None:
        display.note("The upgrade was not cancelled: nothing to fix.")
        return {"outcome": "nothing-to-fix"}
    if not report.errorCount:
        raise RunbookError(f"Green is still on {sides.green['EngineVersion']} but {PRECHECK_LOG} reports no error. "
                           "Look at the instance's events and re-run step 03.")
    blue = sides.blue or step.rds.instance(p.source_db_instance)
    with db.connect(blue["Endpoint"], p.db_user, step.password(), tls=db.tls_settings(p)) as conn:
        plan = [pr for pr in explain(report, conn)["problems"] if pr["level"] == "Error"]
    statements = [pr["sql"] for pr in plan if pr["sql"] and not pr["sql"].lstrip().startswith("--")]
    display.table([{"check": pr["check"], "object": pr["dbObject"], "fix": pr["sql"] or pr["advice"]} for pr in plan],
                  title="Fixes for the blocking findings (to run on blue; they replicate to green)")
    if p.mode != "lab" or len(statements) < len(plan):
        raise RunbookError(
            "The upgrade is blocked by the findings above. Apply the fixes on blue (" + blue["DBInstanceIdentifier"]
            + ") during a window you control — they replicate to green — then re-run step 03. "
            + ("Some findings have no automatic fix." if len(statements) < len(plan) else
               "The runbook applies them itself only in lab mode."))
    if p.dry_run:
        display.note(f"Dry run: would run {len(statements)} statement(s) on blue and upgrade green again.")
        return {"outcome": "dry-run", "statements": statements}
    with db.connect(blue["Endpoint"], p.db_user, step.password(), tls=db.tls_settings(p)) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
            step.changed("applied precheck fix on blue", instance=blue["DBInstanceIdentifier"], sql=sql)
    green = step.rds.instance(sides.green["DBInstanceIdentifier"], "green instance")
    blocking = {pr["check"] for pr in plan}
    deadline = time.monotonic() + timeout_s
    while True:  # the fixes reach green by replication; check green itself before asking RDS again
        with db.connect(green["Endpoint"], p.db_user, step.password(), tls=db.tls_settings(p)) as conn:
            again = run_prechecks(conn, p.target_engine_version)
        left = [c.id for c, pr in again.problems() if pr.level == "Error" and c.id in blocking]
        if not left:
            break
        if time.monotonic() > deadline:
            raise RunbookError(f"The fixes did not reach green within {timeout_s:.0f} s ({left} still found there).")
        time.sleep(0.2)
    display.note(f"Blue fixed ({len(statements)} statement(s)); green has the fixes. Upgrading green again.", "ok")
    result = upgrade_green(step)
    if result["outcome"] != "upgraded":
        raise RunbookError(f"The retried upgrade did not complete ({result['outcome']}); read {PRECHECK_LOG} again.")
    step.findings["upgrade_retry"] = {"statements": len(statements), "green_version": result["green"]["EngineVersion"]}
    return {"outcome": "fixed-and-upgraded", "statements": statements}


def _when(epoch_ms: Any) -> str:
    """RDS gives LastWritten as epoch milliseconds; people read a time."""
    try:
        return datetime.fromtimestamp(int(epoch_ms) / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(epoch_ms)
