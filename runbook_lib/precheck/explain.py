"""From findings to action: problems grouped by level, each with a concrete remediation, SQL where one
exists (and, for views calling removed functions, the rewritten view itself)."""

from __future__ import annotations

import re
from typing import Any

from .catalog import CATALOGUE, REMOVED_FUNCTIONS, removed_call_pattern
from .model import CheckResult, PrecheckReport, Problem

LEVELS = ("Error", "Warning", "Notice")

# How a removed call is rewritten: new name and how its arguments change.
_REWRITE = {"PASSWORD": lambda a: f"SHA2({a[0]}, 256)", "ENCRYPT": lambda a: f"SHA2({a[0]}, 256)",
            "ENCODE": lambda a: f"AES_ENCRYPT({', '.join(a)})", "DECODE": lambda a: f"AES_DECRYPT({', '.join(a)})",
            "DES_ENCRYPT": lambda a: f"AES_ENCRYPT({', '.join(a) if len(a) > 1 else a[0] + ', <key>'})",
            "DES_DECRYPT": lambda a: f"AES_DECRYPT({', '.join(a) if len(a) > 1 else a[0] + ', <key>'})"}


def _q(name: str) -> str:
    return ".".join(f"`{part}`" for part in name.split("."))


def _split_args(text: str) -> list[str]:
    args, depth, current, quote = [], 0, "", ""
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        args.append(current.strip())
    return args


def rewrite_removed_calls(sql: str) -> str:
    """`sql` with calls of removed functions replaced by their 8.0 equivalents (balanced parentheses)."""
    pattern = removed_call_pattern()
    out, pos = "", 0
    while match := pattern.search(sql, pos):
        depth, i = 1, match.end()
        while i < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        inner = rewrite_removed_calls(sql[match.end(): i - 1])
        name = match.group(1).upper()
        args = _split_args(inner)
        replacement = _REWRITE[name](args) if name in _REWRITE else f"{REMOVED_FUNCTIONS[name]}({inner})"
        out += sql[pos: match.start()] + replacement
        pos = i
    return out + sql[pos:]


def view_fix(conn: Any, view: str) -> str | None:
    """CREATE OR REPLACE VIEW statement for `view` without removed functions (None if not a view)."""
    schema, name = view.split(".", 1)
    with conn.cursor() as cur:
        cur.execute("SELECT view_definition, security_type, definer, check_option FROM information_schema.views "
                    "WHERE table_schema = %s AND table_name = %s", (schema, name))
        row = cur.fetchone()
    if not row:
        return None
    definition, security, definer, check = row
    user, _, host = str(definer).partition("@")
    check_clause = f" WITH {check} CHECK OPTION" if check and check != "NONE" else ""
    return (f"CREATE OR REPLACE DEFINER=`{user}`@`{host}` SQL SECURITY {security} VIEW {_q(view)} AS "
            f"{rewrite_removed_calls(str(definition))}{check_clause}")


