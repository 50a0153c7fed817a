"""`runbook grants` prints exactly the privileges the runbook needs; step 01 names each one a database user lacks, and
a user created from the printed SQL passes (against the lab's real server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from runbook_lib.checks import grants
from runbook_lib.lab.paths import LabPaths


def _grants(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "runbook_lib.cli", "grants", *args], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def test_grants_prints_the_sql_and_the_policy_the_runbook_needs() -> None:
    text = _grants("--db-user", "orders_runbook", "--probe-database", "probe_db")
    assert "CREATE USER 'orders_runbook'@'%' IDENTIFIED BY '<password>' REQUIRE SSL;" in text
    assert "GRANT SELECT ON *.* TO 'orders_runbook'@'%';" in text
    assert "GRANT CREATE, INSERT ON `probe_db`.* TO 'orders_runbook'@'%';" in text
    doc = json.loads(_grants("--format", "json"))
    actions = [a for statement in doc["iam_policy"]["Statement"] for a in statement["Action"]]
    assert sorted(actions) == grants.iam_actions() and "secretsmanager:GetSecretValue" in actions
    assert all(why for why in doc["iam_actions"].values())
    lab = json.loads(_grants("--format", "json", "--params", "parameters/lab.yaml"))   # no secret: no Secrets Manager
    assert "secretsmanager:GetSecretValue" not in json.dumps(lab["iam_policy"])
    assert "GRANT CREATE, INSERT ON `runbook_probe`.* TO 'admin'@'%';" in lab["db_sql"]


def _privileges_check(tmp_path: Path, user: str, password: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from runbook_lib.checks import source_readiness
    from runbook_lib.run.context import begin
    params = tmp_path / f"{user}.yaml"
    params.write_text((ROOT / "parameters" / "lab.yaml").read_text().replace("db_user: admin", f"db_user: {user}")
                      + f"run_dir: {tmp_path / 'run'}\n")
    monkeypatch.setenv("RUNBOOK_DB_PASSWORD", password)
    step = begin("01", str(params), {})
    source_readiness.source_checks(step, step.rds.instance("database-1"))
    return next(c for c in step.checks if c["id"] == "databasePrivileges")


def test_step_01_names_each_missing_privilege_and_the_printed_grants_suffice(
        lab: dict[str, Any], lab_paths: LabPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pymysql
    creds = lab_paths.read_credentials() or {}
    port = lab["instances"]["database-1"]["endpoint_port"]
    with pymysql.connect(host="127.0.0.1", port=port, user=creds["master_user"], password=creds["master_password"],
                         autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE USER 'reader'@'%' IDENTIFIED BY 'reader-pw-1'")
        cur.execute("GRANT SELECT ON *.* TO 'reader'@'%'")
        for line in grants.db_grant_sql("runbook_checks").splitlines():   # one statement a line, comments "--"
            if not line.startswith("--"):
                cur.execute(line.rstrip(";").replace("<password>", "checks-pw-1").replace(" REQUIRE SSL", ""))
        # MariaDB splits REPLICATION CLIENT: it is BINLOG MONITOR there, and SHOW SLAVE STATUS needs SLAVE MONITOR
        cur.execute("GRANT SLAVE MONITOR ON *.* TO 'runbook_checks'@'%'")
    check = _privileges_check(tmp_path, "reader", "reader-pw-1", monkeypatch)
    assert check["result"] == "fail"
    assert check["evidence"]["missing"] == {"*.*": ["PROCESS", "REPLICATION CLIENT", "LOCK TABLES"],
                                            "`runbook_probe`.*": ["CREATE", "INSERT"]}
    assert "GRANT PROCESS, REPLICATION CLIENT, LOCK TABLES ON *.* TO 'reader'" in check["remediation"]
    assert "reader-pw-1" not in json.dumps(check)
    check = _privileges_check(tmp_path, "runbook_checks", "checks-pw-1", monkeypatch)
    assert check["result"] == "pass", check
    assert os.environ["RUNBOOK_DB_PASSWORD"] == "checks-pw-1"
