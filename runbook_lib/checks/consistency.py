"""Is green's data blue's data? A comparison that stays right while blue takes writes.

The method (docs/consistency.md has the reasoning and the limits):

1. Tables are cut into chunks of about `chunk_rows` rows by ranges of their primary key (or of a unique key
   whose columns are all NOT NULL), walked on blue: each chunk is ``lower < key <= upper``; the first and last
   chunks are open-ended, so rows that exist only on green are covered too.
2. Per chunk, a lock-free pass: blue's ``COUNT(*)`` and XOR of 64-bit row hashes (an MVCC read), then blue's
   binlog position P; the same aggregate is read on green as soon as green has applied blue's binlog up to P
   (up to PIPELINE chunks are read on blue ahead while green catches up). Equal: the chunk matches (green
   holds a state blue really committed).
3. A chunk that differs is read again lock-free, green right after it reached blue's new position (a chunk
   that only moved now matches), and if it still differs, exactly: on blue, in one transaction, the chunk's
   rows are read with a shared lock (``LOCK IN SHARE MODE``: no write to that key range can commit until we
   let go), then blue's position P, then green catches up to P, then green's rows are read and blue's lock is
   released. Green has then applied exactly what blue had committed for that range, so a difference now is
   real; it is reported with the key range and the first differing keys.

pt-table-checksum gets the same "same point on both sides" by replicating its checksum statement with
binlog_format=STATEMENT; RDS's master user cannot set that (no SUPER), and row-based replication would carry
blue's result instead of recomputing it, so this module brings green to blue's recorded position instead.
It never writes, never stops replication and needs no SUPER: SELECT, REPLICATION CLIENT (SHOW MASTER STATUS)
and MASTER_POS_WAIT on green, which RDS's master user has. Every statement is bounded on the server
(MAX_EXECUTION_TIME on MySQL, max_statement_time on MariaDB), the whole run by `max_seconds` (and `max_rows`);
what was not compared is listed with the reason, and nothing not compared is ever reported as a match.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import pymysql

from runbook_lib.errors import RunbookError

if TYPE_CHECKING:
    Connection: TypeAlias = pymysql.connections.Connection[Any]
Connect = Callable[[], "Connection"]
"""A zero-argument factory for a new PyMySQL connection: the caller chooses endpoint, user, TLS and timeouts."""

Mode = Literal["full", "sampled", "off"]
Status = Literal["match", "differences", "incomplete", "not_run"]
TableStatus = Literal["match", "differences", "incomplete", "not_compared"]

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
MODES = ("full", "sampled", "off")
LISTED_KEYS = 10          # differing keys listed per chunk (the counts are always complete)
LISTED_DIFFERENCES = 50   # differing chunks listed per table (the total is always complete)
PIPELINE = 32             # chunks read on blue ahead of green at most (while green catches up)
POLL_S = 0.001            # how long a non-blocking look at green's position may wait

_TIMEOUT = {3024, 1907, 1969}     # MySQL 5.7+/8.0 (and pre-GA 5.7), MariaDB: statement time bound exceeded
_LOCK = {1205, 1213}              # lock wait timeout, deadlock (we were chosen as the victim)
_LOST = {2006, 2013, 2055}        # connection gone; 2013 '(timed out)' is the client's read_timeout
_GONE = {1146, 1054, 1049}        # table, column or database no longer there (DDL during the run)
_CHAR_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_BIG_TYPES = {"mediumtext", "longtext", "mediumblob", "longblob", "json"}  # hashed per column (packet size)


@dataclass(frozen=True)
class BinlogPosition:
    """A position in blue's binary log, as SHOW MASTER STATUS reports it and MASTER_POS_WAIT takes it."""

    file: str
    pos: int

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}"


CatchUp = Callable[[BinlogPosition, float], bool]
"""(position on blue, timeout in seconds) -> True once green applied blue's binlog up to that position."""


class ConsistencyInputError(RunbookError, ValueError):
    """An argument of `compare` is out of range; the message names it and says what to use."""


# -- what the record keeps ---------------------------------------------------------------------------------
@dataclass
class Difference:
    """Blue and green differ: rows in (lower, upper] of the chunk key, or a whole table on one side only.

    Row differences are confirmed under blue's shared lock after green reached `position`, so they are not
    an artefact of replication lag."""

    kind: Literal["rows", "table_only_on_blue", "table_only_on_green"]
    lower: list[Any] | None = None          # exclusive; None: from the first row
    upper: list[Any] | None = None          # inclusive; None: to the last row
    position: str | None = None             # blue's binlog position green had applied when compared
    blue_rows: int | None = None
    green_rows: int | None = None
    only_on_blue: int = 0
    only_on_green: int = 0
    changed: int = 0
    keys_only_on_blue: list[list[Any]] = field(default_factory=list)   # the first LISTED_KEYS of each
    keys_only_on_green: list[list[Any]] = field(default_factory=list)
    keys_changed: list[list[Any]] = field(default_factory=list)


@dataclass
class NotCompared:
    """A key range (or a whole table, both bounds None) this run did not compare, and why."""

    reason: str
    lower: list[Any] | None = None
    upper: list[Any] | None = None


@dataclass
class TableResult:
    """What was compared in one table, how, and what was not."""

    table: str
    method: str                               # how it was compared, in words
    key: str | None = None                    # index the chunks follow (PRIMARY, a unique key) or None
    key_columns: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # columns that enter the row hash
    chunks_compared: int = 0
    chunks_not_sampled: int = 0               # sampled mode: chunks walked but left out by the sample
    rows_covered: int = 0                     # blue's rows in the compared chunks
    chunks_retried: int = 0                   # differed in the first lock-free pass and were compared again
    chunks_locked: int = 0                    # of those, compared under blue's shared lock (second pass differed)
    differences: list[Difference] = field(default_factory=list)
    differences_total: int = 0
    not_compared: list[NotCompared] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> TableStatus:
        if self.differences_total:
            return "differences"
        if self.not_compared:
            return "not_compared" if self.chunks_compared == 0 else "incomplete"
        return "match"

    def add_difference(self, difference: Difference) -> None:
        self.differences_total += 1
        if len(self.differences) < LISTED_DIFFERENCES:
            self.differences.append(difference)


