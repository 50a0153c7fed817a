"""Side by side, in one run: the project's probe (at 100 ms and 20 ms) and a once-a-second new-connection probe
modelled on simple_failover.py (bench/simple_failover_probe.py), against the same injected outages — refused,
stalled (accepted, not answered), and refused with existing connections cut, each 200 ms / 1 s / 3 s — and real
lab switchovers (create -> upgrade -> switchover -> cleanup, repeated on one lab). The truth is what the lab's
endpoint really did (its router records when it stopped and started answering). Prints, per case and per class,
the truth, each probe's figure and error, whether our bounds contain the truth, the ratio of errors, and load.
Usage: bench_probe.py [REPEATS] [--intervals 100,20]"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pymysql

sys.path.insert(0, str(Path(__file__).parent))
from common import conditions  # noqa: E402
from simple_failover_probe import OnceASecond  # noqa: E402

from runbook_lib.lab import client
from runbook_lib.lab import engine_versions as catalog
from runbook_lib.lab.dataplane import endpoints  # noqa: E402
from runbook_lib.lab.paths import LabPaths  # noqa: E402
from runbook_lib.probe import report as probe_report  # noqa: E402
from runbook_lib.probe.mysql import Probe, Target  # noqa: E402

# class -> (endpoint mode, cut existing connections)
FAULTS = {"refuse": ("refuse", False), "stall": ("stall", False), "cut": ("refuse", True),
          "stall+cut": ("stall", True)}
DURATIONS = (0.2, 1.0, 3.0)
SETTLE_S = 2.3          # after the fault: the once-a-second probe needs one more look to close its outage
BOUND_SLACK_S = 0.03    # a stalled answer arrives after the reopen plus the connection's own set-up


@dataclass
class Case:
    cls: str
    planned_s: float | None
    truth_read: float
    truth_write: float
    ours: dict[int, dict[str, Any]] = field(default_factory=dict)   # interval -> probe_report.during()
    anchor_seen: bool = False
    anchor_s: float | None = None       # unrounded
    anchor_reported: int | None = None  # what it prints (whole seconds)

    def ours_figures(self, interval: int, kind: str) -> tuple[float, float, float | None]:
        """Our estimate and bounds for the window(s) touching the outage."""
        f = self.ours[interval][kind]
        return f["unavailable_s"], f["lower_s"], f["upper_s"]

    def elsewhere(self, interval: int, kind: str) -> int:
        """Windows away from the outage: slow answers on a busy machine (false alarms, counted apart)."""
        return int(self.ours[interval][kind]["windows_elsewhere"])

    def truth(self, kind: str) -> float:
        return self.truth_read if kind == "read" else self.truth_write


def _wait(fetch: Any, done: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out; last value: {value}")
        time.sleep(0.05)


class Bench:
    def __init__(self, paths: LabPaths, intervals: list[int]) -> None:
        self.paths = paths
        self.intervals = intervals
        state = client.up(paths)
        self.rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                                aws_access_key_id="lab", aws_secret_access_key="lab")
        ep = self.rds.describe_db_instances(DBInstanceIdentifier="database-1")["DBInstances"][0]["Endpoint"]
        self.target = Target(ep["Address"], ep["Port"], "admin", paths.read_credentials()["master_password"])
        self.cases: list[Case] = []
        self.loads: dict[int, list[tuple[float, float]]] = {i: [] for i in intervals}
        self.cycles = 0

    def _truth(self, since: float) -> dict[str, Any]:
        listener = next(e for e in client.status(self.paths)["endpoints"].values() if e["port"] == self.target.port)
        spans = endpoints.outages(listener["history"], since=since)
        if len(spans) != 1 or spans[0]["end"] is None:
            raise RuntimeError(f"expected one closed outage of the endpoint, got {spans}")
        return spans[0]

    def _watch(self, act: Any, lasts_s: float = 0.0) -> tuple[dict[int, dict[str, Any]], OnceASecond, dict[str, Any]]:
        """Every probe running, a random phase, `act()`, the outage's length and a settle; returns their
        figures and the truth."""
        probes: dict[int, Probe] = {}
        try:
            for i in self.intervals:
                probes[i] = self._started(i)
        except Exception:
            for probe in probes.values():
                probe.stop()
            raise
        anchor = OnceASecond(self.target.host, self.target.port, self.target.user, self.target.password).start()
        try:
            for probe in probes.values():
                probe.wait_for_baseline(5)
            anchor.wait_for_good()
            time.sleep(random.uniform(0, 1.0))   # any phase of the once-a-second cycle and of ours
            since = time.time()
            act()
            time.sleep(lasts_s + SETTLE_S)
        finally:
            anchor.stop()
            for probe in probes.values():
                probe.stop()
        truth = self._truth(since)
        figures = {i: probe_report.during(p.data(), truth["start"], truth["end"]) for i, p in probes.items()}
        for i, p in probes.items():
            load = probe_report.summary(p)["load"]
            self.loads[i].append((load["connections_per_s"], load["queries_per_s"]))
        return figures, anchor, truth

    def _started(self, interval: int) -> Probe:
        """A started probe; its first contact is retried a few times (a busy machine once refused one)."""
        for attempt in range(5):
            try:
                return Probe(self.target, interval_ms=interval).start()
            except pymysql.MySQLError as exc:
                print(f"    (probe start failed: {exc}; retrying)", flush=True)
                if attempt == 4:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _record(self, cls: str, planned: float | None, summaries: dict[int, dict[str, Any]], anchor: OnceASecond,
                truth: dict[str, Any]) -> Case:
        case = Case(cls, planned, truth["seconds"], truth["seconds"] if truth["cut"] else 0.0, summaries)
        outages = anchor.outages()
        case.anchor_seen = bool(outages)
        if outages and all(o.end is not None for o in outages):
            case.anchor_s = sum(o.seconds or 0.0 for o in outages)
            case.anchor_reported = sum(o.reported or 0 for o in outages)
        elif not outages:
            case.anchor_s, case.anchor_reported = 0.0, 0
        self.cases.append(case)
        return case

    def injected(self, cls: str, seconds: float) -> Case:
        mode, cut = FAULTS[cls]
        summaries, anchor, truth = self._watch(lambda: client.inject(self.paths, ["database-1"], mode, seconds, cut),
                                               seconds)
        return self._record(cls, seconds, summaries, anchor, truth)

    def switchover(self) -> Case:
        """create -> upgrade green (to the next version the lab offers, if any) -> switchover -> cleanup."""
        self.cycles += 1
        blue = self.rds.describe_db_instances(DBInstanceIdentifier="database-1")["DBInstances"][0]
        version = blue["EngineVersion"]
        group = "pg-mysql-57" if version.startswith("5.7") else "pg-mysql-80"
        ident = self.rds.create_blue_green_deployment(
            BlueGreenDeploymentName=f"bench-{self.cycles}", Source=blue["DBInstanceArn"], TargetEngineVersion=version,
            TargetDBParameterGroupName=group)["BlueGreenDeployment"]["BlueGreenDeploymentIdentifier"]
        bgd = _wait(lambda: self._deployment(ident), lambda d: d["Status"] in ("AVAILABLE", "INVALID_CONFIGURATION"))
        if bgd["Status"] != "AVAILABLE":
            raise RuntimeError(f"deployment {self.cycles} failed: {bgd.get('StatusDetails')}")
        green = bgd["Target"].split(":")[-1]
        # 5.7 -> 8.0.39 (the runbook's upgrade), then one minor version at a time, then same-version deployments
        targets = [t["EngineVersion"] for t in catalog.upgrade_targets(version)]
        targets = ["8.0.39"] if "8.0.39" in targets and version.startswith("5.7") else targets[:1]
        if targets:
            self.rds.modify_db_instance(DBInstanceIdentifier=green, EngineVersion=targets[0],
                                        AllowMajorVersionUpgrade=True, DBParameterGroupName="pg-mysql-80",
                                        OptionGroupName="mysql80-option-group", ApplyImmediately=True)
            _wait(lambda: self.rds.describe_db_instances(DBInstanceIdentifier=green)["DBInstances"][0],
                  lambda i: i["DBInstanceStatus"] == "available" and i["EngineVersion"] == targets[0])
        final: dict[str, Any] = {}

        def act() -> None:
            self.rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
            final.update(_wait(lambda: self._deployment(ident), lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS"))
        summaries, anchor, truth = self._watch(act)
        if final.get("Status") != "SWITCHOVER_COMPLETED":
            raise RuntimeError(f"switchover {self.cycles} failed: {final.get('StatusDetails')}")
        print(f"(lab switchover {self.cycles}: {version} -> {targets[0] if targets else version})")
        case = self._record("switchover", None, summaries, anchor, truth)
        self.rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
        self.rds.delete_db_instance(DBInstanceIdentifier=final["Source"].split(":")[-1], SkipFinalSnapshot=True)
        _wait(lambda: [i["DBInstanceIdentifier"] for i in self.rds.describe_db_instances()["DBInstances"]],
              lambda names: names == ["database-1"])
        return case

    def _deployment(self, ident: str) -> dict[str, Any]:
        return dict(self.rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)
                    ["BlueGreenDeployments"][0])


def _ms(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 1000:6.0f}"


def _contains(case: Case, interval: int, kind: str) -> bool:
    _, lower, upper = case.ours_figures(interval, kind)
    truth = case.truth(kind)
    return lower <= truth + BOUND_SLACK_S and (upper is None or upper >= truth - 0.005)


def print_case(case: Case, intervals: list[int]) -> None:
    label = case.cls + (f" {case.planned_s * 1000:.0f} ms" if case.planned_s else "")
    parts = [f"{label:<18} truth r{_ms(case.truth_read)} w{_ms(case.truth_write)}"]
    for i in intervals:
        est_r, lo_r, up_r = case.ours_figures(i, "read")
        est_w, lo_w, up_w = case.ours_figures(i, "write")
        parts.append(f"| @{i}ms r{_ms(est_r)} [{_ms(lo_r).strip()}-{_ms(up_r).strip()}] "
                     f"w{_ms(est_w)} [{_ms(lo_w).strip()}-{_ms(up_w).strip()}]")
    parts.append(f"| 1/s {'seen' if case.anchor_seen else 'missed'} {_ms(case.anchor_s)} "
                 f"(prints {case.anchor_reported if case.anchor_reported is not None else '?'} s)")
    print(" ".join(parts), flush=True)
    for i in intervals:   # a miss is explained on the spot: which attempts made the window
        for kind in ("read", "write"):
            if not _contains(case, i, kind):
                for w in case.ours[i][kind]["windows"]:
                    print(f"    bounds miss @{i} ms {kind}: window {w['seconds'] * 1000:.0f} ms "
                          f"[{w['lower_s'] * 1000:.0f}-{_ms(w['upper_s']).strip()}] {w['classes']} {w['errors'][:3]}")


def print_table(cases: list[Case], intervals: list[int]) -> None:
    """Per class: mean truth, each probe's mean figure and mean |error|, and anchor |error| / our |error|."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        key = case.cls + (f" {case.planned_s * 1000:.0f} ms" if case.planned_s else "")
        groups.setdefault(key, []).append(case)
    head = f"{'class':<18} {'n':>2} {'kind':>5} {'truth':>7}"
    for i in intervals:
        head += f" | {f'ours@{i}ms':>9} {'|err|':>6} {'max':>5} {'bounds':>6}"
    head += f" | {'1/s':>7} {'|err|':>6} {'prints':>8} {'seen':>4}"
    head += "".join(f" | {f'ratio@{i}':>8}" for i in intervals)
    head += f" | {'elsewhere':>9}"
    print(head)
    print("-" * len(head))
    for key, group in groups.items():
        for kind in ("read", "write"):
            truth = statistics.mean(c.truth(kind) for c in group)
            row = f"{key:<18} {len(group):>2} {kind:>5} {truth * 1000:>5.0f}ms"
            ours_err: dict[int, float] = {}
            for i in intervals:
                errs = [abs(c.ours_figures(i, kind)[0] - c.truth(kind)) for c in group]
                ours_err[i] = statistics.mean(errs)
                est = statistics.mean(c.ours_figures(i, kind)[0] for c in group)
                ok = sum(_contains(c, i, kind) for c in group)
                row += f" | {est * 1000:>7.0f}ms {ours_err[i] * 1000:>4.0f}ms {max(errs) * 1000:>3.0f}ms {ok:>3}/{len(group)}"
            if kind == "read":
                known = [c for c in group if c.anchor_s is not None]
                anchor_err = statistics.mean(abs((c.anchor_s or 0.0) - c.truth_read) for c in known) if known else None
                anchor_est = statistics.mean(c.anchor_s or 0.0 for c in known) if known else None
                prints = ",".join(sorted({str(c.anchor_reported) for c in group}))
                seen = sum(c.anchor_seen for c in group)
                row += (f" | {_ms(anchor_est)}ms {_ms(anchor_err)}ms {prints + ' s':>8} {seen:>2}/{len(group)}")
                for i in intervals:
                    ratio = None if anchor_err is None else anchor_err / max(ours_err[i], 0.001)
                    row += f" | {'n/a' if ratio is None else f'{ratio:.1f}x' if ratio < 10 else f'{ratio:.0f}x':>8}"
            else:
                row += f" | {'(no writes: it cannot see them)':>{29 + 11 * len(intervals)}}"
            row += f" | {'/'.join(str(sum(c.elsewhere(i, kind) for c in group)) for i in intervals):>9}"
            print(row)


