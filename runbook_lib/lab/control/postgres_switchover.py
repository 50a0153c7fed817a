"""The switchover of a PostgreSQL deployment: RDS's steps and rollback (switchover.py, cluster_deployments.py) with
PostgreSQL's data plane underneath: guardrails (green not Replication degraded, replication running), fence blue
(default_transaction_read_only, clients dropped), wait until green confirmed blue's LSN, sequence sync for logical
replication with its events (RDS-EVENT-0307/0308/0310 for instances, 0311/0312/0314 for clusters), promote green and
let it take writes. Renaming and endpoints are the MySQL flows' own, unchanged."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from runbook_lib.lab.control import cluster_deployments, switchover
from runbook_lib.lab.control.cluster_deployments import ClusterSwitchover
from runbook_lib.lab.control.postgres_deployments import PgDeployment, degradation
from runbook_lib.lab.control.switchover import Abort, Switchover
from runbook_lib.lab.dataplane import postgres_replication as repl
from runbook_lib.lab.dataplane.postgres_servers import LAB_APPLICATION, PostgresServer

if TYPE_CHECKING:
    from runbook_lib.lab.control.core import Lab


def start(lab: Lab, bgd: Any, timeout_s: int) -> None:
    if hasattr(bgd, "lab_clusters"):
        cluster_deployments.start(lab, bgd, timeout_s, PgClusterSwitchover)
    else:
        switchover.start(lab, bgd, timeout_s, PgSwitchover)


def _drop_clients(server: PostgresServer) -> None:
    server.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                   "AND pid <> pg_backend_pid() AND coalesce(application_name, '') <> %s", params=(LAB_APPLICATION,))


class PgSteps(Switchover):
    """The PostgreSQL steps, shared by the instance and the cluster switchover (mixed in before the MySQL class)."""

    cluster_events = False   # RDS-EVENT-0311/0312/0314 (clusters) instead of 0307/0308/0310 (instances)

    @property
    def state(self) -> PgDeployment:
        return self.bgd.lab_pg  # type: ignore[no-any-return]

    def _servers(self) -> tuple[PostgresServer, PostgresServer]:
        return self.lab.pg.servers[self.blue_dbi], self.lab.pg.servers[self.green_dbi]

    def _links(self) -> list[repl.LogicalLink | repl.PhysicalLink]:
        return [self.state.physical] if self.state.physical else list(self.state.logical)

    def guardrails(self) -> None:
        reasons = degradation(self.lab, self.state)
        if reasons or self.state.degraded:
            raise Abort(f"replication is degraded ({'; '.join(reasons or self.state.degraded)})")
        blue, green = self._servers()
        if self.state.physical is not None:
            if not repl.is_in_recovery(green):
                raise Abort("the green environment is not replicating from the blue environment")
        else:
            for link in self.state.logical:
                if not repl.subscription_state(green, link).enabled:
                    raise Abort("replication from the blue to the green environment is not running")
        if self.lab.faults.skip_catchup_wait:   # the unsafe variant: green lags, and nobody will wait for it
            self._set_applying(False)
            self.stalled = True
            time.sleep(0.3)

    def fence(self) -> None:
        """Stop new writes (blue read-only, as RDS fences it) and drop every client on both environments."""
        self.lab.data.router.set_mode(self._endpoint_names(), "refuse", cut=True)
        self.fenced = True
        repl.fence(self.lab.pg.servers[self.blue_dbi])
        for dbi in self._servers_to_drop():
            server = self.lab.pg.servers.get(dbi)
            if server is not None and dbi != self.blue_dbi:
                _drop_clients(server)
        if self.lab.faults.stall_green_sql_thread:   # green stops applying (the switch's meaning for PostgreSQL)
            self._set_applying(False)
            self.stalled = True

    def _set_applying(self, on: bool) -> None:
        green = self.lab.pg.servers[self.green_dbi]
        if self.state.physical is not None:
            green.execute(f"SELECT pg_wal_replay_{'resume' if on else 'pause'}()")
        for link in self.state.logical:   # green is read-only for clients: a lab session that may write
            with repl.writable(green, link.database) as conn:
                conn.execute(f'ALTER SUBSCRIPTION "{link.name}" {"ENABLE" if on else "DISABLE"}')
        blue = self.lab.pg.servers[self.blue_dbi]
        deadline = time.monotonic() + 10
        while not on and self.state.logical and time.monotonic() < deadline:   # the apply worker leaves in a moment
            active = blue.execute("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = ANY(%s)",
                                  params=([link.name for link in self.state.logical],))
            if not active[0][0]:
                break
            time.sleep(0.02)

    def resume_green(self) -> None:
        self._set_applying(True)

    def catch_up(self) -> None:
        """Until green confirmed blue's LSN; then, for logical replication, the sequence sync."""
        blue, green = self._servers()
        # RDS's own marker in blue's WAL, committed (so flushed and sent): green must confirm past it.
        with repl.writable(blue) as conn:
            conn.execute("SELECT pg_logical_emit_message(true, 'rds_bluegreen_switchover', %s)", (self.bgd_id,))
        target = repl.current_lsn(blue)
        for link in [] if self.lab.faults.skip_catchup_wait else self._links():   # the unsafe variant: no wait
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not repl.wait_caught_up(blue, green, link, target, remaining):
                raise Abort("the green environment did not catch up with the blue environment within the switchover "
                            "timeout")
        if self.state.logical:
            self.sync_sequences(blue, green)
        if time.monotonic() > self.deadline:
            raise Abort("the switchover timeout elapsed")

    def sync_sequences(self, blue: PostgresServer, green: PostgresServer) -> None:
        """Every sequence on green set past blue's value (logical replication does not carry them)."""
        kind = "DB cluster" if self.cluster_events else "DB instance"
        with self.lab.lock:
            self.event(f"Sequence sync for switchover of {kind} {self.blue_name} to {self.green_name} has initiated.")
        try:
            for link in self.state.logical:
                repl.bump_sequences(blue, green, link.database)
        except Exception as exc:
            with self.lab.lock:
                self.event(f"Sequence sync for switchover of {kind} {self.blue_name} to {self.green_name} was "
                           f"cancelled because sequences failed to sync ({exc}).")
            raise Abort(f"sequences failed to sync: {exc}") from None
        with self.lab.lock:
            self.event(f"Sequence sync for switchover of {kind} {self.blue_name} to {self.green_name} has completed.")

    def promote(self) -> None:
        blue, green = self._servers()
        if self.state.physical is not None:
            repl.promote_physical(blue, green, self.state.physical)
        else:
            for link in self.state.logical:
                repl.drop_logical_link(blue, green, link)
        repl.unfence(green)
        self.state.ready = False

    def unfence(self) -> None:
        repl.unfence(self.lab.pg.servers[self.blue_dbi])


class PgSwitchover(PgSteps):
    """An RDS for PostgreSQL instance's switchover."""


class PgClusterSwitchover(PgSteps, ClusterSwitchover):
    """An Aurora PostgreSQL cluster's switchover."""

    cluster_events = True
