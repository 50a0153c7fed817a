"""The precheck RDS runs before a major upgrade, as the lab runs it against green's own server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook_lib.engines.mysql.upgrade_checks import render_rds_text, run_prechecks
from runbook_lib.lab.dataplane.mysql import Credentials


def lab_precheck(creds: Credentials) -> Callable[[Any, str], tuple[bool, str]]:
    def check(server: Any, target_version: str) -> tuple[bool, str]:
        with server.connect() as conn:
            report = run_prechecks(conn, target_version, address=f"127.0.0.1:{server.port}")
        return report.errorCount == 0, render_rds_text(report)
    return check
