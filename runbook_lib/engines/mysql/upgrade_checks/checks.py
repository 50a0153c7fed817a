"""The checks, each a function of the snapshot: the MySQL Shell 8.0.40 registry's checks that apply to a
5.7 -> 8.0 upgrade, the newer Shell checks that also apply to it, and RDS's own additions.

Each check names the sources it reads (so a source that could not be read makes the check 'not run' or
'failed', never 'passed') and the global privileges it needs (so a check information_schema would silently
starve is reported as not run for that reason). Detection follows the Shell's logic; where ours differs,
docs/precheck-parity.md says how.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from runbook_lib.engines.mysql.upgrade_checks.catalog import (
    AUTH_FEATURES,
    DEPRECATED_AUTH,
    MYSQL80_DICTIONARY_TABLES,
    OBSOLETE_SQL_MODES,
    PLUGIN_FEATURES,
    REMOVED_FUNCTIONS,
    RESERVED_BY_VERSION,
    feature_level,
    reserved_words,
    version_key,
)
from runbook_lib.engines.mysql.upgrade_checks.snapshot import Body, Column, Snapshot
from runbook_lib.engines.mysql.upgrade_checks.sqltext import (
    empty_dot_tables,
    function_calls,
    group_by_direction,
    tokens,
)


@dataclass(frozen=True)
class Upgrade:
    source: str
    target: str


@dataclass(frozen=True)
class Finding:
    dbObject: str
    description: str
    level: str | None = None     # None: the check's level


Found = list[Finding]
CheckFn = Callable[[Snapshot, Upgrade], Found]


@dataclass(frozen=True)
class Check:
    fn: CheckFn
    sources: tuple[str, ...]
    privileges: tuple[str, ...] = ("SELECT",)
    mariadb_note: str | None = None    # why the check cannot apply on MariaDB (it is then 'not run')


NOT_SYS = ("information_schema", "performance_schema", "sys")
NOT_SYS_MYSQL = (*NOT_SYS, "mysql")
_GEOMETRY = ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
             "geometrycollection", "geomcollection")


def _user(snap: Snapshot, schema: str, exclude: tuple[str, ...] = NOT_SYS) -> bool:
    """A schema whose objects a 5.7 server would carry into the upgrade (on MariaDB, its own mysql schema is
    the server's, not the application's)."""
    return schema not in exclude and not (snap.is_mariadb and schema == "mysql")


def _obj(*parts: str) -> str:
    return ".".join(parts)


def _bodies(snap: Snapshot, kinds: tuple[str, ...], exclude: tuple[str, ...] = NOT_SYS) -> list[Body]:
    return [b for b in snap.bodies if b.kind in kinds and b.schema not in exclude]


_PROGRAMS = ("PROCEDURE", "FUNCTION", "TRIGGER", "EVENT")


_NO_DEFAULT_TYPES = ("point", "linestring", "polygon", "geometry", "multipoint", "multilinestring", "multipolygon",
                     "geometrycollection", "geomcollection", "json", "tinyblob", "blob", "mediumblob", "longblob",
                     "tinytext", "text", "mediumtext", "longtext")


@dataclass
class Buckets:
    """The few columns each column check looks at, sorted out in one pass over all columns."""

    temporal: list[Column]
    named: list[Column]          # names that are reserved words (any 8.0 release) or start with '$'
    utf8: list[Column]
    enum_set: list[Column]
    generated: list[Column]
    zero_default: list[Column]
    no_default_type: list[Column]
    long: dict[tuple[str, str, str], int]
    stored: dict[tuple[str, str], int]


_ALL_RESERVED = {w for words in RESERVED_BY_VERSION.values() for w in words}


def buckets(snap: Snapshot) -> Buckets:
    cached = snap.derived.get("buckets")
    if isinstance(cached, Buckets):
        return cached
    b = Buckets([], [], [], [], [], [], [], {}, {})
    temporal, named, utf8, enum_set = b.temporal, b.named, b.utf8, b.enum_set
    generated, zero_default, no_default, long, stored = (b.generated, b.zero_default, b.no_default_type, b.long,
                                                         b.stored)
    reserved, no_default_types = _ALL_RESERVED, set(_NO_DEFAULT_TYPES)
    for c in snap.columns:
        dt = c.data_type
        if dt in ("datetime", "time", "timestamp", "date"):
            ctype = c.column_type
            if dt != "date" and ("5.5 binary format" in ctype or "mariadb-5.3" in ctype):
                temporal.append(c)
            if c.default and c.default.strip("'").startswith("0000-00-00"):
                zero_default.append(c)
        elif dt == "enum" or dt == "set":
            if (c.max_length or 0) > 255:
                enum_set.append(c)
        elif dt in no_default_types and c.default is not None:
            no_default.append(c)
        name = c.name
        if name[:1] == "$" or name.upper() in reserved:
            named.append(c)
        charset = c.charset
        if charset is not None and charset[:4].lower() == "utf8" and charset.lower() in ("utf8", "utf8mb3"):
            utf8.append(c)
        if c.generation:
            generated.append(c)
        octets = c.octet_length
        if octets is not None and octets > 767:
            long[(c.schema, c.table, name)] = octets
        if not c.extra or "VIRTUAL" not in c.extra.upper():
            key = (c.schema, c.table)
            stored[key] = stored.get(key, 0) + 1
    snap.derived["buckets"] = b
    return b


# -- object definitions -----------------------------------------------------------------------------------
def old_temporal(snap: Snapshot, up: Upgrade) -> Found:
    return [Finding(_obj(c.schema, c.table, c.name), c.column_type) for c in buckets(snap).temporal
            if (t := snap.table(c.schema, c.table)) is not None and t.type == "BASE TABLE"]


def routines_syntax(snap: Snapshot, up: Upgrade) -> Found:
    from runbook_lib.engines.mysql.upgrade_checks import (
        routine_syntax,  # loaded only here: most of its cost is for its measured fallbacks
    )
    out = []
    words = reserved_words(up.target, up.source)
    for body in snap.bodies:
        if body.kind not in _PROGRAMS or body.schema == "sys":
            continue
        problem = routine_syntax.check(body.create or body.text, words)
        if problem:
            out.append(Finding(_obj(body.schema, body.name), problem))
    return out


def reserved_keywords(snap: Snapshot, up: Upgrade) -> Found:
    words = set(reserved_words(up.target, up.source))

    def hit(name: str) -> bool:
        return name.upper() in words
    out = [Finding(s, "Schema name") for s in sorted(snap.schemas) if hit(s)]
    out += [Finding(_obj(t.schema, t.name), "Table name") for t in snap.tables if t.type != "VIEW" and hit(t.name)]
    out += [Finding(_obj(c.schema, c.table, c.name), "Column name") for c in buckets(snap).named if hit(c.name)]
    names = {"TRIGGER": "Trigger name", "VIEW": "View name", "PROCEDURE": "Routine name", "FUNCTION": "Routine name",
             "EVENT": "Event name"}
    out += [Finding(_obj(b.schema, b.name), names[b.kind]) for b in snap.bodies if hit(b.name)]
    return out


def utf8mb3(snap: Snapshot, up: Upgrade) -> Found:
    out = [Finding(s, f"schema's default character set: {cs}") for s, cs in sorted(snap.schemas.items())
           if s not in NOT_SYS and cs.lower() in ("utf8", "utf8mb3")]
    out += [Finding(_obj(c.schema, c.table, c.name), f"column's default character set: {c.charset}")
            for c in buckets(snap).utf8 if c.schema not in NOT_SYS_MYSQL]
    return out


# MariaDB's own engine-independent statistics tables carry two of these names; on MariaDB they are the server's.
_MARIADB_OWN = {"table_stats", "index_stats"}


def mysql_schema(snap: Snapshot, up: Upgrade) -> Found:
    names = set(MYSQL80_DICTIONARY_TABLES) - (_MARIADB_OWN if snap.is_mariadb else set())
    return [Finding(_obj(t.schema, t.name), "Table name used in mysql schema.") for t in snap.tables
            if t.schema.lower() == "mysql" and t.name.lower() in names]


def non_native_partitioning(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for (schema, name), options in sorted(snap.table_options.items()):
        table = snap.table(schema, name)
        engine = (table.engine if table else None) or ""
        if "partitioned" in options.lower() and engine.upper() not in ("INNODB", "NDB", "NDBCLUSTER"):
            out.append(Finding(_obj(schema, name), f"{engine} engine does not support native partitioning"))
    return out


def foreign_key_length(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for fk in snap.foreign_keys:
        if len(fk.id.split("/", 1)[-1]) > 64:
            schema, table = _split(fk.for_name)
            out.append(Finding(_obj(schema, table), "Foreign key longer than 64 characters"))
    return list(dict.fromkeys(out))


def _split(innodb_name: str) -> tuple[str, str]:
    from runbook_lib.engines.mysql.upgrade_checks.snapshot import split_innodb_name
    schema, table, _ = split_innodb_name(innodb_name)
    return schema, table


def _mode_flags(snap: Snapshot, flags: list[str]) -> Found:
    out = []
    for flag in flags:
        for b in snap.bodies:
            if b.kind in _PROGRAMS and flag in b.sql_mode.upper().split(","):
                kind = b.kind if b.kind in ("TRIGGER", "EVENT") else b.kind
                out.append(Finding(_obj(b.schema, b.name), f"{kind} uses obsolete {flag} sql_mode"))
        if flag in snap.global_sql_mode.upper().split(","):
            out.append(Finding("@@global.sql_mode", f"defined using obsolete {flag} option"))
    return out


def maxdb_flag(snap: Snapshot, up: Upgrade) -> Found:
    return _mode_flags(snap, ["MAXDB"])


def sql_mode_flags(snap: Snapshot, up: Upgrade) -> Found:
    return _mode_flags(snap, OBSOLETE_SQL_MODES)


def _quoted_elements(column_type: str) -> list[str]:
    return [e.replace("''", "'") for e in re.findall(r"'((?:[^']|'')*)'", column_type)]


def enum_set_length(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for c in buckets(snap).enum_set:
        if c.data_type == "set" and not any(len(e) > 255 for e in _quoted_elements(c.column_type)):
            continue  # a SET's maximum length is all its elements together; only a long element counts
        out.append(Finding(_obj(c.schema, c.table, c.name), f"{c.data_type.upper()} contains element longer than "
                                                            "255 characters"))
    return out


def partitions_in_shared_tablespace(snap: Snapshot, up: Upgrade) -> Found:
    return [Finding(_obj(t.schema, t.table), f"Partition {t.partition} is in shared tablespace "
                                             f"{'innodb_system' if t.space == 0 else t.space_type or t.space}")
            for t in snap.innodb if t.partition and t.space_type and t.space_type != "Single"]


def circular_directory(snap: Snapshot, up: Upgrade) -> Found:
    return [Finding(name, f"circular reference in datafile path: '{path}'") for name, path in snap.files
            if re.search(r"[^.]/\.\./|[^.]\\\.\.\\", path)]


# A word before '(' (one scan; an alternation of 72 names with a look-behind was 4x slower per body)
_CALL_HINT = re.compile(r"[\w$]+(?=\s*\()")


def _removed_calls(text: str) -> list[str]:
    if not any(w.upper() in REMOVED_FUNCTIONS for w in _CALL_HINT.findall(text)):  # nothing to lex
        return []
    return list(dict.fromkeys(f for f in function_calls(text) if f in REMOVED_FUNCTIONS))


def removed_functions_description(kind: str, found: list[str]) -> str:
    parts = [f"{f} (consider using {REMOVED_FUNCTIONS[f]} instead)" if REMOVED_FUNCTIONS[f] else f for f in found]
    return f"{kind} uses removed function{'s' if len(found) > 1 else ''} " + ", ".join(parts)


def removed_functions(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for b in _bodies(snap, ("VIEW", *_PROGRAMS)):
        found = _removed_calls(b.text)
        if found:
            out.append(Finding(_obj(b.schema, b.name), removed_functions_description(b.kind, found)))
    for c in buckets(snap).generated:
        if c.schema not in NOT_SYS:
            found = _removed_calls(c.generation or "")
            if found:
                out.append(Finding(_obj(c.schema, c.table, c.name), removed_functions_description("COLUMN", found)))
    return out


def group_by_asc(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for b in _bodies(snap, ("VIEW", *_PROGRAMS)):
        direction = group_by_direction(b.text)
        if direction:
            out.append(Finding(_obj(b.schema, b.name), f"{b.kind} uses removed GROUP BY {direction} syntax"))
    return out


def _no_zero_dates(mode: str) -> bool:
    return "NO_ZERO_IN_DATE" in mode.upper() and "NO_ZERO_DATE" in mode.upper()


def zero_dates(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    if not _no_zero_dates(snap.global_sql_mode):
        out.append(Finding("global.sql_mode", "lacks NO_ZERO_DATE or NO_ZERO_IN_DATE, so zero dates can be inserted"))
    if snap.session_modes is not None:
        lacking = sum(1 for m in snap.session_modes if not _no_zero_dates(m))
        if lacking:
            out.append(Finding("session.sql_mode", f"of {lacking} session(s) lacks NO_ZERO_DATE or NO_ZERO_IN_DATE"))
    for c in buckets(snap).zero_default:
        default = (c.default or "").strip("'")
        if c.schema not in NOT_SYS_MYSQL:
            out.append(Finding(_obj(c.schema, c.table, c.name), f"column has zero default value: {default}"))
    return out


def schema_inconsistency(snap: Snapshot, up: Upgrade) -> Found:
    exact = {(t.schema, t.name) for t in snap.tables}
    known: set[tuple[str, str]] | None = None     # lower-cased, built only when a name is not found as it is
    out = []
    for t in snap.innodb:
        if (t.schema, t.table) in exact or t.table[:5].upper() == "FTS_0":
            continue
        if known is None:
            known = {(s.lower(), n.lower()) for s, n in exact}
        if (t.schema.lower(), t.table.lower()) in known:
            continue
        out.append(Finding(_obj(t.schema, t.table), "present in INFORMATION_SCHEMA's INNODB_SYS_TABLES table but "
                                                    "missing from TABLES table"))
    return list(dict.fromkeys(out))


def fts_tablename(snap: Snapshot, up: Upgrade) -> Found:
    return [Finding(_obj(t.schema, t.name), "table name contains 'FTS'") for t in snap.tables
            if "FTS" in t.name and t.schema not in NOT_SYS]


def engine_mixup(snap: Snapshot, up: Upgrade) -> Found:
    if not any(t.engine and t.engine.lower() != "innodb" and t.schema not in NOT_SYS for t in snap.tables):
        return []   # every table is InnoDB (the common case): no dictionary sets to build
    innodb = {(t.schema.lower(), t.raw.split("/", 1)[-1].split("#", 1)[0].lower()) for t in snap.innodb}
    innodb |= {(t.schema.lower(), t.table.lower()) for t in snap.innodb}
    return [Finding(_obj(t.schema, t.name), f"recognized by the InnoDB engine but belongs to {t.engine}")
            for t in snap.tables if t.engine and t.engine.lower() != "innodb"
            and (t.schema.lower(), t.name.lower()) in innodb and t.schema not in NOT_SYS]


def old_geometry(snap: Snapshot, up: Upgrade) -> Found:
    by_id = {t.table_id: t for t in snap.innodb}
    types = {(c.schema, c.table, c.name): c.data_type for c in snap.columns if c.data_type in _GEOMETRY}
    out = []
    for tid, cols in snap.innodb_columns.items():
        t = by_id.get(tid)
        for name, mtype in cols:
            data_type = types.get((t.schema, t.table, name)) if t else None
            if t and mtype == 5 and data_type in _GEOMETRY:
                out.append(Finding(_obj(t.schema, t.table, name), f"{data_type} column"))
    return out


def changed_functions_in_generated_columns(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for c in buckets(snap).generated:
        if not c.generation or c.schema in NOT_SYS_MYSQL:
            continue
        indexed = {col for _, col, _ in snap.statistics.get((c.schema, c.table), [])}
        if c.name in indexed and {"CAST", "CONVERT"} & set(function_calls(c.generation)):
            out.append(Finding(_obj(c.schema, c.table, c.name), c.generation.upper()))
    return out


def no_defaults_allowed(snap: Snapshot, up: Upgrade) -> Found:
    # MariaDB writes a NULL default as the word NULL; MySQL as SQL NULL.
    return [Finding(_obj(c.schema, c.table, c.name), c.data_type) for c in buckets(snap).no_default_type
            if _user(snap, c.schema)
            and not (snap.is_mariadb and c.default == "NULL")]


def invalid_57_names(snap: Snapshot, up: Upgrade) -> Found:
    out = [Finding(s, "Schema name") for s in sorted(snap.schemas) if s.startswith("#mysql50#")]
    return out + [Finding(_obj(t.schema, t.name), "Table name") for t in snap.tables if t.name.startswith("#mysql50#")]


def orphaned_routines(snap: Snapshot, up: Upgrade) -> Found:
    return [Finding(_obj(b.schema, b.name), "is orphaned" if b.kind != "EVENT" else "event is orphaned")
            for b in snap.bodies if b.kind in ("PROCEDURE", "FUNCTION", "EVENT") and b.schema not in snap.schemas]


def _dollar(name: str) -> bool:
    return len(name) >= 2 and name.startswith("$") and not (name.endswith("$") and len(name) >= 3)


def dollar_sign_names(snap: Snapshot, up: Upgrade) -> Found:
    out = [Finding(s, "name starts with a $ sign.") for s in sorted(snap.schemas) if _dollar(s)]
    out += [Finding(_obj(t.schema, t.name), "name starts with $ sign.") for t in snap.tables
            if t.schema not in NOT_SYS_MYSQL and _dollar(t.name)]
    out += [Finding(_obj(c.schema, c.table, c.name), "name starts with $ sign.") for c in buckets(snap).named
            if c.schema not in NOT_SYS_MYSQL and _dollar(c.name)]
    by_id = {t.table_id: t for t in snap.innodb}
    indexes = {(by_id[tid].schema, by_id[tid].table, name) for tid, name in snap.dollar_indexes if tid in by_id}
    indexes |= {(s, t, i) for (s, t), rows in snap.statistics.items() for i, _, _ in rows}
    out += [Finding(_obj(s, t, i), "starts with $ sign.") for s, t, i in sorted(indexes)
            if s not in NOT_SYS_MYSQL and _dollar(i)]
    for b in _bodies(snap, ("PROCEDURE", "FUNCTION"), NOT_SYS_MYSQL):
        if _dollar(b.name):
            out.append(Finding(_obj(b.schema, b.name), "name starts with $ sign."))
        elif "$" in b.text and any(t.kind == "word" and _dollar(t.text) for t in tokens(b.text)):
            out.append(Finding(_obj(b.schema, b.name), "body contains identifiers that start with $ sign."))
    return out


def index_too_large(snap: Snapshot, up: Upgrade) -> Found:
    compact = {(t.schema, t.table) for t in snap.innodb if t.row_format in ("Compact", "Redundant")}
    octets = buckets(snap).long
    out = []
    for key, rows in sorted(snap.statistics.items()):
        if key not in compact:
            continue
        for index, column, sub_part in rows:
            if (sub_part is None or sub_part > 255) and octets.get((*key, column), 0) > 767:
                out.append(Finding(_obj(*key, index), "index too large."))
    return list(dict.fromkeys(out))


def empty_dot_table(snap: Snapshot, up: Upgrade) -> Found:
    words = {"PROCEDURE": "routine", "FUNCTION": "routine", "TRIGGER": "trigger", "EVENT": "event"}
    return [Finding(_obj(b.schema, b.name), f"{words[b.kind]} body contains deprecated identifiers.")
            for b in _bodies(snap, _PROGRAMS, NOT_SYS_MYSQL) if empty_dot_tables(b.text)]


def invalid_engine_foreign_key(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for fk in snap.foreign_keys:
        child, parent = snap.table(*_split(fk.for_name)), snap.table(*_split(fk.ref_name))
        if child is None or parent is None or (child.engine or "").lower() == (parent.engine or "").lower():
            continue  # a missing referenced table is another problem (foreign_key_checks=0), not this one
        out.append(Finding(_obj(child.schema, child.name, ",".join(fk.columns)),
                           f"column has invalid foreign key to column '{','.join(fk.ref_columns)}' from table "
                           f"'{fk.ref_name}' that is from a different database engine ({parent.engine})."))
    return out


# -- accounts, plugins, variables ---------------------------------------------------------------------------
def _auth_item(value: str, up: Upgrade) -> tuple[str, str] | None:
    if value == "authentication_fido":
        t = version_key(up.target)
        if t < (8, 0, 27):
            return "Error", "authentication_fido was introduced in 8.0.27 and does not exist in the target."
        if t < (8, 4, 0):
            return ("Notice" if t < (8, 2, 0) else "Warning",
                    "authentication_fido is deprecated as of 8.2; authentication_webauthn replaces it.")
        return "Error", "authentication_fido was replaced by authentication_webauthn in 8.4.0."
    if version_key(up.target) < (8, 4, 0):
        return "Warning", f"{value} authentication method is deprecated; correct this before upgrading to 8.4.0."
    return "Error", f"{value} authentication method was removed in 8.4.0 and must be corrected."


def deprecated_default_auth(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for var in ("default_authentication_plugin", "authentication_policy"):
        for value in (v.strip() for v in snap.variables.get(var, "").split(",")):
            item = _auth_item(value, up) if value in DEPRECATED_AUTH else None
            if item:
                out.append(Finding(var, item[1], item[0]))
    return out


def deprecated_router_auth(snap: Snapshot, up: Upgrade) -> Found:
    level = "Error" if version_key(up.target) >= (8, 4, 0) else "Warning"
    return [Finding(f"{u}@{h}", "router user with deprecated authentication method.", level)
            for u, h, p in snap.users if u.startswith("mysql_router") and p in DEPRECATED_AUTH]


def _feature_text(name: str, level: str, feature: tuple[str | None, str | None, str | None, str], what: str) -> str:
    _, deprecated, removed, replacement = feature
    if level == "Error":
        return f"{what} '{name}' is removed as of {removed}; use {replacement}."
    if level == "Warning":
        return f"{what} '{name}' is deprecated as of {deprecated} and will be removed; consider {replacement}."
    return f"{what} '{name}' will be deprecated as of {deprecated}; consider {replacement}."


def auth_method_usage(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for user, host, plugin in snap.users:
        feature = AUTH_FEATURES.get(plugin)
        level = feature_level(feature, up.source, up.target) if feature and not user.startswith("mysql_router") \
            else None
        if feature and level:
            out.append(Finding(f"{user}@{host}", _feature_text(plugin, level, feature, "authentication method"), level))
    return out


def plugin_usage(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for plugin in snap.plugins:
        feature = PLUGIN_FEATURES.get(plugin)
        level = feature_level(feature, up.source, up.target) if feature else None
        if feature and level:
            out.append(Finding(plugin, _feature_text(plugin, level, feature, "plugin"), level))
    return out


_DATE = r"'[0-9]{4}-[0-9]{2}-[0-9]{2}'"
_TIME = r"'[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?'"


def _split_list(text: str, quote: str) -> list[str]:
    """Split at commas outside `quote`-quoted parts."""
    out, current, inside = [], "", False
    for ch in text:
        if ch == quote:
            inside = not inside
        if ch == "," and not inside:
            out.append(current.strip())
            current = ""
            continue
        current += ch
    return out + [current.strip()]


def deprecated_temporal_delimiter(snap: Snapshot, up: Upgrade) -> Found:
    types = {(c.schema, c.table, c.name): c.column_type.lower() for c in snap.columns
             if (c.schema, c.table) in snap.partitions} if snap.partitions else {}
    out = []
    for (schema, table), parts in sorted(snap.partitions.items()):
        for partition, _method, expression, description in parts:
            if not description:
                continue
            ids = _split_list(expression, "`")
            for column in re.findall(r"`((?:[^`]|``)*)`", expression) or [expression.strip()]:
                ctype = types.get((schema, table, column))
                if ctype not in ("date", "datetime", "timestamp"):
                    continue
                value = description
                if len(ids) > 1:
                    values = _split_list(description, "'")
                    if f"`{column}`" not in ids or len(values) != len(ids):
                        continue
                    value = values[ids.index(f"`{column}`")]
                pattern = _DATE if ctype == "date" else _TIME
                if value.upper() == "MAXVALUE" or re.fullmatch(f"{pattern}(,{pattern})*", value):
                    continue
                out.append(Finding(_obj(schema, table, column),
                                   f"partition {partition} uses deprecated temporal delimiters"))
    return out


# -- RDS's own ------------------------------------------------------------------------------------------------
def null_definer(snap: Snapshot, up: Upgrade) -> Found:
    return [Finding(_obj(b.schema, b.name), f"{b.kind} has no definer")
            for b in snap.bodies if b.kind in ("EVENT", "TRIGGER") and (b.definer or "").strip("@ ") == ""]


def query_cache_syntax(snap: Snapshot, up: Upgrade) -> Found:
    out = []
    for b in _bodies(snap, _PROGRAMS):
        if "SQL_CACHE" not in b.text.upper() and "QUERY" not in b.text.upper():
            continue
        words = [t.upper for t in tokens(b.text) if t.kind == "word"]
        pairs = set(zip(words, words[1:], words[2:]))
        used = sorted({w for w in words if w == "SQL_CACHE"} |
                      {f"{a} QUERY CACHE" for a, q, c in pairs if a in ("FLUSH", "RESET") and q == "QUERY" and c == "CACHE"})
        if used:
            out.append(Finding(_obj(b.schema, b.name), f"{b.kind} uses removed {', '.join(used)}"))
    return out


def fulltext_dangling(snap: Snapshot, up: Upgrade) -> Found:
    ids = {t.table_id for t in snap.innodb}
    out = []
    for t in snap.innodb:
        match = re.match(r"FTS_([0-9a-fA-F]{16})_", t.table)
        if match and int(match.group(1), 16) not in ids:
            out.append(Finding(_obj(t.schema, t.table), "FULLTEXT auxiliary table of a table that no longer exists"))
    return out


def column_definition_mismatch(snap: Snapshot, up: Upgrade) -> Found:
    """InnoDB's column count (N_COLS less its three system columns) against the stored columns the table
    definition has; a count mismatch is what RDS's check meets after a half-done ALTER."""
    stored = buckets(snap).stored
    fts_parents = {int(m.group(1), 16) for t in snap.innodb if (m := re.match(r"FTS_([0-9a-fA-F]{16})_", t.table))}
    out = []
    for t in snap.innodb:
        ours = (t.n_cols & 0xFFFF) - 3
        theirs = stored.get((t.schema, t.table))
        if t.table_id in fts_parents and theirs is not None and ours == theirs + 1:
            continue  # InnoDB's hidden FTS_DOC_ID column of a table with a FULLTEXT index
        if t.partition or theirs is None or ours == theirs:
            continue
        out.append(Finding(_obj(t.schema, t.table), f"InnoDB has {ours} columns but the table definition has {theirs}"))
    return out


