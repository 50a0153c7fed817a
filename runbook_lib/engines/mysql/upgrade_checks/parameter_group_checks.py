"""Parameter-group checks (removedSysVars, removedSysLogVars, sysVarsNewDefaults) against the target DB
parameter group, read through the RDS API as RDS's own precheck reads the configuration (MySQL Shell reads
the option file for these and reports CONFIGURATION_ERROR without one)."""

from __future__ import annotations

from typing import Any

from runbook_lib.engines.mysql.upgrade_checks.catalog import (
    CATALOGUE,
    NEW_DEFAULTS,
    REMOVED_SYS_LOG_VARS,
    removed_sys_vars,
    version_key,
)
from runbook_lib.engines.mysql.upgrade_checks.model import CheckResult, PrecheckReport, Problem


def _set(p: dict[str, Any]) -> bool:
    return p.get("Source") == "user" and p.get("ParameterValue") not in (None, "")


def _removed(parameters: dict[str, dict[str, Any]], group: str, names: dict[str, str | None]) -> list[Problem]:
    out = []
    for name, p in sorted(parameters.items()):
        if name in names and _set(p):
            text = f"is set to {p.get('ParameterValue')!r} and was removed in 8.0"
            if names[name]:
                text += f", consider using {names[name]} instead"
            out.append(Problem(level="Error", dbObject=f"{group}.{name}", description=text))
    return out


def parameter_group_checks(parameters: dict[str, dict[str, Any]], group: str, target: str = "8.0.39",
                           source: str = "5.7.44") -> list[CheckResult]:
    """`parameters`: every parameter of `group` (RdsFacade.parameters)."""
    found = {
        "removedSysVars": _removed(parameters, group, removed_sys_vars(target, source)),
        "removedSysLogVars": _removed(parameters, group, REMOVED_SYS_LOG_VARS)
        if version_key(source) < (8, 0, 13) <= version_key(target) else [],
        "sysVarsNewDefaults": [Problem(level="Warning", dbObject=f"{group}.{name}",
                                       description=f"not set in the parameter group: default value will change {change}")
                               for name, change in sorted(NEW_DEFAULTS.items())
                               if name not in parameters or not _set(parameters[name])],
    }
    out = []
    for check_id, problems in found.items():
        info = CATALOGUE[check_id]
        out.append(CheckResult(id=check_id, title=info.title, status="OK", documentationLink=info.doc,
                               description=info.description if problems else None, detectedProblems=problems))
    return out


def add_parameter_group_checks(report: PrecheckReport, parameters: dict[str, dict[str, Any]], group: str) -> PrecheckReport:
    from runbook_lib.engines.mysql.upgrade_checks.checker import _source_version
    added = parameter_group_checks(parameters, group, report.targetVersion or "8.0.39",
                                   _source_version(report.serverVersion or "5.7.44"))
    ids = {c.id for c in added}
    report.checksPerformed = [c for c in report.checksPerformed if c.id not in ids] + added
    report.checksNotRun = [n for n in report.checksNotRun if n.id not in ids]
    return report.recount()
