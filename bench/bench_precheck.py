"""Precheck time on synthetic schemas of 1k, 5k and 20k tables (5 columns each, one view per 10 tables,
one routine per 20 tables), per check and in total.  Usage: bench_precheck.py [SIZES...]"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import conditions  # noqa: E402

from runbook_lib.lab import client  # noqa: E402
from runbook_lib.lab.paths import LabPaths  # noqa: E402
from runbook_lib.lab.servers import Admin, ServerSpec, new_server  # noqa: E402
from runbook_lib.precheck import run_prechecks  # noqa: E402


def build(server, tables: int) -> float:
    started = time.monotonic()
    per_schema = 500
    with server.connect() as conn, conn.cursor() as cur:
        for start in range(0, tables, per_schema):
            schema = f"app{start // per_schema:03d}"
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {schema}")
            for i in range(start, min(start + per_schema, tables)):
                charset = " CHARACTER SET utf8" if i % 7 == 0 else ""
                cur.execute(f"CREATE TABLE IF NOT EXISTS {schema}.t{i} (id INT PRIMARY KEY, name VARCHAR(50){charset}, "
                            f"created DATETIME, amount DECIMAL(10,2), note TEXT)")
                if i % 10 == 0:
                    cur.execute(f"CREATE OR REPLACE VIEW {schema}.v{i} AS SELECT id, name FROM {schema}.t{i}")
                if i % 20 == 0:
                    cur.execute(f"CREATE OR REPLACE PROCEDURE {schema}.p{i}() SELECT COUNT(*) FROM {schema}.t{i}")
    return time.monotonic() - started


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 5000, 20000]
    paths = LabPaths(Path(tempfile.mkdtemp(prefix="bench-precheck-")))
    print(conditions())
    client.up(paths)
    admin = Admin("root", json.loads((paths.root / "internal.json").read_text())["admin_password"])
    server = new_server(paths.root / "bench-server", paths.template, admin)
    server.start(ServerSpec("5.7.44", 5))
    client.down(paths)
    print("schema: 5 columns per table (1 in 7 utf8mb3), a view per 10 tables, a procedure per 20 tables\n")
    try:
        for size in sizes:
            built = build(server, size)
            timings: dict[str, float] = {}
            started = time.monotonic()
            with server.connect() as conn:
                report = run_prechecks(conn, "8.0.39", timings=timings)
            total = time.monotonic() - started
            slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:6]
            print(f"{size:>6} tables (built in {built:.0f} s): precheck {total:6.2f} s, {report.warningCount} warnings; "
                  "slowest: " + ", ".join(f"{k} {v:.2f}s" for k, v in slowest))
    finally:
        server.remove()


if __name__ == "__main__":
    main()
