"""Lab start-up, green build time and the data-plane outage of a switchover (time writes were refused),
over several runs.  Usage: bench_lab.py [RUNS]"""

from __future__ import annotations

import statistics
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

from runbook_lib.lab import client  # noqa: E402
from runbook_lib.lab.paths import LabPaths  # noqa: E402


def _wait(fetch: Any, done: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while not done(value := fetch()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {value}")
        time.sleep(0.02)
    return value


def writes_during(endpoint: dict[str, Any], password: str, stop: threading.Event, out: list[tuple[float, bool]]) -> None:
    conn, seq = None, 0
    while not stop.is_set():
        t = time.monotonic()
        try:
            if conn is None:
                conn = pymysql.connect(host=endpoint["Address"], port=endpoint["Port"], user="admin", password=password,
                                       database="shop", autocommit=True, connect_timeout=1, read_timeout=1,
                                       ssl_disabled=True)
            seq += 1
            with conn.cursor() as cur:
                cur.execute("INSERT INTO bench_writes VALUES (%s)", (seq,))
            out.append((t, True))
        except pymysql.MySQLError:
            out.append((t, False))
            conn = None
        time.sleep(0.001)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    paths = LabPaths(Path(tempfile.mkdtemp(prefix="bench-lab-")))
    print(conditions())
    print(f"runs: {runs}; sample data: 2,000 customers, 200 products, 6,000 orders; writer: 1 connection, "
          "autocommit inserts, 1 ms pause\n")
    client.up(paths)  # builds the template once (not counted below)
    startups, builds, outages = [], [], []
    try:
        for i in range(runs):
            t = time.monotonic()
            state = client.reset(paths)
            startups.append(time.monotonic() - t)
            rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                               aws_access_key_id="lab", aws_secret_access_key="lab")
            blue = rds.describe_db_instances(DBInstanceIdentifier="database-1")["DBInstances"][0]
            password = paths.read_credentials()["master_password"]
            t = time.monotonic()
            bgd = rds.create_blue_green_deployment(BlueGreenDeploymentName="bench", Source=blue["DBInstanceArn"],
                                                   TargetDBParameterGroupName="pg-mysql-57")["BlueGreenDeployment"]
            ident = bgd["BlueGreenDeploymentIdentifier"]
            _wait(lambda: rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)["BlueGreenDeployments"][0],
                  lambda d: d["Status"] == "AVAILABLE")
            builds.append(time.monotonic() - t)
            with pymysql.connect(host="127.0.0.1", port=blue["Endpoint"]["Port"], user="admin", password=password,
                                 database="shop", ssl_disabled=True) as conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE bench_writes (seq INT PRIMARY KEY)")
            samples: list[tuple[float, bool]] = []
            stop = threading.Event()
            writer = threading.Thread(target=writes_during, args=(blue["Endpoint"], password, stop, samples))
            writer.start()
            time.sleep(0.5)
            rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
            _wait(lambda: rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)["BlueGreenDeployments"][0],
                  lambda d: d["Status"] == "SWITCHOVER_COMPLETED")
            time.sleep(0.5)
            stop.set()
            writer.join()
            failed = [s for s in samples if not s[1]]
            if failed:
                first_fail = failed[0][0]
                recovered = next(t for t, ok in samples if ok and t > failed[-1][0])
                last_ok = max(t for t, ok in samples if ok and t < first_fail)
                outage = recovered - last_ok
            else:
                outage = 0.0
            outages.append(outage)
            print(f"run {i + 1}: lab reset {startups[-1]:.2f} s, green build {builds[-1]:.2f} s, "
                  f"writes refused for {outage * 1000:.0f} ms ({len(failed)} failed attempts, "
                  f"{sum(1 for s in samples if s[1])} acknowledged)")
    finally:
        client.down(paths)
    print(f"\nlab start-up (reset: stop, wipe, start, seed): median {statistics.median(startups):.2f} s")
    print(f"green build (create deployment -> AVAILABLE): median {statistics.median(builds):.2f} s")
    print(f"switchover write outage: median {statistics.median(outages) * 1000:.0f} ms, "
          f"min {min(outages) * 1000:.0f} ms, max {max(outages) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
