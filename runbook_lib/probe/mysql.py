"""The downtime probe: what clients live through during a switchover, at millisecond resolution.

Two loops, each on its own thread and its own cadence, run against one endpoint:
- *connect* (reads): a new connection per tick (what a reconnecting application does), reading the server's
  identity and time, the endpoint's DNS answer and, when readable, mysql.rds_topology;
- *write*: one long-lived connection (reconnected at once when it breaks) writing a monotonically increasing
  sequence number with autocommit, so each number is acknowledged, refused, or in doubt (sent, but the
  connection broke before the answer).
Every attempt is kept with its start/end time, outcome, how it failed (refused, timed out, in doubt) and
MySQL error; how slow is too slow is decided by the report (probe_report), from the data. With a journal,
each attempt is also on disk (one JSON line, flushed) the moment it is recorded, so a run killed during the
switchover keeps what it saw.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import pymysql  # type: ignore[import-untyped, unused-ignore]  # stubs: types-PyMySQL

from runbook_lib.engines.mysql.connection import TlsSettings

# Client-side errors that mean the connection broke: a write in flight is then in doubt.
_BROKEN = {2006, 2013, 2055}
JOURNAL_FORMAT = "runbook-probe-journal"
JOURNAL_VERSION = 1
LOOPS = ("connect", "write")


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str = "runbook_probe"
    ca_bundle: str | None = None
    verify_identity: bool = False
    tls: bool = False
    # The runbook's settings (step 05: from the parameters); when given they decide, else the three fields above do.
    tls_settings: TlsSettings | None = None

    def settings(self) -> TlsSettings:
        """TLS as asked: `tls_settings`, else the CLI's flags (a CA bundle verifies the certificate, --verify-identity
        also the name; --tls alone encrypts without checking the peer; nothing: plain). TLS asked for is required,
        never a silent fall-back to plain."""
        if self.tls_settings is not None:
            return self.tls_settings
        if self.ca_bundle:
            return TlsSettings("verify-identity" if self.verify_identity else "verify-ca", self.ca_bundle, "probe")
        return TlsSettings("required" if self.tls else "off", source="probe")

    def ssl_args(self) -> dict[str, Any]:
        return self.settings().pymysql_args()


@dataclass
class Attempt:
    loop: str                      # connect | write
    start: float                   # epoch seconds
    end: float
    ok: bool
    outcome: str                   # ok | refused | failed | in-doubt
    error_code: int | None = None
    error: str | None = None
    server_id: int | None = None
    hostname: str | None = None
    version: str | None = None
    read_only: bool | None = None
    server_time: str | None = None
    seq: int | None = None
    dns: str | None = None
    topology: str | None = None
    # Added later (files only grow): how it failed, and what it cost the server.
    failure: str | None = None     # None (ok) | refused | timeout | in-doubt
    connected: bool = False        # this attempt opened a new connection
    queries: int = 0               # statements it ran that the server answered

    @property
    def seconds(self) -> float:
        return self.end - self.start


ATTEMPT_FIELDS = tuple(f.name for f in fields(Attempt))


@dataclass
class ProbeData:
    """What a report is computed from: the probe's settings and its attempts, from a live probe or a journal."""

    run_id: str
    endpoint: str                  # host:port
    database: str
    interval_ms: float
    timeout_s: float
    slow_ms: float | None          # None: the report's automatic threshold
    started_at: float | None
    stopped_at: float | None       # None: still running, or the process was killed
    attempts: list[Attempt]
    notes: list[str] = field(default_factory=list)

    @property
    def interval(self) -> float:
        return self.interval_ms / 1000

    def of(self, loop: str) -> list[Attempt]:
        return sorted((a for a in self.attempts if a.loop == loop), key=lambda a: a.start)

    @property
    def acknowledged(self) -> list[int]:
        return [a.seq for a in self.of("write") if a.ok and a.seq is not None]

    @property
    def in_doubt(self) -> list[int]:
        return [a.seq for a in self.of("write") if a.outcome == "in-doubt" and a.seq is not None]


def _error(exc: BaseException) -> tuple[int | None, str]:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return None, f"{type(exc).__name__}: {exc}"


