"""The probe against what the lab's endpoint really did (the router's own record of when a fault started and
ended): stalls count as downtime for as long as clients waited, every window's bounds contain the truth, the
report names what made attempts unavailable, and a real switchover's write outage lies within the bounds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import deployment, instance, master_password, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.dataplane import endpoints
from runbook_lib.lab.paths import LabPaths
from runbook_lib.probe import report as probe_report
from runbook_lib.probe.mysql import Probe, Target

# A stalled attempt closes its window at its own answer, which comes once the endpoint reopened *and* the
# connection was then set up: the lower bound may pass the truth by that much (a few ms; more on a busy machine).
AFTER_REOPEN_S = 0.03
CLOCK_S = 0.005  # the upper bound is exact by construction; this is rounding between two processes' clocks


def _target(rds: Any, paths: LabPaths) -> Target:
    ep = instance(rds, "database-1")["Endpoint"]
    return Target(ep["Address"], ep["Port"], "admin", master_password(paths))


def _truth(paths: LabPaths, port: int, since: float) -> list[dict[str, Any]]:
    """What the endpoint on `port` really did since `since` (spans of refusing/stalling)."""
    listener = next(e for e in client.status(paths)["endpoints"].values() if e["port"] == port)
    return endpoints.outages(listener["history"], since=since)


def _at(probe: Probe, kind: str, truth: dict[str, Any]) -> dict[str, Any]:
    """The probe's figures for the one window that touches the truth (a latency blip elsewhere on a busy
    machine is a separate window, and is not what is compared here)."""
    figures = probe_report.during(probe.data(), truth["start"], truth["end"])[kind]
    assert len(figures["windows"]) == 1, (kind, figures["windows"])
    return figures


def _assert_within(figures: dict[str, Any], truth: dict[str, Any], interval_s: float, what: str) -> None:
    """Both bounds contain the truth; bounds and estimate within one interval + 50 ms of it."""
    span = truth["seconds"]
    assert figures["upper_start"] <= truth["start"] + CLOCK_S and figures["upper_end"] >= truth["end"] - CLOCK_S, \
        (what, figures, truth)
    assert figures["lower_s"] <= span + AFTER_REOPEN_S, (what, figures["lower_s"], span)
    tolerance = interval_s + 0.05
    for key in ("unavailable_s", "lower_s", "upper_s"):
        assert abs(figures[key] - span) <= tolerance, (what, key, figures[key], span)


@pytest.mark.parametrize("interval_ms", [100, 20])
def test_stalls_are_downtime_for_as_long_as_clients_waited(rds: Any, lab_paths: LabPaths, interval_ms: int) -> None:
    target = _target(rds, lab_paths)
    for stall_s in (0.2, 1.0, 3.0):
        with Probe(target, interval_ms=interval_ms) as probe:
            assert probe.wait_for_baseline(5)
            since = time.time()
            client.inject(lab_paths, ["database-1"], "stall", seconds=stall_s, cut=True)
            time.sleep(stall_s + 0.6)
        [truth] = _truth(lab_paths, target.port, since)
        assert truth["modes"] == ["stall"] and abs(truth["seconds"] - stall_s) < 0.05
        s = probe_report.summary(probe)
        what = f"{stall_s} s stall at {interval_ms} ms"
        for kind in ("read", "write"):
            figures = _at(probe, kind, truth)
            _assert_within(figures, truth, interval_ms / 1000, f"{what}, {kind}")
            assert figures["windows"][0]["classes"].get("slow", 0) >= 1, (what, kind, figures["windows"])
            assert s[f"{kind}_unavailable_lower_s"] <= s[f"{kind}_unavailable_s"] <= s[f"{kind}_unavailable_upper_s"]
        if stall_s > probe.timeout:   # the first waiter gave up (timed out), the next one was answered late
            assert s["by_class"]["read"]["timeout"]["attempts"] >= 1 and s["by_class"]["read"]["slow"]["attempts"] >= 1
        assert s["by_class"]["write"]["in-doubt"]["attempts"] == 1   # the write in flight on the cut connection


def test_refusals_and_cuts_keep_their_accuracy_and_class(rds: Any, lab_paths: LabPaths) -> None:
    target = _target(rds, lab_paths)
    for outage_s in (0.2, 1.0):
        with Probe(target, interval_ms=20) as probe:
            assert probe.wait_for_baseline(5)
            since = time.time()
            client.inject(lab_paths, ["database-1"], "refuse", seconds=outage_s, cut=True)
            time.sleep(outage_s + 0.5)
        [truth] = _truth(lab_paths, target.port, since)
        for kind in ("read", "write"):
            figures = _at(probe, kind, truth)
            _assert_within(figures, truth, 0.02, f"{outage_s} s refusal, {kind}")
            assert figures["windows"][0]["classes"].get("refused", 0) >= 1
    # A stall without a cut leaves the long-lived connection working: writes observed available, reads not.
    with Probe(target, interval_ms=50) as probe:
        assert probe.wait_for_baseline(5)
        since = time.time()
        client.inject(lab_paths, ["database-1"], "stall", seconds=0.5)
        time.sleep(1.1)
    [truth] = _truth(lab_paths, target.port, since)
    figures = probe_report.during(probe.data(), truth["start"], truth["end"])
    assert figures["write"]["windows"] == [] and figures["write"]["unavailable_s"] == 0.0
    assert abs(figures["read"]["unavailable_s"] - 0.5) <= 0.1


def test_slow_threshold_is_a_parameter_and_is_reported(rds: Any, lab_paths: LabPaths) -> None:
    target = _target(rds, lab_paths)
    with Probe(target, interval_ms=50, slow_ms=2000) as probe:   # so high that a 0.4 s stall is "just slow"
        assert probe.wait_for_baseline(5)
        client.inject(lab_paths, ["database-1"], "stall", seconds=0.4)
        time.sleep(1.0)
    s = probe_report.summary(probe)
    assert s["slow_threshold_ms"] == {"read": 2000.0, "write": 2000.0} and s["slow_threshold_rule"] == "set by the caller"
    assert s["read_unavailable_s"] == 0.0 and s["latency_ms"]["read"]["max"] >= 300
    auto = probe_report.summary_of(probe_report.ProbeData(**{**vars(probe.data()), "slow_ms": None}))
    assert auto["read_unavailable_s"] >= 0.3 and auto["slow_threshold_rule"].startswith("automatic")


def test_switchover_write_outage_lies_within_the_bounds_at_100_and_20_ms(rds: Any, lab_paths: LabPaths) -> None:
    target = _target(rds, lab_paths)
    for n, interval_ms in enumerate((100, 20), 1):   # two deployments in a row on one lab
        blue = instance(rds, "database-1")
        ident = rds.create_blue_green_deployment(
            BlueGreenDeploymentName=f"bg-probe-{n}", Source=blue["DBInstanceArn"],
            TargetEngineVersion=blue["EngineVersion"], TargetDBParameterGroupName="pg-mysql-57",
        )["BlueGreenDeployment"]["BlueGreenDeploymentIdentifier"]
        wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] == "AVAILABLE")
        with Probe(target, interval_ms=interval_ms) as probe:
            assert probe.wait_for_baseline(10)
            since = time.time()
            rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
            final = wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS")
            time.sleep(0.5)
        assert final["Status"] == "SWITCHOVER_COMPLETED", final.get("StatusDetails")
        [truth] = _truth(lab_paths, target.port, since)   # fenced (refuse + cut) .. reopened on the new server
        assert truth["cut"] and truth["modes"] == ["refuse"]
        writes = _at(probe, "write", truth)
        assert writes["upper_start"] <= truth["start"] + CLOCK_S and writes["upper_end"] >= truth["end"] - CLOCK_S, \
            (writes, truth)
        assert writes["lower_s"] <= truth["seconds"] + AFTER_REOPEN_S
        assert abs(writes["unavailable_s"] - truth["seconds"]) <= interval_ms / 1000 + 0.05
        assert len(probe_report.summary(probe)["identity_changes"]) == 1
