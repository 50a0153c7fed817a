"""Parameter-group checks (removedSysVars, sysVarsNewDefaults) against the target DB parameter group,
read through the RDS API as RDS's own precheck reads the configuration."""

from __future__ import annotations

from typing import Any

from .catalog import CATALOGUE, NEW_DEFAULTS, REMOVED_SYS_VARS
from .model import CheckResult, PrecheckReport, Problem


def parameter_group_checks(parameters: dict[str, dict[str, Any]], group: str) -> list[CheckResult]:
    """`parameters`: every parameter of `group` (RdsFacade.parameters)."""
    removed = [Problem(level="Error", dbObject=f"{group}.{name}",
                       description=f"{name} is set to {p.get('ParameterValue')!r} but was removed in 8.0")
               for name, p in sorted(parameters.items())
               if name in REMOVED_SYS_VARS and p.get("Source") == "user" and p.get("ParameterValue") not in (None, "")]
    defaults = [Problem(level="Warning", dbObject=f"{group}.{name}",
                        description=f"not set in the parameter group: its default becomes {value!r} in 8.0")
                for name, value in sorted(NEW_DEFAULTS.items())
                if value and (name not in parameters or parameters[name].get("Source") != "user")]
    out = []
    for check_id, problems in (("removedSysVars", removed), ("sysVarsNewDefaults", defaults)):
        info = CATALOGUE[check_id]
        out.append(CheckResult(id=check_id, title=info.title, status="OK", documentationLink=info.link,
                               description=info.description if problems else None, detectedProblems=problems))
    return out


def add_parameter_group_checks(report: PrecheckReport, parameters: dict[str, dict[str, Any]], group: str) -> PrecheckReport:
    report.checksPerformed += parameter_group_checks(parameters, group)
    return report.recount()
