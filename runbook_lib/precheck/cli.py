"""`runbook precheck` and `runbook log explain`: the checker and the log reader from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pymysql

from ..errors import RunbookError
from . import add_parameter_group_checks, explain, parse_log, render_text, run_prechecks

EXIT_OK, EXIT_USAGE, EXIT_ERRORS = 0, 2, 3


class UsageError(RunbookError):
    """Bad arguments or no connection: exit 2."""


def precheck(host: str, port: int, user: str, password_env: str, target_version: str,
             parameter_group: str | None = None, params_file: str | None = None, fmt: str = "text",
             check_table: bool = False) -> tuple[int, str]:
    password = os.environ.get(password_env)
    if password is None:
        raise UsageError(f"The environment variable {password_env} (--password-env) is not set.")
    if bool(parameter_group) != bool(params_file):
        raise UsageError("--parameter-group and --params go together: the parameter file says how to reach RDS.")
    try:
        conn = pymysql.connect(host=host, port=port, user=user, password=password, connect_timeout=10,
                               read_timeout=600, autocommit=True)
    except pymysql.MySQLError as exc:
        raise UsageError(f"Cannot connect to {host}:{port} as {user}: {exc}") from None
    with conn:
        report = run_prechecks(conn, target_version, f"{host}:{port}", check_table_output=check_table)
        if parameter_group:
            from ..aws import make_clients
            from ..params import load
            from ..rds import RdsFacade
            rds = RdsFacade(make_clients(load(params_file)).rds)
            add_parameter_group_checks(report, rds.parameters(parameter_group), parameter_group)
        text = json.dumps(report.to_json(), indent=2) if fmt == "json" else render_text(report, conn)
    return (EXIT_ERRORS if report.errorCount else EXIT_OK), text


def log_explain(path: str, fmt: str = "text") -> tuple[int, str]:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"No such log file: {path}")
    report = parse_log(file.read_text(errors="replace"))
    text = json.dumps(explain(report), indent=2) if fmt == "json" else render_text(report)
    return (EXIT_ERRORS if report.errorCount else EXIT_OK), text
