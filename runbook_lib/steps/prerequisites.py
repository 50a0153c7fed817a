"""Step 01: is the source ready for a blue/green deployment and for the target version?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook_lib.checks import iam_permissions, source_readiness
from runbook_lib.engines.mysql import connection as db
from runbook_lib.engines.mysql import parameter_groups
from runbook_lib.engines.mysql.upgrade_checks import add_parameter_group_checks, run_prechecks
from runbook_lib.errors import RunbookError
from runbook_lib.run.context import Step
from runbook_lib.steps import flows
from runbook_lib.ui import display
from runbook_lib.ui.widgets import confirm


def green_groups(step: Step) -> dict[str, Any]:
    """Green's 8.0 groups before the checks: when they do not exist yet, the plan made from blue's groups is shown
    and, in JupyterLab, one confirm button per group (the checks cell creates them after the click). Nothing is
    created here unless the parameter file says create_green_groups: true."""
    if (flow := flows.handler(step, "green_groups")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    result = parameter_groups.offer(step)
    if result["status"] != "not-needed":
        display.preformatted(result["text"], title="Green's 8.0 groups, planned from blue's")
    if result["status"] == "waiting-for-click":
        display.note(f"Click to create {', '.join(result['targets'])} from this plan, then run the next cell.")
        result["buttons"] = confirm(step, parameter_groups.GATE, result["targets"])
    return result


def check(step: Step) -> dict[str, Any]:
    """Every prerequisite, recorded with evidence; raises (before any change) on a hard failure."""
    if (flow := flows.handler(step, "check")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    p = step.params
    blue = step.rds.instance(p.source_db_instance)
    step.identifiers.update(source_arn=blue["DBInstanceArn"], source_dbi_resource_id=blue["DbiResourceId"],
                            source_engine_version=blue["EngineVersion"])
    source_readiness.source_checks(step, blue)
    # the 8.0 groups from blue's, when green's do not exist yet; in JupyterLab the cell stops until the click
    groups = parameter_groups.offer_confirmed(step) if p.interactive else parameter_groups.offer(step)
    source_readiness.target_checks(step, blue, green_groups_ready=groups["ready"])
    iam_permissions.iam_permissions(step)
    report = _precheck(step, blue, groups)
    display.table(step.checks, ["id", "result", "evidence", "remediation"], title="Prerequisites")
    hard = [c for c in step.checks if c["result"] == "fail"]
    if hard:
        raise RunbookError("Prerequisites failed: " + "; ".join(
            f"{c['id']}: {c['remediation'] or c['evidence']}" for c in hard) + ". Nothing was changed.")
    return {"instance": blue, "precheck": report}


def _precheck(step: Step, blue: Mapping[str, Any], groups: Mapping[str, Any]) -> dict[str, Any] | None:
    """The 5.7 -> 8.0 upgrade checks, run against blue before anything is created."""
    p = step.params
    if p.target_engine_version.split(".")[:2] == blue["EngineVersion"].split(".")[:2]:
        step.check("upgradePrecheck", "skip", "not a major version upgrade")
        return None
    with db.connect(blue["Endpoint"], p.db_user, step.password(), tls=db.tls_settings(p)) as conn:
        checked = run_prechecks(conn, p.target_engine_version, f"{blue['Endpoint']['Address']}:{blue['Endpoint']['Port']}")
    planned = groups.get("green_parameters") if not groups["ready"] else None
    group = dict(planned) if planned is not None else {
        name: dict(value) for name, value in step.rds.parameters(p.green_parameter_group).items()}
    add_parameter_group_checks(checked, group, p.green_parameter_group)
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
