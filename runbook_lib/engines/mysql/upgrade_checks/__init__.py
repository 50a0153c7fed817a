"""MySQL 5.7 -> 8.0 upgrade readiness: the checker (against a live server), the parameter-group checks,
the log reader (RDS text, MySQL Shell text and JSON, Aurora JSON) and the explanations.

The checker, the log reader and the parameter-group checks are loaded on first use, so `runbook precheck`
does not pay for the log reader's import and `runbook log explain` not for the checker's."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# `explain` names both a module and its function: bound here, before anything imports the module as an attribute
from runbook_lib.engines.mysql.upgrade_checks.explain import explain, render_text

if TYPE_CHECKING:
    from runbook_lib.engines.mysql.upgrade_checks.checker import run_prechecks as run_prechecks
    from runbook_lib.engines.mysql.upgrade_checks.model import CheckResult as CheckResult
    from runbook_lib.engines.mysql.upgrade_checks.model import ManualCheck as ManualCheck
    from runbook_lib.engines.mysql.upgrade_checks.model import NotRun as NotRun
    from runbook_lib.engines.mysql.upgrade_checks.model import PrecheckReport as PrecheckReport
    from runbook_lib.engines.mysql.upgrade_checks.model import Problem as Problem
    from runbook_lib.engines.mysql.upgrade_checks.parameter_group_checks import (
        add_parameter_group_checks as add_parameter_group_checks,
    )
    from runbook_lib.engines.mysql.upgrade_checks.rds_log import LogError as LogError
    from runbook_lib.engines.mysql.upgrade_checks.rds_log import parse_log as parse_log
    from runbook_lib.engines.mysql.upgrade_checks.rds_log import render_rds_text as render_rds_text

_WHERE = {"run_prechecks": "checker", "add_parameter_group_checks": "parameter_group_checks", "CheckResult": "model", "ManualCheck": "model", "NotRun": "model",
          "PrecheckReport": "model", "Problem": "model", "LogError": "rds_log", "parse_log": "rds_log",
          "render_rds_text": "rds_log"}
__all__ = ["CheckResult", "LogError", "ManualCheck", "NotRun", "PrecheckReport", "Problem",
           "add_parameter_group_checks", "explain", "parse_log", "render_rds_text", "render_text", "run_prechecks"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
