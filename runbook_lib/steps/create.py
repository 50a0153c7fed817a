"""Step 02: create the blue/green deployment (same version, same parameter group), or reuse it."""

from __future__ import annotations

from typing import Any

from .. import display
from ..errors import RunbookError
from ..step import Step
from ..waiting import wait_until


def ensure_deployment(step: Step) -> dict[str, Any] | None:
    p = step.params
    blue = step.rds.instance(p.source_db_instance)
    existing = step.rds.find_deployment(p.deployment_name)
    if existing:
        source_name = existing["Source"].split(":")[-1]
        if existing["Source"] != blue["DBInstanceArn"] and source_name != f"{p.source_db_instance}-old1":
            raise RunbookError(
                f"A blue/green deployment named {p.deployment_name} already exists for another source "
                f"({existing['Source']}). Choose another deployment_name or delete that deployment.")
        display.note(f"Deployment **{p.deployment_name}** already exists ({existing['Status']}): reusing it, "
                     "nothing new is created.")
        step.identifiers["deployment_id"] = existing["BlueGreenDeploymentIdentifier"]
        step.check("deploymentReused", "pass", {"status": existing["Status"]})
        return existing
    group = blue["DBParameterGroups"][0]["DBParameterGroupName"]
    created = step.rds.create_deployment(p.deployment_name, blue["DBInstanceArn"], blue["EngineVersion"], group,
                                         tags=[{"Key": "created-by", "Value": "bluegreen-runbook"},
                                               {"Key": "run-id", "Value": step.run.run_id}])
    if created is None:  # dry run
        display.note(f"Dry run: would create deployment {p.deployment_name} from {p.source_db_instance} "
                     f"({blue['EngineVersion']}, {group}).")
        return None
    step.identifiers["deployment_id"] = created["BlueGreenDeploymentIdentifier"]
    step.changed("created blue/green deployment", deployment_id=created["BlueGreenDeploymentIdentifier"],
                 engine_version=blue["EngineVersion"], parameter_group=group)
    return created


def wait_available(step: Step, deployment: dict[str, Any] | None, timeout_s: float = 7200) -> dict[str, Any] | None:
    if deployment is None:
        return None
    ident = deployment["BlueGreenDeploymentIdentifier"]
    final = wait_until(
        lambda: step.rds.deployment(ident),
        lambda d: d["Status"] in ("AVAILABLE", "SWITCHOVER_COMPLETED"),
        what=f"deployment {step.params.deployment_name}",
        state_of=lambda d: f"{d['Status']} " + " ".join(f"{t['Name'].split('_')[0].lower()}:{t['Status'][:4]}"
                                                       for t in d.get("Tasks", [])),
        failed=lambda d: (d.get("StatusDetails") or d["Status"])
        if d["Status"] in ("INVALID_CONFIGURATION", "SWITCHOVER_FAILED") else None,
        timeout_s=timeout_s)
    step.identifiers["green_arn"] = final["Target"]
    step.identifiers["green_instance"] = final["Target"].split(":")[-1]
    green = step.rds.find_instance(step.identifiers["green_instance"])
    if green:
        step.identifiers["green_dbi_resource_id"] = green["DbiResourceId"]
    display.table(final.get("Tasks", []), ["Name", "Status"], title="Deployment tasks")
    show_events(step, ident)
    return final


def show_events(step: Step, deployment_id: str) -> list[dict[str, Any]]:
    events = step.rds.events("blue-green-deployment", deployment_id)
    display.events(events, "Deployment events")
    return events
