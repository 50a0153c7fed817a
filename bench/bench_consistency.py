"""Time and rows/s of the data-consistency comparison (runbook_lib/checks/consistency.py) on a lab deployment whose
green (upgraded to 8.0) replicates blue: full mode without and with a concurrent writer, and sampled mode, at
each table size.  Usage: bench_consistency.py [ROWS ...] [--chunk-rows N] [--writer-threads N]
(default: 100000 1000000, chunk rows 1000, 6 writer threads)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pymysql

sys.path.insert(0, str(Path(__file__).parent))
from common import conditions  # noqa: E402

from runbook_lib.checks.consistency import ConsistencyResult, compare  # noqa: E402
from runbook_lib.lab import client  # noqa: E402
from runbook_lib.lab.paths import LabPaths  # noqa: E402


def _wait(fetch: Any, done: Any, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while not done(value := fetch()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {value}")
        time.sleep(0.05)
    return value


class Writer:
    """Autocommit writes on blue's endpoint from several connections: random-row updates, a hot row, inserts at
    the end of the key, deletes (the mix the tests use)."""

    def __init__(self, connect: Any, table: str, rows: int, threads: int) -> None:
        self.connect, self.table, self.rows = connect, table, rows
        self.acks: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> Writer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def rate(self, start: float, end: float) -> float:
        return sum(1 for t in list(self.acks) if start <= t <= end) / max(end - start, 1e-9)

    def _run(self, n: int) -> None:
        rnd = random.Random(n)
        next_id = 10**10 + n * 10**9 + int(time.time() * 1000) % 10**8 * 10
        with self.connect() as conn, conn.cursor() as cur:
            while not self._stop.is_set():
                dice = rnd.random()
                if dice < 0.15:
                    cur.execute(f"UPDATE {self.table} SET qty = qty + 1 WHERE id = 1")
                elif dice < 0.75:
                    cur.execute(f"UPDATE {self.table} SET qty = qty + 1, name = %s WHERE id = %s",
                                (f"w{rnd.randint(0, 99)}", rnd.randint(2, self.rows)))
                elif dice < 0.93:
                    next_id += 1
                    cur.execute(f"INSERT INTO {self.table} VALUES (%s, 'new', 1, 1.50, NULL, NOW(6))", (next_id,))
                else:
                    cur.execute(f"DELETE FROM {self.table} WHERE id = %s", (rnd.randint(2, self.rows),))
                self.acks.append(time.time())


def _line(label: str, result: ConsistencyResult, extra: str = "") -> str:
    totals = result.totals()
    rate = totals["rows_covered"] / result.elapsed_s if result.elapsed_s else 0.0
    return (f"  {label:<28} {result.elapsed_s:7.2f} s  {rate:9.0f} rows/s  {totals['rows_covered']:>9} rows  "
            f"{totals['chunks_compared']:>5} chunks  retried {totals['chunks_retried']:>3} "
            f"(locked {totals['chunks_locked']:>2})  status {result.status}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--chunk-rows", type=int, default=1000)
    parser.add_argument("--writer-threads", type=int, default=6)
    args = parser.parse_args()
    paths = LabPaths(Path(tempfile.mkdtemp(prefix="bench-consistency-")))
    print(conditions())
    print(f"method: chunked by primary key, {args.chunk_rows} rows per chunk, lock-free pass at blue's recorded "
          "binlog position, differing chunks retried (lock-free, then under a shared lock); blue 5.7, green 8.0 "
          "(MariaDB reporting those versions), both behind the lab's per-name TCP endpoints, green applying with "
          "slave_parallel_threads=4; table: BIGINT id, VARCHAR, INT, DECIMAL, TEXT (1 in 7 NULL), DATETIME(6)\n")
    try:
        state = client.up(paths)
        rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                           aws_access_key_id="lab", aws_secret_access_key="lab")
        blue = rds.describe_db_instances(DBInstanceIdentifier="database-1")["DBInstances"][0]
        bgd = rds.create_blue_green_deployment(BlueGreenDeploymentName="bench", Source=blue["DBInstanceArn"],
                                               TargetDBParameterGroupName="pg-mysql-57")["BlueGreenDeployment"]
        ident = bgd["BlueGreenDeploymentIdentifier"]
        bgd = _wait(lambda: rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)
                    ["BlueGreenDeployments"][0], lambda d: d["Status"] == "AVAILABLE")
        green_name = bgd["Target"].split(":")[-1]
        rds.modify_db_instance(DBInstanceIdentifier=green_name, EngineVersion="8.0.39", AllowMajorVersionUpgrade=True,
                               DBParameterGroupName="pg-mysql-80", OptionGroupName="mysql80-option-group",
                               ApplyImmediately=True)
        green = _wait(lambda: rds.describe_db_instances(DBInstanceIdentifier=green_name)["DBInstances"][0],
                      lambda i: i["DBInstanceStatus"] == "available" and i["EngineVersion"] == "8.0.39")
        password = str((paths.read_credentials() or {})["master_password"])
        admin = json.loads((paths.root / "internal.json").read_text())["admin_password"]
        ports = client.status(paths)["instances"]

        def endpoint(ep: dict[str, Any]) -> Any:
            return lambda: pymysql.connect(host=ep["Address"], port=ep["Port"], user="admin", password=password,
                                           autocommit=True, ssl_disabled=True, read_timeout=120)

        def server(name: str) -> pymysql.connections.Connection[Any]:
            return pymysql.connect(host="127.0.0.1", port=ports[name]["server_port"], user="root", password=admin,
                                   autocommit=True, ssl_disabled=True, read_timeout=600)

        on_blue, on_green = endpoint(blue["Endpoint"]), endpoint(green["Endpoint"])
        with server(green_name) as conn, conn.cursor() as cur:
            for sql in ("STOP SLAVE", "SET GLOBAL slave_parallel_threads = 4", "START SLAVE"):
                cur.execute(sql)

        def caught_up() -> None:
            with server("database-1") as b, b.cursor() as bc, server(green_name) as g, g.cursor() as gc:
                bc.execute("SHOW MASTER STATUS")
                file, pos = bc.fetchone()[:2]
                gc.execute("SELECT MASTER_POS_WAIT(%s, %s, 600)", (file, pos))

        for rows in args.rows:
            table = f"bench.items_{rows}"
            started = time.monotonic()
            with on_blue() as conn, conn.cursor() as cur:
                cur.execute("CREATE DATABASE IF NOT EXISTS bench")
                cur.execute("USE bench")
                cur.execute(f"CREATE TABLE items_{rows} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
                            "qty INT NOT NULL, price DECIMAL(10,2), note TEXT, updated DATETIME(6) NOT NULL)")
                for low in range(0, rows, 100_000):
                    cur.execute(f"INSERT INTO items_{rows} SELECT seq, CONCAT('item ', seq), seq % 1000, seq / 100, "
                                f"IF(seq % 7 = 0, NULL, REPEAT('n', seq % 40)), '2024-01-01' + INTERVAL seq SECOND "
                                f"FROM seq_{low + 1}_to_{min(low + 100_000, rows)}")
            caught_up()
            print(f"{rows:,} rows (loaded on blue and replicated to green in {time.monotonic() - started:.1f} s):")
            common: dict[str, Any] = {"schemas": ["bench"], "exclude": [t for t in (f"bench.items_{r}" for r in
                                                                                   args.rows) if t != table],
                                      "chunk_rows": args.chunk_rows, "max_seconds": 3600}
            print(_line("full, no writer", compare(on_blue, on_green, mode="full", **common)))
            with Writer(on_blue, table, rows, args.writer_threads) as writer:
                time.sleep(1.0)
                start = time.time()
                result = compare(on_blue, on_green, mode="full", **common)
                rate = writer.rate(start, time.time())
            print(_line(f"full, writer {args.writer_threads} conns", result,
                        f"  (writer: {rate:.0f} writes/s; green catch-up waits {result.catch_up['waits']:.0f}, "
                        f"longest {result.catch_up['longest_s']:.3f} s)"))
            caught_up()
            sampled = compare(on_blue, on_green, mode="sampled", sample_fraction=0.05, **common)
            print(_line("sampled 5%, no writer", sampled,
                        f"  ({sampled.totals()['chunks_not_sampled']} chunks walked, not sampled)"))
            print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        client.down(paths)
        shutil.rmtree(paths.root, ignore_errors=True)


if __name__ == "__main__":
    main()
