"""The check record every PostgreSQL rule returns: the same shape as Step.check records for MySQL."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import psycopg

Result = Literal["pass", "warn", "fail"]
Conn = psycopg.Connection[Any]
# A parameter group as describe_db_parameters / describe_db_cluster_parameters return it, by name.
Parameters = dict[str, dict[str, Any]]


class CheckRecord(TypedDict):
    id: str
    result: Result
    evidence: dict[str, Any]
    remediation: str | None


def record(check_id: str, result: Result, evidence: dict[str, Any], remediation: str | None) -> CheckRecord:
    """A record; the remediation is kept only when there is something to fix."""
    return {"id": check_id, "result": result, "evidence": evidence,
            "remediation": remediation if result != "pass" else None}


def parameter(params: Parameters | None, name: str) -> tuple[str | None, str | None]:
    """(ParameterValue, Source) of one parameter; (None, None) when the group does not list it."""
    entry = (params or {}).get(name) or {}
    value = entry.get("ParameterValue")
    return (None if value is None else str(value)), entry.get("Source")
