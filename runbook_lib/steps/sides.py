"""Finding the deployment and its two sides from live state (every step after 02 starts here)."""

from __future__ import annotations

from dataclasses import dataclass

from runbook_lib.aws.types import BlueGreenDeployment, DBInstance
from runbook_lib.errors import RunbookError
from runbook_lib.run.context import Step


@dataclass
class Sides:
    deployment: BlueGreenDeployment
    blue: DBInstance | None
    green: DBInstance | None

    @property
    def deployment_id(self) -> str:
        return str(self.deployment["BlueGreenDeploymentIdentifier"])


def current(step: Step) -> Sides:
    p = step.params
    found = step.rds.find_deployment(p.deployment_name)
    if found is None:
        raise RunbookError(f"No blue/green deployment named {p.deployment_name} exists. Run step 02 "
                           "(02_create_blue_green) first, or fix deployment_name.")
    blue = step.rds.find_instance(found["Source"].split(":")[-1])
    green = step.rds.find_instance(found["Target"].split(":")[-1]) if found.get("Target") else None
    step.identifiers.update(deployment_id=found["BlueGreenDeploymentIdentifier"],
                            blue_instance=blue and blue["DBInstanceIdentifier"],
                            green_instance=green and green["DBInstanceIdentifier"],
                            blue_dbi_resource_id=blue and blue["DbiResourceId"],
                            green_dbi_resource_id=green and green["DbiResourceId"])
    return Sides(found, blue, green)


def current_or_planned(step: Step) -> Sides | None:
    """The live deployment; in a dry run where step 02 only planned it, None (callers plan their calls)."""
    if step.params.dry_run and step.rds.find_deployment(step.params.deployment_name) is None:
        return None
    return current(step)


def planned_green(step: Step) -> str:
    return f"<green instance of {step.params.deployment_name}, created by step 02>"
