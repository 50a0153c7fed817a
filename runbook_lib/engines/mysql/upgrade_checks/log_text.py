"""Reads the text shapes of an upgrade-check report into the one model:

* RDS for MySQL's PrePatchCompatibility.log (numbered sections, 'obj - what' lines, footer, END OF LOG);
* MySQL Shell's text output, old formatter (8.0.x: 2-space indent, wrapped at 80 columns with 4-space
  continuation lines, 'Check failed:', 'Error   : Table (x) - ...' for checks without a description,
  manual checks as sections with only a description) and new formatter (3-space indent, '(id)' after the
  title, 'Error: obj - ...' per issue, '- item' under a group's level line).

A section's level comes from its own 'Error:/Warning:/Notice:' line (or the issue's own), never from the
title; a title the catalogue does not know is kept, with an id derived from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from runbook_lib.engines.mysql.upgrade_checks.catalog import BY_ID, CATALOGUE, info_for_title
from runbook_lib.engines.mysql.upgrade_checks.model import CheckResult, ManualCheck, PrecheckReport, Problem

END = "----------------------- END OF LOG ----------------------"
LEVELS = ("Error", "Warning", "Notice")
_SECTION = re.compile(r"^(\d+)\)\s+(.*\S)\s*$")
_TOTAL = re.compile(r"^\s*(Errors|Warnings|Notices|Database Objects Affected)\s*:\s*(\d+)\s*$")
_LEVEL_LINE = re.compile(r"^(Error|Warning|Notice)\s*:\s*(.*)$")
_NO_DESC_ISSUE = re.compile(r"^(Error|Warning|Notice)\s*:\s*(Schema|Table|Column)\s*\((.*?)\)\s*-\s*(.*)$")
_SHELL_HEADER = re.compile(r"The MySQL server at (.+?), version (.+?), will now be checked for compatibility issues "
                           r"for upgrade to MySQL (\d+(?:\.\d+)*)", re.S)
_RDS_HEADER = re.compile(r"Executing Compatibility Checks for the MySQL server at (\S+?)\.?\s*$", re.M)
_RDS_VERSIONS = re.compile(r"Source Version:\s*([^,\n]+?)\s*,\s*Target Version:\s*(\d+(?:\.\d+)*)")


@dataclass
class _Line:
    text: str
    indent: int
    blank: bool = False


@dataclass
class _Section:
    number: int
    title: str
    lines: list[_Line] = field(default_factory=list)


def looks_like_text_log(text: str) -> bool:
    return bool(_SHELL_HEADER.search(_unwrap_header(text)) or _RDS_HEADER.search(text)
                or (re.search(r"^\d+\)\s+\S", text, re.M) and re.search(r"^\s*Errors\s*:\s*\d+", text, re.M)))


def _unwrap_header(text: str) -> str:
    head: list[str] = []
    for line in text.splitlines()[:8]:
        if not line.strip():
            if head:
                break
            continue
        head.append(line.strip())
    return " ".join(head)


def _id_for(title: str) -> tuple[str, str]:
    """(check id, title without a trailing '(id)')."""
    match = re.match(r"^(.*\S)\s+\(([A-Za-z0-9]+)\)$", title)
    if match:
        return BY_ID.get(match.group(2), match.group(2)), match.group(1)
    info = info_for_title(title)
    if info:
        return info.id, title
    words = re.findall(r"[A-Za-z0-9]+", title)
    derived = (words[0].lower() + "".join(w.capitalize() for w in words[1:]) + "Check") if words else "unknownCheck"
    return derived, title


def _logical(lines: list[_Line]) -> list[_Line]:
    """Wrapped lines joined: a line indented deeper than the paragraph's first line continues it."""
    out: list[_Line] = []
    base: int | None = None
    for line in lines:
        if line.blank:
            out.append(line)
            base = None
            continue
        stripped = line.text
        starts_new = (base is None or line.indent <= base or _LEVEL_LINE.match(stripped) is not None
                      or stripped.startswith(("More information:", "- ", "Check failed:")))
        if out and not out[-1].blank and not starts_new and not out[-1].text.startswith("More information:"):
            out[-1] = _Line(f"{out[-1].text} {stripped}", out[-1].indent)
        elif out and not out[-1].blank and not starts_new:
            out.append(_Line(stripped, line.indent))  # a link under "More information:"
        else:
            out.append(_Line(stripped, line.indent))
            base = line.indent
    return out


