"""Precheck time against its floor on synthetic schemas (5 columns per table, 1 in 7 utf8mb3, a view per 10
tables, a procedure per 20 tables, 500 tables per schema), at 1k / 5k / 20k / 100k tables by default.

For each size, on one private MariaDB server (innodb_file_per_table=OFF for every size, to spare the disk at
100k; MariaDB's default table_definition_cache=400), each timed the same way — the whole client process,
wall clock, after FLUSH TABLES, median of 3 runs alternated with the other command's (after InnoDB has
written back what the build dirtied), interpreter start-up included:

* precheck: `runbook precheck --format json` (checkTableOutput off, default 2 pool connections);
* floor: a Python process that runs `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES` and one
  pass over information_schema.COLUMNS (the columns the precheck reads), and nothing else;
* empty: the precheck on the same server before any user table exists; 'per table' is
  (precheck - empty) / tables.

The lab's template comes from RUNBOOK_LAB_DIR (or the default lab folder); a lab that was not running is
stopped again. Usage: bench_precheck.py [SIZES...]   e.g. bench_precheck.py 1000 5000 20000
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import conditions  # noqa: E402

from runbook_lib.engines.mysql.upgrade_checks import run_prechecks  # noqa: E402
from runbook_lib.lab import client  # noqa: E402
from runbook_lib.lab.dataplane.mariadb_servers import Admin, MariaDBServer, ServerSpec, find_binary, new_server  # noqa: E402
from runbook_lib.lab.paths import LabPaths  # noqa: E402

PER_SCHEMA = 500
TARGET = "8.0.39"
FLOOR = """
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", password=sys.argv[2], ssl_disabled=True)
with c.cursor() as cur:
    cur.execute("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"); cur.fetchall()
    cur.execute("SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, "
                "CHARACTER_OCTET_LENGTH, CHARACTER_MAXIMUM_LENGTH, COLUMN_DEFAULT, GENERATION_EXPRESSION, EXTRA "
                "FROM information_schema.COLUMNS"); cur.fetchall()
"""


def build(server: MariaDBServer, start: int, stop: int) -> float:
    """Tables start..stop-1 (with their views and procedures), through the mariadb client without binlog."""
    lines = ["SET SESSION sql_log_bin = 0;"]
    for first in range(start - start % PER_SCHEMA, stop, PER_SCHEMA):
        schema = f"app{first // PER_SCHEMA:03d}"
        lines.append(f"CREATE DATABASE IF NOT EXISTS {schema};")
        for i in range(max(first, start), min(first + PER_SCHEMA, stop)):
            charset = " CHARACTER SET utf8" if i % 7 == 0 else ""
            lines.append(f"CREATE TABLE {schema}.t{i} (id INT PRIMARY KEY, name VARCHAR(50){charset}, created DATETIME, "
                         "amount DECIMAL(10,2), note TEXT);")
            if i % 10 == 0:
                lines.append(f"CREATE VIEW {schema}.v{i} AS SELECT id, name FROM {schema}.t{i};")
            if i % 20 == 0:
                lines.append(f"CREATE PROCEDURE {schema}.p{i}() SELECT COUNT(*) FROM {schema}.t{i};")
    started = time.monotonic()
    subprocess.run([find_binary("mariadb"), "--host=127.0.0.1", f"--port={server.port}", "--user=root", "--skip-ssl"],
                   input="\n".join(lines) + "\n", text=True, check=True,
                   env=dict(os.environ, MYSQL_PWD=server.admin.password))
    return time.monotonic() - started


def timed(server: MariaDBServer, cmd: list[str], env: dict[str, str]) -> float:
    server.execute("FLUSH TABLES")
    started = time.monotonic()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = time.monotonic() - started
    if done.returncode not in (0, 2, 3):
        raise SystemExit(f"{cmd[:4]} failed ({done.returncode}): {done.stderr[-800:]}")
    return elapsed


def settle(server: MariaDBServer, limit: float = 120) -> float:
    """Wait until InnoDB has written back what the build dirtied (so no run pays for the build)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        rows = server.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
        if not rows or int(rows[0][1]) < 50:
            break
        time.sleep(1)
    return time.monotonic() - started


def interleaved(server: MariaDBServer, first: list[str], second: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Medians of 3 runs of each command, alternated so both meet the same machine."""
    a, b = [], []
    for _ in range(3):
        a.append(timed(server, first, env))
        b.append(timed(server, second, env))
    return statistics.median(a), statistics.median(b)


def breakdown(server: MariaDBServer) -> str:
    """One in-process run (not counted above) for where the time goes."""
    timings: dict[str, float] = {}
    server.execute("FLUSH TABLES")
    with server.connect(timeout=600) as conn:
        report = run_prechecks(conn, TARGET, timings=timings,
                               connect_more=lambda: server.connect(timeout=600), workers=2)
    top = sorted(((k, v) for k, v in timings.items() if k.startswith("read ")), key=lambda kv: -kv[1])[:4]
    return (f"fetch {timings['fetch']:.2f} s, checks {timings['checks']:.2f} s, tables opened one by one: "
            f"{getattr(report, 'openedTables', '?')}; slowest reads (summed over connections): "
            + ", ".join(f"{k[5:]} {v:.2f}" for k, v in top))


def main() -> None:
    sizes = sorted(int(a) for a in sys.argv[1:]) or [1000, 5000, 20000, 100000]
    paths = LabPaths.default()
    print(conditions())
    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    was_running = client.status(paths)["running"]
    client.up(paths)
    admin = Admin("root", json.loads((paths.root / "internal.json").read_text())["admin_password"])
    home = Path(tempfile.mkdtemp(prefix="bench-precheck-", dir=paths.root))
    server = new_server(home / "server", paths.template, admin)
    server.start(ServerSpec("5.7.44", 5, settings={"innodb-file-per-table": "OFF"}))
    if not was_running:
        client.down(paths)
    env = dict(os.environ, BENCH_PW=admin.password)
    precheck = [sys.executable, "-m", "runbook_lib.cli", "precheck", "--host", "127.0.0.1", "--port", str(server.port),
                "--user", "root", "--password-env", "BENCH_PW", "--target-version", TARGET, "--format", "json"]
    floor = [sys.executable, "-c", FLOOR, str(server.port), admin.password]
    try:
        server.execute("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0.001")
        empty, empty_floor = interleaved(server, precheck, floor, env)
        print(f"empty server (no user tables): precheck {empty:.2f} s, floor {empty_floor:.2f} s\n")
        print(f"{'tables':>7} {'built':>7} {'precheck':>9} {'floor':>7} {'ratio':>6} {'per table':>10}  load  breakdown")
        rows: list[dict[str, Any]] = []
        built = 0
        for size in sizes:
            took = build(server, built, size)
            built = size
            settle(server)
            pre, flo = interleaved(server, precheck, floor, env)
            per = (pre - empty) / size * 1e6
            rows.append({"tables": size, "precheck": pre, "floor": flo, "per_table_us": per})
            print(f"{size:>7} {took:>6.0f}s {pre:>8.2f}s {flo:>6.2f}s {pre / flo:>6.2f} {per:>8.0f}µs  "
                  f"{os.getloadavg()[0]:.1f}  {breakdown(server)}", flush=True)
        if len(rows) > 1:
            mid = statistics.median(r["per_table_us"] for r in rows)
            spread = ", ".join(f"{r['tables']}: {100 * (r['per_table_us'] / mid - 1):+.0f} %" for r in rows)
            print(f"\nper-table time above the empty server, against its median ({mid:.0f} µs): {spread}")
    finally:
        server.remove()
        import shutil
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
