"""The downtime probe: what clients live through during a switchover, at millisecond resolution.

Two loops run at a fixed interval against one endpoint:
- *connect*: a new connection per tick (what a reconnecting application does), reading the server's
  identity and time, the endpoint's DNS answer and, when readable, mysql.rds_topology;
- *write*: one long-lived connection (reconnected when it breaks) writing a monotonically increasing
  sequence number with autocommit, so each number is acknowledged, refused, or in doubt (sent, but the
  connection broke before the answer).
Every attempt is kept with its start/end time, outcome and MySQL error.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import pymysql

# Client-side errors that mean the connection broke: a write in flight is then in doubt.
_BROKEN = {2006, 2013, 2055}


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

    def ssl_args(self) -> dict[str, Any]:
        if not (self.tls or self.ca_bundle):
            return {"ssl_disabled": True}
        args: dict[str, Any] = {"ssl_verify_identity": self.verify_identity}
        if self.ca_bundle:
            args.update(ssl_ca=self.ca_bundle, ssl_verify_cert=True)
        return args


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


def _error(exc: BaseException) -> tuple[int | None, str]:
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return None, f"{type(exc).__name__}: {exc}"


class Probe:
    """Start it before the switchover, stop it after; `attempts` is the raw record."""

    def __init__(self, target: Target, interval_ms: int = 100, run_id: str | None = None,
                 timeout_s: float = 2.0, topology_every: int = 10) -> None:
        self.target = target
        self.interval = interval_ms / 1000
        # Sequence numbers are per probe run: the heartbeat table may hold other runs' rows.
        self.run_id = run_id or f"probe-{uuid.uuid4().hex[:12]}"
        self.timeout = timeout_s
        self.topology_every = topology_every
        self.attempts: list[Attempt] = []
        self.acknowledged: list[int] = []
        self.in_doubt: list[int] = []
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.connections = 0
        self.queries = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the heartbeat table (before the switchover, so it replicates to green)."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.target.database}`")
            cur.execute(f"CREATE TABLE IF NOT EXISTS `{self.target.database}`.heartbeat ("
                        "run_id VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, written_at DATETIME(6) NOT NULL, "
                        "server_id INT NOT NULL, PRIMARY KEY (run_id, seq))")

    def start(self) -> Probe:
        self.prepare()
        self.started_at = time.time()
        for name, loop in (("connect", self._connect_loop), ("write", self._write_loop)):
            thread = threading.Thread(target=loop, name=f"probe-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wait_for_baseline(self, successes: int = 10, timeout_s: float = 30.0) -> bool:
        """Until each loop has `successes` good attempts: the 'before' the outage is measured against."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            attempts = self.snapshot()
            if all(sum(1 for a in attempts if a.loop == loop and a.ok) >= successes for loop in ("connect", "write")):
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

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- loops -------------------------------------------------------------------------------------
    def _connect(self) -> pymysql.connections.Connection:
        with self._lock:
            self.connections += 1
        return pymysql.connect(host=self.target.host, port=self.target.port, user=self.target.user,
                               password=self.target.password, connect_timeout=self.timeout,
                               read_timeout=self.timeout, write_timeout=self.timeout, autocommit=True,
                               **self.target.ssl_args())

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def _ticks(self) -> Any:
        next_at = time.monotonic()
        while not self._stop.is_set():
            yield
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()  # an attempt overran the interval: do not burst to catch up

    def _connect_loop(self) -> None:
        n = 0
        for _ in self._ticks():
            n += 1
            start = time.time()
            try:
                dns = ",".join(sorted({a[4][0] for a in socket.getaddrinfo(self.target.host, self.target.port,
                                                                             type=socket.SOCK_STREAM)}))
            except OSError as exc:
                dns = f"error: {exc}"
            try:
                with self._connect() as conn, conn.cursor() as cur:
                    cur.execute("SELECT @@hostname, @@server_id, @@version, @@read_only, NOW(6)")
                    host, server_id, version, read_only, now = cur.fetchone()
                    topology = None
                    if (n - 1) % self.topology_every == 0:
                        topology = self._topology(cur)
                    with self._lock:
                        self.queries += 1
                self._record(Attempt("connect", start, time.time(), True, "ok", server_id=int(server_id),
                                     hostname=host, version=version, read_only=bool(read_only),
                                     server_time=str(now), dns=dns, topology=topology))
            except (pymysql.MySQLError, OSError, ssl.SSLError) as exc:
                code, message = _error(exc)
                self._record(Attempt("connect", start, time.time(), False, "failed", code, message, dns=dns))

    def _topology(self, cur: Any) -> str | None:
        try:
            cur.execute("SELECT role, status, version, endpoint, port FROM mysql.rds_topology ORDER BY id")
            with self._lock:
                self.queries += 1
            return "; ".join(f"{r[0]}:{r[1]}:{r[2]}" for r in cur.fetchall())
        except pymysql.MySQLError as exc:
            return f"not readable ({_error(exc)[0]})"

    def _write_loop(self) -> None:
        conn: pymysql.connections.Connection | None = None
        server_id = None
        seq = 0
        sql = f"INSERT INTO `{self.target.database}`.heartbeat VALUES (%s, %s, NOW(6), @@server_id)"
        for _ in self._ticks():
            start = time.time()
            sent = False
            try:
                if conn is None:
                    conn = self._connect()
                    with conn.cursor() as cur:
                        cur.execute("SELECT @@server_id, @@version, @@read_only")
                        server_id, version, read_only = cur.fetchone()
                seq += 1
                with conn.cursor() as cur:
                    sent = True
                    cur.execute(sql, (self.run_id, seq))
                with self._lock:
                    self.queries += 1
                    self.acknowledged.append(seq)
                self._record(Attempt("write", start, time.time(), True, "ok", server_id=int(server_id), seq=seq))
            except (pymysql.MySQLError, OSError, ssl.SSLError) as exc:
                code, message = _error(exc)
                broken = code in _BROKEN or code is None
                outcome = "in-doubt" if sent and broken else "refused" if sent else "failed"
                if outcome == "in-doubt":
                    with self._lock:
                        self.in_doubt.append(seq)
                self._record(Attempt("write", start, time.time(), False, outcome, code, message,
                                     seq=seq if sent else None))
                if broken or not sent:
                    try:
                        if conn is not None:
                            conn.close()
                    except Exception:  # noqa: BLE001 - it is broken already
                        pass
                    conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)


def rows(attempts: list[Attempt]) -> list[dict[str, Any]]:
    return [asdict(a) for a in attempts]
