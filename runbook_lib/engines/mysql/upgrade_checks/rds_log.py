"""PrePatchCompatibility.log: written in RDS for MySQL's numbered text shape (the lab's RDS writes it), and
read back from any shape a real log comes in (log_text.py, log_json.py). parse_log refuses what is not a
precheck log and marks a log that ends early, so a bad input never reads as "no problems"."""

from __future__ import annotations

from runbook_lib.engines.mysql.upgrade_checks.log_json import JsonLogError, parse_json
from runbook_lib.engines.mysql.upgrade_checks.log_text import END, looks_like_text_log, parse_text
from runbook_lib.engines.mysql.upgrade_checks.model import PrecheckReport
from runbook_lib.errors import RunbookError


class LogError(RunbookError):
    """The input is not an upgrade-check log (or cannot be read as one)."""


def render_rds_text(report: PrecheckReport) -> str:
    source = report.serverVersion.split("-")[0]
    lines = [f"Executing Compatibility Checks for the MySQL server at {report.serverAddress}.",
             f"Source Version: {source}, Target Version: {report.targetVersion}.", ""]
    affected = set()
    n = 0
    for check in report.checksPerformed:
        n += 1
        lines.append(f"{n}) {check.title}")
        if check.status != "OK":
            lines.append(f"  Check failed: {check.description}")
        elif not check.detectedProblems:
            lines.append("  No issues found")
        else:
            lines.append(f"  {check.description or check.detectedProblems[0].level + ':'}")
            if check.documentationLink:
                lines.append(f"  More information: {check.documentationLink}")
            lines.append("")
            stated = (check.description or "").split(":", 1)[0]
            for p in check.detectedProblems:
                own = f"{p.level}: " if p.level != stated else ""  # a level other than the section's, said per line
                lines.append(f"  {own}{p.dbObject} - {p.description}")
                affected.add(p.dbObject)
        lines.append("")
    for manual in report.manualChecks:
        n += 1
        lines += [f"{n}) {manual.title}", f"  {manual.description}"]
        if manual.documentationLink:
            lines.append(f"  More information: {manual.documentationLink}")
        lines.append("")
    lines += [f"Errors:   {report.count('Error')}", f"Warnings: {report.count('Warning')}",
              f"Notices:  {report.count('Notice')}", f"Database Objects Affected: {len(affected)}", "",
              report.summary, "", END, ""]
    return "\n".join(lines)


def refuse_reason(data: bytes | str) -> str | None:
    """Why this cannot be a precheck log before parsing it (empty, binary), or None."""
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    if not raw.strip():
        return "it is empty"
    sample = raw[:4096]
    if b"\x00" in sample:
        return "it is binary (it contains NUL bytes)"
    text = sample.decode("utf-8", errors="replace")
    odd = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\r\t\f"))
    if odd > max(8, len(text) // 50):
        return "it is binary (not UTF-8 text)"
    return None


def parse_log(text: str) -> PrecheckReport:
    """Any shape: RDS text, MySQL Shell text, Shell/RDS JSON, Aurora JSON. Raises LogError for an input that is
    not a precheck log; a log that ends early parses with `truncated` set; footer totals are cross-checked."""
    reason = refuse_reason(text)
    if reason:
        raise LogError(f"This is not an upgrade precheck log: {reason}.")
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            report = parse_json(stripped)
        except JsonLogError as exc:
            raise LogError(f"This is not a readable upgrade precheck log: {exc}.") from None
    elif looks_like_text_log(stripped):
        report = parse_text(stripped)
    else:
        first = stripped.splitlines()[0][:80] if stripped.splitlines() else ""
        raise LogError("This is not an upgrade precheck log: it has neither the JSON shape (checksPerformed) nor "
                       "the text shape (a 'Executing Compatibility Checks ...' or 'The MySQL server at ... will now "
                       f"be checked ...' header, numbered sections and an Errors/Warnings footer); it starts with "
                       f"{first!r}.")
    _cross_check(report)
    return report


def _cross_check(report: PrecheckReport) -> None:
    extra = report.extras()
    footer: dict[str, int] = extra.get("footer", {})
    parsed = {"Errors": report.errorCount, "Warnings": report.warningCount, "Notices": report.noticeCount}
    mismatches = {k: {"footer": footer[k], "parsed": v} for k, v in parsed.items() if k in footer and footer[k] != v}
    report.footerMismatches = mismatches  # type: ignore[attr-defined]
    report.footerConsistent = not mismatches  # type: ignore[attr-defined]
    report.truncated = extra.get("truncated", False)  # type: ignore[attr-defined]
