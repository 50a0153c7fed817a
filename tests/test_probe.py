"""The downtime probe on real servers: known outages measured, acknowledged writes all found, a lossy
switchover caught, TLS, the CLI, and a probe that stops cleanly when its notebook fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymysql
import pytest
from conftest import ROOT, create_available_deployment, deployment, instance, master_password, upgrade_green, wait_for

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths
from runbook_lib.probe import report as probe_report
from runbook_lib.probe.mysql import Probe, Target


def _target(rds: Any, paths: LabPaths, name: str = "database-1", **kw: Any) -> Target:
    ep = instance(rds, name)["Endpoint"]
    return Target(ep["Address"], ep["Port"], "admin", master_password(paths), **kw)


@pytest.mark.parametrize(("interval_ms", "outage_s"), [(50, 1.0), (20, 0.3)])
def test_injected_outage_is_measured_within_one_interval(rds: Any, lab_paths: LabPaths, interval_ms: int,
                                                         outage_s: float) -> None:
    with Probe(_target(rds, lab_paths), interval_ms=interval_ms) as probe:
        assert probe.wait_for_baseline(5)
        applied = client.call(lab_paths, "fault", {"names": ["database-1"], "mode": "refuse", "seconds": outage_s,
                                                   "cut": True})["applied"]["database-1"]
        time.sleep(outage_s + 0.5)
    s = probe_report.summary(probe)
    tolerance = interval_ms / 1000 + 0.05
    # the windows touching the fault (a slow answer elsewhere on a busy machine is a window of its own)
    touching = probe_report.during(probe.data(), applied["at"], applied["at"] + outage_s)
    for kind in ("read", "write"):
        windows = touching[kind]["windows"]
        assert len(windows) == 1, windows
        assert abs(windows[0]["seconds"] - outage_s) <= tolerance, (kind, windows[0]["seconds"])
    assert s["identity_changes"] == []


def test_switchover_loses_no_acknowledged_write_and_is_seen_by_the_probe(rds: Any, lab_paths: LabPaths) -> None:
    bgd = create_available_deployment(rds)
    upgrade_green(rds, bgd["Target"].split(":")[-1])
    with Probe(_target(rds, lab_paths), interval_ms=20, topology_every=1) as probe:
        assert probe.wait_for_baseline(10)
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd["BlueGreenDeploymentIdentifier"])
        wait_for(lambda: deployment(rds, bgd["BlueGreenDeploymentIdentifier"]),
                 lambda d: d["Status"] == "SWITCHOVER_COMPLETED")
        time.sleep(0.5)
    s = probe_report.summary(probe)
    [change] = s["identity_changes"]
    assert change["from_version"].startswith("5.7.44") and change["to_version"].startswith("8.0.39")
    statuses = {row.split(":")[1] for a in probe.snapshot() if a.topology and "not readable" not in a.topology
                for row in a.topology.split("; ")}
    assert {"AVAILABLE", "SWITCHOVER_COMPLETED"} <= statuses
    with pymysql.connect(host="127.0.0.1", port=probe.target.port, user="admin", password=probe.target.password,
                         ssl_disabled=True) as conn:
        proof = probe_report.zero_loss(probe, conn)
    assert proof["acknowledged"] >= 30 and proof["missing"] == 0 and proof["present"] == proof["acknowledged"]


def test_promoting_green_before_it_caught_up_is_reported_as_loss(rds: Any, lab_paths: LabPaths) -> None:
    bgd = create_available_deployment(rds)
    client.set_switches(lab_paths, skip_catchup_wait=True)
    try:
        with Probe(_target(rds, lab_paths), interval_ms=20) as probe:
            assert probe.wait_for_baseline(10)
            rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd["BlueGreenDeploymentIdentifier"])
            wait_for(lambda: deployment(rds, bgd["BlueGreenDeploymentIdentifier"]),
                     lambda d: d["Status"] == "SWITCHOVER_COMPLETED")
            time.sleep(0.3)
    finally:
        client.set_switches(lab_paths, skip_catchup_wait=False)
    with pymysql.connect(host="127.0.0.1", port=probe.target.port, user="admin", password=probe.target.password,
                         ssl_disabled=True) as conn:
        proof = probe_report.zero_loss(probe, conn)
    assert proof["missing"] > 0


def test_tls_with_the_lab_ca_and_identity_check(rds: Any, lab_paths: LabPaths, lab: dict[str, Any]) -> None:
    ca = lab["ca_bundle"]
    target = _target(rds, lab_paths, ca_bundle=ca, verify_identity=True)
    with pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                         **target.ssl_args()) as conn, conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        assert cur.fetchone()[1]
    with Probe(target, interval_ms=50) as probe:
        assert probe.wait_for_baseline(3)
    assert all(a.ok for a in probe.snapshot())


def test_probe_cli_prints_a_line_a_second_and_writes_the_report(rds: Any, lab_paths: LabPaths, tmp_path: Path) -> None:
    ep = instance(rds, "database-1")["Endpoint"]
    env = dict(os.environ, LAB_PW=master_password(lab_paths))
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "probe", "--endpoint", f"127.0.0.1:{ep['Port']}",
                           "--user", "admin", "--password-env", "LAB_PW", "--interval-ms", "50", "--duration-s", "2.5",
                           "--out", str(tmp_path / "p")], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len([l for l in lines if "read ok" in l]) >= 2
    summary = json.loads((tmp_path / "p" / "probe-summary.json").read_text())
    assert summary["interval_ms"] == 50 and summary["writes"]["acknowledged"] >= 30
    assert (tmp_path / "p" / "probe-timeline.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "probe", "--endpoint", "nohost", "--user", "a",
                          "--password-env", "LAB_PW"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode != 0 and "HOST:PORT" in bad.stderr and "Traceback" not in bad.stderr


def test_the_probe_never_starts_before_the_switchover_gate(rds: Any, lab_paths: LabPaths, tmp_path: Path) -> None:
    """Headless without confirm_switchover: the step stops at the gate, waiting for the confirmation; no probe has
    written to production and nothing changed."""
    create_available_deployment(rds)
    params = tmp_path / "no-confirm.yaml"
    params.write_text((ROOT / "parameters" / "lab.yaml").read_text()
                      .replace("confirm_switchover: bg-deployment", "confirm_switchover: null"))
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "papermill", "notebooks/05_switchover.ipynb", str(tmp_path / "05.ipynb"),
                           "-p", "params_file", str(params), "-p", "run_dir", str(run_dir), "--no-progress-bar"],
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), timeout=300)
    assert done.returncode != 0
    result = json.loads((run_dir / "steps" / "05.json").read_text())
    assert result["outcome"] == "waiting-for-confirmation" and "confirm_switchover" in result["findings"]["waiting_for"]
    assert "probe" not in result["findings"] and not (run_dir / "probe").exists()
    assert deployment(rds, rds.describe_blue_green_deployments()["BlueGreenDeployments"][0][
        "BlueGreenDeploymentIdentifier"])["Status"] == "AVAILABLE"
