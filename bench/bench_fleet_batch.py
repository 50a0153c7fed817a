"""Wall time of `runbook fleet run` for the lab fleet's three movable us-east-1 databases, at each concurrency given
(never asserts on time).  Usage: bench_fleet_batch.py [CONCURRENCY ...]   default: 1 2

Each concurrency: the lab reset and the fleet seeded (not timed), a plan confirming database-1, orders-db and
billing-db by name and resource id, then `runbook fleet run --plan` as a user runs it, timed end to end.
Uses the lab directory of RUNBOOK_LAB_DIR (or the default) and a fresh runs folder."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import conditions  # noqa: E402

from runbook_lib.lab import client  # noqa: E402
from runbook_lib.lab.paths import LabPaths  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("database-1", "orders-db", "billing-db")


def _plan(paths: LabPaths, where: Path) -> Path:
    state = client.status(paths)
    rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    ids = {i["DBInstanceIdentifier"]: i["DbiResourceId"] for i in rds.describe_db_instances()["DBInstances"]}
    plan = where / "plan.yaml"
    plan.write_text(yaml.safe_dump({"defaults": str(ROOT / "parameters" / "lab.yaml"), "databases": [
        {"source": s, "confirm": {"resource_id": ids[s], "switchover": True, "delete": True}} for s in SOURCES]}))
    return plan


def main() -> None:
    levels = [int(a) for a in sys.argv[1:]] or [1, 2]
    paths = LabPaths.default()
    print(conditions())
    print(f"databases: {', '.join(SOURCES)} (each 2,000 customers, 6,000 orders), runbook steps 01-06 each\n")
    client.up(paths)
    for level in levels:
        where = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
        client.reset(paths)
        client.seed_fleet(paths)
        plan = _plan(paths, where)
        env = dict(os.environ, RUNBOOK_RUNS_DIR=str(where / "runs"))
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "fleet", "run", "--plan", str(plan),
                               "--concurrency", str(level)], cwd=ROOT, env=env, capture_output=True, text=True)
        took = time.monotonic() - started
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:])
            raise SystemExit(f"concurrency {level}: exit {done.returncode}")
        print(f"concurrency {level}: {took:6.1f} s for {len(SOURCES)} databases ({took / len(SOURCES):5.1f} s each)")


if __name__ == "__main__":
    main()
