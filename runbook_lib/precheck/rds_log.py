"""PrePatchCompatibility.log in RDS for MySQL's numbered text shape: written by the lab, read by the
runbook; and the JSON shape of Aurora's upgrade-prechecks.log and MySQL Shell. Both parse to one model."""

from __future__ import annotations

import json
import re

from .catalog import BY_TITLE, CATALOGUE
from .model import CheckResult, PrecheckReport, Problem

END = "----------------------- END OF LOG ----------------------"


def render_rds_text(report: PrecheckReport) -> str:
    source = report.serverVersion.split("-")[0]
    lines = [f"Executing Compatibility Checks for the MySQL server at {report.serverAddress}.",
             f"Source Version: {source}, Target Version: {report.targetVersion}.", ""]
    affected = set()
    for n, check in enumerate(report.checksPerformed, 1):
        lines.append(f"{n}) {check.title}")
        if check.status != "OK":
            lines.append(f"  Check failed to run: {check.description}")
        elif not check.detectedProblems:
            lines.append("  No issues found")
        else:
            lines.append(f"  {check.description}")
            if check.documentationLink:
                lines.append(f"  More information: {check.documentationLink}")
            lines.append("")
            for p in check.detectedProblems:
                lines.append(f"  {p.dbObject} - {p.description}")
                affected.add(p.dbObject)
        lines.append("")
    lines += [f"Errors:   {report.count('Error')}", f"Warnings: {report.count('Warning')}",
              f"Notices:  {report.count('Notice')}", f"Database Objects Affected: {len(affected)}", "",
              report.summary, "", END, ""]
    return "\n".join(lines)


def _level_of(title: str, description: str) -> str:
    info = BY_TITLE.get(title)
    if info and info.level in ("Error", "Warning", "Notice"):
        return info.level
    match = re.match(r"\s*(Error|Warning|Notice)\b", description)
    return match.group(1) if match else "Warning"


def _id_of(title: str) -> str:
    info = BY_TITLE.get(title)
    if info:
        return info.id
    words = re.findall(r"[A-Za-z0-9]+", title)
    return (words[0].lower() + "".join(w.capitalize() for w in words[1:]) + "Check") if words else "unknownCheck"


def parse_rds_text(text: str) -> PrecheckReport:
    header = re.search(r"MySQL server at (\S+?)\.?\s*$", text, re.M)
    versions = re.search(r"Source Version:\s*([^,]+),\s*Target Version:\s*([^\s.]+(?:\.[0-9]+)*)", text)
    checks: list[CheckResult] = []
    current: CheckResult | None = None
    description: list[str] = []

    def close() -> None:
        if current is not None:
            current.description = " ".join(description).strip() or None
            level = _level_of(current.title, current.description or "")
            for p in current.detectedProblems:
                p.level = level  # type: ignore[assignment]
            checks.append(current)

    footer: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.rstrip()
        section = re.match(r"^\s*(\d+)\)\s+(.+)$", line)
        total = re.match(r"^\s*(Errors|Warnings|Notices|Database Objects Affected):\s*(\d+)\s*$", line)
        if section:
            close()
            title = section.group(2).strip()
            current = CheckResult(id=_id_of(title), title=title, status="OK",
                                  documentationLink=CATALOGUE[_id_of(title)].link if _id_of(title) in CATALOGUE else None)
            description = []
        elif total:
            close()
            current = None
            footer[total.group(1)] = int(total.group(2))
        elif current is None or not line.strip() or line.strip() == END:
            continue
        elif line.strip() in ("No issues found", "No issues found."):
            continue
        elif line.strip().startswith("More information:"):
            current.documentationLink = line.split(":", 1)[1].strip()
        elif line.strip().startswith("Check failed to run:"):
            current.status = "ERROR"
            description.append(line.strip().split(":", 1)[1].strip())
        elif obj := re.match(r"^\s+(\S+) - (.*)$", line):
            current.detectedProblems.append(Problem(level="Warning", dbObject=obj.group(1),
                                                    description=obj.group(2).strip()))
        else:
            description.append(line.strip())
    close()
    report = PrecheckReport(serverAddress=header.group(1) if header else "",
                            serverVersion=versions.group(1).strip() if versions else "",
                            targetVersion=versions.group(2).strip() if versions else "", checksPerformed=checks)
    report.recount()
    expected = {"Errors": report.errorCount, "Warnings": report.warningCount, "Notices": report.noticeCount}
    mismatches = {k: {"footer": footer[k], "parsed": v} for k, v in expected.items() if k in footer and footer[k] != v}
    report.footer = footer  # type: ignore[attr-defined]
    report.footerConsistent = not mismatches  # type: ignore[attr-defined]
    report.footerMismatches = mismatches  # type: ignore[attr-defined]
    return report


def parse_log(text: str) -> PrecheckReport:
    """Either format: JSON (Aurora, MySQL Shell) or RDS for MySQL's numbered text."""
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return parse_rds_text(text)
    data = json.loads(stripped[: stripped.rfind("}") + 1])
    report = PrecheckReport.from_json(data)
    footer = {k: data[f] for k, f in (("Errors", "errorCount"), ("Warnings", "warningCount"),
                                      ("Notices", "noticeCount")) if isinstance(data.get(f), int)}
    report.recount()
    parsed = {"Errors": report.errorCount, "Warnings": report.warningCount, "Notices": report.noticeCount}
    report.footer = footer  # type: ignore[attr-defined]
    report.footerMismatches = {k: {"footer": v, "parsed": parsed[k]}  # type: ignore[attr-defined]
                               for k, v in footer.items() if v != parsed[k]}
    report.footerConsistent = not report.footerMismatches  # type: ignore[attr-defined]
    return report
