"""Step 02: create the blue/green deployment (same version, same parameter group), or reuse it."""

from __future__ import annotations

from runbook_lib.aws.types import BlueGreenDeployment, Event
from runbook_lib.aws.waiting import wait_until
from runbook_lib.errors import RunbookError
from runbook_lib.run import gates, history
from runbook_lib.run.context import Step
from runbook_lib.steps import flows
from runbook_lib.ui import display

FAILED_STATES = ("SWITCHOVER_FAILED", "INVALID_CONFIGURATION")


def replacement(step: Step) -> list[str]:
    """Names a person must confirm before step 02 may replace a failed deployment (the deployment and its green
    instance, which DeleteTarget deletes); empty when there is nothing to replace."""
    if (flow := flows.handler(step, "replacement")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    existing = step.rds.find_deployment(step.params.deployment_name)
    if existing is None or existing["Status"] not in FAILED_STATES:
        return []
    return [step.params.deployment_name] + ([str(existing["Target"]).split(":")[-1]] if existing.get("Target") else [])


def ensure_deployment(step: Step) -> BlueGreenDeployment | None:
    if (flow := flows.handler(step, "ensure_deployment")) is not None:
        return flow(step)  # type: ignore[no-any-return]
    p = step.params
    blue = step.rds.instance(p.source_db_instance)
    existing = step.rds.find_deployment(p.deployment_name)
    if existing and existing["Status"] in FAILED_STATES:
        _replace_failed(step, existing)
        existing = None
    if existing:
        switched = existing["Status"] == "SWITCHOVER_COMPLETED" and existing.get("Target") == blue["DBInstanceArn"]
        if existing["Source"] != blue["DBInstanceArn"] and not switched:
            raise RunbookError(
                f"A blue/green deployment named {p.deployment_name} already exists for another source "
                f"({existing['Source']}). Choose another deployment_name or delete that deployment.")
        display.note(f"Deployment **{p.deployment_name}** already exists ({existing['Status']}): reusing it, "
                     "nothing new is created.")
        source = blue if not switched else step.rds.find_instance(str(existing["Source"]).split(":")[-1])
        step.identifiers.update(deployment_id=existing["BlueGreenDeploymentIdentifier"],
                                blue_instance=source and source["DBInstanceIdentifier"],
                                blue_dbi_resource_id=source and source["DbiResourceId"])
        step.check("deploymentReused", "pass", {"status": existing["Status"]})
        return existing
    group = blue["DBParameterGroups"][0]["DBParameterGroupName"]
    step.identifiers.update(blue_instance=blue["DBInstanceIdentifier"], blue_dbi_resource_id=blue["DbiResourceId"],
                            blue_arn=blue["DBInstanceArn"])
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


def _replace_failed(step: Step, existing: BlueGreenDeployment) -> None:
    """A deployment whose switchover failed for good (or whose green broke) cannot be switched over: the documented
    way on is to delete it with its green instance (DeleteTarget=true, allowed before a switchover completed) and
    create it anew. Both deletions need a confirmation naming them; green is checked by resource id."""
    p = step.params
    ident = str(existing["BlueGreenDeploymentIdentifier"])
    green_name = str(existing.get("Target") or "").split(":")[-1] or None
    green = step.rds.find_instance(green_name) if green_name else None
    recorded = history.recorded(history.about(ident), "green_dbi_resource_id")
    if green is not None and recorded and recorded[0] != green["DbiResourceId"]:
        raise RunbookError(f"Deployment {p.deployment_name} names {green_name} ({green['DbiResourceId']}) as its green "
                           f"instance, but {recorded[0]} was recorded ({recorded[1].run_id}). Nothing was deleted.")
    gates.require_replacement(p, p.deployment_name, green_name if green else None, existing["Status"],
                              existing.get("StatusDetails"), step.confirmations)
    step.identifiers.update(replaced_deployment_id=ident, replaced_green_instance=green_name,
                            replaced_green_dbi_resource_id=green and green["DbiResourceId"])
    if step.rds.delete_deployment(ident, delete_target=True) is None:
        display.note(f"Dry run: would delete {p.deployment_name} ({ident}) with its green instance, then create it anew.")
        return
    step.changed("deleted failed blue/green deployment with its green instance", deployment_id=ident,
                 green_instance=green_name, status=existing["Status"])
    wait_until(lambda: (step.rds.find_deployment(p.deployment_name),
                        step.rds.instance_by_resource_id(green["DbiResourceId"]) if green else None),
               lambda pair: pair[0] is None and pair[1] is None,
               what=f"deletion of {p.deployment_name} and {green_name}",
               state_of=lambda pair: f"deployment {'gone' if pair[0] is None else pair[0]['Status']}, green "
                                     f"{'gone' if pair[1] is None else pair[1]['DBInstanceStatus']}",
               timeout_s=step.wait_s(3600))
    display.note(f"Deleted the failed deployment {p.deployment_name} and its green instance {green_name}; creating it "
                 "anew.", "ok")


def wait_available(step: Step, deployment: BlueGreenDeployment | None, timeout_s: float = 7200) -> BlueGreenDeployment | None:
    if (flow := flows.handler(step, "wait_available")) is not None:
        return flow(step, deployment)  # type: ignore[no-any-return]
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
    step.identifiers["deployment_id"] = ident
    step.identifiers["green_arn"] = final["Target"]
    step.identifiers["green_instance"] = final["Target"].split(":")[-1]
    green = step.rds.find_instance(step.identifiers["green_instance"])
    if green:
        step.identifiers["green_dbi_resource_id"] = green["DbiResourceId"]
    display.table(final.get("Tasks", []), ["Name", "Status"], title="Deployment tasks")
    show_events(step, ident)
    return final


def show_events(step: Step, deployment_id: str) -> list[Event]:
    events = step.rds.events("blue-green-deployment", deployment_id)
    display.events(events, "Deployment events")
    return events
