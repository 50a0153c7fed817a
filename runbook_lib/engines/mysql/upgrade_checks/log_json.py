"""Reads the JSON shapes of an upgrade-check report: MySQL Shell's (util.checkForServerUpgrade
outputFormat JSON, old and new check ids, 'manualChecks'), Aurora's upgrade-prechecks.log ('Summary',
'aurora*' keys) and RDS's JSON PrePatchCompatibility.log."""

from __future__ import annotations

import json
from typing import Any

from runbook_lib.engines.mysql.upgrade_checks.model import PrecheckReport


class JsonLogError(ValueError):
    """The text is JSON-ish but not a readable report; the message says why."""


def parse_json(text: str) -> PrecheckReport:
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(stripped.rstrip()) - 1 or "Unterminated" in exc.msg or "Expecting" in exc.msg and \
                exc.pos > len(stripped) * 0.9:
            raise JsonLogError(f"the JSON ends early (truncated at character {exc.pos} of {len(stripped)}: "
                               f"{exc.msg})") from None
        raise JsonLogError(f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("checksPerformed"), list):
        keys = ", ".join(sorted(data)[:8]) if isinstance(data, dict) else type(data).__name__
        raise JsonLogError(f"it is JSON but has no 'checksPerformed' list (found: {keys})")
    data = _normalise(data)
    report = PrecheckReport.from_json(data)
    footer = {name: data[key] for name, key in (("Errors", "errorCount"), ("Warnings", "warningCount"),
                                                ("Notices", "noticeCount")) if isinstance(data.get(key), int)}
    report.recount()
    report.footer = footer  # type: ignore[attr-defined]
    report.format = "aurora-json" if "auroraServerVersion" in data or "Summary" in data else "json"  # type: ignore[attr-defined]
    if len(footer) < 3:
        report.truncated = "the errorCount/warningCount/noticeCount totals are missing"  # type: ignore[attr-defined]
    return report


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Fields some writers leave out or spell differently, so the model validates."""
    data = dict(data)
    checks = []
    for check in data.get("checksPerformed", []):
        check = dict(check) if isinstance(check, dict) else {"id": "unknownCheck", "title": str(check)}
        check.setdefault("id", "unknownCheck")
        check.setdefault("title", check["id"])
        check["detectedProblems"] = [
            {**p, "level": p.get("level") if p.get("level") in ("Error", "Warning", "Notice") else "Error",
             "dbObject": str(p.get("dbObject", "")), "description": str(p.get("description") or "")}
            for p in check.get("detectedProblems") or [] if isinstance(p, dict)]
        checks.append(check)
    data["checksPerformed"] = checks
    data["manualChecks"] = [m for m in data.get("manualChecks") or [] if isinstance(m, dict) and "id" in m]
    for key in ("serverAddress", "serverVersion", "targetVersion"):
        data[key] = str(data.get(key) or "")
    return data
