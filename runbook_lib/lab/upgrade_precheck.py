"""The precheck RDS runs before a major upgrade, as the lab runs it against green's own server."""

from __future__ import annotations

import json
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


def aurora_precheck(server: Any, target_mysql: str, target_version: str) -> tuple[bool, str]:
    """Aurora's upgrade precheck on a cluster's writer: the same catalogue, logged as upgrade-prechecks.log in JSON
    (Aurora User Guide AuroraMySQL.upgrade-prechecks: the log's shape is the MySQL Shell upgrade checker's JSON)."""
    with server.connect() as conn:
        report = run_prechecks(conn, target_mysql, address=f"127.0.0.1:{server.port}")
    data = {"serverAddress": f"127.0.0.1:{server.port}", "targetVersion": target_mysql,
            "auroraServerVersion": target_version.split(".mysql_aurora.")[-1], **report.to_json()}
    return report.errorCount == 0, json.dumps(data, indent=2)
