"""The probe's record survives its process: every attempt is in the journal as it happens, a report is made
from the journal alone (even after SIGKILL mid-outage), coverage says whether the probe watched a span
unbroken, and the files' columns and keys only grow."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymysql
from conftest import ROOT, instance, master_password

from runbook_lib.lab import client
from runbook_lib.lab.dataplane import endpoints
from runbook_lib.lab.paths import LabPaths
from runbook_lib.probe import report as probe_report
from runbook_lib.probe.mysql import Probe, Target

OLD_COLUMNS = ["loop", "start", "end", "ok", "outcome", "error_code", "error", "server_id", "hostname", "version",
               "read_only", "server_time", "seq", "dns", "topology"]
OLD_KEYS = {"endpoint", "interval_ms", "resolution", "started", "stopped", "duration_s", "attempts",
            "read_unavailable_s", "write_unavailable_s", "windows", "identity_changes", "writes", "load"}
OLD_WINDOW_KEYS = {"kind", "start", "end", "failed_attempts", "errors", "seconds"}

_CHILD = """
import os, sys, time
from pathlib import Path
from runbook_lib.probe.mysql import Probe, Target
probe = Probe(Target("127.0.0.1", int(sys.argv[1]), "admin", os.environ["LAB_PW"]), interval_ms=20,
              run_id="killed-run", journal=Path(sys.argv[2]))
