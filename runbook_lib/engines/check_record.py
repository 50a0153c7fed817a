"""The record every engine's readiness rule returns: the shape of Step.check records, so a step records any engine's
rules the same way."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Result = Literal["pass", "warn", "fail"]


class CheckRecord(TypedDict):
    id: str
    result: Result
    evidence: dict[str, Any]
    remediation: str | None


def record(check_id: str, result: Result, evidence: dict[str, Any], remediation: str | None) -> CheckRecord:
    """A record; the remediation is kept only when there is something to fix."""
    return {"id": check_id, "result": result, "evidence": evidence,
            "remediation": remediation if result != "pass" else None}
