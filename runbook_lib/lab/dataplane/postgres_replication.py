"""Green for a PostgreSQL blue/green deployment, built the way RDS builds it, and the switchover's data-plane
half: RDS for PostgreSQL replicates physically (a streaming standby) unless a major version was requested
at creation, Aurora PostgreSQL always logically (publication FOR ALL TABLES on blue, subscription on
green, one per database). Logical replication does not carry DDL, large objects, sequences or
materialized-view refreshes: the lab detects DDL and large-object changes on blue the way RDS reports
them (green "Replication degraded"), and the switchover bumps every sequence on green past blue's value.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from runbook_lib.engines.postgresql.guard import large_object_fingerprint
from runbook_lib.errors import RunbookError
from runbook_lib.lab.dataplane.postgres_servers import (
    LAB_APPLICATION,
    REPLICATION_USER,
    PgServerSpec,
    PostgresServer,
    empty_server,
    pg_binary,
    run_tool,
)

RECORDER_SCHEMA = "rds_lab"
# DDL command tags RDS does not treat as breaking the deployment: DCL only warns, and a refresh of a
# materialized view is documented as "not refreshed on green", not as degrading replication.
NON_DEGRADING_TAGS = frozenset({"GRANT", "REVOKE", "ALTER DEFAULT PRIVILEGES", "REFRESH MATERIALIZED VIEW"})


def lsn(text: str) -> int:
    """'16/B374D848' → a comparable integer."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def current_lsn(server: PostgresServer) -> int:
    """Where blue's WAL is now (what green must have confirmed before a switchover)."""
    return lsn(str(server.execute("SELECT pg_current_wal_lsn()")[0][0]))


def writable(server: PostgresServer, database: str = "postgres") -> psycopg.Connection[Any]:
    """A lab session that may write on a fenced (read-only) server, as RDS's own automation does."""
    conn = server.connect(database)
    conn.execute("SET default_transaction_read_only = off")
    return conn


# -- physical: a streaming standby -------------------------------------------------------------------------
@dataclass(frozen=True)
class PhysicalLink:
    slot: str


def build_physical_green(blue: PostgresServer, home: Path, spec: PgServerSpec, slot: str) -> tuple[PostgresServer,
                                                                                                   PhysicalLink]:
    """pg_basebackup from blue into a new server with standby.signal and primary_conninfo (-R) on a physical
    slot of its own (-C -S), then start it; it answers read-only queries while it replays blue's WAL."""
    green = empty_server(home, blue.admin, blue.account)
    run_tool([pg_binary("pg_basebackup"), "-h", "127.0.0.1", "-p", str(blue.port), "-U", REPLICATION_USER,
              "-D", str(green.datadir), "-X", "stream", "-R", "-C", "-S", slot, "--checkpoint=fast", "--no-sync"],
             blue.account, password=blue.admin.password, what="pg_basebackup of blue")
    green.start(spec)
    if not is_in_recovery(green):
        raise RunbookError("The physical green copy started as a primary, not as a standby of blue.")
    return green, PhysicalLink(slot)


def replay_lsn(green: PostgresServer) -> int | None:
    value = green.execute("SELECT pg_last_wal_replay_lsn()")[0][0]
    return None if value is None else lsn(str(value))


# -- logical: publication on blue, subscription on green -----------------------------------------------------
@dataclass(frozen=True)
class LogicalLink:
    database: str
    name: str            # the publication, the subscription and the slot share it
    log_offset: int = 0  # green's log size when replication began (errors are read from there)


