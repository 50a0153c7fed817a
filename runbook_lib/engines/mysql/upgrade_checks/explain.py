"""From findings to action: problems grouped by level, each with either one complete SQL statement that fixes
it or an explicit manual step (never a half-written statement). Views calling removed functions get the
rewritten view itself when a connection is at hand."""

from __future__ import annotations

import re
from typing import Any

from runbook_lib.engines.mysql.upgrade_checks.catalog import BY_ID, CATALOGUE, REMOVED_FUNCTIONS, REPLACEMENT_CALL
from runbook_lib.engines.mysql.upgrade_checks.model import CheckResult, PrecheckReport, Problem
from runbook_lib.engines.mysql.upgrade_checks.snapshot import split_innodb_name
from runbook_lib.engines.mysql.upgrade_checks.sqltext import quote_path, sql_string

LEVELS = ("Error", "Warning", "Notice")

# How a removed call is rewritten when its arguments change, not just its name.
_REWRITE = {"PASSWORD": lambda a: f"SHA2({a[0]}, 256)", "ENCRYPT": lambda a: f"SHA2({a[0]}, 256)",
            "ENCODE": lambda a: f"AES_ENCRYPT({', '.join(a)})", "DECODE": lambda a: f"AES_DECRYPT({', '.join(a)})",
            "DES_ENCRYPT": lambda a: f"AES_ENCRYPT({', '.join(a) if len(a) > 1 else a[0] + ', <key>'})",
            "DES_DECRYPT": lambda a: f"AES_DECRYPT({', '.join(a) if len(a) > 1 else a[0] + ', <key>'})"}


def removed_call_pattern() -> re.Pattern[str]:
    """A call of a removed function in SQL text (longest names first, not part of a longer identifier)."""
    names = "|".join(sorted(REMOVED_FUNCTIONS, key=len, reverse=True))
    return re.compile(rf"(?<![\w.$`])({names})\s*\(", re.I)


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
        replacement = _REWRITE[name](args) if name in _REWRITE and args else f"{REPLACEMENT_CALL[name]}({inner})"
        out += sql[pos: match.start()] + replacement
        pos = i
    return out + sql[pos:]


def view_fix(conn: Any, view: str) -> str | None:
    """CREATE OR REPLACE VIEW statement for `view` without removed functions (None if not a view)."""
    schema, _, name = view.partition(".")
    with conn.cursor() as cur:
        cur.execute("SELECT view_definition, security_type, definer, check_option FROM information_schema.views "
                    "WHERE table_schema = %s AND table_name = %s", (schema, name))
        row = cur.fetchone()
    if not row or not row[0]:
        return None
    definition, security, definer, check = row
    user, _, host = str(definer).partition("@")
    check_clause = f" WITH {check} CHECK OPTION" if check and check != "NONE" else ""
    return (f"CREATE OR REPLACE DEFINER={quote_path(user)}@{quote_path(host)} SQL SECURITY {security} VIEW "
            f"{quote_path(schema, name)} AS {rewrite_removed_calls(str(definition))}{check_clause}")


def _parts(obj: str) -> list[str]:
    return obj.split(".")


def _fix(check_id: str, problem: Problem, conn: Any) -> tuple[str | None, str | None]:
    """(complete SQL, None) or (None, manual step) for one finding."""
    obj, desc = problem.dbObject, problem.description
    parts = _parts(obj)
    table = quote_path(*parts[:2]) if len(parts) >= 2 else None
    column = quote_path(parts[2]) if len(parts) >= 3 else None
    cid = BY_ID.get(check_id, check_id)
    if cid == "utf8mb3Check":
        if len(parts) == 1:
            return f"ALTER DATABASE {quote_path(obj)} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;", None
        if table:
            return f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;", None
    if cid == "nonNativePartitioningCheck" and table:
        return f"ALTER TABLE {table} ENGINE=InnoDB;", None
    if cid in ("oldTemporalCheck", "oldGeometryCheck") and table:
        return f"ALTER TABLE {table} FORCE;", None
    if cid == "mysqlIndexTooLargeCheck" and table:
        return f"ALTER TABLE {table} ROW_FORMAT=DYNAMIC;", None
    if cid == "columnsWhichCannotHaveDefaultsCheck" and table and column:
        return f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT;", None
    if cid == "mysqlSchemaCheck" and table and parts[0].lower() == "mysql":
        return f"RENAME TABLE {table} TO {quote_path(parts[0], parts[1] + '_57')};", None
    if cid == "mysqlOrphanedRoutinesCheck" and len(parts) == 2:
        store = "mysql.event" if "event" in desc.lower() else "mysql.proc"
        return f"DELETE FROM {store} WHERE db = {sql_string(parts[0])} AND name = {sql_string(parts[1])};", None
    if cid == "mysqlInvalid57NamesCheck" and len(parts) == 1:
        return f"ALTER DATABASE {quote_path(obj)} UPGRADE DATA DIRECTORY NAME;", None
    if cid == "mysqlInvalidEngineForeignKeyCheck":
        ref = re.search(r"from table '([^']+)'", desc)
        if ref:
            schema, name, _ = split_innodb_name(ref.group(1))
            return f"ALTER TABLE {quote_path(schema, name)} ENGINE=InnoDB;", None
    if cid == "removedFunctionsCheck":
        found = [f for f in re.findall(r"\b([A-Z_]+)\b", desc) if f in REMOVED_FUNCTIONS]
        swaps = ", ".join(f"{f}() with {REPLACEMENT_CALL[f]}()" for f in dict.fromkeys(found)) or "the removed calls"
        if desc.upper().startswith("VIEW") and conn is not None and len(parts) == 2:
            sql = view_fix(conn, obj)
            if sql:
                return sql, None
        return None, (f"manual: recreate {obj} replacing {swaps} (the runbook rewrites views itself only when it "
                      "can read their definition: `runbook precheck` against the server)")
    if cid in ("removedSysVars", "removedSysLogVars") and len(parts) >= 2:
        group, variable = ".".join(parts[:-1]), parts[-1]
        return None, (f"manual: aws rds reset-db-parameter-group --db-parameter-group-name {group} "
                      f"--parameters ParameterName={variable},ApplyMethod=pending-reboot")
    if cid == "zeroDatesCheck" and column:
        value = "'1970-01-01'" if len(desc.rsplit(":", 1)[-1].strip()) <= 10 else "'1970-01-02 00:00:00'"
        return None, (f"manual: choose a valid default and data, e.g. ALTER TABLE {table} ALTER COLUMN {column} "
                      f"SET DEFAULT {value}; after replacing stored zero dates")
    info = CATALOGUE.get(cid)
    advice = info.remediation if info else "see the check's documentation"
    return None, "manual: " + _fill(advice, obj)


