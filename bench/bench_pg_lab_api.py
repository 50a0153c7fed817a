"""The PostgreSQL lab's figures through the RDS API (boto3 over HTTP, as the runbook sees them): create → AVAILABLE for a
physical green (pg-1 15.7 → 15.8), a logical one (→ 16.3) and an Aurora PostgreSQL cluster (apg-1 → 16.4), and the
write outage of each switchover under one writer through the production endpoint (the longest gap between two
acknowledged inserts). Runs against the lab of RUNBOOK_LAB_DIR (started if needed), reset and seeded per run.
Usage: RUNBOOK_LAB_DIR=/tmp/x python bench/bench_pg_lab_api.py [RUNS]"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import psycopg

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

PATHS = LabPaths.default()


def _rds() -> Any:
    state = client.status(PATHS)
    return boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def _until(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > end:
            raise TimeoutError(str(value))
        time.sleep(0.02)


def _writer(host: str, port: int, stop: threading.Event, acks: list[float]) -> None:
    creds = PATHS.read_credentials() or {}
    conn: psycopg.Connection[Any] | None = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = psycopg.connect(host=host, port=port, user=creds["master_user"],
                                       password=creds["master_password"], dbname="shop", autocommit=True,
                                       sslmode="disable", connect_timeout=2)
            conn.execute("INSERT INTO products (sku, price) VALUES ('BENCH', 1)")
            acks.append(time.monotonic())
        except psycopg.Error:
            conn = None
            time.sleep(0.005)


def one(rds: Any, kind: str, target: str) -> tuple[float, float]:
    """(seconds to AVAILABLE, longest write gap in seconds) for one deployment switched over."""
    if kind == "cluster":
        c = rds.describe_db_clusters(DBClusterIdentifier="apg-1")["DBClusters"][0]
        args = {"Source": c["DBClusterArn"], "TargetDBClusterParameterGroupName": "aurora-postgresql16-bluegreen"}
        host, port = c["Endpoint"], c["Port"]
    else:
        i = rds.describe_db_instances(DBInstanceIdentifier="pg-1")["DBInstances"][0]
        args = {"Source": i["DBInstanceArn"], "TargetDBParameterGroupName": f"postgres{target[:2]}-bluegreen"}
        host, port = i["Endpoint"]["Address"], i["Endpoint"]["Port"]

    def deployment() -> dict[str, Any]:
        return dict(rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)
                    ["BlueGreenDeployments"][0])
    started = time.monotonic()
    ident = rds.create_blue_green_deployment(BlueGreenDeploymentName=f"bench-{kind}", TargetEngineVersion=target,
                                             **args)["BlueGreenDeployment"]["BlueGreenDeploymentIdentifier"]
    _until(deployment, lambda d: d["Status"] != "PROVISIONING")
    built = time.monotonic() - started
    stop, acks = threading.Event(), []  # type: ignore[var-annotated]
    thread = threading.Thread(target=_writer, args=(host, port, stop, acks))
    thread.start()
    time.sleep(1.0)
    switched = time.monotonic()
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=300)
    done = _until(deployment, lambda d: d["Status"] not in ("AVAILABLE", "SWITCHOVER_IN_PROGRESS"))
    time.sleep(1.0)
    stop.set()
    thread.join()
    if done["Status"] != "SWITCHOVER_COMPLETED":
        raise RuntimeError(str(done))
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    return built, max(b - a for a, b in zip(acks, acks[1:]) if b > switched - 0.1)


def main(runs: int) -> None:
    if not client.status(PATHS)["running"]:
        client.up(PATHS)
    figures: dict[str, list[tuple[float, float]]] = {"physical": [], "logical": [], "cluster": []}
    for _ in range(runs):
        client.reset(PATHS)
        client.seed_postgres(PATHS)
        rds = _rds()
        for kind, target in (("physical", "15.8"), ("logical", "16.3"), ("cluster", "16.4")):
            built, outage = one(rds, kind, target)
            figures[kind].append((built, outage))
            print(f"{kind}: green AVAILABLE after {built:.2f} s, write outage {outage * 1000:.0f} ms", flush=True)
    for kind, values in figures.items():
        builds, outages = [v[0] for v in values], [v[1] * 1000 for v in values]
        print(f"{kind}: green build median {statistics.median(builds):.2f} s ({min(builds):.2f}-{max(builds):.2f}); "
              f"write outage median {statistics.median(outages):.0f} ms ({min(outages):.0f}-{max(outages):.0f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
