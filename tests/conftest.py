"""Shared fixtures: an isolated lab (its own folder, processes and ports) and an isolated runs folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def lab_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabPaths]:
    """One lab folder for the whole session (template built once); every test gets a fresh lab."""
    root = tmp_path_factory.mktemp("lab")
    os.environ["RUNBOOK_LAB_DIR"] = str(root)
    os.environ["RUNBOOK_RUNS_DIR"] = str(tmp_path_factory.mktemp("runs"))
    os.environ["RUNBOOK_AUDIT_KEY"] = str(tmp_path_factory.mktemp("keys") / "audit-ed25519.pem")
    paths = LabPaths(root)
    yield paths
    client.down(paths)


@pytest.fixture
def lab(lab_paths: LabPaths) -> Iterator[dict[str, Any]]:
    """A freshly seeded lab."""
    state = client.reset(lab_paths)
    yield state


@pytest.fixture
def rds(lab: dict[str, Any]) -> Any:
    return boto3.client("rds", endpoint_url=lab["endpoint_url"], region_name="us-east-1",
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value: {value}")
        time.sleep(0.05)


def deployment(rds: Any, ident: str) -> dict[str, Any]:
    return rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)["BlueGreenDeployments"][0]


def instance(rds: Any, name: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def create_available_deployment(rds: Any, name: str = "bg-deployment") -> dict[str, Any]:
    blue = instance(rds, "database-1")
    created = rds.create_blue_green_deployment(
        BlueGreenDeploymentName=name, Source=blue["DBInstanceArn"], TargetEngineVersion=blue["EngineVersion"],
        TargetDBParameterGroupName="pg-mysql-57")["BlueGreenDeployment"]
    return wait_for(lambda: deployment(rds, created["BlueGreenDeploymentIdentifier"]),
                    lambda d: d["Status"] == "AVAILABLE")


def upgrade_green(rds: Any, green: str) -> dict[str, Any]:
    rds.modify_db_instance(DBInstanceIdentifier=green, EngineVersion="8.0.39", AllowMajorVersionUpgrade=True,
                           DBParameterGroupName="pg-mysql-80", OptionGroupName="mysql80-option-group",
                           ApplyImmediately=True)
    return wait_for(lambda: instance(rds, green),
                    lambda i: i["DBInstanceStatus"] == "available" and i["EngineVersion"] == "8.0.39")


def master_password(paths: LabPaths) -> str:
    creds = paths.read_credentials()
    assert creds
    return str(creds["master_password"])