def _problem(text: str, level: str | None) -> tuple[Problem | None, bool]:
    """(problem, whether its level was known) for one issue line."""
    match = _NO_DESC_ISSUE.match(text)
    if match:
        return Problem(level=match.group(1), dbObject=match.group(3), description=match.group(4).strip()), True  # type: ignore[arg-type]
    match = _LEVEL_LINE.match(text)
    if match and " - " in f"{match.group(2)} ":
        obj, _, desc = f"{match.group(2)} ".partition(" - ")
        return Problem(level=match.group(1), dbObject=obj.strip(), description=desc.strip()), True  # type: ignore[arg-type]
    if text.startswith("- "):
        text = text[2:]
        obj, sep, desc = text.partition(": ")
        if not sep:
            obj, _, desc = f"{text} ".partition(" - ")
    else:
        obj, _, desc = f"{text} ".partition(" - ")
    if not obj.strip():
        return None, False
    return Problem(level=level or "Warning", dbObject=obj.strip(), description=desc.strip()), level is not None  # type: ignore[arg-type]


def _read_section(section: _Section) -> tuple[CheckResult | None, ManualCheck | None, list[Problem]]:
    """The section as a check result or a manual check, and the problems whose level the section did not say."""
    cid, title = _id_for(section.title)
    info = CATALOGUE.get(cid)
    result = CheckResult(id=cid, title=title, status="OK", documentationLink=None)
    lines = _logical(section.lines)
    while lines and lines[0].blank:
        lines.pop(0)
    description: list[str] = []
    links: list[str] = []
    level: str | None = None
    unknown: list[Problem] = []
    phase = "start"        # start -> description -> issues (after a blank) -> after
    saw_no_issues = failed = in_group = False
    for line in lines:
        text = line.text
        if in_group and not line.blank and not text.startswith(("- ", "More information:")):
            continue  # the rest of a group's level line, wrapped without indentation (new formatter)
        in_group = False
        if line.blank:
            if phase == "description":
                phase = "issues"
            elif phase == "issues" and result.detectedProblems:
                phase = "after"
            continue
        if text.startswith("More information:"):
            rest = text.split(":", 1)[1].strip()
            if rest:
                links.append(rest)
            phase = "links" if phase in ("start", "description") else phase
            continue
        if re.match(r"^https?://", text):
            links.append(text)
            continue
        if phase == "links":
            phase = "issues"
        if text in ("No issues found", "No issues found."):
            saw_no_issues = True
            continue
        if text.startswith("Check failed:"):
            failed = True
            result.status = "ERROR"
            description.append(text.split(":", 1)[1].strip())
            continue
        if phase == "start":
            if _NO_DESC_ISSUE.match(text) or (text.startswith("- ") and level):
                phase = "issues"
            else:
                match = _LEVEL_LINE.match(text)
                if match and not (" - " in text and not description and _looks_like_object(match.group(2))):
                    level = match.group(1)
                description.append(text)
                phase = "description"
                continue
        if phase == "description":
            description.append(text)
            continue
        if phase == "after":
            continue  # solutions and notes after the issue list
        group = _LEVEL_LINE.match(text)
        if group and not text.startswith("- ") and " - " not in text:
            level = group.group(1)  # a group's own level line (new formatter)
            in_group = True
            continue
        problem, known = _problem(text, level or (info.level if info and info.level in LEVELS else None))
        if problem is not None:
            result.detectedProblems.append(problem)
            if not known:
                unknown.append(problem)
    text_description = " ".join(description).strip() or None
    result.description = text_description
    result.documentationLink = " ".join(links) or (info.doc if info else None)
    if failed:
        return result, None, []
    if not result.detectedProblems and not saw_no_issues and text_description:
        if level and (info is None or info.manual or cid in ("defaultAuthenticationPlugin",)):
            return None, ManualCheck(id=cid, title=title, description=text_description,
                                     documentationLink=result.documentationLink, level=level), []  # type: ignore[arg-type]
        result.status = "CONFIGURATION_ERROR"  # a description and nothing else: the check did not run
    return result, None, unknown


