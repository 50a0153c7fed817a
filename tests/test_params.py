"""Parameter validation: one clear message per bad key, no traceback, nothing changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from runbook_lib.params import ParamsError, load, validate


@pytest.mark.parametrize("name", ["lab.yaml", "workshop.yaml", "production.example.yaml", "lab-aurora-mysql.yaml",
                                  "aws-aurora-mysql.example.yaml"])
def test_shipped_parameter_files_are_valid(name: str) -> None:
    load(ROOT / "parameters" / name)


@pytest.mark.parametrize(("values", "key", "words"), [
    ({"switchover_timeout_s": 10}, "switchover_timeout_s", "between 30 and 3600"),
    ({"switchover_timeout_s": 4000}, "switchover_timeout_s", "between 30 and 3600"),
    ({"deployment_name": "bg--x"}, "deployment_name", "double hyphen"),
    ({"deployment_name": "1bg"}, "deployment_name", "starting with a letter"),
    ({"deployment_name": "x" * 61}, "deployment_name", "1-60"),
    ({"source_db_instance": "db-"}, "source_db_instance", "trailing"),
    ({"target_engine_version": "eight"}, "target_engine_version", "8.0.39"),
    ({"mode": "cloud"}, "mode", "lab"),
    ({"region": "Mars"}, "region", "us-east-1"),
    ({"db_password_env": "hunter 2"}, "db_password_env", "NAME of an environment variable"),
    ({"probe_interval_ms": 5}, "probe_interval_ms", "greater than or equal to 10"),
    ({"probe_database": "x-y"}, "probe_database", "database name"),
    ({"confirm_delete": 5}, "confirm_delete", "list"),
    ({"acknowledge_precheck_errors": ["no such!"]}, "acknowledge_precheck_errors", "precheck ids"),
    ({"endpoint_url": "ftp://x"}, "endpoint_url", "http"),
    ({"skip_final_snapshot": "maybe"}, "skip_final_snapshot", "boolean"),
    ({"deployment_nmae": "x"}, "deployment_nmae", "unknown key"),
    ({"db_password": "s3cret"}, "db_password", "never read from parameter files"),
    ({"master_user_password": "s3cret"}, "master_user_password", "never read from parameter files"),
])
def test_each_rule_names_the_key(values: dict, key: str, words: str) -> None:
    with pytest.raises(ParamsError) as err:
        validate(values)
    message = str(err.value)
    assert f"- {key}:" in message
    assert words in message
    assert "s3cret" not in message


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ParamsError) as err:
        validate({"switchover_timeout_s": 1, "mode": "x", "bogus": 1})
    assert len(err.value.problems) == 3


def test_snapshot_and_skip_contradict() -> None:
    with pytest.raises(ParamsError, match="contradict"):
        validate({"final_snapshot_id": "snap-a", "skip_final_snapshot": True})


def test_params_check_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("switchover_timeout_s: 5\ndb_password: hunter2\n")
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "params", "check", str(bad)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "switchover_timeout_s" in done.stderr and "db_password" in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    good = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "params", "check",
                           str(ROOT / "parameters" / "lab.yaml")], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr


def test_a_cluster_needs_its_green_cluster_parameter_group() -> None:
    with pytest.raises(ParamsError) as refused:
        validate({"source_db_cluster": "aurora-1", "target_engine_version": "8.0.mysql_aurora.3.05.2"})
    assert "green_cluster_parameter_group" in str(refused.value)
    params = validate({"source_db_cluster": "aurora-1", "target_engine_version": "8.0.mysql_aurora.3.05.2",
                       "green_cluster_parameter_group": "aurora-mysql80-cluster"})
    assert params.source_db_cluster == "aurora-1"
    with pytest.raises(ParamsError) as bad:
        validate({"target_engine_version": "8.0.mysql_aurora.3"})
    assert "target_engine_version" in str(bad.value)