def _timed_out(exc: BaseException, message: str) -> bool:
    """The client gave up waiting (no answer within its timeout), as opposed to being refused."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (TimeoutError, socket.timeout)):
            return True
        seen = seen.__cause__ or seen.__context__
    return "timed out" in message


class Probe:
    """Start it before the switchover, stop it after; `attempts` is the raw record, `data()` a report's input."""

    def __init__(self, target: Target, interval_ms: int = 100, run_id: str | None = None,
                 timeout_s: float = 2.0, topology_every: int = 10, slow_ms: float | None = None,
                 journal: Path | None = None) -> None:
        self.target = target
        self.interval = interval_ms / 1000
        # Sequence numbers are per probe run: the heartbeat table may hold other runs' rows.
        self.run_id = run_id or f"probe-{uuid.uuid4().hex[:12]}"
        self.timeout = timeout_s
        self.topology_every = topology_every
        # An answer slower than this counts as unavailable for its whole duration; None: automatic
        # (probe_report.slow_thresholds says how).
        self.slow_ms = slow_ms
        self.journal = Path(journal) if journal is not None else None
        self.attempts: list[Attempt] = []
        self.acknowledged: list[int] = []
        self.in_doubt: list[int] = []
        self.loop_errors: list[str] = []
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._journal: IO[str] | None = None
        self._first_seq = 0
        self.connections = 0
        self.queries = 0
        self._ssl_args: dict[str, Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the heartbeat table (before the switchover, so it replicates to green), and continue the
        sequence where an earlier probe of the same run id left it (a step re-run in the same run)."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.target.database}`")
            cur.execute(f"CREATE TABLE IF NOT EXISTS `{self.target.database}`.heartbeat ("
                        "run_id VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, written_at DATETIME(6) NOT NULL, "
                        "server_id INT NOT NULL, PRIMARY KEY (run_id, seq))")
            cur.execute(f"SELECT COALESCE(MAX(seq), 0) FROM `{self.target.database}`.heartbeat WHERE run_id = %s",
                        (self.run_id,))
            self._first_seq = int(_row(cur.fetchone())[0])

    def start(self) -> Probe:
        self.prepare()
        self.started_at = time.time()
        self._open_journal()
        for name, loop in (("connect", self._connect_loop), ("write", self._write_loop)):
            thread = threading.Thread(target=self._guarded(name, loop), name=f"probe-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wait_for_baseline(self, successes: int = 10, timeout_s: float = 30.0) -> bool:
        """Until each loop has `successes` good attempts: the 'before' the outage is measured against."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            attempts = self.snapshot()
            if all(sum(1 for a in attempts if a.loop == loop and a.ok) >= successes for loop in LOOPS):
                return True
            time.sleep(self.interval / 2)
        return False

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout * 3 + 5)
        self.stopped_at = time.time()
        with self._lock:
            self._journal_line({"type": "stop", "stopped_at": self.stopped_at, "loop_errors": self.loop_errors})
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the record ----------------------------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        """The journal's first line: what the attempts after it were measured with (never the password)."""
        return {"type": "header", "format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "run_id": self.run_id,
                "endpoint": f"{self.target.host}:{self.target.port}", "database": self.target.database,
                "user": self.target.user, "tls": self.target.settings().encrypted,
                "tls_mode": self.target.settings().mode,
                "interval_ms": self.interval * 1000, "timeout_s": self.timeout, "slow_ms": self.slow_ms,
                "started_at": self.started_at, "pid": os.getpid()}

    def _open_journal(self) -> None:
        if self.journal is None:
            return
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        # Appended, never truncated: a re-run must not overwrite what a killed run left.
        self._journal = self.journal.open("a", encoding="utf-8")
        with self._lock:
            self._journal_line(self.header())

    def _journal_line(self, record: dict[str, Any]) -> None:
        """One JSON line, flushed to the OS at once (survives the process being killed); caller holds the lock."""
        if self._journal is None:
            return
        self._journal.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
        self._journal.flush()

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)
            self.connections += int(attempt.connected)
            self.queries += attempt.queries
            if attempt.loop == "write" and attempt.seq is not None:
                if attempt.ok:
                    self.acknowledged.append(attempt.seq)
                elif attempt.outcome == "in-doubt":
                    self.in_doubt.append(attempt.seq)
            try:
                self._journal_line({"type": "attempt", **asdict(attempt)})
            except OSError as exc:  # a full disk must not stop the measurement; the record says so
                self.loop_errors.append(f"journal: {exc}")
                self._journal = None

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def data(self) -> ProbeData:
        """A consistent copy of everything a report needs."""
        return ProbeData(self.run_id, f"{self.target.host}:{self.target.port}", self.target.database,
                         self.interval * 1000, self.timeout, self.slow_ms, self.started_at, self.stopped_at,
                         self.snapshot(), [f"loop error: {e}" for e in self.loop_errors])

    # -- loops -------------------------------------------------------------------------------------
    def _connect(self) -> pymysql.connections.Connection:
        if self._ssl_args is None:
            self._ssl_args = self.target.ssl_args()  # one SSL context for every connection of this probe
        return pymysql.connect(host=self.target.host, port=self.target.port, user=self.target.user,
                               password=self.target.password, connect_timeout=self.timeout,
                               read_timeout=self.timeout, write_timeout=self.timeout, autocommit=True,
                               **self._ssl_args)

    def _guarded(self, name: str, loop: Callable[[], None]) -> Callable[[], None]:
        """A loop that dies says so in the record (the report's coverage check then sees its silence)."""
        def run() -> None:
            try:
                loop()
            except BaseException as exc:  # noqa: BLE001 - recorded, then the thread ends
                with self._lock:
                    self.loop_errors.append(f"{name}: {type(exc).__name__}: {exc}")
                    self._journal_line({"type": "loop-error", "loop": name, "at": time.time(),
                                        "error": f"{type(exc).__name__}: {exc}"})
        return run

    def _ticks(self, at_once: Callable[[], bool] = lambda: False) -> Iterator[None]:
        """This loop's own cadence: one tick per interval; after an attempt overran, the next starts at once
        (no burst to catch up), so the end of a slow answer is followed by a fresh look. `at_once()` true after
        an attempt: the next one starts now (a client whose connection broke reconnects at once)."""
        next_at = time.monotonic()
        while not self._stop.is_set():
            yield
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay > 0 and not at_once():
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def _connect_loop(self) -> None:
        n = 0
        for _ in self._ticks():
            n += 1
            start = time.time()
            queries = 0
            try:
                dns = ",".join(sorted({str(a[4][0]) for a in socket.getaddrinfo(
                    self.target.host, self.target.port, type=socket.SOCK_STREAM)}))
            except OSError as exc:
                dns = f"error: {exc}"
            try:
                with self._connect() as conn, conn.cursor() as cur:
                    cur.execute("SELECT @@hostname, @@server_id, @@version, @@read_only, NOW(6)")
                    host, server_id, version, read_only, now = _row(cur.fetchone())
                    queries += 1
                    topology = None
                    if (n - 1) % self.topology_every == 0:
                        topology, answered = self._topology(cur)
                        queries += answered
                self._record(Attempt("connect", start, time.time(), True, "ok", server_id=int(server_id),
                                     hostname=host, version=version, read_only=bool(read_only),
                                     server_time=str(now), dns=dns, topology=topology, connected=True,
                                     queries=queries))
            except Exception as exc:  # noqa: BLE001 - any failure is an observation, not the end of the loop
                code, message = _error(exc)
                self._record(Attempt("connect", start, time.time(), False, "failed", code, message, dns=dns,
                                     failure="timeout" if _timed_out(exc, message) else "refused",
                                     connected=True, queries=queries))

    @staticmethod
    def _topology(cur: Any) -> tuple[str | None, int]:
        try:
            cur.execute("SELECT role, status, version, endpoint, port FROM mysql.rds_topology ORDER BY id")
            return "; ".join(f"{r[0]}:{r[1]}:{r[2]}" for r in cur.fetchall()), 1
        except pymysql.MySQLError as exc:
            return f"not readable ({_error(exc)[0]})", 1

    def _write_loop(self) -> None:
        conn: pymysql.connections.Connection | None = None
        server_id: int | None = None
        seq = self._first_seq
        sql = f"INSERT INTO `{self.target.database}`.heartbeat VALUES (%s, %s, NOW(6), @@server_id)"
        broke = [False]  # the last attempt found its established connection broken: reconnect at once
        for _ in self._ticks(lambda: broke[0]):
            broke[0] = False
            start = time.time()
            sent = connected = False
            queries = 0
            try:
                if conn is None:
                    connected = True
                    conn = self._connect()
                    with conn.cursor() as cur:
                        cur.execute("SELECT @@server_id, @@version, @@read_only")
                        server_id = int(_row(cur.fetchone())[0])
                        queries += 1
                seq += 1
                with conn.cursor() as cur:
                    sent = True
                    cur.execute(sql, (self.run_id, seq))
                    queries += 1
                self._record(Attempt("write", start, time.time(), True, "ok", server_id=server_id, seq=seq,
                                     connected=connected, queries=queries))
            except Exception as exc:  # noqa: BLE001 - any failure is an observation, not the end of the loop
                code, message = _error(exc)
                broken = code in _BROKEN or code is None
                outcome = "in-doubt" if sent and broken else "refused" if sent else "failed"
                failure = ("in-doubt" if outcome == "in-doubt" else
                           "timeout" if _timed_out(exc, message) else "refused")
                self._record(Attempt("write", start, time.time(), False, outcome, code, message,
                                     seq=seq if sent else None, failure=failure, connected=connected,
                                     queries=queries))
                if broken or not sent:
                    broke[0] = broken and not connected
                    _close(conn)
                    conn = None
        _close(conn)


def _row(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    if row is None:  # a SELECT of variables always has one row; none means the protocol went wrong
        raise pymysql.err.InterfaceError("the server answered without a row")
    return row


def _close(conn: pymysql.connections.Connection | None) -> None:
    if conn is None:
        return
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - it is broken already
        pass


def rows(attempts: list[Attempt]) -> list[dict[str, Any]]:
    return [asdict(a) for a in attempts]
