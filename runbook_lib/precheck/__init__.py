"""MySQL 5.7 -> 8.0 upgrade readiness: the checker (against a live server), the parameter-group checks,
the log reader (RDS text and Aurora/MySQL Shell JSON) and the explanations."""

from .checker import run_prechecks
from .explain import explain, render_text
from .groups import add_parameter_group_checks
from .model import CheckResult, PrecheckReport, Problem
from .rds_log import parse_log, render_rds_text

__all__ = ["CheckResult", "PrecheckReport", "Problem", "add_parameter_group_checks", "explain", "parse_log",
           "render_rds_text", "render_text", "run_prechecks"]
