"""CloudWatch metrics the lab publishes as RDS does: ReplicaLag of every replica, measured on its server once a
second; the runbook's preflight reads it from CloudWatch in both modes."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from runbook_lib.lab import moto_internals

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab


def publish_replica_lag(lab: Lab, stop: threading.Event) -> None:
    """ReplicaLag of every replica, measured on its server, into (moto's) CloudWatch once a second, as RDS
    publishes it; the runbook's preflight reads it there in both modes."""
    while not stop.wait(1.0):
        with lab.lock:
            replicas = [(i.db_instance_identifier, i.dbi_resource_id) for i in lab.backend.databases.values()
                        if i.source_db_instance_identifier and i.dbi_resource_id in lab.data.servers]
        for name, dbi in replicas:
            try:
                status = lab.data.replica_status(dbi) or {}
            except Exception:  # noqa: BLE001 - a server restarting has no lag to report
                continue
            lag = status.get("Seconds_Behind_Master")
            if lag is None:
                continue
            with lab.lock:
                moto_internals.cloudwatch_put(lab.account, lab.region, "AWS/RDS", [{
                    "MetricName": "ReplicaLag", "Value": float(lag), "Unit": "Seconds", "Timestamp": moto_internals.utcnow(),
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": name}]}])
