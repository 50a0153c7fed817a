"""The check record every PostgreSQL rule returns: the same shape as Step.check records for MySQL."""

from __future__ import annotations

from typing import Any

import psycopg

from runbook_lib.engines.check_record import CheckRecord as CheckRecord
from runbook_lib.engines.check_record import Result as Result
from runbook_lib.engines.check_record import record as record

Conn = psycopg.Connection[Any]
# A parameter group as describe_db_parameters / describe_db_cluster_parameters return it, by name.
Parameters = dict[str, dict[str, Any]]


def parameter(params: Parameters | None, name: str) -> tuple[str | None, str | None]:
    """(ParameterValue, Source) of one parameter; (None, None) when the group does not list it."""
    entry = (params or {}).get(name) or {}
    value = entry.get("ParameterValue")
    return (None if value is None else str(value)), entry.get("Source")
