"""Shared fixtures: an isolated lab (its own folder, processes and ports) and an isolated runs folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

ROOT = Path(__file__).resolve().parents[1]
FULL_ONLY = ("e2e", "airflow", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whole runs, kill points, Airflow and the browser are the full run's; the fast tier is `-m "not full"`."""
    for item in items:
        if any(item.get_closest_marker(name) for name in FULL_ONLY):
            item.add_marker(pytest.mark.full)


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


def runbook_cli(*args: str, env: dict[str, str] | None = None,
                timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    """`runbook ARGS…` as a user types it, from the project root, with this session's lab and runs folders."""
    return subprocess.run([sys.executable, "-m", "runbook_lib.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout)


def lab_rds(paths: LabPaths, region: str = "us-east-1") -> Any:
    """An RDS client on the lab's API, as a user's boto3 would make it."""
    state = client.status(paths)
    return boto3.client("rds", endpoint_url=state["endpoint_url"], region_name=region, aws_access_key_id="lab",
                        aws_secret_access_key="lab")


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


@pytest.fixture(autouse=True)
def _release_deployment_locks_taken_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A step begun in this process (as a notebook kernel would) holds its deployment's lock until it finishes; tests
    that begin steps without finishing them must not leave it to the garbage collector to free it for the next test's
    `runbook run`."""
    from runbook_lib.run import lock
    taken: list[Any] = []
    real = lock.acquire

    def acquire(*args: Any, **kwargs: Any) -> Any:
        held = real(*args, **kwargs)
        taken.append(held)
        return held
    monkeypatch.setattr(lock, "acquire", acquire)
    yield
    for held in taken:
        held.release()