def remediation(check: CheckResult, problem: Problem, conn: Any = None) -> dict[str, Any]:
    """{'advice': text, 'sql': statement or None} for one finding."""
    obj = problem.dbObject
    parts = obj.split(".")
    table = _q(".".join(parts[:2])) if len(parts) >= 2 else _q(obj)
    column = f"`{parts[2]}`" if len(parts) >= 3 else ""
    sql: str | None = None
    cid = check.id
    if cid == "utf8mb3Check":
        sql = (f"ALTER DATABASE `{obj}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;" if len(parts) == 1 else
               f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;")
    elif cid == "reservedKeywordsCheck" and len(parts) == 2 and problem.description in ("Table name", "View name"):
        sql = f"RENAME TABLE {table} TO {_q(parts[0] + '.' + parts[1] + '_' + parts[0][:3])};  -- or quote it: {table}"
    elif cid == "nonNativePartitioningCheck":
        sql = f"ALTER TABLE {table} ENGINE=InnoDB;"
    elif cid in ("oldTemporalCheck", "oldGeometryCheck", "mysqlIndexTooLargeCheck"):
        sql = f"ALTER TABLE {table} FORCE;" if cid != "mysqlIndexTooLargeCheck" else f"ALTER TABLE {table} ROW_FORMAT=DYNAMIC;"
    elif cid == "columnsWhichCannotHaveDefaultsCheck" and column:
        sql = f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT;"
    elif cid == "zeroDatesCheck":
        sql = (f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT '1970-01-01 00:00:01';" if column else
               "-- set sql_mode in the parameter group to include NO_ZERO_DATE,NO_ZERO_IN_DATE (with STRICT_TRANS_TABLES)")
    elif cid == "mysqlSchemaCheck":
        sql = f"RENAME TABLE {table} TO {_q(obj + '_57')};"
    elif cid == "mysqlOrphanedRoutinesCheck":
        sql = f"DELETE FROM mysql.proc WHERE db = '{parts[0]}' AND name = '{parts[-1]}';"
    elif cid == "removedFunctionsCheck":
        if conn is not None and problem.description.startswith("View"):
            sql = view_fix(conn, obj)
        if sql is None:
            found = re.findall(r"([A-Z_]+) \(use ([A-Z_0-9]+) instead\)", problem.description)
            sql = "-- recreate " + obj + " replacing " + ", ".join(f"{a}() with {b}()" for a, b in found)
    info = CATALOGUE.get(cid)
    advice = info.remediation if info else "See the check's documentation."
    advice = re.sub(r"\{[a-z_]+\}", lambda m: {"{table}": table, "{column}": column or "<column>",
                                                 "{object}": obj, "{name}": obj, "{schema}": parts[0]}.get(m.group(0), obj),
                    advice)
    if cid == "removedFunctionsCheck":
        advice = ("Replace the removed functions (the replacement may not return the same values: PASSWORD() and "
                  "ENCRYPT() become SHA2(x, 256); ENCODE()/DECODE() become AES_ENCRYPT()/AES_DECRYPT()).")
    return {"advice": advice, "sql": sql}


def explain(report: PrecheckReport, conn: Any = None) -> dict[str, Any]:
    """The report as JSON for `runbook log explain`: counts and problems with their remediation."""
    problems = []
    for check, problem in report.problems():
        problems.append({"check": check.id, "title": check.title, "level": problem.level, "dbObject": problem.dbObject,
                         "description": problem.description, **remediation(check, problem, conn)})
    return {"serverAddress": report.serverAddress, "serverVersion": report.serverVersion,
            "targetVersion": report.targetVersion, "errorCount": report.errorCount,
            "warningCount": report.warningCount, "noticeCount": report.noticeCount,
            "footerConsistent": getattr(report, "footerConsistent", True),
            "footerMismatches": getattr(report, "footerMismatches", {}),
            "checksNotRun": [{"id": c.id, "reason": c.description} for c in report.not_run()],
            "problems": sorted(problems, key=lambda p: LEVELS.index(p["level"]))}


def render_text(report: PrecheckReport, conn: Any = None) -> str:
    data = explain(report, conn)
    lines = [f"Upgrade check of {data['serverAddress'] or 'the server'}: {data['serverVersion']} -> "
             f"{data['targetVersion']}: {data['errorCount']} errors, {data['warningCount']} warnings, "
             f"{data['noticeCount']} notices."]
    if not data["footerConsistent"]:
        lines.append(f"WARNING: the log's own totals disagree with its content: {data['footerMismatches']}")
    for level in LEVELS:
        group = [p for p in data["problems"] if p["level"] == level]
        if not group:
            continue
        lines += ["", f"== {level}s ({len(group)}) " + ("— these block the upgrade" if level == "Error" else "")]
        for check_id in dict.fromkeys(p["check"] for p in group):
            items = [p for p in group if p["check"] == check_id]
            lines.append(f"* {items[0]['title']} [{check_id}]")
            for p in items:
                lines.append(f"    {p['dbObject']}: {p['description']}")
                if p["sql"]:
                    lines.append(f"      fix: {p['sql']}")
            lines.append(f"    what to do: {items[0]['advice']}")
    for c in data["checksNotRun"]:
        lines.append(f"! {c['id']} could not run: {c['reason']}")
    if not data["problems"]:
        lines.append("No problems: nothing blocks the upgrade.")
    return "\n".join(lines)