def _settle_levels(report: PrecheckReport, unknown: list[Problem], footer: dict[str, int]) -> None:
    """Problems whose section said no level: when the footer's totals leave room at exactly one level for all
    of them, they are at that level (so a blocking section is never read as a warning)."""
    if not unknown:
        return
    known = {lvl: report.count(lvl) - sum(1 for p in unknown if p.level == lvl) for lvl in LEVELS}
    gaps = {lvl: footer.get(f"{lvl}s", 0) - known[lvl] for lvl in LEVELS}
    fits = [lvl for lvl in LEVELS if gaps[lvl] == len(unknown)]
    if len(fits) == 1 and all(gaps[lvl] == 0 for lvl in LEVELS if lvl != fits[0]):
        for p in unknown:
            p.level = fits[0]  # type: ignore[assignment]
        unknown.clear()
    report.recount()


def _looks_like_object(text: str) -> bool:
    head = text.split(" - ", 1)[0]
    return " " not in head.strip() or head.strip().startswith(("global", "session", "@@"))


def parse_text(text: str) -> PrecheckReport:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header = _SHELL_HEADER.search(_unwrap_header(text))
    rds = _RDS_HEADER.search(text)
    versions = _RDS_VERSIONS.search(text)
    sections: list[_Section] = []
    footer: dict[str, int] = {}
    summary: list[str] = []
    current: _Section | None = None
    title_open = False
    saw_end = False
    for raw in lines:
        line = raw.rstrip()
        if line.strip() == END.strip() or re.match(r"^-{5,}\s*END OF LOG\s*-{5,}$", line.strip()):
            saw_end = True
            continue
        section = _SECTION.match(line)
        total = _TOTAL.match(line)
        if section and not line.startswith(" "):
            current = _Section(int(section.group(1)), section.group(2))
            sections.append(current)
            title_open = True
            continue
        if total:
            footer[total.group(1)] = int(total.group(2))
            current, title_open = None, False
            continue
        if current is None:
            if footer and line.strip():
                summary.append(line.strip())
            continue
        if not line.strip():
            title_open = False
            current.lines.append(_Line("", 0, blank=True))
            continue
        indent = len(line) - len(line.lstrip(" "))
        if title_open and indent == 0:
            current.title += " " + line.strip()  # a title wrapped at 80 columns (no indent)
            continue
        title_open = False
        current.lines.append(_Line(line.strip(), indent))
    report = PrecheckReport()
    unknown: list[Problem] = []
    for s in sections:
        result, manual, lost = _read_section(s)
        unknown += lost
        if result is not None:
            report.checksPerformed.append(result)
        if manual is not None:
            report.manualChecks.append(manual)
    if header:
        report.serverAddress, report.serverVersion, report.targetVersion = (header.group(1), header.group(2),
                                                                            header.group(3))
    if rds:
        report.serverAddress = rds.group(1)
    if versions:
        report.serverVersion, report.targetVersion = versions.group(1).strip(), versions.group(2).strip()
    report.recount()
    _settle_levels(report, unknown, footer)
    extra = {"footer": footer, "format": "rds-text" if rds else "shell-text", "levelUnknown": len(unknown),
             "logSummary": " ".join(summary)}
    missing = [k for k in ("Errors", "Warnings", "Notices") if k not in footer and not (k == "Notices" and rds)]
    if missing:
        extra["truncated"] = f"the footer's {', '.join(missing)} line{'s' if len(missing) > 1 else ''} " \
                             "never came (the log ends early)"
    elif rds and not saw_end:
        extra["truncated"] = "no END OF LOG line (the log ends early)"
    for key, value in extra.items():
        setattr(report, key, value)
    return report
