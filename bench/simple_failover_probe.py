"""The lab's downtime script (simple_failover.py from the public Aurora MySQL labs), modelled from
/work/shared/docs/downtime-anchor.md so the bench can run it next to the project's probe.

What it does, as the anchor describes it: once a second resolve the endpoint's name, open a NEW connection
(connect timeout 1 s, no read timeout: PyMySQL's default), run one SELECT of server variables, close, sleep
1 s; a failed connect or query, or landing on a read-only server ("DNS is stale!"), starts the outage and the
next good probe ends it; it reports `failover completed, took: ~ N sec.` in whole seconds.
Modelling choices (stated, since the source is not here): the variables read are the MySQL ones
(`@@innodb_read_only`, `@@read_only`; the Aurora-only ones would stop it at the first query on RDS for MySQL);
the outage runs from the moment the failing probe returned to the moment the next good probe returned
(time.time() in the except branch, then after the good query); whole seconds are `%d` (truncated).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import pymysql


@dataclass
class Look:
    start: float
    end: float
    ok: bool
    error: str | None = None


@dataclass
class Outage:
    start: float      # the failing probe returned
    end: float | None  # the next good probe returned (None: never, within the record)

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start

    @property
    def reported(self) -> int | None:
        """What the script prints: `took: ~ %d sec.`."""
        return None if self.seconds is None else int(self.seconds)


class OnceASecond:
    """One thread probing as the script does; `outages()` is what it would have reported."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.looks: list[Look] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simple-failover", daemon=True)

    def start(self) -> OnceASecond:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_for_good(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(look.ok for look in self.looks):
                return True
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.time()
            try:
                socket.gethostbyname(self.host)
                conn = pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                       connect_timeout=1, ssl_disabled=True)
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT @@innodb_read_only, @@read_only, @@hostname")
                        row = cur.fetchone()
                finally:
                    conn.close()
                read_only = bool(row and (row[0] or row[1]))
                self.looks.append(Look(start, time.time(), not read_only, "DNS is stale!" if read_only else None))
            except (pymysql.MySQLError, OSError) as exc:
                self.looks.append(Look(start, time.time(), False, f"{type(exc).__name__}: {exc}"))
            self._stop.wait(1.0)

    def outages(self) -> list[Outage]:
        out: list[Outage] = []
        current: Outage | None = None
        for look in self.looks:
            if not look.ok and current is None:
                current = Outage(look.end, None)
            elif look.ok and current is not None:
                current.end = look.end
                out.append(current)
                current = None
        if current is not None:
            out.append(current)
        return out
