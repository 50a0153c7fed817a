"""The whole lab runbook with the lab's TLS option on (require_secure_transport=1 in its parameter groups: every
server refuses plain connections), both flows: the plain upgrade and the workshop path (RDS cancels the upgrade, the
fix is applied on blue, the retry). From the same runs, the IAM actions the steps really called (api_calls in each
step record) must all be in the documented list (`runbook grants`, README), so the list cannot drift."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from conftest import ROOT

from runbook_lib.checks import grants
from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

pytestmark = pytest.mark.e2e   # two whole runs: the full tier


@pytest.fixture(scope="module")
def tls_runs(lab_paths: LabPaths) -> Iterator[dict[str, Any]]:
    """Both flows run headless against a lab whose servers require TLS; the lab folder's setting is put back after."""
    client.reset(lab_paths, require_secure_transport=True)
    runs: dict[str, Any] = {}
    try:
        for name in ("lab.yaml", "lab-workshop.yaml"):
            done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "run", "--params", f"parameters/{name}"],
                                  cwd=ROOT, capture_output=True, text=True, env=dict(os.environ), timeout=900)
            assert done.returncode == 0, done.stderr[-4000:]
            runs[name] = Path(done.stdout.strip().splitlines()[-1])
        runs["lab"] = client.status(lab_paths)  # the lab as the last run left it
        yield runs
    finally:
        client.lab_settings(lab_paths, require_secure_transport=False)
        client.down(lab_paths)


def _steps(run: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((run / "steps").glob("*.json"))]


@pytest.mark.parametrize("flow", ["lab.yaml", "lab-workshop.yaml"])
def test_the_whole_runbook_passes_with_tls_required(tls_runs: dict[str, Any], flow: str) -> None:
    run = tls_runs[flow]
    record = json.loads((run / "run.json").read_text())
    assert record["outcome"] in ("succeeded", "completed"), record["outcome"]
    steps = {s["step"]: s for s in _steps(run)}
    assert set(steps) == {"01", "02", "03", "04", "05", "06"}
    tls = next(c for c in steps["01"]["checks"] if c["id"] == "databaseTls")
    # observed by the server, not assumed: the session was TLS and the server refuses plain connections
    assert tls["result"] == "pass" and tls["evidence"]["mode"] == "verify-identity", tls
    assert tls["evidence"]["ssl_version"].startswith("TLSv1.") and tls["evidence"]["require_secure_transport"] is True
    header = json.loads((run / "probe" / "probe-journal.jsonl").read_text().splitlines()[0])
    assert header["tls"] is True and header["tls_mode"] == "verify-identity"
    assert record["findings"]["downtime"]["05"]["observed"] is True
    if flow == "lab-workshop.yaml":   # the fix path reached blue (and then green) over TLS too
        assert steps["04"]["findings"]["upgrade_retry"]["green_version"] == "8.0.39"
    assert record["secret_scan"]["values_checked"] == 1 and not record["secret_scan"]["hits"]


def test_a_plain_connection_is_refused_by_the_lab_with_tls_required(tls_runs: dict[str, Any],
                                                                   lab_paths: LabPaths) -> None:
    state = tls_runs["lab"]
    port = state["instances"]["database-1"]["endpoint_port"]
    creds = lab_paths.read_credentials() or {}
    with pytest.raises(pymysql.MySQLError):
        pymysql.connect(host="127.0.0.1", port=port, user=creds["master_user"], password=creds["master_password"],
                        ssl_disabled=True, connect_timeout=5).close()
    with pymysql.connect(host="127.0.0.1", port=port, user=creds["master_user"], password=creds["master_password"],
                         ssl_ca=state["ca_bundle"], ssl_verify_cert=True, ssl_verify_identity=True,
                         connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@require_secure_transport, @@version")
        on, version = cur.fetchone()
    assert int(on) == 1 and version == "8.0.39-MariaDB-lab"


def _recorded_actions(runs: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in ("lab.yaml", "lab-workshop.yaml"):
        for step in _steps(runs[name]):
            assert step["api_calls"], f"{name} step {step['step']} recorded no api_calls"
            for call, n in step["api_calls"].items():
                counts[call] = counts.get(call, 0) + n
    return counts


def test_every_action_the_lab_runs_called_is_in_the_documented_iam_list(tls_runs: dict[str, Any]) -> None:
    recorded = _recorded_actions(tls_runs)
    # the runs called what a run calls: reads, the four changes, the log download, the metric, the simulation
    assert {"rds:CreateBlueGreenDeployment", "rds:ModifyDBInstance", "rds:SwitchoverBlueGreenDeployment",
            "rds:DeleteBlueGreenDeployment", "rds:DeleteDBInstance", "rds:DownloadDBLogFilePortion",
            "rds:DescribeDBSnapshots", "cloudwatch:GetMetricData", "iam:SimulatePrincipalPolicy"} <= set(recorded)
    needed = grants.actions_of_calls(recorded)
    assert needed - set(grants.iam_actions()) == set(), "runbook grants misses what the run called"
    simulated = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "grants", "--format", "json"], cwd=ROOT,
                               capture_output=True, text=True, check=True)
    printed = set(json.loads(simulated.stdout)["iam_actions"])
    assert needed <= printed
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`((?:rds|cloudwatch|iam|sts|secretsmanager):[A-Za-z]+)`", readme))
    assert needed - documented == set(), "README's IAM list misses what the run called"
    assert set(grants.iam_actions()) <= documented, "README and runbook grants disagree"
