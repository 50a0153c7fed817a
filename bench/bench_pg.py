"""The PostgreSQL lab's figures: template build, server start, physical and logical green build for the
sample schema, and the write outage of a switchover (endpoint refused → fence → catch-up → sequences →
promote → endpoint moved) under one writer, over several runs.  Usage: bench_pg.py [RUNS]"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from runbook_lib.lab import postgres_sample as sample
from runbook_lib.lab.dataplane import postgres_replication as repl
from runbook_lib.lab.dataplane.endpoints import EndpointRouter
from runbook_lib.lab.dataplane.postgres_servers import PgLogin, PgServerSpec, build_template, new_server, pg_binary


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    t = time.monotonic()
    value = action()
    return time.monotonic() - t, value


def writer(port: int, login: PgLogin, stop: threading.Event, out: list[tuple[float, bool]]) -> None:
    """One long-lived connection inserting orders (autocommit, 1 ms pause), reconnecting when it breaks."""
    conn: psycopg.Connection[Any] | None = None
    while not stop.is_set():
        t = time.monotonic()
        try:
            if conn is None or conn.broken:
                conn = psycopg.connect(host="127.0.0.1", port=port, user=login.user, password=login.password,
                                       dbname=sample.APP_DATABASE, autocommit=True, connect_timeout=2,
                                       sslmode="disable", application_name="bench-writer")
            conn.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at) VALUES (1, 1, 1, now())")
            out.append((t, True))
        except psycopg.Error:
            out.append((t, False))
            if conn is not None and (conn.broken or conn.closed):
                conn = None
        time.sleep(0.001)
    if conn is not None:
        conn.close()


def outage(samples: list[tuple[float, bool]]) -> tuple[float, int, int]:
    """(seconds from the last acknowledged write before the first failure to the first one after the last
    failure, failed attempts, acknowledged writes)."""
    failed = [t for t, ok in samples if not ok]
    acked = sum(1 for _, ok in samples if ok)
    if not failed:
        return 0.0, 0, acked
    last_ok = max((t for t, ok in samples if ok and t < failed[0]), default=failed[0])
    recovered = min((t for t, ok in samples if ok and t > failed[-1]), default=failed[-1])
    return recovered - last_ok, len(failed), acked


def switchover_under_writer(blue: Any, green: Any, link: Any, login: PgLogin) -> tuple[float, int, int, Any]:
    router = EndpointRouter()
    try:
        port = router.add("database-1", blue.port)
        samples: list[tuple[float, bool]] = []
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(port, login, stop, samples))
        thread.start()
        time.sleep(0.5)
        router.set_mode(["database-1"], "refuse", cut=True)
        timings = repl.switch_over(blue, green, link)
        router.route("database-1", green.port)
        router.set_mode(["database-1"], "open")
        time.sleep(0.5)
        stop.set()
        thread.join()
    finally:
        router.close()
    return (*outage(samples), timings)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    version = subprocess.run([pg_binary("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
          f"Python {platform.python_version()}\npostgres: {version} (fsync=off, lab settings)")
    print(f"runs: {runs}; sample: 2,000 customers, 200 products, 6,000 orders, 1 large object, 1 materialized "
          "view, 4 sequences; writer: 1 connection through the endpoint proxy, autocommit inserts, 1 ms pause\n")
    admin = PgLogin("lab_admin", secrets.token_urlsafe(18))
    master = PgLogin("postgres_master", secrets.token_urlsafe(18))
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    base.chmod(0o711)
    figures: dict[str, list[float]] = {k: [] for k in ("template", "start", "physical", "logical", "outage_physical",
                                                       "outage_logical", "sequences_logical")}
    servers: list[Any] = []
    try:
        for i in range(runs):
            folder = base / f"run{i}"
            folder.mkdir()
            folder.chmod(0o711)
            t, _ = timed(lambda: build_template(folder / "template", admin, master))
            figures["template"].append(t)
            blue = new_server(folder / "blue", folder / "template", admin)
            servers.append(blue)
            t, _ = timed(lambda: blue.start(PgServerSpec("15.4", name=f"bench-blue{i}")))
            figures["start"].append(t)
            with blue.connect() as conn:
                sample.create_database(conn, master.user)
            with blue.connect(sample.APP_DATABASE, login=master) as conn:
                sample.seed(conn)
            t, (phys, _) = timed(lambda: repl.build_physical_green(
                blue, folder / "phys", PgServerSpec("15.7", name=f"bench-phys{i}", read_only=True), "bg_phys"))
            servers.append(phys)
            figures["physical"].append(t)
            logical = new_server(folder / "logical", folder / "template", admin)
            servers.append(logical)

            def build_logical() -> Any:
                logical.start(PgServerSpec("16.3", name=f"bench-logical{i}"))
                return repl.build_logical_green(blue, logical, sample.APP_DATABASE, "bg_bench")
            t, link = timed(build_logical)
            figures["logical"].append(t)
            # Switch over to the logical green (the physical one then follows a fenced blue; removed after).
            phys.remove()
            lost, failed, acked, timings = switchover_under_writer(blue, logical, [link], master)
            figures["outage_logical"].append(lost)
            figures["sequences_logical"].append(timings.sequences_s)
            print(f"run {i + 1}: template {figures['template'][-1]:.2f} s, start {figures['start'][-1]:.2f} s, "
                  f"physical green {figures['physical'][-1]:.2f} s, logical green {figures['logical'][-1]:.2f} s; "
                  f"logical switchover: writes refused {lost * 1000:.0f} ms ({failed} failed, {acked} acknowledged; "
                  f"fence {timings.fenced_s * 1000:.0f} ms, catch-up {timings.caught_up_s * 1000:.0f} ms, "
                  f"{len(timings.sequences)} sequences {timings.sequences_s * 1000:.0f} ms, promote "
                  f"{timings.promoted_s * 1000:.0f} ms, writable {timings.writable_s * 1000:.0f} ms)")
            # A physical switchover on a fresh pair (blue is now the old blue: start a new one from the template).
            blue2 = new_server(folder / "blue2", folder / "template", admin)
            servers.append(blue2)
            blue2.start(PgServerSpec("15.4", name=f"bench-blue2-{i}"))
            with blue2.connect() as conn:
                sample.create_database(conn, master.user)
            with blue2.connect(sample.APP_DATABASE, login=master) as conn:
                sample.seed(conn)
            phys2, plink2 = repl.build_physical_green(blue2, folder / "phys2",
                                                      PgServerSpec("15.7", name=f"bench-phys2-{i}", read_only=True),
                                                      "bg_phys2")
            servers.append(phys2)
            lost, failed, acked, timings = switchover_under_writer(blue2, phys2, plink2, master)
            figures["outage_physical"].append(lost)
            print(f"       physical switchover: writes refused {lost * 1000:.0f} ms ({failed} failed, {acked} "
                  f"acknowledged; fence {timings.fenced_s * 1000:.0f} ms, catch-up {timings.caught_up_s * 1000:.0f} "
                  f"ms, promote {timings.promoted_s * 1000:.0f} ms, writable {timings.writable_s * 1000:.0f} ms)")
            for server in servers:
                server.remove()
            servers.clear()
    finally:
        for server in servers:
            server.remove()
        shutil.rmtree(base, ignore_errors=True)

    def line(label: str, key: str, unit: float = 1.0, suffix: str = "s") -> None:
        values = [v * unit for v in figures[key]]
        print(f"{label}: median {statistics.median(values):.2f} {suffix}, min {min(values):.2f}, max {max(values):.2f}")

    print()
    line("template build (initdb + roles, once per lab folder)", "template")
    line("server start (from a template copy, to a real query)", "start")
    line("physical green build (pg_basebackup + start as standby)", "physical")
    line("logical green build (schema copy + publication/subscription + initial sync)", "logical")
    line("logical switchover write outage", "outage_logical", 1000, "ms")
    line("  of which sequences bumped", "sequences_logical", 1000, "ms")
    line("physical switchover write outage", "outage_physical", 1000, "ms")


if __name__ == "__main__":
    main()
