"""RDS events the lab emits (moto records none for blue/green, renames or upgrades)."""

from __future__ import annotations

from typing import Any

from runbook_lib.lab.moto_internals import utcnow

# Event ids of the messages below, for readers of the lab's code (DescribeEvents carries no id).
BLUE_GREEN_EVENTS = {
    "RDS-EVENT-0244": "Blue/green deployment tasks completed.",
    "RDS-EVENT-0245": "Creation of blue/green deployment failed because",
    "RDS-EVENT-0246": "Blue/green deployment deleted.",
    "RDS-EVENT-0247": "Switchover from DB instance",
    "RDS-EVENT-0248": "Switchover completed on blue/green deployment.",
    "RDS-EVENT-0249": "Switchover canceled on blue/green deployment.",
    "RDS-EVENT-0250": "Switchover from primary source",
    "RDS-EVENT-0251": "Switchover from primary source … completed",
    "RDS-EVENT-0252": "Switchover from primary source … was canceled",
}

_CATEGORY = {"deleted": "deletion", "failed": "failure", "canceled": "failure", "created": "creation",
             "completed": "notification", "started": "notification", "upgrade": "maintenance"}


class LabEvent:
    """Shaped like moto's Event so moto serialises and filters it."""

    def __init__(self, source_type: str, source_identifier: str, message: str, arn: str) -> None:
        self.source_identifier = source_identifier
        self.source_type = source_type
        self.message = message
        lowered = message.lower()
        self.event_categories = sorted({c for word, c in _CATEGORY.items() if word in lowered}) or ["notification"]
        self.source_arn = arn
        self.date = utcnow()


def record_event(backend: Any, source_type: str, source_identifier: str, message: str) -> None:
    kind = {"db-instance": "db", "db-cluster": "cluster", "blue-green-deployment": "deployment"}.get(source_type, source_type)
    arn = f"arn:aws:rds:{backend.region_name}:{backend.account_id}:{kind}:{source_identifier}"
    backend.events.append(LabEvent(source_type, source_identifier, message, arn))