def lower_case_table_names(snap: Snapshot, up: Upgrade) -> Found:
    if snap.variables.get("lower_case_table_names", "0") != "1":
        return []
    out = [Finding(s, "schema name has upper-case letters") for s in sorted(snap.schemas)
           if s != s.lower() and s not in NOT_SYS]
    return out + [Finding(_obj(t.schema, t.name), "table name has upper-case letters") for t in snap.tables
                  if t.name != t.name.lower() and t.schema not in NOT_SYS]


_MARIADB_NO_AUTH_VARS = "MariaDB has no default_authentication_plugin or authentication_policy variable"
CHECKS: dict[str, Check] = {
    "oldTemporalCheck": Check(old_temporal, ("columns",)),
    "routinesSyntaxCheck": Check(routines_syntax, ("routines", "triggers", "events"), ("SELECT", "TRIGGER")),
    "reservedKeywordsCheck": Check(reserved_keywords, ("schemata", "tables", "columns", "routines", "triggers",
                                                       "events", "views"), ("SELECT", "TRIGGER")),
    "utf8mb3Check": Check(utf8mb3, ("schemata", "columns")),
    "mysqlSchemaCheck": Check(mysql_schema, ("tables",)),
    "nonNativePartitioningCheck": Check(non_native_partitioning, ("tables", "table_options")),
    "foreignKeyLengthCheck": Check(foreign_key_length, ("innodb_foreign",), ("PROCESS",)),
    "maxdbFlagCheck": Check(maxdb_flag, ("routines", "triggers", "events"), ("SELECT", "TRIGGER")),
    "sqlModeFlagCheck": Check(sql_mode_flags, ("routines", "triggers", "events"), ("SELECT", "TRIGGER")),
    "enumSetElementLenghtCheck": Check(enum_set_length, ("columns",)),
    "partitionedTablesInSharedTablespaceCheck": Check(partitions_in_shared_tablespace, ("innodb_tables",),
                                                      ("PROCESS",)),
    "circularDirectoryCheck": Check(circular_directory, ("files",), ("PROCESS",),
                                    "MariaDB has no general tablespaces (CREATE TABLESPACE ... ADD DATAFILE)"),
    "removedFunctionsCheck": Check(removed_functions, ("routines", "triggers", "events", "views", "columns"),
                                   ("SELECT", "SHOW VIEW", "TRIGGER")),
    "groupByAscCheck": Check(group_by_asc, ("routines", "triggers", "events", "views"), ("SELECT", "SHOW VIEW", "TRIGGER")),
    "zeroDatesCheck": Check(zero_dates, ("columns",)),
    "schemaInconsistencyCheck": Check(schema_inconsistency, ("innodb_tables", "tables"), ("SELECT", "PROCESS")),
    "ftsTablenameCheck": Check(fts_tablename, ("tables",)),
    "engineMixupCheck": Check(engine_mixup, ("innodb_tables", "tables"), ("SELECT", "PROCESS")),
    "oldGeometryCheck": Check(old_geometry, ("innodb_tables", "innodb_columns", "columns"), ("SELECT", "PROCESS")),
    "changedFunctionsInGeneratedColumnsCheck": Check(changed_functions_in_generated_columns, ("columns", "statistics")),
    "columnsWhichCannotHaveDefaultsCheck": Check(no_defaults_allowed, ("columns",)),
    "mysqlInvalid57NamesCheck": Check(invalid_57_names, ("schemata", "tables")),
    "mysqlOrphanedRoutinesCheck": Check(orphaned_routines, ("schemata", "routines", "events")),
    "mysqlDollarSignNameCheck": Check(dollar_sign_names, ("schemata", "tables", "columns", "routines",
                                                          "innodb_indexes", "statistics"), ("SELECT", "PROCESS")),
    "mysqlIndexTooLargeCheck": Check(index_too_large, ("innodb_tables", "columns", "statistics"), ("SELECT", "PROCESS")),
    "mysqlEmptyDotTableSyntaxCheck": Check(empty_dot_table, ("routines", "triggers", "events"), ("SELECT", "TRIGGER")),
    "mysqlInvalidEngineForeignKeyCheck": Check(invalid_engine_foreign_key, ("innodb_foreign", "tables"),
                                               ("SELECT", "PROCESS")),
    "deprecatedDefaultAuth": Check(deprecated_default_auth, ("variables",), (), _MARIADB_NO_AUTH_VARS),
    "deprecatedRouterAuthMethod": Check(deprecated_router_auth, ("users",)),
    "deprecatedTemporalDelimiter": Check(deprecated_temporal_delimiter, ("columns", "partitions")),
    "authMethodUsage": Check(auth_method_usage, ("users",)),
    "pluginUsage": Check(plugin_usage, ("plugins",), ()),
    "rdsNullDefinerCheck": Check(null_definer, ("triggers", "events"), ("SELECT", "TRIGGER")),
    "rdsQueryCacheSyntaxCheck": Check(query_cache_syntax, ("routines", "triggers", "events"), ("SELECT", "TRIGGER")),
    "rdsFulltextDanglingCheck": Check(fulltext_dangling, ("innodb_tables",), ("PROCESS",)),
    "rdsColumnDefinitionMismatchCheck": Check(column_definition_mismatch, ("innodb_tables", "columns"),
                                              ("SELECT", "PROCESS")),
    "rdsLowerCaseTableNamesCheck": Check(lower_case_table_names, ("variables", "schemata", "tables")),
}