def _case(run: Any, intervals: list[int], label: str) -> None:
    """One case; one that could not be run is said so and left out of the table (never counted as 0)."""
    try:
        print_case(run(), intervals)
    except (RuntimeError, pymysql.MySQLError) as exc:
        print(f"{label:<18} NOT RUN: {exc}", flush=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repeats", nargs="?", type=int, default=3)
    ap.add_argument("--intervals", default="100,20", help="our probe's intervals, ms (comma-separated)")
    ap.add_argument("--classes", default=",".join(FAULTS), help="injected classes (comma-separated)")
    ap.add_argument("--switchovers", type=int, default=None, help="lab switchovers (default: REPEATS)")
    args = ap.parse_args()
    intervals = [int(i) for i in args.intervals.split(",")]
    classes = [c for c in args.classes.split(",") if c]
    signal.signal(signal.SIGTERM, _interrupt)   # stopped from outside: still take the lab down
    paths = LabPaths(Path(tempfile.mkdtemp(prefix="bench-probe-")))
    print(conditions())
    print(f"ours: runbook probe at {', '.join(f'{i} ms' for i in intervals)} (automatic slow threshold); 1/s: "
          "simple_failover.py modelled (new connection once a second, connect timeout 1 s, no read timeout)")
    print(f"truth: the lab endpoint router's own record of when it stopped/started answering; write truth is 0 "
          f"when existing connections were not cut; repeats per case: {args.repeats}; lab switchovers: "
          f"{args.switchovers if args.switchovers is not None else args.repeats}\n")
    bench = Bench(paths, intervals)
    started = time.monotonic()
    try:
        for _ in range(args.repeats):
            for cls in classes:
                for seconds in DURATIONS:
                    _case(lambda: bench.injected(cls, seconds), intervals, f"{cls} {seconds * 1000:.0f} ms")
        for _ in range(args.switchovers if args.switchovers is not None else args.repeats):
            _case(bench.switchover, intervals, "switchover")
    finally:
        client.down(paths)
    print(f"\n(ran {time.monotonic() - started:.0f} s)\n")
    print("error = |figure - truth|, mean over repeats; ours = best estimate; bounds = lower <= truth <= upper "
          f"(lower may pass the truth by {BOUND_SLACK_S * 1000:.0f} ms: a stalled answer arrives after the reopen); "
          "1/s figure unrounded (it prints whole seconds, shown under 'prints'); ratio = 1/s |err| / our |err| "
          "(reads; floor 1 ms); elsewhere = our windows away from the outage (slow answers while the machine was "
          "busy: false alarms), per interval\n")
    print_table(bench.cases, intervals)
    print("\nour probe's own load (mean): " + "; ".join(
        f"@{i} ms {statistics.mean(c for c, _ in bench.loads[i]):.1f} connections/s, "
        f"{statistics.mean(q for _, q in bench.loads[i]):.1f} queries/s" for i in intervals)
        + "; 1/s: 1 connection/s, 1 query/s")


if __name__ == "__main__":
    main()