def copy_schema(blue: PostgresServer, green: PostgresServer, database: str, work: Path) -> None:
    """CREATE DATABASE on green with blue's owner, then pg_dump --schema-only of blue loaded with psql:
    no rows, no large objects, sequences at their start, materialized views not populated."""
    owner = blue.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                         params=(database,))
    if not owner:
        raise RunbookError(f"Blue has no database '{database}' to copy.")
    green.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner[0][0])))
    dump = work / f"schema-{database}.sql"
    run_tool([pg_binary("pg_dump"), "-h", "127.0.0.1", "-p", str(blue.port), "-U", blue.admin.user,
              "--schema-only", "--no-publications", "--no-subscriptions", "-f", str(dump), database],
             blue.account, password=blue.admin.password, what=f"pg_dump --schema-only of {database}")
    try:
        run_tool([pg_binary("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(green.port),
                  "-U", green.admin.user, "-d", database, "-f", str(dump)],
                 green.account, password=green.admin.password, what=f"loading {database}'s schema into green")
    finally:
        dump.unlink(missing_ok=True)


def install_ddl_recorder(blue: PostgresServer, database: str) -> None:
    """An event trigger on blue that records every DDL command in an UNLOGGED table (unlogged tables are
    not published, so the record itself never reaches green): how the lab sees DDL as RDS does."""
    remove_ddl_recorder(blue, database)
    blue.execute(
        f"CREATE SCHEMA {RECORDER_SCHEMA}",
        f"""CREATE UNLOGGED TABLE IF NOT EXISTS {RECORDER_SCHEMA}.ddl_events (
            id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), tag text NOT NULL,
            object text, by_user text NOT NULL DEFAULT session_user)""",
        f"""CREATE OR REPLACE FUNCTION {RECORDER_SCHEMA}.record_ddl() RETURNS event_trigger LANGUAGE plpgsql
            SECURITY DEFINER SET search_path = pg_catalog AS $$
            DECLARE r record;
            BEGIN
              IF TG_EVENT = 'sql_drop' THEN
                FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() WHERE original LOOP
                  INSERT INTO {RECORDER_SCHEMA}.ddl_events (tag, object)
                  VALUES (TG_TAG, r.object_type || ' ' || r.object_identity);
                END LOOP;
              ELSE
                FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
                  INSERT INTO {RECORDER_SCHEMA}.ddl_events (tag, object)
                  VALUES (r.command_tag, r.object_type || ' ' || coalesce(r.object_identity, ''));
                END LOOP;
              END IF;
            END $$""",
        f"CREATE EVENT TRIGGER rds_lab_ddl_end ON ddl_command_end EXECUTE FUNCTION {RECORDER_SCHEMA}.record_ddl()",
        f"CREATE EVENT TRIGGER rds_lab_sql_drop ON sql_drop EXECUTE FUNCTION {RECORDER_SCHEMA}.record_ddl()",
        dbname=database)


def remove_ddl_recorder(blue: PostgresServer, database: str) -> None:
    """Take the recorder off blue (deployment deleted or switched over), so a new deployment starts clean
    and blue's own preflight does not see the lab's unlogged table."""
    with writable(blue, database) as conn:
        conn.execute("DROP EVENT TRIGGER IF EXISTS rds_lab_ddl_end")
        conn.execute("DROP EVENT TRIGGER IF EXISTS rds_lab_sql_drop")
        conn.execute(f"DROP SCHEMA IF EXISTS {RECORDER_SCHEMA} CASCADE")


def ddl_events(blue: PostgresServer, database: str) -> list[dict[str, Any]]:
    """The DDL blue recorded since the recorder was installed, each marked whether it degrades green."""
    rows = blue.execute(f"SELECT at, tag, object, by_user FROM {RECORDER_SCHEMA}.ddl_events ORDER BY id",
                        dbname=database)
    return [{"at": r[0].isoformat(), "tag": r[1], "object": r[2], "by": r[3],
             "degrades": r[1] not in NON_DEGRADING_TAGS} for r in rows]


def build_logical_green(blue: PostgresServer, green: PostgresServer, database: str, name: str,
                        timeout: float = 120.0) -> LogicalLink:
    """Copy the schema, publish FOR ALL TABLES on blue, record DDL on blue from now on, subscribe on green,
    wait for the initial copy of every table, then make green read-only for clients
    (default_transaction_read_only; the apply worker writes regardless). `green` runs, writable, empty."""
    copy_schema(blue, green, database, green.home)
    blue.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(name)), dbname=database)
    install_ddl_recorder(blue, database)
    offset = green.log_file.stat().st_size if green.log_file.exists() else 0
    conninfo = (f"host=127.0.0.1 port={blue.port} user={REPLICATION_USER} dbname={database} "
                f"application_name={name}")
    # The password goes in as a bound literal, never into text that could be logged or shown.
    green.execute(sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (slot_name = {})").format(
        sql.Identifier(name), sql.Literal(f"{conninfo} password={_conninfo_quote(blue.admin.password)}"),
        sql.Identifier(name), sql.Literal(name)), dbname=database)
    link = LogicalLink(database, name, offset)
    deadline = time.monotonic() + timeout
    while True:
        pending = green.execute("SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s "
                                "ON s.oid = r.srsubid WHERE s.subname = %s AND r.srsubstate NOT IN ('r', 's')",
                                dbname=database, params=(name,))[0][0]
        if pending == 0:
            green.set_read_only(True)
            return link
        errors = worker_errors(green, link)
        if errors:
            raise RunbookError(f"The initial copy to green failed: {errors[-1]}")
        if time.monotonic() > deadline:
            raise RunbookError(f"The initial copy to green did not finish within {timeout:.0f} s "
                               f"({pending} table(s) still copying).")
        time.sleep(0.05)


def _conninfo_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def confirmed_lsn(blue: PostgresServer, link: LogicalLink) -> int | None:
    """The slot's confirmed_flush_lsn on blue: what green confirmed it applied."""
    rows = blue.execute("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = %s",
                        params=(link.name,))
    return lsn(str(rows[0][0])) if rows and rows[0][0] is not None else None