@dataclass
class ConsistencyResult:
    """The whole comparison as the step record keeps it: settings, servers, per table what was compared."""

    mode: Mode
    status: Status
    settings: dict[str, Any]
    started_at: str
    elapsed_s: float = 0.0
    blue_server: str | None = None
    green_server: str | None = None
    first_position: str | None = None
    last_position: str | None = None
    stopped_early: str | None = None
    schemas_without_tables: list[str] = field(default_factory=list)   # named in `schemas`, absent on blue
    catch_up: dict[str, float] = field(default_factory=lambda: {"waits": 0, "not_reached": 0, "longest_s": 0.0})
    tables: list[TableResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True only when everything in scope was compared (every sampled chunk, in sampled mode) and matched."""
        return self.status == "match"

    def totals(self) -> dict[str, int]:
        return {
            "tables": len(self.tables),
            "tables_matching": sum(1 for t in self.tables if t.status == "match"),
            "tables_with_differences": sum(1 for t in self.tables if t.differences_total),
            "tables_not_fully_compared": sum(1 for t in self.tables if t.not_compared),
            "chunks_compared": sum(t.chunks_compared for t in self.tables),
            "chunks_not_sampled": sum(t.chunks_not_sampled for t in self.tables),
            "chunks_retried": sum(t.chunks_retried for t in self.tables),
            "chunks_locked": sum(t.chunks_locked for t in self.tables),
            "rows_covered": sum(t.rows_covered for t in self.tables),
            "differences": sum(t.differences_total for t in self.tables),
            "not_compared": sum(len(t.not_compared) for t in self.tables),
        }

    def to_record(self) -> dict[str, Any]:
        """JSON-serialisable: what was compared, how, what differed and what was not compared."""
        record = asdict(self)
        record["totals"] = self.totals()
        for table, data in zip(self.tables, record["tables"], strict=True):
            data["status"] = table.status
        return record

    def summary(self) -> str:
        t = self.totals()
        if self.status == "not_run":
            return "Consistency check not run (consistency_check: off): blue and green were not compared."
        text = (f"{self.status}: {t['tables']} tables, {t['chunks_compared']} chunks / {t['rows_covered']} rows "
                f"compared in {self.elapsed_s:.1f} s ({self.mode}), {t['chunks_retried']} retried ({t['chunks_locked']} "
                f"under lock), {t['differences']} differing, {t['not_compared']} ranges not compared")
        return text + (f"; stopped early: {self.stopped_early}" if self.stopped_early else "")


# -- settings ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Settings:
    mode: Mode
    schemas: list[str] | None
    exclude: list[str]
    chunk_rows: int
    max_seconds: float
    max_rows: int | None
    sample_fraction: float
    sample_seed: int
    statement_timeout_s: float
    max_catch_up_s: float
    lock_wait_s: int
    retries: int
    catch_up: str


def _bad(name: str, value: Any, rule: str) -> ConsistencyInputError:
    return ConsistencyInputError(f"consistency check: {name}={value!r} is not usable: {rule}.")


def _validate(mode: Any, schemas: Any, exclude: Any, chunk_rows: Any, max_seconds: Any, max_rows: Any,
              sample_fraction: Any, sample_seed: Any, statement_timeout_s: Any, max_catch_up_s: Any,
              lock_wait_s: Any, retries: Any, catch_up: str) -> _Settings:
    """One clear paragraph per bad argument, naming it and the fix."""
    def number(name: str, value: Any, low: float, high: float, integer: bool = False) -> None:
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or not (low <= value <= high) or (not integer and math.isnan(value)):
            kind = "a whole number" if integer else "a number"
            raise _bad(name, value, f"use {kind} from {low:g} to {high:g}")

    if mode not in MODES:
        raise _bad("mode", mode, "use 'full' (every chunk), 'sampled' (a deterministic sample of chunks) or "
                                 "'off' (not compared; recorded as not run)")
    for name, value in (("schemas", schemas), ("exclude", exclude)):
        if value is None and name == "schemas":
            continue
        if isinstance(value, str) or not isinstance(value, list | tuple) or not all(
                isinstance(v, str) and v and v.count(".") <= 1 and "`" not in v for v in value):
            raise _bad(name, value, "give a list of names such as ['shop'] or, for exclude, ['shop', "
                                    "'shop.audit_log'] (schema or schema.table, no backticks)")
    if schemas is not None and not schemas:
        raise _bad("schemas", schemas, "name at least one schema, or give None for every application schema")
    system = [s for s in (schemas or []) if s.lower() in SYSTEM_SCHEMAS]
    if system:
        raise _bad("schemas", schemas, f"{', '.join(system)} are system schemas RDS writes to on each instance "
                                       "separately; name application schemas only (or None for all of them)")
    number("chunk_rows", chunk_rows, 10, 1_000_000, integer=True)
    number("max_seconds", max_seconds, 0.001, 86_400)
    if max_rows is not None:
        number("max_rows", max_rows, 1, 10**12, integer=True)
    number("sample_fraction", sample_fraction, 1e-6, 1.0)
    number("sample_seed", sample_seed, 0, 2**63, integer=True)
    number("statement_timeout_s", statement_timeout_s, 0.001, 3600)
    number("max_catch_up_s", max_catch_up_s, 0.001, 600)
    number("lock_wait_s", lock_wait_s, 1, 60, integer=True)
    number("retries", retries, 1, 20, integer=True)
    return _Settings(mode, list(schemas) if schemas is not None else None, list(exclude), chunk_rows,
                     float(max_seconds), max_rows, float(sample_fraction), sample_seed, float(statement_timeout_s),
                     float(max_catch_up_s), lock_wait_s, retries, catch_up)


# -- talking to one server ----------------------------------------------------------------------------------
class _Failure(Exception):
    """A statement failed in a way the comparison handles (kind: timeout, lock, lost, gone, error)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Session:
    """One connection to blue or green, with the session settings the comparison depends on."""

    def __init__(self, name: str, connect: Connect, lock_wait_s: int) -> None:
        self.name = name
        self._connect = connect
        self._lock_wait_s = lock_wait_s
        self.conn: Connection | None = None
        self.version = ""
        self.mariadb = False
        self.version_tuple: tuple[int, ...] = ()

    def open(self) -> None:
        conn = self._connect()
        conn.autocommit(True)   # every lock-free read must take a fresh snapshot
        self.conn = conn
        version = str(self.query("SELECT VERSION()")[0][0])
        self.version, self.mariadb = version, "mariadb" in version.lower()
        self.version_tuple = tuple(int(p) for p in version.split("-")[0].split(".")[:3] if p.isdigit())
        for statement in (
                "SET SESSION time_zone = '+00:00'",                  # TIMESTAMP renders the same on both
                "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",  # gap locks in the locked retry
                f"SET SESSION innodb_lock_wait_timeout = {self._lock_wait_s}",  # never queue long behind writers
                f"SET SESSION lock_wait_timeout = {self._lock_wait_s}"):       # nor behind DDL's metadata lock
            self.query(statement)

    def reopen(self) -> bool:
        self.close()
        try:
            self.open()
            return True
        except (pymysql.MySQLError, _Failure, OSError):
            return False

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - already broken: nothing left to release
                pass
            self.conn = None

    def bounded(self, sql: str, seconds: float) -> str:
        """The statement with a server-side time bound in this server's dialect."""
        if self.mariadb:
            return f"SET STATEMENT max_statement_time={max(seconds, 0.001):.3f} FOR {sql}"
        return sql.replace("SELECT ", f"SELECT /*+ MAX_EXECUTION_TIME({max(int(seconds * 1000), 1)}) */ ", 1)

    def query(self, sql: str, args: Sequence[Any] = (), seconds: float | None = None) -> list[tuple[Any, ...]]:
        if self.conn is None:
            raise _Failure("lost", f"no connection to {self.name}")
        text = self.bounded(sql, seconds) if seconds is not None else sql
        try:
            with self.conn.cursor() as cur:
                cur.execute(text, tuple(args))   # always formatted: identifiers escape '%' as '%%'
                return list(cur.fetchall())
        except pymysql.MySQLError as exc:
            raise _classify(exc, self.name, seconds) from exc

    def release(self) -> None:
        """End the locked retry's transaction; a broken connection released its locks on the server anyway."""
        try:
            self.query("ROLLBACK")
        except _Failure:
            self.close()


def _classify(exc: pymysql.MySQLError, side: str, seconds: float | None) -> _Failure:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in _TIMEOUT:
        return _Failure("timeout", f"a statement on {side} reached its server-side time bound of {seconds or 0:.3f} s "
                                   "(statement_timeout_s, or what was left of max_seconds): lower chunk_rows or raise "
                                   "statement_timeout_s")
    if code in _LOCK:
        return _Failure("lock", f"{side}: {message} (the chunk's rows stayed locked by the application)")
    if code in _LOST:
        advice = (" — the connection factory's read_timeout expired before the server's statement bound: give "
                  "its connections a read_timeout above statement_timeout_s and max_catch_up_s"
                  if "timed out" in message else "")
        return _Failure("lost", f"the connection to {side} was lost ({code}: {message}){advice}")
    if code in _GONE:
        return _Failure("gone", f"{side}: {message} (changed while being compared)")
    return _Failure("error", f"{side}: {code}: {message}")


def _position(blue: _Session) -> BinlogPosition:
    try:
        rows = blue.query("SHOW MASTER STATUS")
    except _Failure as failure:
        if "1064" not in str(failure):
            raise
        rows = blue.query("SHOW BINARY LOG STATUS")   # MySQL 8.4 renamed it
    if not rows or not rows[0][0]:
        raise _Failure("error", "blue reports no binary log position (SHOW MASTER STATUS is empty: binary logging "
                                "is off), so no point where green has applied what blue committed can be found")
    return BinlogPosition(str(rows[0][0]), int(rows[0][1]))


class _PositionWait:
    """The default catch-up: has green applied blue's binlog up to a position, waiting at most `timeout`?

    A look without waiting (timeout <= POLL_S) reads SHOW SLAVE STATUS; a wait uses (SOURCE|MASTER)_POS_WAIT.
    Both servers read that function's timeout as whole seconds (MariaDB takes 0.3 as 0, i.e. forever), so it
    gets whole seconds and the statement's server-side bound cuts it at the real timeout. A cut wait returns
    NULL on MariaDB, as a stopped SQL thread does: SHOW SLAVE STATUS tells the two apart. `why` says what
    went wrong; `broken` means replication is not running, so waiting longer cannot help."""

    def __init__(self, green: _Session) -> None:
        self.green = green
        self.why = ""
        self.broken = False

    def __call__(self, position: BinlogPosition, timeout: float) -> bool:
        green = self.green
        timeout = max(timeout, 0.001)
        value: int | None = None
        self.why, self.broken = "", False
        if timeout > POLL_S:
            name = "SOURCE_POS_WAIT" if not green.mariadb and green.version_tuple >= (8, 0, 26) else "MASTER_POS_WAIT"
            try:
                found = green.query(f"SELECT {name}(%s, %s, %s)", (position.file, position.pos, math.ceil(timeout)),
                                    seconds=timeout)[0][0]
                value = None if found is None else int(found)
            except _Failure as failure:
                if failure.kind != "timeout":
                    raise
            if value is not None and value >= 0:
                return True
        status = _replica_status(green)
        applied = _applied(status)
        if applied is not None and _order(applied) >= _order(position):
            return True
        running = status.get("Slave_SQL_Running", status.get("Replica_SQL_Running")) == "Yes"
        self.broken = not status or not running
        if not status:
            self.why = "green replicates from no source (SHOW SLAVE STATUS is empty)"
        elif not running:
            error = status.get("Last_SQL_Error") or status.get("Last_Error") or "no error shown"
            self.why = f"green's replication SQL thread is not running ({error})"
        else:
            self.why = f"green had not applied blue's binlog up to {position} within {timeout:.3f} s (replica lag)"
        return False


def _applied(status: dict[str, Any]) -> BinlogPosition | None:
    """Blue's binlog coordinates green has executed up to (old and new column names)."""
    file = status.get("Relay_Master_Log_File", status.get("Relay_Source_Log_File"))
    pos = status.get("Exec_Master_Log_Pos", status.get("Exec_Source_Log_Pos"))
    return BinlogPosition(str(file), int(pos)) if file and pos is not None else None


def _order(position: BinlogPosition) -> tuple[str, int, int]:
    """Binlog files sort by their numeric suffix (mysql-bin-changelog.000123), then by offset."""
    base, _, number = position.file.rpartition(".")
    return (base, int(number), position.pos) if number.isdigit() else (position.file, 0, position.pos)


def _replica_status(session: _Session) -> dict[str, Any]:
    """SHOW SLAVE STATUS by column name (SHOW REPLICA STATUS where the old name is gone); {} when none."""
    if session.conn is None:
        raise _Failure("lost", f"no connection to {session.name}")
    try:
        with session.conn.cursor() as cur:
            try:
                cur.execute("SHOW SLAVE STATUS")
            except pymysql.err.ProgrammingError:
                cur.execute("SHOW REPLICA STATUS")
            row = cur.fetchone()
            return dict(zip([d[0] for d in cur.description or ()], row, strict=True)) if row else {}
    except pymysql.MySQLError as exc:
        raise _classify(exc, session.name, None) from exc


# -- tables -------------------------------------------------------------------------------------------------
@dataclass
class _Table:
    schema: str
    name: str
    engine: str
    columns: list[tuple[str, str, bool]] = field(default_factory=list)    # name, data type, nullable
    indexes: dict[str, tuple[bool, list[str]]] = field(default_factory=dict)  # name -> (unique, columns)

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def key(self) -> tuple[str, list[str]] | None:
        """PRIMARY, else the unique index on the fewest NOT NULL columns: what chunks can follow."""
        if "PRIMARY" in self.indexes:
            return "PRIMARY", self.indexes["PRIMARY"][1]
        not_null = {c for c, _, nullable in self.columns if not nullable}
        usable = sorted((len(cols), name) for name, (unique, cols) in self.indexes.items()
                        if unique and set(cols) <= not_null)
        return (usable[0][1], self.indexes[usable[0][1]][1]) if usable else None


def _in_scope(schema: str, table: str, settings: _Settings) -> bool:
    if settings.schemas is not None and schema not in settings.schemas:
        return False
    return schema not in settings.exclude and f"{schema}.{table}" not in settings.exclude


def _tables(session: _Session, settings: _Settings, seconds: float) -> dict[str, _Table]:
    """Base tables in scope with their columns and indexes (three information_schema reads)."""
    where, args = _schema_filter(settings)
    tables: dict[str, _Table] = {}
    for schema, name, engine in session.query(
            f"SELECT table_schema, table_name, engine FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            f"AND {where}", args, seconds):
        if _in_scope(str(schema), str(name), settings):
            tables[f"{schema}.{name}"] = _Table(str(schema), str(name), str(engine or ""))
    for schema, name, column, data_type, nullable in session.query(
            "SELECT table_schema, table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE {where} ORDER BY table_schema, table_name, ordinal_position", args, seconds):
        table = tables.get(f"{schema}.{name}")
        if table is not None:
            table.columns.append((str(column), str(data_type).lower(), nullable == "YES"))
    for schema, name, index, non_unique, column in session.query(
            "SELECT table_schema, table_name, index_name, non_unique, column_name FROM information_schema.statistics "
            f"WHERE {where} ORDER BY table_schema, table_name, index_name, seq_in_index", args, seconds):
        table = tables.get(f"{schema}.{name}")
        if table is not None:
            unique, cols = table.indexes.setdefault(str(index), (not int(non_unique), []))
            cols.append(str(column))
    return tables


def _schema_filter(settings: _Settings) -> tuple[str, list[Any]]:
    """`table_schema` restricted to the named schemas, never to a system schema."""
    names = list(settings.schemas) if settings.schemas is not None else list(SYSTEM_SCHEMAS)
    marks = ", ".join(["%s"] * len(names))
    return (f"table_schema IN ({marks})" if settings.schemas is not None else f"table_schema NOT IN ({marks})"), names


def _names(session: _Session, settings: _Settings, seconds: float) -> set[str]:
    where, args = _schema_filter(settings)
    rows = session.query("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = "
                         f"'BASE TABLE' AND {where}", args, seconds)
    return {f"{s}.{t}" for s, t in rows if _in_scope(str(s), str(t), settings)}


def _q(name: str) -> str:
    """A quoted identifier, ready for PyMySQL's %-formatting."""
    return "`" + name.replace("`", "``").replace("%", "%%") + "`"


def _after(columns: list[str], bound: Sequence[Any], last: str) -> tuple[str, list[Any]]:
    """(c1, c2, ...) compared to `bound` lexicographically, spelt out so MySQL 5.7 uses the index range."""
    head = _q(columns[0])
    if len(columns) == 1:
        return f"{head} {last} %s", [bound[0]]
    strict = last[0]    # '>' or '<'
    rest, args = _after(columns[1:], bound[1:], last)
    return f"({head} {strict} %s OR ({head} = %s AND {rest}))", [bound[0], bound[0], *args]


@dataclass
class _Plan:
    """The SQL of one table's comparison (identical text on blue and green)."""

    table: _Table
    index: str | None
    key: list[str]
    row_hash: str                 # MD5 hex of one row
    source: str                   # FROM ... FORCE INDEX ...

    def where(self, lower: Sequence[Any] | None, upper: Sequence[Any] | None) -> tuple[str, list[Any]]:
        parts: list[str] = []
        args: list[Any] = []
        for bound, op in ((lower, ">"), (upper, "<=")):
            if bound is not None:
                text, values = _after(self.key, bound, op)
                parts.append(text)
                args += values
        return (" WHERE " + " AND ".join(parts)) if parts else "", args

    def aggregate(self, where: str) -> str:
        word = "BIT_XOR" if self.key else "SUM"   # without a key equal rows may repeat: XOR would cancel them
        return (f"SELECT COUNT(*), COALESCE({word}(CAST(CONV(LEFT({self.row_hash}, 16), 16, 10) AS UNSIGNED)), 0) "
                f"{self.source}{where}")

    def rows(self, where: str) -> str:
        keys = "".join(f"{_q(k)}, " for k in self.key)
        return f"SELECT {keys}{self.row_hash} {self.source}{where}"

    def next_upper(self, where: str, chunk_rows: int) -> str:
        keys = ", ".join(_q(k) for k in self.key)
        return f"SELECT {keys} {self.source}{where} ORDER BY {keys} LIMIT 1 OFFSET {chunk_rows - 1}"


def _row_hash(columns: list[tuple[str, str, bool]]) -> str:
    """MD5 over every column's value as bytes, NULLs told apart from empty strings (pt-table-checksum style)."""
    parts = []
    for name, data_type, _ in columns:
        col = _q(name)
        if data_type == "json":
            expr = f"CAST(CAST({col} AS CHAR) AS BINARY)"
        elif data_type in _CHAR_TYPES:
            expr = f"CAST({col} AS BINARY)"    # bytes as stored: no collation mixing, case differences count
        else:
            expr = col
        parts.append(f"MD5({expr})" if data_type in _BIG_TYPES else expr)
    nullable = [f"ISNULL({_q(n)})" for n, _, null in columns if null]
    if nullable:
        parts.append(f"CONCAT({', '.join(nullable)})")
    return f"MD5(CONCAT_WS('#', {', '.join(parts)}))"


def _plan(blue: _Table, green: _Table, result: TableResult) -> _Plan | None:
    """How to compare this table, or None (with the reason recorded) when it cannot be compared."""
    green_columns = {c: t for c, t, _ in green.columns}
    missing = [c for c, _, _ in blue.columns if c not in green_columns]
    if missing:
        result.not_compared.append(NotCompared(f"columns {', '.join(missing)} exist on blue but not on green"))
        return None
    extra = [c for c, _, _ in green.columns if c not in {b for b, _, _ in blue.columns}]
    if extra:
        result.notes.append(f"columns only on green, not compared: {', '.join(extra)}")
    retyped = [f"{c} ({t} on blue, {green_columns[c]} on green)" for c, t, _ in blue.columns if green_columns[c] != t]
    if retyped:
        result.notes.append("compared by their text form although their types differ: " + "; ".join(retyped))
    result.columns = [c for c, _, _ in blue.columns]
    if blue.engine.lower() != "innodb":
        result.notes.append(f"engine {blue.engine}: the retry's shared lock does not hold writes back, so a "
                            "difference in this table can also be a write that landed between the two reads")
    key = blue.key()
    row_hash = _row_hash(blue.columns)
    source = f"FROM {_q(blue.schema)}.{_q(blue.name)}"
    if key is None:
        result.method = "whole table as one chunk (no primary or unique NOT NULL key)"
        return _Plan(blue, None, [], row_hash, source)
    index, columns = key
    if green.indexes.get(index, (True, []))[1] != columns:
        result.not_compared.append(NotCompared(f"key {index} ({', '.join(columns)}) is not the same on green"))
        return None
    result.key, result.key_columns = index, list(columns)
    result.method = f"chunks of {index} key ranges"
    return _Plan(blue, index, list(columns), row_hash, f"{source} FORCE INDEX ({_q(index)})")


# -- the run ------------------------------------------------------------------------------------------------
def _json_safe(values: Sequence[Any] | None) -> list[Any] | None:
    if values is None:
        return None
    out: list[Any] = []
    for v in values:
        if v is None or isinstance(v, bool | int | float | str):
            out.append(v)
        elif isinstance(v, bytes | bytearray):
            out.append("0x" + bytes(v).hex())
        elif isinstance(v, dt.date | dt.time):
            out.append(v.isoformat())
        else:   # Decimal, timedelta, ...
            out.append(str(v) if not isinstance(v, decimal.Decimal) else format(v, "f"))
    return out


def _sampled(seed: int, table: str, ordinal: int, fraction: float) -> bool:
    """Deterministic: the same seed, table and chunk number always give the same choice."""
    digest = hashlib.sha256(f"{seed}\0{table}\0{ordinal}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


class _StopTable(Exception):
    """The rest of this table (or of the run) cannot be compared; the message says why."""


@dataclass
class _Chunk:
    """A chunk read on blue, waiting for green to reach `position`."""

    lower: tuple[Any, ...] | None
    upper: tuple[Any, ...] | None
    where: str
    args: list[Any]
    on_blue: tuple[Any, ...] | None = None
    position: BinlogPosition | None = None


class _Run:
    def __init__(self, settings: _Settings, blue: _Session, green: _Session, catch_up: CatchUp,
                 result: ConsistencyResult) -> None:
        self.s = settings
        self.blue, self.green = blue, green
        self.catch_up = catch_up
        self.result = result
        self.deadline = time.monotonic() + settings.max_seconds
        self.rows = 0
        self.lost_in_a_row = 0

    # budget
    def left(self) -> float:
        return self.deadline - time.monotonic()

    def bound(self) -> float:
        return max(min(self.s.statement_timeout_s, self.left()), 0.001)

    def wait_bound(self) -> float:
        return max(min(self.s.max_catch_up_s, self.left()), 0.001)

    def exhausted(self) -> str | None:
        if self.result.stopped_early:
            return self.result.stopped_early
        if self.left() <= 0:
            return self.stop(f"time budget of max_seconds={self.s.max_seconds:g} s spent")
        if self.s.max_rows is not None and self.rows >= self.s.max_rows:
            return self.stop(f"row budget of max_rows={self.s.max_rows} rows compared")
        return None

    def stop(self, reason: str) -> str:
        self.result.stopped_early = self.result.stopped_early or reason
        return self.result.stopped_early

    def why_not_reached(self, position: BinlogPosition, timeout: float) -> str:
        why = getattr(self.catch_up, "why", "")
        return why or f"green did not reach blue's position {position} within {timeout:.3f} s"

    def failed(self, failure: _Failure) -> str:
        """The reason to record for a failed statement; stops the run when the budget or connections are gone."""
        if failure.kind == "timeout" and self.left() <= 0.01:
            return self.stop(f"time budget of max_seconds={self.s.max_seconds:g} s spent")
        if failure.kind == "lost":
            self.lost_in_a_row += 1
            broken = [s for s in (self.blue, self.green) if s.conn is None or not s.conn.open]
            if self.lost_in_a_row >= 2 or not all(s.reopen() for s in broken):
                return self.stop(str(failure))
        return str(failure)

    # tables
    def table(self, blue: _Table, green: _Table) -> TableResult:
        """Walk the key on blue, keep up to PIPELINE chunks read on blue ahead of green, and finish each on
        green as soon as green has applied blue's binlog up to the position read right after it."""
        result = TableResult(blue.full_name, method="not compared")
        plan = _plan(blue, green, result)
        if plan is None:
            return result
        if not plan.key and not self.small(plan, result):
            return result
        pending: deque[_Chunk] = deque()
        lower: tuple[Any, ...] | None = None
        walking, ordinal = True, 0
        try:
            while walking or pending:
                block = True
                if walking and len(pending) < PIPELINE:
                    block = False
                    stopped = self.exhausted()
                    if stopped:
                        raise _StopTable(stopped)
                    upper = self.next_upper(plan, result, lower) if plan.key else None
                    ordinal += 1
                    start, walking, lower = lower, upper is not None, upper
                    if (self.s.mode == "sampled" and ordinal > 1 and upper is not None
                            and not _sampled(self.s.sample_seed, blue.full_name, ordinal, self.s.sample_fraction)):
                        result.chunks_not_sampled += 1
                    else:
                        chunk = self.read_blue(plan, result, start, upper)
                        if chunk is not None:
                            pending.append(chunk)
                while pending:
                    head = pending[0]
                    assert head.position is not None
                    try:
                        reached = self.reached(head.position, self.wait_bound() if block else POLL_S)
                    except _Failure as failure:
                        pending.popleft()
                        self.skip(result, head.lower, head.upper, self.failed(failure), failure)
                        continue
                    if not reached:
                        if not block:
                            break
                        if getattr(self.catch_up, "broken", False):
                            raise _StopTable(self.stop(self.why_not_reached(head.position, 0)))
                    pending.popleft()
                    self.finish(plan, result, head)   # also when green lags: a match is still a match
                    block = False
        except _StopTable as stop:
            for chunk in pending:
                result.not_compared.append(NotCompared(str(stop), _json_safe(chunk.lower), _json_safe(chunk.upper)))
            if walking:
                result.not_compared.append(NotCompared(str(stop), _json_safe(lower), None))
        return result

    def small(self, plan: _Plan, result: TableResult) -> bool:
        """Whether a table without a key fits the whole-table fallback (at most chunk_rows rows, counted)."""
        try:
            over = self.blue.query(f"SELECT 1 {plan.source} LIMIT 1 OFFSET {self.s.chunk_rows}", (), self.bound())
        except _Failure as failure:
            result.not_compared.append(NotCompared(self.failed(failure)))
            return False
        if over:
            result.not_compared.append(NotCompared(
                f"no primary key or unique key on NOT NULL columns to cut chunks by, and more than chunk_rows="
                f"{self.s.chunk_rows} rows for the whole-table fallback: add a primary key (row-based replication "
                f"needs one too) or raise chunk_rows"))
        return not over

    def skip(self, result: TableResult, lower: tuple[Any, ...] | None, upper: tuple[Any, ...] | None,
             reason: str, failure: _Failure | None = None) -> None:
        """Record a chunk as not compared; stop the table when the run stopped or the table changed."""
        result.not_compared.append(NotCompared(reason, _json_safe(lower), _json_safe(upper)))
        if self.result.stopped_early:
            raise _StopTable(self.result.stopped_early)
        if failure is not None and failure.kind in ("gone", "error"):
            raise _StopTable(f"after an earlier chunk failed: {reason}")

    def next_upper(self, plan: _Plan, result: TableResult, lower: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        where, args = plan.where(lower, None)
        try:
            found = self.blue.query(plan.next_upper(where, self.s.chunk_rows), args, self.bound())
        except _Failure as failure:
            reason = self.failed(failure)
            if failure.kind == "timeout" and not self.result.stopped_early:
                reason = (f"finding the next chunk boundary on blue took longer than statement_timeout_s="
                          f"{self.s.statement_timeout_s:g} s")
            raise _StopTable(reason) from failure
        return tuple(found[0]) if found else None

    def read_blue(self, plan: _Plan, result: TableResult, lower: tuple[Any, ...] | None,
                  upper: tuple[Any, ...] | None) -> _Chunk | None:
        """The lock-free aggregate on blue and blue's binlog position right after it."""
        where, args = plan.where(lower, upper)
        try:
            on_blue = tuple(self.blue.query(plan.aggregate(where), args, self.bound())[0])
            position = _position(self.blue)
        except _Failure as failure:
            self.skip(result, lower, upper, self.failed(failure), failure)
            return None
        self.lost_in_a_row = 0
        return _Chunk(lower, upper, where, args, on_blue, position)

    def finish(self, plan: _Plan, result: TableResult, chunk: _Chunk) -> None:
        """Green's aggregate; equal is a match (green holds a state blue committed), else the locked retry."""
        assert chunk.on_blue is not None and chunk.position is not None
        try:
            on_green = tuple(self.green.query(plan.aggregate(chunk.where), chunk.args, self.bound())[0])
        except _Failure as failure:
            self.skip(result, chunk.lower, chunk.upper, self.failed(failure), failure)
            return
        self.result.last_position = str(chunk.position)
        if chunk.on_blue == on_green:
            self.count(result, int(chunk.on_blue[0]))
            return
        result.chunks_retried += 1
        try:   # again without locks, green read the moment it reached blue's position: most moving chunks match
            on_blue = tuple(self.blue.query(plan.aggregate(chunk.where), chunk.args, self.bound())[0])
            position = _position(self.blue)
            self.reached(position, self.wait_bound())
            if on_blue == tuple(self.green.query(plan.aggregate(chunk.where), chunk.args, self.bound())[0]):
                self.result.last_position = str(position)
                self.count(result, int(on_blue[0]))
                return
        except _Failure as failure:
            self.skip(result, chunk.lower, chunk.upper, self.failed(failure), failure)
            return
        result.chunks_locked += 1
        reason = "not retried"
        for attempt in range(self.s.retries):
            stopped = self.exhausted()
            if stopped:
                self.skip(result, chunk.lower, chunk.upper, stopped)
            try:
                outcome = self.locked(plan, chunk.where, chunk.args)
            except _Failure as failure:
                reason = self.failed(failure)
                if failure.kind == "lock" and not self.result.stopped_early:
                    time.sleep(min(0.05 * (attempt + 1), max(self.left(), 0)))
                    continue
                self.skip(result, chunk.lower, chunk.upper, reason, failure)
                return
            if isinstance(outcome, str):
                reason = outcome
                if getattr(self.catch_up, "broken", False):
                    self.skip(result, chunk.lower, chunk.upper, self.stop(reason))
                continue
            blue_rows, green_rows, position = outcome
            self.result.last_position = str(position)
            self.count(result, len(blue_rows))
            difference = _difference(plan, blue_rows, green_rows, chunk.lower, chunk.upper, position)
            if difference is not None:
                result.add_difference(difference)
            return
        self.skip(result, chunk.lower, chunk.upper, f"differed in the lock-free pass and could not be compared "
                                                     f"under lock in {self.s.retries} attempts: {reason}")

    def count(self, result: TableResult, rows: int) -> None:
        result.chunks_compared += 1
        result.rows_covered += rows
        self.rows += rows

    def reached(self, position: BinlogPosition, timeout: float) -> bool:
        """The catch-up, with what the record keeps about it (a lagging green explains a slow, partial run)."""
        started = time.monotonic()
        try:
            done = bool(self.catch_up(position, timeout))
        except _Failure:
            raise
        except Exception as exc:  # noqa: BLE001 - the caller's catch-up: record what it raised
            raise _Failure("error", f"replica_catch_up raised {type(exc).__name__}: {exc}") from exc
        if timeout > POLL_S:
            stats = self.result.catch_up
            stats["waits"] += 1
            stats["not_reached"] += 0 if done else 1
            stats["longest_s"] = round(max(stats["longest_s"], time.monotonic() - started), 3)
        return done

    def locked(self, plan: _Plan, where: str, args: list[Any]
               ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], BinlogPosition] | str:
        """Blue's rows under a shared lock, green's rows once it applied blue's binlog up to that point."""
        self.blue.query("START TRANSACTION")
        try:
            blue_rows = self.blue.query(plan.rows(where) + " LOCK IN SHARE MODE", args, self.bound())
            position = _position(self.blue)
            wait = self.wait_bound()
            if not self.reached(position, wait):
                return self.why_not_reached(position, wait)
            green_rows = self.green.query(plan.rows(where), args, self.bound())
            return blue_rows, green_rows, position
        finally:
            self.blue.release()


def _difference(plan: _Plan, blue_rows: list[tuple[Any, ...]], green_rows: list[tuple[Any, ...]],
                lower: tuple[Any, ...] | None, upper: tuple[Any, ...] | None,
                position: BinlogPosition) -> Difference | None:
    base = Difference("rows", _json_safe(lower), _json_safe(upper), str(position), len(blue_rows), len(green_rows))
    if not plan.key:   # no key: compare the rows as a multiset of hashes
        on_blue, on_green = Counter(r[0] for r in blue_rows), Counter(r[0] for r in green_rows)
        if on_blue == on_green:
            return None
        base.only_on_blue = sum((on_blue - on_green).values())
        base.only_on_green = sum((on_green - on_blue).values())
        return base
    n = len(plan.key)
    blue_map = {tuple(r[:n]): r[n] for r in blue_rows}
    green_map = {tuple(r[:n]): r[n] for r in green_rows}
    only_blue = sorted((k for k in blue_map if k not in green_map), key=repr)
    only_green = sorted((k for k in green_map if k not in blue_map), key=repr)
    changed = sorted((k for k in blue_map if k in green_map and blue_map[k] != green_map[k]), key=repr)
    if not (only_blue or only_green or changed):
        return None
    base.only_on_blue, base.only_on_green, base.changed = len(only_blue), len(only_green), len(changed)
    for keys, target in ((only_blue, base.keys_only_on_blue), (only_green, base.keys_only_on_green),
                         (changed, base.keys_changed)):
        target.extend(_json_safe(k) or [] for k in keys[:LISTED_KEYS])
    return base


def _not_compared_all(result: ConsistencyResult, names: Iterable[str], reason: str) -> None:
    for name in sorted(names):
        result.tables.append(TableResult(name, "not compared", not_compared=[NotCompared(reason)]))


def _status(result: ConsistencyResult) -> Status:
    if any(t.differences_total for t in result.tables):
        return "differences"
    if result.stopped_early or result.schemas_without_tables or any(t.not_compared for t in result.tables):
        return "incomplete"
    return "match"


# -- the public entry point ---------------------------------------------------------------------------------
def compare(blue: Connect, green: Connect, *, mode: Mode, schemas: list[str] | None = None,
            exclude: Sequence[str] = (), chunk_rows: int = 1000, max_seconds: float = 120.0,
            max_rows: int | None = None, sample_fraction: float = 0.05, sample_seed: int = 0,
            statement_timeout_s: float = 5.0, max_catch_up_s: float = 2.0, lock_wait_s: int = 1,
            retries: int = 3, replica_catch_up: CatchUp | None = None) -> ConsistencyResult:
    """Compare green's application tables with blue's while blue takes writes (see the module docstring).

    `blue`/`green` open connections (the caller decides endpoint, user, TLS; give them a read_timeout above
    `statement_timeout_s` and `max_catch_up_s`). `schemas` None means every non-system schema; `exclude` takes
    'schema' or 'schema.table'. `mode`: 'full' compares every chunk, 'sampled' the first and last chunk of each
    table and a deterministic `sample_fraction` of the others (seeded by `sample_seed`), 'off' compares nothing
    and says so. Bounds: each statement `statement_timeout_s` on the server, the run `max_seconds` and
    `max_rows`; a chunk's rows on blue stay share-locked at most `max_catch_up_s` plus two statements, and only
    when the lock-free pass differed. `replica_catch_up(position, timeout)` replaces the default wait
    (MASTER_POS_WAIT on green). Failures while comparing are recorded as not compared, never raised; bad
    arguments raise ConsistencyInputError."""
    settings = _validate(mode, schemas, list(exclude) if not isinstance(exclude, str) else exclude, chunk_rows,
                         max_seconds, max_rows, sample_fraction, sample_seed, statement_timeout_s, max_catch_up_s,
                         lock_wait_s, retries, "caller's replica_catch_up" if replica_catch_up else
                         "MASTER_POS_WAIT on green (SOURCE_POS_WAIT on MySQL >= 8.0.26)")
    if not callable(blue) or not callable(green):
        raise ConsistencyInputError("consistency check: blue and green must be zero-argument callables that return "
                                    "a new PyMySQL connection, e.g. lambda: db.connect(endpoint, user, password).")
    recorded = asdict(settings)
    if settings.mode != "sampled":
        recorded.pop("sample_fraction")
        recorded.pop("sample_seed")
    result = ConsistencyResult(settings.mode, "not_run", recorded,
                               dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    if settings.mode == "off":
        result.notes.append("mode 'off': blue and green were not compared")
        return result
    started = time.monotonic()
    blue_session = _Session("blue", blue, settings.lock_wait_s)
    green_session = _Session("green", green, settings.lock_wait_s)
    try:
        _run(settings, blue_session, green_session, replica_catch_up, result)
    finally:
        blue_session.close()
        green_session.close()
        result.elapsed_s = round(time.monotonic() - started, 3)
        result.status = _status(result)
    return result


def _run(settings: _Settings, blue: _Session, green: _Session, replica_catch_up: CatchUp | None,
         result: ConsistencyResult) -> None:
    run = _Run(settings, blue, green, replica_catch_up or _PositionWait(green), result)
    on_blue: dict[str, _Table] = {}
    try:
        for session in (blue, green):
            session.open()
        result.blue_server, result.green_server = blue.version, green.version
        on_blue = _tables(blue, settings, run.bound())
        position = _position(blue)
        result.first_position = str(position)
        wait = max(min(max(settings.max_catch_up_s, 10.0), run.left()), 0.001)
        if not run.reached(position, wait):
            run.exhausted()
            run.stop("green did not reach blue's first recorded position: " + run.why_not_reached(position, wait))
            _not_compared_all(result, on_blue, str(result.stopped_early))
            return
        on_green = _tables(green, settings, run.bound())
        still_on_blue = _names(blue, settings, run.bound())
    except _Failure as failure:
        reason = run.failed(failure)
        run.stop(f"could not start the comparison: {reason}")
        _not_compared_all(result, on_blue, str(result.stopped_early))
        return
    except Exception as exc:  # noqa: BLE001 - connecting is the caller's code: record it, never raise
        run.stop(f"could not start the comparison: {type(exc).__name__}: {exc}")
        _not_compared_all(result, on_blue, str(result.stopped_early))
        return
    result.schemas_without_tables = [s for s in settings.schemas or [] if not any(
        t.schema == s for t in on_blue.values())]
    for name in sorted(on_blue):
        if name not in still_on_blue:
            result.tables.append(TableResult(name, "not compared", not_compared=[
                NotCompared("dropped on blue while the comparison started")]))
        elif name not in on_green:
            table = TableResult(name, "table existence")
            table.add_difference(Difference("table_only_on_blue", position=str(position)))
            result.tables.append(table)
        else:
            result.tables.append(run.table(on_blue[name], on_green[name]))
    for name in sorted(set(on_green) - set(on_blue) - still_on_blue):
        table = TableResult(name, "table existence")
        table.add_difference(Difference("table_only_on_green", position=str(position)))
        result.tables.append(table)
