"""Step 01: is the source ready for a blue/green deployment and for the target version?"""

from __future__ import annotations

from typing import Any

from .. import db, display, preflight
from ..errors import RunbookError
from ..precheck import add_parameter_group_checks, run_prechecks
from ..step import Step


def check(step: Step) -> dict[str, Any]:
    """Every prerequisite, recorded with evidence; raises (before any change) on a hard failure."""
    p = step.params
    blue = step.rds.instance(p.source_db_instance)
    step.identifiers.update(source_arn=blue["DBInstanceArn"], source_dbi_resource_id=blue["DbiResourceId"],
                            source_engine_version=blue["EngineVersion"])
    preflight.source_checks(step, blue)
    preflight.target_checks(step, blue)
    preflight.iam_permissions(step)
    report = _precheck(step, blue)
    display.table(step.checks, ["id", "result", "evidence", "remediation"], title="Prerequisites")
    hard = [c for c in step.checks if c["result"] == "fail"]
    if hard:
        raise RunbookError("Prerequisites failed: " + "; ".join(
            f"{c['id']}: {c['remediation'] or c['evidence']}" for c in hard) + ". Nothing was changed.")
    return {"instance": blue, "precheck": report}


def _precheck(step: Step, blue: dict[str, Any]) -> dict[str, Any] | None:
    """The 5.7 -> 8.0 upgrade checks, run against blue before anything is created."""
    p = step.params
    if p.target_engine_version.split(".")[:2] == blue["EngineVersion"].split(".")[:2]:
        step.check("upgradePrecheck", "skip", "not a major version upgrade")
        return None
    with db.connect(blue["Endpoint"], p.db_user, step.password()) as conn:
        checked = run_prechecks(conn, p.target_engine_version, f"{blue['Endpoint']['Address']}:{blue['Endpoint']['Port']}")
    add_parameter_group_checks(checked, step.rds.parameters(p.green_parameter_group), p.green_parameter_group)
    report = checked.to_json()
    errors = [(c["id"], pr) for c in report["checksPerformed"] for pr in c["detectedProblems"]
              if pr["level"] == "Error"]
    unacknowledged = sorted({cid for cid, _ in errors} - set(p.acknowledge_precheck_errors))
    not_run = [c["id"] for c in report["checksPerformed"] if c["status"] != "OK"]
    result = "fail" if unacknowledged else "warn" if errors or report["warningCount"] or not_run else "pass"
    step.check("upgradePrecheck", result,
               {"errors": report["errorCount"], "warnings": report["warningCount"],
                "notices": report["noticeCount"], "not_run": not_run,
                "acknowledged": sorted({cid for cid, _ in errors} & set(p.acknowledge_precheck_errors))},
               None if not unacknowledged else
               f"Fix the objects reported by {', '.join(unacknowledged)} on {p.source_db_instance}, or list "
               "those check ids in acknowledge_precheck_errors to go on and see RDS cancel the upgrade.")
    step.findings["precheck"] = {k: report[k] for k in ("errorCount", "warningCount", "noticeCount", "summary")}
    problems = [{"check": c["id"], "level": pr["level"], "object": pr["dbObject"], "detail": pr["description"]}
                for c in report["checksPerformed"] for pr in c["detectedProblems"]]
    if problems:
        display.table(problems, title="Upgrade precheck findings (5.7 → 8.0)")
    return report
