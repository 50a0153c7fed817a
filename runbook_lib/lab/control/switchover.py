"""RDS's switchover in the lab, step by step as the user guide describes it: guardrails (green replicates, its lag
fits the timeout, no long write transaction on blue), stop new writes and drop connections on both, wait until
green applied everything blue committed, promote green, rename (blue becomes the next free `-oldN`), reopen. Past
SwitchoverTimeout everything is rolled back and neither environment changes; the deployment's status afterwards
is a lab setting (docs/lab-rules.md)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from runbook_lib.lab.control.deployments import topology
from runbook_lib.lab.control.events import record_event

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab


class Abort(Exception):
    """A switchover guardrail or timeout: roll back, report, keep the lab running."""


def old_name(lab: Lab, name: str, taken: Any = None) -> str:
    """`<name>-old1`, or the next free `-oldN` when that name is taken (user guide; Aurora overview). `taken`: the
    names of the resource kind (default the instances; the clusters for a cluster)."""
    names = lab.backend.databases if taken is None else taken
    n = 1
    while f"{name}-old{n}" in names:
        n += 1
    return f"{name}-old{n}"


def start(lab: Lab, bgd: Any, timeout_s: int, kind: type[Switchover] | None = None) -> None:
    """Mark the deployment SWITCHOVER_IN_PROGRESS (what the API answers at once) and queue the work (`kind`: the
    engine's switchover, default MySQL's)."""
    with lab.lock:
        run = (kind or Switchover)(lab, bgd, timeout_s)
        bgd.status = "SWITCHOVER_IN_PROGRESS"
        bgd.status_details = "Switchover in progress"
        for d in bgd.switchover_details:
            d.Status = "SWITCHOVER_IN_PROGRESS"
        run.event(f"Switchover from DB instance {run.blue_name} to {run.green_name} started.")
        run.event(f"Switchover from primary source {run.blue_name} to target {run.green_name} started.")
    lab.submit(f"switchover {run.bgd_id}", run.run)


class Switchover:
    """One switchover: the names and resource ids it started with, its deadline, and what it has done so far
    (so a rollback undoes exactly that)."""

    def __init__(self, lab: Lab, bgd: Any, timeout_s: int) -> None:
        self.lab, self.bgd, self.timeout_s = lab, bgd, timeout_s
        self.blue = lab.backend.find_db_from_id(bgd.source)
        self.green = lab.backend.find_db_from_id(bgd.target)
        self.blue_name, self.green_name = self.blue.db_instance_identifier, self.green.db_instance_identifier
        self.blue_dbi, self.green_dbi = self.blue.dbi_resource_id, self.green.dbi_resource_id
        self.bgd_id = bgd.blue_green_deployment_identifier
        self.budget = max(timeout_s * lab.time_scale, 1.0)
        self.deadline = 0.0
        self.fenced = self.stalled = False

    def event(self, message: str) -> None:
        record_event(self.lab.backend, "blue-green-deployment", self.bgd_id, message)

    def topology(self, status: str, on: list[str]) -> None:
        topology(self.lab, self.blue_dbi, self.green_dbi, status, on)

    # -- the work ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        self.deadline = time.monotonic() + self.budget
        try:
            self.topology("SWITCHOVER_INITIATED", on=[self.blue_dbi])
            faults = self.lab.faults
            if faults.switchover_hold_s:  # a test knob: it does not eat into the switchover's budget
                time.sleep(faults.switchover_hold_s)
                self.deadline += faults.switchover_hold_s
            self.guardrails()
            self.fence()
            self.catch_up()
            self.promote_and_rename()
        except Exception as exc:
            self.roll_back(str(exc))
            if not isinstance(exc, Abort):
                raise

    def guardrails(self) -> None:
        data = self.lab.data
        if self.lab.faults.skip_catchup_wait:  # the unsafe variant: green lags and nobody waits for it
            data.servers[self.green_dbi].execute("STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=1", "START SLAVE")
            time.sleep(0.3)
        while True:  # a replica that just restarted reconnects within a moment
            status = data.replica_status(self.green_dbi) or {}
            if status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes":
                break
            error = status.get("Last_SQL_Error") or status.get("Last_IO_Error")
            if time.monotonic() > self.deadline or status.get("Last_SQL_Error") or not status:
                raise Abort("replication from the blue to the green environment is not running"
                            + (f" ({error})" if error else ""))
            time.sleep(0.05)
        lag = status.get("Seconds_Behind_Master")
        if lag is None or lag * self.lab.time_scale > self.budget:
            raise Abort(f"the replica lag of the green environment ({lag} s) is too high for the switchover timeout "
                        f"of {self.timeout_s} s")
        long_trx = data.long_write_transactions(self.blue_dbi, older_than_s=max(self.budget / 2, 0.5))
        if long_trx:
            raise Abort(f"long-running write transactions are active on {self.blue_name}: {long_trx}")

    def fence(self) -> None:
        """Stop new writes and drop every client on both environments."""
        data = self.lab.data
        data.router.set_mode(self._endpoint_names(), "refuse", cut=True)
        self.fenced = True
        data.set_read_only(self.blue_dbi, True)
        for dbi in self._servers_to_drop():
            data.kill_clients(dbi)
        if self.lab.faults.stall_green_sql_thread:
            data.servers[self.green_dbi].execute("STOP SLAVE SQL_THREAD")
            self.stalled = True
        self.topology("SWITCHOVER_IN_PROGRESS", on=[self.blue_dbi])

    def catch_up(self) -> None:
        """Until green applied everything blue committed (RDS's own heartbeat gives the wait a target)."""
        data = self.lab.data
        data.write_heartbeat(self.blue_dbi, self.bgd_id)
        if not self.lab.faults.skip_catchup_wait:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not data.wait_applied(self.green_dbi, data.binlog_pos(self.blue_dbi), remaining):
                raise Abort("the green environment did not catch up with the blue environment within the switchover "
                            "timeout")
        if time.monotonic() > self.deadline:
            raise Abort("the switchover timeout elapsed")

    def promote_and_rename(self) -> None:
        lab, bgd, blue, green = self.lab, self.bgd, self.blue, self.green
        router = lab.data.router
        self.promote()
        self.topology("SWITCHOVER_IN_POST_PROCESSING", on=[self.blue_dbi, self.green_dbi])
        blue_name, green_name = self.blue_name, self.green_name
        with lab.lock:
            old = old_name(lab, blue_name)
            lab.backend.modify_db_instance(blue_name, {"new_db_instance_identifier": old})
            lab.backend.modify_db_instance(green_name, {"new_db_instance_identifier": blue_name})
            router.rename(blue_name, "__switching__")
            router.rename(green_name, old)
            router.rename("__switching__", blue_name)
            blue.port, green.port = green.port, blue.port
            lab.attach(blue_name, self.green_dbi)
            lab.attach(old, self.blue_dbi)
            green.source_db_instance_identifier = None
            green.is_replica = False
            blue.replicas = []
            green.tags = list(blue.tags)
            bgd.source, bgd.target = blue.db_instance_arn, green.db_instance_arn
            bgd.status = "SWITCHOVER_COMPLETED"
            bgd.status_details = "Switchover completed"
            for d in bgd.switchover_details:
                d.SourceMember, d.TargetMember, d.Status = (blue.db_instance_arn, green.db_instance_arn,
                                                            "SWITCHOVER_COMPLETED")
            self.event(f"Switchover from primary source {blue_name} to target {green_name} completed. Renamed "
                       f"{blue_name} to {old} and {green_name} to {blue_name}.")
            self.event("Switchover completed on blue/green deployment.")
        router.set_mode([blue_name, old], "open")
        self.topology("SWITCHOVER_COMPLETED", on=[self.blue_dbi, self.green_dbi])

    def roll_back(self, reason: str) -> None:
        """Undo what was done; the deployment takes the status the lab setting names (docs/lab-rules.md)."""
        data = self.lab.data
        if self.fenced:
            data.router.set_mode(self._endpoint_names(), "open")
        self.unfence()
        if self.stalled:
            self.resume_green()
        self.topology("AVAILABLE", on=[self.blue_dbi])
        with self.lab.lock:
            rolled_back_to = self.lab.faults.switchover_rollback_status
            self.bgd.status = rolled_back_to
            self.bgd.status_details = f"Switchover failed and was rolled back: {reason}"
            for d in self.bgd.switchover_details:
                d.Status = rolled_back_to
            self.event(self._canceled(reason))
            self.event("Switchover canceled on blue/green deployment.")

    # -- what differs for PostgreSQL (postgres_switchover.py) ----------------------------------------------------
    def promote(self) -> None:
        """Green stops replicating and takes writes."""
        self.lab.data.promote(self.green_dbi)

    def unfence(self) -> None:
        """Blue takes writes again (a rollback)."""
        self.lab.data.set_read_only(self.blue_dbi, False)

    def resume_green(self) -> None:
        """Green applies again after the `stall_green_sql_thread` switch stopped it (a rollback)."""
        self.lab.data.servers[self.green_dbi].execute("START SLAVE SQL_THREAD")

    # -- what differs for a cluster (cluster_deployments.ClusterSwitchover) -----------------------------------
    def _endpoint_names(self) -> list[str]:
        """The endpoints fenced and reopened: blue's and green's, by name."""
        return [self.blue_name, self.green_name]

    def _servers_to_drop(self) -> list[str]:
        """The servers whose clients the fence drops (resource ids)."""
        return [self.blue_dbi, self.green_dbi]

    def _canceled(self, reason: str) -> str:
        return (f"Switchover from primary source {self.blue_name} to target {self.green_name} was canceled due to "
                f"{reason}.")
