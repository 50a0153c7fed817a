"""Everything the checks read, fetched once.

information_schema is expensive on 5.7 when a query needs each table's definition: a query that reads
ENGINE or COLUMNS opens every .frm ('Open_frm_only'), one that reads ROW_FORMAT, CREATE_OPTIONS,
STATISTICS or PARTITIONS opens every table ('Open_full_table'), and a check-per-query design pays that once
per check. Here each source is read once: TABLES (names, type, engine: frm only) and COLUMNS per schema over
a small connection pool, row formats, partitions' tablespaces, foreign keys and index names from the
InnoDB dictionary (in memory, no table opened), bodies once; only the few tables that need more (non-InnoDB
tables, tables with generated columns or with long columns on COMPACT/REDUNDANT rows, partitioned tables)
are opened, one by one. The checks then compute in Python.

A source that cannot be read is recorded with why (missing privilege, missing on this server), never
returned empty.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

SYSTEM_SCHEMAS = ("information_schema", "performance_schema")
Connect = Callable[[], Any]
POOL_FROM_TABLES = 8000   # below this many tables one connection is faster than a pool (measured: see _size_pool)

# MySQL error codes that mean "not allowed" and "no such table".
_DENIED = {1044, 1045, 1142, 1143, 1227, 1370, 1449}
_MISSING = {1109, 1146}
# information_schema/mysql sources that MariaDB does not have (so a check reading them does not apply there).
MARIADB_LACKS = {"session_modes": "performance_schema.variables_by_thread",
                 "files": "general tablespaces (information_schema.FILES is always empty on MariaDB)"}


@dataclass(frozen=True)
class Unavailable:
    """Why a source could not be read."""

    source: str
    reason: str
    privilege: str | None = None      # the privilege that would let it be read
    not_applicable: bool = False      # the server does not have it (not an error: the check does not apply)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    type: str           # BASE TABLE | VIEW | SYSTEM VIEW
    engine: str | None


@dataclass(frozen=True)
class Column:
    schema: str
    table: str
    name: str
    data_type: str
    column_type: str
    charset: str | None
    octet_length: int | None
    max_length: int | None
    default: str | None
    generation: str | None
    extra: str


@dataclass(frozen=True)
class InnoTable:
    raw: str            # db/t#P#p0 in file-name encoding
    table_id: int
    n_cols: int
    space: int
    row_format: str
    space_type: str
    schema: str         # decoded
    table: str          # decoded, without the partition suffix
    partition: str | None


@dataclass(frozen=True)
class ForeignKey:
    id: str
    for_name: str
    ref_name: str
    columns: tuple[str, ...]
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Body:
    kind: str           # PROCEDURE | FUNCTION | TRIGGER | EVENT | VIEW
    schema: str
    name: str
    text: str
    sql_mode: str
    definer: str | None
    create: str = ""    # a CREATE statement equivalent to SHOW CREATE (routines, triggers, events)


@dataclass
class Snapshot:
    server_version: str = ""
    version_comment: str = ""
    is_mariadb: bool = False
    global_sql_mode: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, str] = field(default_factory=dict)          # name -> default character set
    tables: list[Table] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    innodb: list[InnoTable] = field(default_factory=list)
    innodb_columns: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    dollar_indexes: list[tuple[int, str]] = field(default_factory=list)
    bodies: list[Body] = field(default_factory=list)
    users: list[tuple[str, str, str]] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    table_options: dict[tuple[str, str], str] = field(default_factory=dict)      # non-InnoDB: create_options
    statistics: dict[tuple[str, str], list[tuple[str, str, int | None]]] = field(default_factory=dict)
    partitions: dict[tuple[str, str], list[tuple[str, str, str, str]]] = field(default_factory=dict)
    session_modes: list[str] | None = None
    unavailable: dict[str, Unavailable] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    opened_tables: int = 0
    connections: int = 1                                      # connections the reads were spread over
    derived: dict[str, Any] = field(default_factory=dict)     # what the checks compute once from the above

    # -- derived views ----------------------------------------------------------------------------------
    def table(self, schema: str, name: str) -> Table | None:
        return self._tables_by_key().get((schema, name))

    def _tables_by_key(self) -> dict[tuple[str, str], Table]:
        cached = self.derived.get("tables_by_key")
        if cached is None:
            cached = self.derived["tables_by_key"] = {(t.schema, t.name): t for t in self.tables}
        return cached

    def innodb_by_table(self) -> dict[tuple[str, str], list[InnoTable]]:
        out: dict[tuple[str, str], list[InnoTable]] = {}
        for t in self.innodb:
            out.setdefault((t.schema, t.table), []).append(t)
        return out

    def missing(self, *sources: str) -> Unavailable | None:
        for source in sources:
            if source in self.unavailable:
                return self.unavailable[source]
        return None


def decode_filename(name: str) -> str:
    """MySQL's file-name encoding back to the identifier ('@0024' -> '$', '@@@' -> '')."""
    name = name.replace("@@@", "")
    return re.sub(r"@([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), name)


def split_innodb_name(raw: str) -> tuple[str, str, str | None]:
    """'db/t#P#p0' -> ('db', 't', 'p0'), decoded; '#P#' and '#p#' both mark a partition."""
    schema, _, rest = raw.partition("/")
    if "#" not in rest and "@" not in raw:   # the common name: nothing encoded, no partition
        return schema, rest, None
    match = re.search(r"#[Pp]#", rest)
    table, partition = (rest[: match.start()], rest[match.end():]) if match else (rest, None)
    return decode_filename(schema), decode_filename(table), partition


class Fetcher:
    """Runs the snapshot's queries: global ones on the main connection, per-schema and per-table ones over
    a pool of up to `workers` extra connections (made by `connect_more`, the caller's own connection code)."""

    def __init__(self, conn: Any, connect_more: Connect | None = None, workers: int = 2) -> None:
        self.conn = conn
        self.connect_more = connect_more
        self.workers = max(1, workers) + 1 if connect_more else 1  # the caller's connection plus `workers` more
        self.snap = Snapshot()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pool: list[Any] = []
        self._owner = threading.get_ident()   # the thread that owns `conn`
        self._columns_by_schema: dict[str, list[Column]] = {}
        self._executor: ThreadPoolExecutor | None = None

    # -- plumbing -----------------------------------------------------------------------------------------
    def _cursor_conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.connect_more is None or threading.get_ident() == self._owner:
                conn = self.conn
            else:
                conn = self.connect_more()
                with self._lock:
                    self._pool.append(conn)
                self._prepare(conn)
            self._local.conn = conn
        return conn

    def _prepare(self, conn: Any) -> None:
        """MySQL 5.7 marks old temporal columns in COLUMN_TYPE only with show_old_temporals=ON."""
        if self.snap.server_version and not self.snap.is_mariadb:
            try:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION show_old_temporals = ON")
            except Exception:  # noqa: BLE001 - 8.0 or a server without it: nothing to mark
                pass

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self._cursor_conn().cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.snap.timings[name] = self.snap.timings.get(name, 0.0) + time.perf_counter() - started

    def read(self, source: str, sql: str, args: Any = None, privilege: str | None = None) -> list[tuple[Any, ...]] | None:
        """Rows of `sql`, or None with the reason recorded under `source`."""
        try:
            with self.timed(source):
                return self.query(sql, args)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is silent
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
            with self._lock:
                if source in self.snap.unavailable:
                    return None
                if code in _DENIED:
                    self.snap.unavailable[source] = Unavailable(source, f"access denied: {message}", privilege)
                elif code in _MISSING and self.snap.is_mariadb and source in MARIADB_LACKS:
                    self.snap.unavailable[source] = Unavailable(source, f"MariaDB has no {MARIADB_LACKS[source]}",
                                                                not_applicable=True)
                else:
                    self.snap.unavailable[source] = Unavailable(source, f"query failed: {message}")
            return None

    def parallel(self, jobs: Iterable[Callable[[], None]]) -> None:
        jobs = list(jobs)
        if self.workers == 1 or len(jobs) < 2:
            for job in jobs:
                job()
            return
        if self._executor is None:   # one pool for the whole fetch: its threads keep their connections
            self._executor = ThreadPoolExecutor(self.workers - 1)  # this thread (the caller's connection) is one
        futures = [self._executor.submit(job) for job in jobs[1:]]
        jobs[0]()
        for future in futures:
            future.result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        for conn in self._pool:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a pool connection that already dropped
                pass
        self._pool.clear()

    # -- the snapshot -------------------------------------------------------------------------------------
    def fetch(self, want_innodb_columns: bool = False) -> Snapshot:
        snap = self.snap
        try:
            self._server()
            self._prepare(self.conn)
            self._schemas()
            self._size_pool()
            self._innodb(want_innodb_columns)
            self._bodies_global()
            # the table list, views and triggers on one connection while the pool reads COLUMNS schema by schema
            self.parallel([self._objects] + [partial(self._columns, s) for s in sorted(snap.schemas)
                                             if s not in SYSTEM_SCHEMAS])
            # in schema order whichever connection finished first, so a report does not depend on the pool
            snap.columns = [c for s in sorted(self._columns_by_schema) for c in self._columns_by_schema[s]]
            self._targeted()
            self._server_objects()
        finally:
            self.close()
            if snap.server_version and not snap.is_mariadb:
                try:
                    self.query("SET SESSION show_old_temporals = OFF")
                except Exception:  # noqa: BLE001
                    pass
        return snap

    def _server(self) -> None:
        row = self.query("SELECT @@version, @@version_comment, @@global.sql_mode")[0]
        self.snap.server_version, self.snap.version_comment = str(row[0]), str(row[1] or "")
        self.snap.global_sql_mode = str(row[2] or "")
        self.snap.is_mariadb = "mariadb" in f"{row[0]} {row[1]}".lower()
        names = ("default_authentication_plugin", "authentication_policy", "lower_case_table_names",
                 "innodb_file_per_table", "sql_mode")
        rows = self.read("variables", "SHOW GLOBAL VARIABLES WHERE Variable_name IN ("
                         + ",".join(["%s"] * len(names)) + ")", names)
        self.snap.variables = {str(k): str(v) for k, v in rows or []}

    def _size_pool(self) -> None:
        """Extra connections pay for themselves only on a large server: below POOL_FROM_TABLES tables, making
        them costs more than the per-schema reads they would share (bench/bench_precheck.py), so all reads stay
        on the caller's connection. Counting names opens no table."""
        if self.workers == 1:
            return
        rows = self.read("table_count", "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN "
                         "('information_schema', 'performance_schema')")
        if rows and int(rows[0][0]) < POOL_FROM_TABLES:
            self.workers = 1
        self.snap.connections = self.workers

    def _schemas(self) -> None:
        rows = self.read("schemata", "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA",
                         privilege="SELECT")
        self.snap.schemas = {str(s): str(c or "") for s, c in rows or []}

    def _innodb(self, want_columns: bool) -> None:
        snap = self.snap
        rows = self.read("innodb_tables", "SELECT NAME, TABLE_ID, N_COLS, SPACE, ROW_FORMAT, SPACE_TYPE FROM "
                         "information_schema.INNODB_SYS_TABLES WHERE NAME LIKE '%/%'", privilege="PROCESS")
        for name, tid, ncols, space, fmt, stype in rows or []:
            schema, table, partition = split_innodb_name(str(name))
            snap.innodb.append(InnoTable(str(name), int(tid), int(ncols or 0), int(space or 0), str(fmt or ""),
                                         str(stype or ""), schema, table, partition))
        fks = self.read("innodb_foreign", "SELECT ID, FOR_NAME, REF_NAME FROM information_schema.INNODB_SYS_FOREIGN",
                        privilege="PROCESS")
        cols = self.read("innodb_foreign", "SELECT ID, FOR_COL_NAME, REF_COL_NAME FROM "
                         "information_schema.INNODB_SYS_FOREIGN_COLS ORDER BY ID, POS", privilege="PROCESS")
        by_id: dict[str, tuple[list[str], list[str]]] = {}
        for fid, col, ref in cols or []:
            entry = by_id.setdefault(str(fid), ([], []))
            entry[0].append(str(col))
            entry[1].append(str(ref))
        for fid, for_name, ref_name in fks or []:
            c, r = by_id.get(str(fid), ([], []))
            snap.foreign_keys.append(ForeignKey(str(fid), str(for_name), str(ref_name), tuple(c), tuple(r)))
        rows = self.read("innodb_indexes", "SELECT TABLE_ID, NAME FROM information_schema.INNODB_SYS_INDEXES "
                         "WHERE NAME LIKE '$%%'", privilege="PROCESS")
        snap.dollar_indexes = [(int(t), str(n)) for t, n in rows or []]
        if want_columns:
            rows = self.read("innodb_columns", "SELECT TABLE_ID, NAME, MTYPE FROM information_schema.INNODB_SYS_COLUMNS "
                             "ORDER BY TABLE_ID, POS", privilege="PROCESS")
            for tid, name, mtype in rows or []:
                snap.innodb_columns.setdefault(int(tid), []).append((str(name), int(mtype)))

    def _bodies_global(self) -> None:
        snap = self.snap
        rows = self.read("routines", "SELECT db, name, type, body, sql_mode, definer, param_list, returns, "
                         "is_deterministic, sql_data_access FROM mysql.proc", privilege="SELECT")
        if rows is not None:
            for db, name, kind, body, mode, definer, params, returns, _det, _access in rows:
                text = _text(body)
                kind = str(kind)
                head = f"CREATE {kind} {_q(str(db))}.{_q(str(name))}({_text(params)})"
                if kind == "FUNCTION":
                    head += f" RETURNS {_text(returns)}"
                snap.bodies.append(Body(kind, str(db), str(name), text, _mode(mode), _text(definer) or None,
                                        f"{head}\n{text}"))
        rows = self.read("events", "SELECT db, name, body, sql_mode, definer FROM mysql.event", privilege="SELECT")
        for db, name, body, mode, definer in rows or []:
            text = _text(body)
            snap.bodies.append(Body("EVENT", str(db), str(name), text, _mode(mode), _text(definer) or None,
                                    f"CREATE EVENT {_q(str(db))}.{_q(str(name))} ON SCHEDULE EVERY 1 DAY DO {text}"))

    def _objects(self) -> None:
        """TABLES (names, type, engine: frm only), VIEWS and TRIGGERS, each in one query."""
        snap = self.snap
        tables = self.read("tables", "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES "
                           "WHERE TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema')", privilege="SELECT")
        t_rows = [Table(str(s), str(n), str(k), str(e) if e is not None else None) for s, n, k, e in tables or []]
        b_rows: list[Body] = []
        if any(t.type == "VIEW" for t in t_rows):
            # sys's own views are the server's (no check reads their text): not opened again
            views = self.read("views", "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, DEFINER FROM "
                              "information_schema.VIEWS WHERE TABLE_SCHEMA NOT IN ('information_schema', "
                              "'performance_schema', 'sys')", privilege="SHOW VIEW")
            b_rows += [Body("VIEW", str(s), str(n), _text(d), "", _text(definer) or None) for s, n, d, definer in views or []]
        triggers = self.read("triggers", "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, "
                             "EVENT_MANIPULATION, ACTION_STATEMENT, SQL_MODE, DEFINER FROM information_schema.TRIGGERS",
                             privilege="TRIGGER")
        for schema, name, table, timing, event, stmt, mode, definer in triggers or []:
            text = _text(stmt)
            b_rows.append(Body("TRIGGER", str(schema), str(name), text, _mode(mode), _text(definer) or None,
                               f"CREATE TRIGGER {_q(str(name))} {timing} {event} ON {_q(str(table))} FOR EACH ROW\n{text}"))
        with self._lock:
            snap.tables += t_rows
            snap.bodies += b_rows

    def _columns(self, schema: str) -> None:
        """COLUMNS of one schema (frm only), on one pool connection."""
        columns = self.read("columns", "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, "
                            "CHARACTER_OCTET_LENGTH, CHARACTER_MAXIMUM_LENGTH, COLUMN_DEFAULT, GENERATION_EXPRESSION, "
                            "EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s", (schema,),
                            privilege="SELECT")
        c_rows = [Column(schema, str(t), str(n), str(d).lower(), str(ct), _opt(cs), _int(ol), _int(ml), _opt(df),
                         _opt(g) or None, str(x or "")) for t, n, d, ct, cs, ol, ml, df, g, x in columns or []]
        with self._lock:
            self._columns_by_schema[schema] = c_rows

    def _targeted(self) -> None:
        """The few tables that must be opened: non-InnoDB base tables (partitioning, index names), tables with
        generated columns or with columns over 767 bytes on COMPACT/REDUNDANT rows (their indexes), and
        partitioned tables (their partition values)."""
        snap = self.snap
        innodb = snap.innodb_by_table()
        compact = {k for k, parts in innodb.items() if any(p.row_format in ("Compact", "Redundant") for p in parts)}
        jobs: dict[tuple[str, str], set[str]] = {}
        for t in snap.tables:
            key = (t.schema, t.name)
            if t.type == "BASE TABLE" and (t.engine or "").lower() != "innodb" and t.schema not in SYSTEM_SCHEMAS:
                jobs.setdefault(key, set()).update({"options", "statistics"})
            elif key in innodb and any(p.partition for p in innodb[key]):
                jobs.setdefault(key, set()).add("partitions")
        for c in snap.columns:
            key = (c.schema, c.table)
            if c.generation:
                jobs.setdefault(key, set()).add("statistics")
            if key in compact and (c.octet_length or 0) > 767:
                jobs.setdefault(key, set()).add("statistics")

        def job(key: tuple[str, str], what: set[str]) -> None:
            schema, name = key
            if "options" in what:
                rows = self.read("table_options", "SELECT CREATE_OPTIONS FROM information_schema.TABLES WHERE "
                                 "TABLE_SCHEMA = %s AND TABLE_NAME = %s", key, privilege="SELECT")
                options = str(rows[0][0] or "") if rows else ""
                with self._lock:
                    snap.table_options[key] = options
                if "partitioned" in options.lower():
                    what = what | {"partitions"}
            if "statistics" in what:
                rows = self.read("statistics", "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema."
                                 "STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", key, privilege="SELECT")
                with self._lock:
                    snap.statistics[key] = [(str(i), str(c), _int(s)) for i, c, s in rows or []]
            if "partitions" in what:
                rows = self.read("partitions", "SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, "
                                 "PARTITION_DESCRIPTION FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s "
                                 "AND TABLE_NAME = %s", key, privilege="SELECT")
                with self._lock:
                    snap.partitions[key] = [(str(p or ""), str(m or ""), str(e or ""), str(d or ""))
                                            for p, m, e, d in rows or []]
            with self._lock:
                snap.opened_tables += 1

        def whole_schema(schema: str, keys: list[tuple[str, str]]) -> None:
            """A schema where most tables must be opened anyway (the mysql schema of 5.7 is MyISAM): one query
            per source for the schema instead of one per table."""
            wanted = set(keys)
            rows = self.read("table_options", "SELECT TABLE_NAME, CREATE_OPTIONS FROM information_schema.TABLES WHERE "
                             "TABLE_SCHEMA = %s", (schema,), privilege="SELECT")
            stats = self.read("statistics", "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART FROM "
                              "information_schema.STATISTICS WHERE TABLE_SCHEMA = %s", (schema,), privilege="SELECT")
            with self._lock:
                for name, options in rows or []:
                    if (schema, str(name)) in wanted and "options" in jobs[(schema, str(name))]:
                        snap.table_options[(schema, str(name))] = str(options or "")
                for key in keys:
                    if "statistics" in jobs[key]:
                        snap.statistics.setdefault(key, [])
                for name, index, column, sub in stats or []:
                    key = (schema, str(name))
                    if key in wanted and "statistics" in jobs[key]:
                        snap.statistics[key].append((str(index), str(column), _int(sub)))
                snap.opened_tables += len(keys)
            for key in keys:  # partitions stay per table (few)
                extra = {"partitions"} & jobs[key] | ({"partitions"} if "partitioned" in
                                                      snap.table_options.get(key, "").lower() else set())
                if extra:
                    job(key, extra)

        per_schema: dict[str, list[tuple[str, str]]] = {}
        for key in jobs:
            per_schema.setdefault(key[0], []).append(key)
        counts: dict[str, int] = {}
        for t in snap.tables:
            counts[t.schema] = counts.get(t.schema, 0) + 1
        tasks: list[Callable[[], None]] = []
        for schema, keys in sorted(per_schema.items()):
            if len(keys) >= 8 and len(keys) * 2 >= counts.get(schema, 0):
                tasks.append(partial(whole_schema, schema, sorted(keys)))
            else:
                tasks += [partial(job, k, jobs[k]) for k in sorted(keys)]
        self.parallel(tasks)

    def _server_objects(self) -> None:
        snap = self.snap
        rows = self.read("users", "SELECT user, host, plugin FROM mysql.user", privilege="SELECT")
        snap.users = [(str(u), str(h), str(p or "")) for u, h, p in rows or []]
        rows = self.read("plugins", "SELECT PLUGIN_NAME FROM information_schema.PLUGINS WHERE PLUGIN_STATUS = 'ACTIVE'")
        snap.plugins = [str(p) for (p,) in rows or []]
        if snap.is_mariadb:
            self.read("files", "SELECT 1 FROM information_schema.INNODB_SYS_DATAFILES LIMIT 1")
        rows = self.read("files", "SELECT TABLESPACE_NAME, FILE_NAME FROM information_schema.FILES WHERE "
                         "FILE_TYPE = 'TABLESPACE'", privilege="PROCESS")
        snap.files = [(str(n), str(f)) for n, f in rows or []]
        rows = self.read("session_modes", "SELECT VARIABLE_VALUE FROM performance_schema.variables_by_thread WHERE "
                         "VARIABLE_NAME = 'sql_mode'", privilege="SELECT")
        snap.session_modes = None if rows is None else [str(v or "") for (v,) in rows]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _mode(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(str(v) for v in value))
    return _text(value)


def _opt(value: Any) -> str | None:
    return None if value is None else _text(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
