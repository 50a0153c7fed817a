"""MySQL 5.7 -> 8.0 upgrade readiness: the checker (against a live server) and the log model."""

from .checker import CheckResult, Problem, PrecheckReport, run_prechecks
from .rds_log import render_rds_text

__all__ = ["CheckResult", "PrecheckReport", "Problem", "render_rds_text", "run_prechecks"]
