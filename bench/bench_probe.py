"""Probe accuracy: outages of 200 ms, 1 s and 3 s (and an off-grid 350 ms) injected through the lab's endpoint at probe intervals of
10, 50 and 100 ms; measured vs injected (bound: one interval + 20 ms), and the probe's own load.
Usage: bench_probe.py [REPEATS]"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).parent))
from common import conditions  # noqa: E402

from runbook_lib import probe_report  # noqa: E402
from runbook_lib.lab import client  # noqa: E402
from runbook_lib.lab.paths import LabPaths  # noqa: E402
from runbook_lib.probe import Probe, Target  # noqa: E402


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    paths = LabPaths(Path(tempfile.mkdtemp(prefix="bench-probe-")))
    print(conditions())
    print(f"fault: the lab endpoint refuses new connections and cuts open ones; repeats per cell: {repeats}\n")
    state = client.up(paths)
    rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    ep = rds.describe_db_instances(DBInstanceIdentifier="database-1")["DBInstances"][0]["Endpoint"]
    target = Target(ep["Address"], ep["Port"], "admin", paths.read_credentials()["master_password"])
    print(f"{'interval':>8} {'injected':>8} {'kind':>5} {'measured':>9} {'error':>7} {'bound':>6}  ok   load")
    worst_ok = True
    try:
        for interval in (10, 50, 100):
            for outage in (0.2, 0.35, 1.0, 3.0):  # 0.35 s: off the probe grid, to show quantisation
                for _ in range(repeats):
                    with Probe(target, interval_ms=interval) as probe:
                        probe.wait_for_baseline(5)
                        client.inject(paths, ["database-1"], "refuse", seconds=outage, cut=True)
                        time.sleep(outage + 0.5)
                    s = probe_report.summary(probe)
                    load = f"{s['load']['connections_per_s']} conn/s, {s['load']['queries_per_s']} q/s"
                    bound = interval / 1000 + 0.020
                    for kind in ("read", "write"):
                        measured = sum(w["seconds"] for w in s["windows"] if w["kind"] == kind)
                        error = measured - outage
                        ok = abs(error) <= bound
                        worst_ok &= ok
                        print(f"{interval:>6}ms {outage * 1000:>6.0f}ms {kind:>5} {measured * 1000:>7.0f}ms "
                              f"{error * 1000:>+6.0f}ms {bound * 1000:>4.0f}ms  {'yes' if ok else 'NO '}  {load}")
    finally:
        client.down(paths)
    print(f"\nall within one interval + 20 ms: {'yes' if worst_ok else 'no'}")


if __name__ == "__main__":
    main()
