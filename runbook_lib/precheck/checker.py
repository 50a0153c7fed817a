"""The 5.7 -> 8.0 checks against a live MySQL or MariaDB connection.

Each check is one set-based information_schema (or mysql.*) query, never one query per table; the few
that need more than SQL (ENUM element lengths, reserved words inside stored bodies) post-process the
rows of that one query. A check that cannot run on the connected server is reported with status ERROR
and the reason, never as passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .catalog import (CATALOGUE, MYSQL80_DICTIONARY_TABLES, OBSOLETE_SQL_MODES, REMOVED_FUNCTIONS, CheckInfo,
                      removed_call_pattern, reserved_words)
from .model import CheckResult, PrecheckReport, Problem

SYSTEM = "('mysql','information_schema','performance_schema','sys')"
Rows = list[tuple[str, str]]


class NotRunnable(Exception):
    """The check cannot run on this server (missing table, privilege, …)."""


@dataclass
class Context:
    cur: Any
    target: str
    server_version: str
    global_sql_mode: str
    is_mariadb: bool

    def rows(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        try:
            self.cur.execute(sql, args)
            return list(self.cur.fetchall())
        except Exception as exc:  # noqa: BLE001 - surfaced as "could not run"
            raise NotRunnable(str(exc)) from None


def _in(words: list[str]) -> str:
    return ",".join(f"'{w}'" for w in words)


# -- the checks ------------------------------------------------------------------------------------------
def old_temporal(ctx: Context) -> Rows:
    if not ctx.is_mariadb:
        ctx.rows("SET SESSION show_old_temporals = ON")
    found = ctx.rows(
        "SELECT CONCAT(table_schema,'.',table_name,'.',column_name), column_type FROM information_schema.columns "
        f"WHERE table_schema NOT IN {SYSTEM} AND data_type IN ('datetime','time','timestamp') AND "
        "(column_type LIKE '%5.5 binary format%' OR column_type LIKE '%mariadb-5.3%')")
    return [(obj, f"Column {obj.split('.')[-1]} is of type {ctype} in an old format") for obj, ctype in found]


_BODY_SOURCES = (
    "SELECT CONCAT(routine_schema,'.',routine_name), routine_type, routine_definition, sql_mode FROM "
    f"information_schema.routines WHERE routine_schema NOT IN {SYSTEM} UNION ALL "
    "SELECT CONCAT(trigger_schema,'.',trigger_name), 'TRIGGER', action_statement, sql_mode FROM "
    f"information_schema.triggers WHERE trigger_schema NOT IN {SYSTEM} UNION ALL "
    "SELECT CONCAT(event_schema,'.',event_name), 'EVENT', event_definition, sql_mode FROM "
    f"information_schema.events WHERE event_schema NOT IN {SYSTEM}")


def _bodies(ctx: Context) -> list[tuple[str, str, str, str]]:
    return [(str(o), str(k), str(b or ""), str(m or "")) for o, k, b, m in ctx.rows(_BODY_SOURCES)]


def _code_only(body: str) -> str:
    """The body without string literals, quoted identifiers and comments."""
    body = re.sub(r"/\*.*?\*/|--[^\n]*|#[^\n]*", " ", body, flags=re.S)
    return re.sub(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`", " ", body)


def routines_syntax(ctx: Context) -> Rows:
    words = reserved_words(ctx.target)
    pattern = re.compile(r"(?<![\w.@$])(" + "|".join(words) + r")(?![\w$])(?!\s*\()", re.I)
    out = []
    for obj, kind, body, _ in _bodies(ctx):
        code = _code_only(body)
        hits = sorted({m.group(1).upper() for m in pattern.finditer(code)})
        if hits:
            out.append((obj, f"{kind.title()} uses {', '.join(hits)} as a bare identifier; 8.0 reserves "
                             f"{'it' if len(hits) == 1 else 'them'} (approximate check)"))
    return out


def reserved_keywords(ctx: Context) -> Rows:
    w = _in(reserved_words(ctx.target))
    return [(o, d) for o, d in ctx.rows(
        f"SELECT schema_name, 'Schema name' FROM information_schema.schemata WHERE UPPER(schema_name) IN ({w}) UNION ALL "
        "SELECT CONCAT(table_schema,'.',table_name), IF(table_type='VIEW','View name','Table name') FROM "
        f"information_schema.tables WHERE table_schema NOT IN {SYSTEM} AND UPPER(table_name) IN ({w}) UNION ALL "
        "SELECT CONCAT(table_schema,'.',table_name,'.',column_name), 'Column name' FROM information_schema.columns "
        f"WHERE table_schema NOT IN {SYSTEM} AND UPPER(column_name) IN ({w}) UNION ALL "
        "SELECT CONCAT(trigger_schema,'.',trigger_name), 'Trigger name' FROM information_schema.triggers WHERE "
        f"trigger_schema NOT IN {SYSTEM} AND UPPER(trigger_name) IN ({w}) UNION ALL "
        "SELECT CONCAT(routine_schema,'.',routine_name), CONCAT(INITCAP_routine_type, ' name') FROM "
        f"information_schema.routines WHERE routine_schema NOT IN {SYSTEM} AND UPPER(routine_name) IN ({w}) UNION ALL "
        "SELECT CONCAT(event_schema,'.',event_name), 'Event name' FROM information_schema.events WHERE "
        f"event_schema NOT IN {SYSTEM} AND UPPER(event_name) IN ({w})"
        .replace("INITCAP_routine_type", "CONCAT(UPPER(LEFT(routine_type,1)), LOWER(SUBSTRING(routine_type,2)))"))]


def utf8mb3(ctx: Context) -> Rows:
    return [(o, d) for o, d in ctx.rows(
        "SELECT schema_name, CONCAT('schema''s default character set: ', default_character_set_name) FROM "
        f"information_schema.schemata WHERE schema_name NOT IN {SYSTEM} AND default_character_set_name IN "
        "('utf8','utf8mb3') UNION ALL SELECT CONCAT(table_schema,'.',table_name,'.',column_name), "
        "CONCAT('column''s default character set: ', character_set_name) FROM information_schema.columns WHERE "
        f"table_schema NOT IN {SYSTEM} AND character_set_name IN ('utf8','utf8mb3')")]


# MariaDB's own statistics tables share names with 8.0 dictionary tables; on MariaDB they are the server's,
# not the user's, so the lab does not report them (a MySQL 5.7 server has no such tables).
_MARIADB_SYSTEM_TABLES = ["index_stats", "table_stats", "column_stats"]


def mysql_schema(ctx: Context) -> Rows:
    names = [t for t in MYSQL80_DICTIONARY_TABLES if not (ctx.is_mariadb and t in _MARIADB_SYSTEM_TABLES)]
    return [(f"mysql.{t}", "Table name used in mysql schema in 8.0") for (t,) in ctx.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mysql' AND LOWER(table_name) IN "
        f"({_in(names)})")]


def non_native_partitioning(ctx: Context) -> Rows:
    return [(o, f"{engine} engine does not support native partitioning") for o, engine in ctx.rows(
        "SELECT CONCAT(table_schema,'.',table_name), engine FROM information_schema.tables WHERE table_schema NOT IN "
        f"{SYSTEM} AND create_options LIKE '%partitioned%' AND UPPER(engine) NOT IN ('INNODB','NDBCLUSTER','NDB')")]


def foreign_key_length(ctx: Context) -> Rows:
    return [(o, "Foreign key longer than 64 characters") for (o,) in ctx.rows(
        "SELECT CONCAT(constraint_schema,'.',table_name) FROM information_schema.table_constraints WHERE "
        f"constraint_type = 'FOREIGN KEY' AND constraint_schema NOT IN {SYSTEM} AND CHAR_LENGTH(constraint_name) > 64")]


def _flag_objects(ctx: Context, flags: list[str]) -> Rows:
    out = []
    for obj, kind, _, mode in _bodies(ctx):
        hit = sorted(set(mode.upper().split(",")) & set(flags))
        if hit:
            out.append((obj, f"{kind.title()} stored with sql_mode {', '.join(hit)}"))
    hit = sorted(set(ctx.global_sql_mode.upper().split(",")) & set(flags))
    if hit:
        out.append(("global.sql_mode", f"defined using obsolete {', '.join(hit)} option"))
    return out


def maxdb_flag(ctx: Context) -> Rows:
    return _flag_objects(ctx, ["MAXDB"])


def sql_mode_flags(ctx: Context) -> Rows:
    return _flag_objects(ctx, OBSOLETE_SQL_MODES)


def enum_set_length(ctx: Context) -> Rows:
    out = []
    for obj, ctype in ctx.rows(
            "SELECT CONCAT(table_schema,'.',table_name,'.',column_name), column_type FROM information_schema.columns "
            f"WHERE table_schema NOT IN {SYSTEM} AND data_type IN ('enum','set') AND CHAR_LENGTH(column_type) > 260"):
        elements = re.findall(r"'((?:[^']|'')*)'", str(ctype))
        if any(len(e.replace("''", "'")) > 255 for e in elements):
            out.append((obj, f"{str(ctype).split('(')[0].upper()} contains element longer than 255 characters"))
    return out


def partitions_in_shared_tablespace(ctx: Context) -> Rows:
    return [(o, f"Partition {p} is in tablespace {t}") for o, p, t in ctx.rows(
        "SELECT CONCAT(table_schema,'.',table_name), partition_name, tablespace_name FROM information_schema.partitions "
        f"WHERE table_schema NOT IN {SYSTEM} AND partition_name IS NOT NULL AND tablespace_name IS NOT NULL AND "
        "tablespace_name NOT IN ('innodb_file_per_table', '', 'innodb_system_placeholder')")]


def circular_directory(ctx: Context) -> Rows:
    return [(str(space), f"circular reference in datafile path: '{path}'") for space, path in ctx.rows(
        "SELECT tablespace_name, file_name FROM information_schema.files WHERE file_type = 'TABLESPACE' AND "
        "file_name LIKE '%/../%' UNION ALL SELECT space, path FROM information_schema.innodb_sys_datafiles WHERE "
        "path LIKE '%/../%'")]


def _call_regex() -> str:
    names = "|".join(sorted(REMOVED_FUNCTIONS, key=len, reverse=True))
    return rf"(^|[^A-Za-z0-9_.$])({names})[[:space:]]*\\("


def removed_functions(ctx: Context) -> Rows:
    regex = removed_call_pattern()
    sources = ctx.rows(
        "SELECT CONCAT(table_schema,'.',table_name), 'VIEW', view_definition FROM information_schema.views WHERE "
        f"table_schema NOT IN {SYSTEM} AND UPPER(view_definition) REGEXP '{_call_regex()}' UNION ALL "
        "SELECT CONCAT(table_schema,'.',table_name,'.',column_name), 'COLUMN', generation_expression FROM "
        f"information_schema.columns WHERE table_schema NOT IN {SYSTEM} AND generation_expression IS NOT NULL AND "
        f"UPPER(generation_expression) REGEXP '{_call_regex()}'")
    sources += [(o, k, b) for o, k, b, _ in _bodies(ctx)]
    out = []
    for obj, kind, body in sources:
        found = sorted({m.group(1).upper() for m in regex.finditer(_code_only(str(body or "")))})
        if found:
            advice = ", ".join(f"{f} (use {REMOVED_FUNCTIONS[f]} instead)" for f in found)
            out.append((str(obj), f"{str(kind).title()} uses removed functions {advice}"))
    return out


def group_by_asc(ctx: Context) -> Rows:
    pattern = re.compile(r"\bGROUP\s+BY\b(?:(?!\bORDER\b|\bHAVING\b|\bLIMIT\b|;|\bSELECT\b).)*?\b(ASC|DESC)\b",
                         re.I | re.S)
    return [(obj, f"{kind.title()} uses removed GROUP BY {m.group(1).upper()} syntax")
            for obj, kind, body, _ in _bodies(ctx) if (m := pattern.search(_code_only(body)))]


def zero_dates(ctx: Context) -> Rows:
    out = []
    mode = set(ctx.global_sql_mode.upper().split(","))
    missing = [m for m in ("NO_ZERO_DATE", "NO_ZERO_IN_DATE") if m not in mode]
    if missing:
        out.append(("global.sql_mode", f"does not contain {' and '.join(missing)}, which allows zero dates"))
    out += [(o, "column has zero default value: 0000-00-00") for (o,) in ctx.rows(
        "SELECT CONCAT(table_schema,'.',table_name,'.',column_name) FROM information_schema.columns WHERE "
        f"table_schema NOT IN {SYSTEM} AND data_type IN ('date','datetime','timestamp') AND "
        "(column_default LIKE '0000-00-00%' OR column_default LIKE '''0000-00-00%')")]
    return out


def schema_inconsistency(ctx: Context) -> Rows:
    return [(str(o).replace("/", "."), "present in INFORMATION_SCHEMA's INNODB_SYS_TABLES table but missing from "
             "TABLES table") for (o,) in ctx.rows(
        "SELECT DISTINCT SUBSTRING_INDEX(name, '#P#', 1) AS n FROM information_schema.innodb_sys_tables WHERE name LIKE "
        "'%/%' AND name NOT LIKE '%/FTS_%' AND name NOT LIKE '%/#sql%' AND name NOT LIKE 'mysql/%' AND "
        "name NOT LIKE 'sys/%' AND SUBSTRING_INDEX(name, '#P#', 1) NOT IN (SELECT CONCAT(table_schema, '/', table_name) "
        "FROM information_schema.tables)")]


def fts_tablename(ctx: Context) -> Rows:
    return [(o, "Table name contains 'FTS'") for (o,) in ctx.rows(
        "SELECT CONCAT(table_schema,'.',table_name) FROM information_schema.tables WHERE table_schema NOT IN "
        f"{SYSTEM} AND BINARY table_name LIKE '%FTS%'")]


def engine_mixup(ctx: Context) -> Rows:
    return [(o, f"recognized by the InnoDB engine but belongs to {e}") for o, e in ctx.rows(
        "SELECT CONCAT(t.table_schema,'.',t.table_name), t.engine FROM information_schema.innodb_sys_tables s JOIN "
        "information_schema.tables t ON s.name = CONCAT(t.table_schema,'/',t.table_name) WHERE UPPER(t.engine) <> 'INNODB'")]


def old_geometry(ctx: Context) -> Rows:
    return [(o, "Spatial data column created in MySQL 5.6") for (o,) in ctx.rows(
        "SELECT CONCAT(t.table_schema,'.',t.table_name,'.',c.name) FROM information_schema.innodb_sys_tables s JOIN "
        "information_schema.innodb_sys_columns c ON c.table_id = s.table_id JOIN information_schema.tables t ON "
        "s.name = CONCAT(t.table_schema,'/',t.table_name) JOIN information_schema.columns k ON k.table_schema = "
        "t.table_schema AND k.table_name = t.table_name AND k.column_name = c.name WHERE c.mtype = 5 AND "
        "k.data_type IN ('geometry','point','linestring','polygon','multipoint','multilinestring','multipolygon',"
        "'geometrycollection')")]


def check_table(ctx: Context) -> Rows:
    tables = ctx.rows("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                      f"AND table_schema NOT IN {SYSTEM}")
    out = []
    for schema, table in tables:
        for _, _, msg_type, text in ctx.rows(f"CHECK TABLE `{schema}`.`{table}` FOR UPGRADE"):
            if str(msg_type).lower() in ("error", "warning") or str(text) not in ("OK", "Table is already up to date"):
                out.append((f"{schema}.{table}", f"{msg_type}: {text}"))
    return out


def default_auth_plugin(ctx: Context) -> Rows:
    return [("global", "caching_sha2_password becomes the default authentication plugin: check that client "
                       "libraries support it")]


def changed_functions_in_generated_columns(ctx: Context) -> Rows:
    return [(o, f"indexed generated column uses {'CAST' if 'CAST' in str(e).upper() else 'CONVERT'}()") for o, e in ctx.rows(
        "SELECT DISTINCT CONCAT(c.table_schema,'.',c.table_name,'.',c.column_name), c.generation_expression FROM "
        "information_schema.columns c JOIN information_schema.statistics s ON s.table_schema = c.table_schema AND "
        f"s.table_name = c.table_name AND s.column_name = c.column_name WHERE c.table_schema NOT IN {SYSTEM} AND "
        "c.generation_expression IS NOT NULL AND (UPPER(c.generation_expression) LIKE '%CAST(%' OR "
        "UPPER(c.generation_expression) LIKE '%CONVERT(%')")]


def no_defaults_allowed(ctx: Context) -> Rows:
    return [(o, f"{t.upper()} column has a default value") for o, t in ctx.rows(
        "SELECT CONCAT(table_schema,'.',table_name,'.',column_name), data_type FROM information_schema.columns WHERE "
        f"table_schema NOT IN {SYSTEM} AND data_type IN ('tinyblob','blob','mediumblob','longblob','tinytext','text',"
        "'mediumtext','longtext','json','geometry','point','linestring','polygon','multipoint','multilinestring',"
        "'multipolygon','geometrycollection') AND column_default IS NOT NULL AND column_default <> 'NULL'")]


def invalid_57_names(ctx: Context) -> Rows:
    return [(o, d) for o, d in ctx.rows(
        "SELECT schema_name, 'Schema name' FROM information_schema.schemata WHERE schema_name LIKE '#mysql50#%' UNION ALL "
        "SELECT CONCAT(table_schema,'.',table_name), 'Table name' FROM information_schema.tables WHERE table_name "
        "LIKE '#mysql50#%'")]


def orphaned_routines(ctx: Context) -> Rows:
    return [(f"{db}.{name}", "is orphaned") for db, name in ctx.rows(
        "SELECT db, name FROM mysql.proc WHERE db NOT IN (SELECT schema_name FROM information_schema.schemata)")]


def dollar_sign_names(ctx: Context) -> Rows:
    cond = "LIKE '$%' AND {c} NOT LIKE '%$'"
    return [(o, d) for o, d in ctx.rows(
        f"SELECT schema_name, 'name starts with a dollar sign' FROM information_schema.schemata WHERE schema_name "
        f"{cond.format(c='schema_name')} UNION ALL SELECT CONCAT(table_schema,'.',table_name), 'name starts with a "
        f"dollar sign' FROM information_schema.tables WHERE table_schema NOT IN {SYSTEM} AND table_name "
        f"{cond.format(c='table_name')} UNION ALL SELECT CONCAT(table_schema,'.',table_name,'.',column_name), 'name "
        f"starts with a dollar sign' FROM information_schema.columns WHERE table_schema NOT IN {SYSTEM} AND "
        f"column_name {cond.format(c='column_name')} UNION ALL SELECT CONCAT(routine_schema,'.',routine_name), 'name "
        f"starts with a dollar sign' FROM information_schema.routines WHERE routine_schema NOT IN {SYSTEM} AND "
        f"routine_name {cond.format(c='routine_name')}")]


def index_too_large(ctx: Context) -> Rows:
    return [(o, f"index {i} is {b} bytes, over 767 for {f} row format") for o, i, f, b in ctx.rows(
        "SELECT CONCAT(s.table_schema,'.',s.table_name), s.index_name, t.row_format, SUM(COALESCE(s.sub_part, "
        "c.character_maximum_length) * COALESCE(cs.maxlen, 1)) AS bytes FROM information_schema.statistics s JOIN "
        "information_schema.tables t ON t.table_schema = s.table_schema AND t.table_name = s.table_name JOIN "
        "information_schema.columns c ON c.table_schema = s.table_schema AND c.table_name = s.table_name AND "
        "c.column_name = s.column_name LEFT JOIN information_schema.character_sets cs ON cs.character_set_name = "
        f"c.character_set_name WHERE s.table_schema NOT IN {SYSTEM} AND t.engine = 'InnoDB' AND t.row_format IN "
        "('Redundant','Compact') AND c.character_maximum_length IS NOT NULL GROUP BY s.table_schema, s.table_name, "
        "s.index_name, t.row_format HAVING bytes > 767")]


def empty_dot_table(ctx: Context) -> Rows:
    pattern = re.compile(r"(?:\bFROM|\bJOIN|\bINTO|\bUPDATE|,)\s+\.[A-Za-z_`]", re.I)
    return [(obj, f"{kind.title()} uses the deprecated '.<table>' syntax")
            for obj, kind, body, _ in _bodies(ctx) if pattern.search(_code_only(body))]


CHECKS: dict[str, Callable[[Context], Rows]] = {
    "oldTemporalCheck": old_temporal, "routinesSyntaxCheck": routines_syntax,
    "reservedKeywordsCheck": reserved_keywords, "utf8mb3Check": utf8mb3, "mysqlSchemaCheck": mysql_schema,
    "nonNativePartitioningCheck": non_native_partitioning, "foreignKeyLengthCheck": foreign_key_length,
    "maxdbFlagCheck": maxdb_flag, "sqlModeFlagCheck": sql_mode_flags, "enumSetElementLenghtCheck": enum_set_length,
    "partitionedTablesInSharedTablespaceCheck": partitions_in_shared_tablespace,
    "circularDirectoryCheck": circular_directory, "removedFunctionsCheck": removed_functions,
    "groupByAscCheck": group_by_asc, "zeroDatesCheck": zero_dates, "schemaInconsistencyCheck": schema_inconsistency,
    "ftsTablenameCheck": fts_tablename, "engineMixupCheck": engine_mixup, "oldGeometryCheck": old_geometry,
    "checkTableOutput": check_table, "defaultAuthenticationPlugin": default_auth_plugin,
    "changedFunctionsInGeneratedColumnsCheck": changed_functions_in_generated_columns,
    "columnsWhichCannotHaveDefaultsCheck": no_defaults_allowed, "mysqlInvalid57NamesCheck": invalid_57_names,
    "mysqlOrphanedRoutinesCheck": orphaned_routines, "mysqlDollarSignNameCheck": dollar_sign_names,
    "mysqlIndexTooLargeCheck": index_too_large, "mysqlEmptyDotTableSyntaxCheck": empty_dot_table,
}
# Checks that read the parameter group rather than the server (precheck/params.py).
PARAMETER_GROUP_CHECKS = ("removedSysVars", "sysVarsNewDefaults")


def result_for(info: CheckInfo, rows: Rows) -> CheckResult:
    level = "Warning" if info.level == "per-row" else info.level
    problems = [Problem(level=level, dbObject=obj, description=desc) for obj, desc in rows]  # type: ignore[arg-type]
    return CheckResult(id=info.id, title=info.title, status="OK", description=info.description if problems else None,
                       documentationLink=info.link, detectedProblems=problems)


def run_prechecks(conn: Any, target_version: str, address: str = "", check_table_output: bool = False,
                  timings: dict[str, float] | None = None) -> PrecheckReport:
    """Every applicable check on `conn` (a DB-API connection) for an upgrade to `target_version`."""
    import time
    with conn.cursor() as cur:
        cur.execute("SELECT @@version, @@global.sql_mode")
        server_version, sql_mode = cur.fetchone()
        ctx = Context(cur, target_version, str(server_version), str(sql_mode or ""), "mariadb" in str(server_version).lower())
        results, skipped = [], []
        for check_id, run in CHECKS.items():
            info = CATALOGUE[check_id]
            if not info.applies_to(target_version):
                skipped.append({"id": check_id, "reason": f"does not apply to target {target_version}"})
                continue
            if check_id == "checkTableOutput" and not check_table_output:
                skipped.append({"id": check_id, "reason": "opt-in (heavy: opens every table)"})
                continue
            started = time.perf_counter()
            try:
                results.append(result_for(info, run(ctx)))
            except NotRunnable as exc:
                results.append(CheckResult(id=info.id, title=info.title, status="ERROR",
                                           description=f"Check could not run on this server: {exc}",
                                           documentationLink=info.link))
            if timings is not None:
                timings[check_id] = time.perf_counter() - started
    report = PrecheckReport(serverAddress=address, serverVersion=str(server_version), targetVersion=target_version,
                            checksPerformed=results)
    report.checksNotApplicable = skipped  # type: ignore[attr-defined]
    return report.recount()
