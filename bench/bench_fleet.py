"""Prints how long the inventory takes for N databases on a moto server over HTTP (never asserts on time).

    .venv/bin/python bench/bench_fleet.py [N ...]        default: 1 200

Each N: a fresh moto server, N RDS for MySQL instances split over two Regions (a quarter on 8.0, every tenth
Multi-AZ), then the inventory of both Regions (collect: the API reads, classification and estimates) and its outputs
(JSON, CSV, table, plot), each timed. Seeding is not timed.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import boto3
import requests
from moto.server import ThreadedMotoServer

from runbook_lib.fleet.cli import fleet_config
from runbook_lib.fleet.inventory import Target, collect, write_outputs
from runbook_lib.fleet.pricing import PriceBook

REGIONS = ("us-east-1", "eu-west-1")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(n: int) -> dict[str, float]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()   # moto's state is per process
        clients = {r: boto3.client("rds", endpoint_url=url, region_name=r, aws_access_key_id="bench",
                                   aws_secret_access_key="bench", config=fleet_config()) for r in REGIONS}
        for i in range(n):
            clients[REGIONS[i % 2]].create_db_instance(
                DBInstanceIdentifier=f"db-{i:04d}", Engine="mysql", EngineVersion="8.0.39" if i % 4 == 3 else "5.7.44",
                DBInstanceClass="db.r6g.large", MasterUsername="admin", MasterUserPassword="bench-only-1",
                AllocatedStorage=20, MultiAZ=i % 10 == 0)
        book = PriceBook.shipped()
        targets = [Target("bench", r, clients[r]) for r in REGIONS]
        started = time.perf_counter()
        inv = collect(targets, book, date(2026, 11, 25))
        read_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            write_outputs(inv, Path(tmp))
            write_s = time.perf_counter() - started
        assert len(inv.rows) == n, (len(inv.rows), n)
        return {"databases": n, "collect_s": read_s, "outputs_s": write_s, "must_move": len(inv.must_move())}
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [1, 200]
    print(f"{'databases':>9} {'collect':>9} {'outputs':>9} {'must move':>9}")
    for n in sizes:
        m = measure(n)
        print(f"{m['databases']:>9} {m['collect_s']:>8.2f}s {m['outputs_s']:>8.2f}s {m['must_move']:>9}")
    print("collect: DescribeDBInstances/Clusters/BlueGreenDeployments/MajorEngineVersions for 2 Regions (moto's "
          "MajorEngineVersions answers 500: 3 attempts per Region), classification and estimates; outputs: JSON, "
          "CSV, table, PNG")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