def _fill(advice: str, obj: str) -> str:
    parts = _parts(obj)
    values = {"{table}": quote_path(*parts[:2]) if len(parts) >= 2 else obj,
              "{column}": quote_path(parts[2]) if len(parts) >= 3 else "<column>",
              "{object}": obj, "{name}": obj, "{schema}": parts[0], "{variable}": parts[-1],
              "{group}": ".".join(parts[:-1]) or obj}
    return re.sub(r"\{[a-z_]+\}", lambda m: values.get(m.group(0), obj), advice)


def remediation(check: CheckResult, problem: Problem, conn: Any = None) -> dict[str, Any]:
    """{'advice': text, 'sql': one complete statement or None, 'manual': the manual step or None}."""
    sql, manual = _fix(check.id, problem, conn)
    info = CATALOGUE.get(BY_ID.get(check.id, check.id))
    advice = _fill(info.remediation, problem.dbObject) if info else "See the check's documentation."
    return {"advice": advice, "sql": sql, "manual": manual}


def explain(report: PrecheckReport, conn: Any = None) -> dict[str, Any]:
    """The report as JSON for `runbook log explain`: counts, problems with their remediation, what did not run."""
    problems = []
    for check, problem in report.problems():
        problems.append({"check": check.id, "title": check.title, "level": problem.level, "dbObject": problem.dbObject,
                         "description": problem.description, **remediation(check, problem, conn)})
    extra = report.extras()
    return {"serverAddress": report.serverAddress, "serverVersion": report.serverVersion,
            "targetVersion": report.targetVersion, "errorCount": report.errorCount,
            "warningCount": report.warningCount, "noticeCount": report.noticeCount,
            "footerConsistent": extra.get("footerConsistent", True),
            "footerMismatches": extra.get("footerMismatches", {}),
            "truncated": extra.get("truncated", False),
            "checksFailed": [{"id": c.id, "status": c.status, "reason": c.description} for c in report.not_run()],
            "checksNotRun": [n.as_dict(exclude_none=True) for n in report.checksNotRun],
            "manualChecks": [{"id": m.id, "title": m.title} for m in report.manualChecks],
            "problems": sorted(problems, key=lambda p: LEVELS.index(p["level"]))}


def render_text(report: PrecheckReport, conn: Any = None) -> str:
    data = explain(report, conn)
    lines = [f"Upgrade check of {data['serverAddress'] or 'the server'}: {data['serverVersion'] or '?'} -> "
             f"{data['targetVersion'] or '?'}: {data['errorCount']} errors, {data['warningCount']} warnings, "
             f"{data['noticeCount']} notices."]
    if data["truncated"]:
        lines.append(f"LOG TRUNCATED: {data['truncated']}. Findings after the cut are missing: download the log whole.")
    for name, m in data["footerMismatches"].items():
        lines.append(f"FOOTER MISMATCH: the log's footer says {name}: {m['footer']} but its sections hold "
                     f"{m['parsed']}; some findings were not read (or the log was edited). Read it in full.")
    for level in LEVELS:
        group = [p for p in data["problems"] if p["level"] == level]
        if not group:
            continue
        lines += ["", f"== {level}s ({len(group)})" + (" — these block the upgrade" if level == "Error" else "")]
        for check_id in dict.fromkeys(p["check"] for p in group):
            items = [p for p in group if p["check"] == check_id]
            lines.append(f"* {items[0]['title']} [{check_id}]")
            for p in items:
                lines.append(f"    {p['dbObject']}: {p['description']}")
                lines.append(f"      fix: {p['sql'] or p['manual']}")
            if any(p["sql"] for p in items):  # a manual step already says what to do
                lines.append(f"    what to do: {items[0]['advice']}")
    for c in data["checksFailed"]:
        lines.append(f"! {c['id']} could not run ({c['status']}): {c['reason']}")
    for n in data["checksNotRun"]:
        lines.append(f"- not run: {n['id']}{' (' + n['part'] + ')' if n.get('part') else ''}: {n['reason']}")
    for m in data["manualChecks"]:
        lines.append(f"- to consider by hand: {m['title']} [{m['id']}]")
    if data["errorCount"]:
        lines.append(f"BLOCKED: {data['errorCount']} error(s) would make RDS cancel the upgrade.")
    elif data["checksFailed"] or data["truncated"] or data["footerMismatches"]:
        lines.append("CANNOT JUDGE: no error was read, but the checks or the log above are incomplete.")
    else:
        lines.append("No blocking problems: nothing read here blocks the upgrade"
                     + (" (see the warnings above)." if data["warningCount"] or data["noticeCount"] else "."))
    return "\n".join(lines)