probe.start()
assert probe.wait_for_baseline(10)
print("ready", flush=True)
time.sleep(600)
"""


def _target(rds: Any, paths: LabPaths) -> Target:
    ep = instance(rds, "database-1")["Endpoint"]
    return Target(ep["Address"], ep["Port"], "admin", master_password(paths))


def test_a_killed_probe_leaves_its_attempts_and_a_full_report_from_them(rds: Any, lab_paths: LabPaths,
                                                                        tmp_path: Path) -> None:
    target = _target(rds, lab_paths)
    journal = tmp_path / "probe-journal.jsonl"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(target.port), str(journal)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ, LAB_PW=target.password))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        since = time.time()
        client.inject(lab_paths, ["database-1"], "refuse", seconds=0.3, cut=True)
        time.sleep(0.8)
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)   # mid-run, as a killed notebook kernel would be
    finally:
        child.kill()
        child.wait(timeout=30)
    data = probe_report.load_journal(journal)
    assert data.run_id == "killed-run" and data.interval_ms == 20 and data.stopped_at is None
    assert any("killed" in note for note in data.notes)
    assert target.password not in journal.read_text()
    [truth] = endpoints.outages(next(e for e in client.status(lab_paths)["endpoints"].values()
                                     if e["port"] == target.port)["history"], since=since)
    s = probe_report.summary_of(data)
    assert s["complete"] is False and s["stopped"] is None
    figures = probe_report.during(data, truth["start"], truth["end"])
    for kind in ("read", "write"):
        assert len(figures[kind]["windows"]) == 1
        assert figures[kind]["upper_start"] <= truth["start"] + 0.005 <= figures[kind]["upper_end"]
        assert abs(figures[kind]["unavailable_s"] - truth["seconds"]) <= 0.02 + 0.05
    with pymysql.connect(host="127.0.0.1", port=target.port, user="admin", password=target.password,
                         ssl_disabled=True) as conn:
        proof = probe_report.zero_loss_of(data, conn)
    assert proof["acknowledged"] >= 20 and proof["missing"] == 0
    watched = probe_report.coverage(data, truth["start"] - 0.05, truth["end"] + 0.2)
    assert watched["covered"], watched["reasons"]
    beyond = probe_report.coverage(data, truth["start"], killed_at + 1.0)
    assert not beyond["covered"] and all("last attempt ended" in r for r in beyond["reasons"])
    assert len(beyond["reasons"]) == 2   # both loops
    paths = probe_report.write_files_of(data, tmp_path / "report", {"recovered_from": str(journal)})
    assert json.loads(paths["json"].read_text())["recovered_from"] == str(journal)
    assert paths["png"].stat().st_size > 1000


class _DyingWrites(Probe):
    """A probe whose write loop dies after a moment (a bug, a thread killed): coverage must notice."""

    def _write_loop(self) -> None:
        deadline = time.monotonic() + 0.4
        for _ in self._ticks():
            if time.monotonic() > deadline:
                raise RuntimeError("write loop died")
            time.sleep(0.001)


def test_journal_reports_like_the_live_probe_and_coverage_sees_a_dead_loop(rds: Any, lab_paths: LabPaths,
                                                                           tmp_path: Path) -> None:
    target = _target(rds, lab_paths)
    journal = tmp_path / "j.jsonl"
    with Probe(target, interval_ms=50, journal=journal, slow_ms=75) as probe:
        assert probe.wait_for_baseline(5)
        client.inject(lab_paths, ["database-1"], "stall", seconds=0.3, cut=True)
        time.sleep(0.8)
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["type"] == "header" and header["run_id"] == probe.run_id and header["interval_ms"] == 50
    assert header["slow_ms"] == 75 and header["endpoint"] == f"{target.host}:{target.port}"
    loaded = probe_report.load_journal(journal)
    assert loaded.attempts == probe.snapshot()
    assert probe_report.summary_of(loaded) == probe_report.summary(probe)
    assert probe_report.summary(probe)["slow_threshold_ms"] == {"read": 75.0, "write": 75.0}

    # A second run appended to the same journal, whose write loop dies: the last run is the one loaded.
    with _DyingWrites(target, interval_ms=50, journal=journal) as dying:
        time.sleep(1.5)
    runs = probe_report.load_journals(journal)
    assert [r.run_id for r in runs] == [probe.run_id, dying.run_id]
    data = probe_report.load_journal(journal)
    assert any("write loop died" in note for note in data.notes)
    t0, t1 = (dying.started_at or 0) + 0.2, (dying.stopped_at or 0) - 0.2
    watched = probe_report.coverage(data, t0, t1)
    assert not watched["covered"]
    assert watched["loops"]["read"]["holes"] == [] and watched["loops"]["read"]["ends_after"]
    assert any(r.startswith("write loop") for r in watched["reasons"])

    # A line torn by a kill is skipped and noted.
    torn = tmp_path / "torn.jsonl"
    torn.write_text(journal.read_text() + '{"type": "attempt", "loop": "conn')
    assert any("torn" in note for note in probe_report.load_journal(torn).notes)


def test_files_and_cli_only_grow(rds: Any, lab_paths: LabPaths, tmp_path: Path) -> None:
    target = _target(rds, lab_paths)
    env = dict(os.environ, LAB_PW=target.password)
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "probe", "--endpoint", f"127.0.0.1:{target.port}",
                           "--user", "admin", "--password-env", "LAB_PW", "--interval-ms", "50", "--duration-s", "2",
                           "--slow-ms", "80", "--out", str(tmp_path / "p")], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "between" in done.stdout.splitlines()[-1] and "slow above 80 ms" in done.stdout
    folder = tmp_path / "p"
    with (folder / "probe-attempts.csv").open() as fh:
        columns = next(csv.reader(fh))
    assert columns[:len(OLD_COLUMNS)] == OLD_COLUMNS and {"duration_ms", "availability"} <= set(columns)
    summary = json.loads((folder / "probe-summary.json").read_text())
    assert OLD_KEYS <= set(summary)
    for kind in ("read", "write"):
        assert {f"{kind}_unavailable_lower_s", f"{kind}_unavailable_upper_s"} <= set(summary)
    assert summary["slow_threshold_ms"] == {"read": 80.0, "write": 80.0}
    data = probe_report.load_journal(folder / "probe-journal.jsonl")   # the CLI journals by default
    assert data.stopped_at is not None and len(data.attempts) == sum(summary["attempts"].values())
    with Probe(target, interval_ms=20) as probe:
        assert probe.wait_for_baseline(3)
        client.inject(lab_paths, ["database-1"], "refuse", seconds=0.2, cut=True)
        time.sleep(0.5)
    for window in probe_report.summary(probe)["windows"]:
        assert OLD_WINDOW_KEYS <= set(window)
    with Probe(target, interval_ms=20, run_id=probe.run_id) as again:   # a step re-run in the same run
        assert again.wait_for_baseline(3)
    assert min(again.acknowledged) > max(probe.acknowledged)
    assert probe_report.summary(again)["by_class"]["write"]["refused"]["attempts"] == 0
    bad = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "probe", "--endpoint", f"127.0.0.1:{target.port}",
                          "--user", "admin", "--password-env", "LAB_PW", "--slow-ms", "0"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode != 0 and "--slow-ms" in bad.stderr and "Traceback" not in bad.stderr
