"""`runbook precheck` and `runbook log explain`, with one exit-code contract:

0 clean · 2 cannot judge (usage error, unreadable input, not a precheck log, a log that ends early or whose
footer disagrees without an error in it, cannot connect, missing privileges, a check that failed) ·
3 blocking findings (errors)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pymysql

from runbook_lib.engines.mysql.upgrade_checks.model import PrecheckReport
from runbook_lib.errors import RunbookError

EXIT_OK, EXIT_CANNOT_JUDGE, EXIT_BLOCKING = 0, 2, 3
EXIT_USAGE = EXIT_CANNOT_JUDGE
EXIT_ERRORS = EXIT_BLOCKING


class UsageError(RunbookError):
    """Bad arguments, unreadable input or no connection: exit 2."""


def connect(host: str, port: int, user: str, password: str, **options: Any) -> Any:
    """The one place a precheck connection is made (TLS options go in `options` when they come)."""
    return pymysql.connect(host=host, port=port, user=user, password=password, connect_timeout=10,
                           read_timeout=600, write_timeout=60, autocommit=True, **options)


def exit_code(report: PrecheckReport) -> int:
    """3 when anything blocks; otherwise 2 when something could not be judged; otherwise 0."""
    extra = report.extras()
    footer_errors = extra.get("footer", {}).get("Errors", 0)
    if report.errorCount or footer_errors:
        return EXIT_BLOCKING
    if report.not_run() or extra.get("truncated") or extra.get("footerMismatches") or extra.get("levelUnknown"):
        return EXIT_CANNOT_JUDGE
    return EXIT_OK


def precheck(host: str, port: int, user: str, password_env: str, target_version: str,
             parameter_group: str | None = None, params_file: str | None = None, fmt: str = "text",
             check_table: bool = False, workers: int = 2) -> tuple[int, str]:
    password = os.environ.get(password_env)
    if password is None:
        raise UsageError(f"The environment variable {password_env} (--password-env) is not set: export it with the "
                         "database password and run again.")
    if bool(parameter_group) != bool(params_file):
        raise UsageError("--parameter-group and --params go together: the parameter file says how to reach RDS.")
    options: dict[str, Any] = {}

    def more() -> Any:
        return connect(host, port, user, password, **options)
    try:
        conn = more()
    except pymysql.MySQLError as exc:
        raise UsageError(f"Cannot connect to {host}:{port} as {user}: {exc}. Check the endpoint, the port, the user "
                         f"and the password in {password_env}.") from None
    from runbook_lib.engines.mysql.upgrade_checks.checker import run_prechecks
    with conn:
        report = run_prechecks(conn, target_version, f"{host}:{port}", check_table_output=check_table,
                               connect_more=more, workers=workers)
        if parameter_group:
            from runbook_lib.aws.clients import make_clients
            from runbook_lib.aws.rds import RdsFacade
            from runbook_lib.engines.mysql.upgrade_checks.parameter_group_checks import add_parameter_group_checks
            from runbook_lib.params import load
            rds = RdsFacade(make_clients(load(str(params_file))).rds)
            group = {name: dict(value) for name, value in rds.parameters(parameter_group).items()}
            add_parameter_group_checks(report, group, parameter_group)
        if fmt == "json":
            text = json.dumps(report.to_json(), indent=2)
        else:
            from runbook_lib.engines.mysql.upgrade_checks.explain import render_text
            text = render_text(report, conn)
    return exit_code(report), text


def log_explain(path: str, fmt: str = "text") -> tuple[int, str]:
    file = Path(path)
    if file.is_dir():
        raise UsageError(f"{path} is a directory: give the log file itself (e.g. {path}/PrePatchCompatibility.log).")
    if not file.is_file():
        raise UsageError(f"No such log file: {path}. Download it first (aws rds download-db-log-file-portion "
                         "--log-file-name PrePatchCompatibility.log ...), or give the right path.")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}. Check its permissions.") from None
    from runbook_lib.engines.mysql.upgrade_checks.explain import explain, render_text
    from runbook_lib.engines.mysql.upgrade_checks.rds_log import LogError, parse_log
    try:
        report = parse_log(raw.decode("utf-8", errors="replace") if b"\x00" not in raw[:4096] else "\x00")
    except LogError as exc:
        raise UsageError(f"{path}: {exc} Give the PrePatchCompatibility.log that RDS wrote (or MySQL Shell's "
                         "util.checkForServerUpgrade output, text or JSON).") from None
    text = json.dumps(explain(report), indent=2) if fmt == "json" else render_text(report)
    return exit_code(report), text