def wait_caught_up(blue: PostgresServer, green: PostgresServer, link: LogicalLink | PhysicalLink,
                   target: int | None = None, timeout: float = 30.0) -> bool:
    """True once green confirmed blue's WAL up to `target` (default: blue's position now): the slot's
    confirmed_flush_lsn for logical replication, green's replay LSN for a physical standby."""
    target = current_lsn(blue) if target is None else target
    deadline = time.monotonic() + timeout
    while True:
        done = confirmed_lsn(blue, link) if isinstance(link, LogicalLink) else replay_lsn(green)
        if done is not None and done >= target:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@dataclass
class SubscriptionState:
    """How green's subscription is doing, as the lab reports it (RDS: the replication state)."""

    enabled: bool
    worker_pid: int | None
    received_lsn: str | None
    apply_error_count: int
    sync_error_count: int
    errors: list[str] = field(default_factory=list)

    @property
    def stalled(self) -> bool:
        return bool(self.errors) or self.apply_error_count > 0 or self.sync_error_count > 0


_ERROR_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] ERROR:  (.*)$")


def worker_errors(green: PostgresServer, link: LogicalLink) -> list[str]:
    """The replication workers' error messages in green's log since replication began (PostgreSQL 15 counts
    apply errors in pg_stat_subscription_stats but keeps the message only in the log)."""
    if not green.log_file.exists():
        return []
    with green.log_file.open("rb") as fh:
        fh.seek(link.log_offset)
        lines = fh.read().decode(errors="replace").splitlines()
    out: list[str] = []
    for n, line in enumerate(lines):
        match = _ERROR_LINE.match(line)
        if not match:
            continue
        context = lines[n + 1] if n + 1 < len(lines) else ""
        if "logical replication" in match.group(2) or "replication origin" in context or "subscription" in line:
            out.append(match.group(2))
    return out


def subscription_state(green: PostgresServer, link: LogicalLink) -> SubscriptionState:
    rows = green.execute(
        "SELECT s.subenabled, st.pid, st.received_lsn::text, coalesce(ss.apply_error_count, 0), "
        "coalesce(ss.sync_error_count, 0) FROM pg_subscription s "
        "LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL "
        "LEFT JOIN pg_stat_subscription_stats ss ON ss.subid = s.oid WHERE s.subname = %s",
        dbname=link.database, params=(link.name,))
    if not rows:
        raise RunbookError(f"Green has no subscription '{link.name}' in {link.database}.")
    enabled, pid, received, apply_errors, sync_errors = rows[0]
    return SubscriptionState(bool(enabled), pid, received, int(apply_errors), int(sync_errors),
                             worker_errors(green, link))


def large_objects(server: PostgresServer, database: str) -> dict[str, str | None]:
    """Blue's large objects (oid → content hash), read as the lab's superuser."""
    with server.connect(database) as conn:
        return large_object_fingerprint(conn)


def degradation(blue: PostgresServer, green: PostgresServer, link: LogicalLink,
                lo_baseline: dict[str, str | None]) -> list[str]:
    """Why green is "Replication degraded", if it is: DDL recorded on blue, large objects created or changed
    on blue since `lo_baseline`, and replication workers that fail. Empty when healthy."""
    reasons = [f"DDL on blue: {e['tag']} {e['object']} by {e['by']} at {e['at']}"
               for e in ddl_events(blue, link.database) if e["degrades"]]
    now = large_objects(blue, link.database)
    created = sorted(set(now) - set(lo_baseline))
    changed = sorted(k for k in set(now) & set(lo_baseline) if now[k] != lo_baseline[k])
    removed = sorted(set(lo_baseline) - set(now))
    for verb, oids in (("created", created), ("modified", changed), ("removed", removed)):
        if oids:
            reasons.append(f"large object(s) {verb} on blue: oid {', '.join(oids[:10])}")
    state = subscription_state(green, link)
    reasons += [f"replication worker error on green: {e}" for e in dict.fromkeys(state.errors)]
    if state.stalled and not state.errors:
        reasons.append(f"replication workers on green failed {state.apply_error_count + state.sync_error_count} "
                       "time(s) (pg_stat_subscription_stats)")
    return reasons


# -- switchover: fence, catch up, sequences, promote --------------------------------------------------------
def fence(server: PostgresServer) -> int:
    """Stop writes the way RDS does (default_transaction_read_only=on, persisted) and drop every client
    session (not the lab's own, not replication); the number of sessions terminated."""
    server.set_read_only(True)
    rows = server.execute(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
        "AND coalesce(application_name, '') <> %s", params=(LAB_APPLICATION,))
    return int(rows[0][0])


def unfence(server: PostgresServer) -> None:
    """Writes again (a rolled-back switchover, or the new production)."""
    server.set_read_only(False)


