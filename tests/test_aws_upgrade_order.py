"""The lab moves an upgrade in RDS's order, so that a runbook reading events as completion fails against it as it
would against RDS: the version is pending while the status is still `available`, events come first, the status
later; a cancelled upgrade drops the pending version without the status ever leaving `available`."""

from __future__ import annotations

import time
from typing import Any

import boto3
from conftest import create_available_deployment, instance

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths


def _watch(rds: Any, green: str, until: Any, timeout: float = 60) -> list[dict[str, Any]]:
    """Every (status, pending, version, events) seen, polling as fast as a client would."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inst = instance(rds, green)
        events = [e["Message"] for e in rds.describe_events(SourceType="db-instance", SourceIdentifier=green)["Events"]]
        seen.append({"status": inst["DBInstanceStatus"], "pending": inst.get("PendingModifiedValues") or {},
                     "version": inst["EngineVersion"], "events": events})
        if until(seen[-1]):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"timed out; seen {seen[-3:]}")


def _modify(rds: Any, green: str) -> dict[str, Any]:
    return dict(rds.modify_db_instance(DBInstanceIdentifier=green, EngineVersion="8.0.39", AllowMajorVersionUpgrade=True,
                                       DBParameterGroupName="pg-mysql-80", OptionGroupName="mysql80-option-group",
                                       ApplyImmediately=True)["DBInstance"])


def test_an_upgrade_shows_events_first_and_its_status_late(rds: Any) -> None:
    green = create_available_deployment(rds)["Target"].split(":")[-1]
    answer = _modify(rds, green)
    assert answer["DBInstanceStatus"] == "available" and answer["PendingModifiedValues"] == {"EngineVersion": "8.0.39"}
    seen = _watch(rds, green, lambda s: s["version"] == "8.0.39" and s["status"] == "available" and not s["pending"])
    early = [s for s in seen if s["status"] == "available" and s["version"] == "5.7.44"
             and any("upgrade" in m.lower() for m in s["events"])]
    assert early and all(s["pending"] == {"EngineVersion": "8.0.39"} for s in early), seen[:5]  # event, status still
    assert any(s["status"] == "upgrading" for s in seen)
    done = [i for i, s in enumerate(seen) if any("upgraded from engine version" in m for m in s["events"])]
    assert done and seen[done[0]]["status"] == "upgrading"     # the completion event, before `available`


def test_a_cancelled_upgrade_never_leaves_available_and_drops_the_pending_version(lab_paths: LabPaths) -> None:
    state = client.reset(lab_paths, seed_blocker=True)
    rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    green = create_available_deployment(rds)["Target"].split(":")[-1]
    _modify(rds, green)
    seen = _watch(rds, green, lambda s: any("cannot be upgraded" in m for m in s["events"]) and not s["pending"])
    assert {s["status"] for s in seen} == {"available"} and seen[-1]["version"] == "5.7.44"
    refused = [s for s in seen if any("cannot be upgraded" in m for m in s["events"])]
    assert refused[0]["pending"] == {"EngineVersion": "8.0.39"}   # the refusal's event before the state settles