@dataclass(frozen=True)
class SequenceBump:
    sequence: str
    blue_last_value: int | None
    green_before: int | None
    green_after: int | None


def bump_sequences(blue: PostgresServer, green: PostgresServer, database: str) -> list[SequenceBump]:
    """Set every sequence on green to blue's last value (is_called: the next value is past it), never
    backwards, in one transaction: logical replication does not carry nextval."""
    query = ("SELECT format('%I.%I', schemaname, sequencename), last_value, increment_by "
             "FROM pg_sequences ORDER BY 1")
    blue_rows = {r[0]: (r[1], r[2]) for r in blue.execute(query, dbname=database)}
    bumps: list[SequenceBump] = []
    with writable(green, database) as conn:
        green_rows = {r[0]: r[1] for r in conn.execute(query).fetchall()}
        with conn.transaction():
            for name, (blue_value, step) in blue_rows.items():
                if name not in green_rows:
                    continue
                before = green_rows[name]
                after = before
                if blue_value is not None:
                    ahead = before is not None and (before >= blue_value if step > 0 else before <= blue_value)
                    if not ahead:
                        conn.execute("SELECT setval(%s::regclass, %s, true)", (name, blue_value))
                        after = blue_value
                bumps.append(SequenceBump(name, blue_value, before, after))
    return bumps


def drop_logical_link(blue: PostgresServer, green: PostgresServer, link: LogicalLink) -> None:
    """Promote a logical green: drop its subscription (and so blue's slot), then blue's publication and
    DDL recorder, as nothing replicates any more."""
    with writable(green, link.database) as conn:
        conn.execute(sql.SQL("DROP SUBSCRIPTION IF EXISTS {}").format(sql.Identifier(link.name)))
    with writable(blue, link.database) as conn:
        conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(link.name)))
    remove_ddl_recorder(blue, link.database)


def promote_physical(blue: PostgresServer, green: PostgresServer, link: PhysicalLink, timeout: int = 60) -> None:
    """pg_promote on the standby (it leaves recovery and becomes writable), then drop blue's slot so blue
    does not keep WAL for a standby that is gone."""
    if not green.execute(f"SELECT pg_promote(true, {int(timeout)})")[0][0]:
        raise RunbookError(f"The physical green did not finish promotion within {timeout} s.")
    with writable(blue) as conn:
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                     (link.slot,))


@dataclass
class SwitchoverTimings:
    """Seconds per phase of the data-plane switchover (the write outage is their sum)."""

    fenced_s: float = 0.0
    caught_up_s: float = 0.0
    sequences_s: float = 0.0
    promoted_s: float = 0.0
    writable_s: float = 0.0
    sessions_terminated: int = 0
    sequences: list[SequenceBump] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return self.fenced_s + self.caught_up_s + self.sequences_s + self.promoted_s + self.writable_s


def switch_over(blue: PostgresServer, green: PostgresServer, links: Sequence[LogicalLink] | PhysicalLink,
                catch_up_timeout: float = 30.0) -> SwitchoverTimings:
    """The data-plane half of RDS's switchover: stop writes on blue and drop its clients, wait until green
    confirmed everything blue committed (LSN), bump every sequence on green (logical), promote green and
    allow writes there. Renaming endpoints is the control plane's. On a catch-up timeout blue is writable
    again and nothing changed on green (RDS rolls back the same way)."""
    timings = SwitchoverTimings()
    t = time.monotonic()
    timings.sessions_terminated = fence(blue)
    timings.fenced_s = time.monotonic() - t
    t = time.monotonic()
    target = current_lsn(blue)
    caught_links: Sequence[LogicalLink | PhysicalLink] = [links] if isinstance(links, PhysicalLink) else links
    if not all(wait_caught_up(blue, green, link, target, catch_up_timeout) for link in caught_links):
        unfence(blue)
        raise RunbookError(f"Green did not confirm blue's WAL up to {target:X} within {catch_up_timeout:.0f} s; "
                           "the switchover was rolled back (blue is writable again).")
    timings.caught_up_s = time.monotonic() - t
    t = time.monotonic()
    if not isinstance(links, PhysicalLink):
        for link in links:
            timings.sequences += bump_sequences(blue, green, link.database)
    timings.sequences_s = time.monotonic() - t
    t = time.monotonic()
    if isinstance(links, PhysicalLink):
        promote_physical(blue, green, links)
    else:
        for link in links:
            drop_logical_link(blue, green, link)
    timings.promoted_s = time.monotonic() - t
    t = time.monotonic()
    unfence(green)
    timings.writable_s = time.monotonic() - t
    return timings


def is_in_recovery(server: PostgresServer) -> bool:
    return bool(server.execute("SELECT pg_is_in_recovery()")[0][0])
