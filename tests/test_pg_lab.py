"""The PostgreSQL data plane on real servers: servers from a template, physical and logical green, catch-up
by LSN, the switchover (fence, sequences, promote), and what RDS reports as "Replication degraded"."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_fixtures import ServerFactory, pg_base, pg_logins, pg_servers, pg_template, seeded  # noqa: F401
from psycopg import errors

from runbook_lib.engines.postgresql import guard
from runbook_lib.errors import RunbookError
from runbook_lib.lab.dataplane import postgres_replication as repl
from runbook_lib.lab.dataplane.postgres_servers import PgLogin, PgServerSpec, PostgresServer, engine_version
from runbook_lib.lab.postgres_sample import APP_DATABASE, NO_PK_TABLE, counts

DB = APP_DATABASE


def _processes_named(cluster: str) -> list[int]:
    """PIDs whose command line is a postgres process of this cluster_name (the postmaster's children show it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"postgres: {cluster}:" in cmdline or f"cluster_name={cluster} " in cmdline:
                pids.append(int(entry.name))
    return pids


def _insert_order(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at) "
                       "VALUES (1, 1, 1, now()) RETURNING id").fetchone()
    assert row is not None
    return int(row[0])


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _max_order(server: PostgresServer) -> int:
    return int(server.execute("SELECT max(id) FROM orders", dbname=DB)[0][0])


def test_servers_from_template_start_stop_without_zombies(pg_servers: ServerFactory, pg_logins: dict[str,
                                                          PgLogin]) -> None:  # noqa: F811
    master: PgLogin = pg_logins["master"]
    a = pg_servers("tmpl-a", engine_version="15.4")
    b = pg_servers("tmpl-b", engine_version="16.3")
    assert a.port != b.port and 5432 not in (a.port, b.port)
    for server, version in ((a, "15.4"), (b, "16.3")):
        with server.connect(login=master) as conn:
            assert engine_version(conn) == version
            row = conn.execute("SELECT current_setting('server_version_num')::int / 10000, "
                               "current_setting('wal_level'), rolsuper, pg_has_role('rds_superuser', 'member') "
                               "FROM pg_roles WHERE rolname = current_user").fetchone()
            assert row == (15, "logical", False, True)  # really 15; the master user is no superuser
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("CREATE EVENT TRIGGER nope ON ddl_command_end EXECUTE FUNCTION pg_catalog.now()")
    a.execute("CREATE TABLE kept (id int PRIMARY KEY)", "INSERT INTO kept VALUES (1)")
    # A major version change in the lab is a record-level change: restart with another recorded version.
    port = a.port
    a.restart(PgServerSpec("16.3", name="tmpl-a"))
    assert a.port == port and a.execute("SELECT count(*) FROM kept") == [(1,)]
    with a.connect() as conn:
        assert engine_version(conn) == "16.3"
    pid = a.pid
    assert pid is not None and _processes_named("tmpl-a")
    a.stop()
    assert not os.path.exists(f"/proc/{pid}"), "the postmaster must be reaped, not left a zombie"
    assert _processes_named("tmpl-a") == []
    assert b.running and b.execute("SELECT 1") == [(1,)]


def test_physical_green_catches_up_and_switches_over(pg_servers: ServerFactory, pg_logins: dict[str,
                                                     PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    blue = pg_servers("phys-blue", engine_version="15.4")
    seeded(blue, master)
    green, link = repl.build_physical_green(blue, pg_servers.folder / "phys-green",
                                            PgServerSpec("15.7", name="phys-green", read_only=True), "bg_phys")
    pg_servers.register(green)
    assert repl.is_in_recovery(green)
    blue.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at) "
                 "SELECT 1, 1, 1, now() FROM generate_series(1, 2000)", dbname=DB)
    assert repl.wait_caught_up(blue, green, link, timeout=30)
    with blue.connect(DB) as b, green.connect(DB) as g:
        assert counts(b) == counts(g)  # physical replication carries everything, large objects included
        assert counts(g)["large_objects"] == 1 and counts(g)["customer_totals_populated"] == 1
    with green.connect(DB, login=master) as conn, pytest.raises(errors.ReadOnlySqlTransaction):
        _insert_order(conn)

    client = blue.connect(DB, login=master, application_name="app")
    timings = repl.switch_over(blue, green, link)
    assert timings.sessions_terminated >= 1 and timings.sequences == []
    with pytest.raises(psycopg.OperationalError):
        client.execute("SELECT 1")
    client.close()
    assert not repl.is_in_recovery(green)
    with green.connect(DB, login=master) as conn:
        assert _insert_order(conn) > _max_order(blue)
    with blue.connect(DB, login=master) as conn, pytest.raises(errors.ReadOnlySqlTransaction):
        _insert_order(conn)
    assert blue.execute("SELECT count(*) FROM pg_replication_slots") == [(0,)]


def _logical_pair(pg_servers: ServerFactory, master: PgLogin, name: str, with_no_pk_table: bool = False,  # noqa: F811
                  green_settings: dict[str, str] | None = None
                  ) -> tuple[PostgresServer, PostgresServer, repl.LogicalLink]:
    blue = pg_servers(f"{name}-blue", engine_version="15.4")
    seeded(blue, master, with_no_pk_table)
    green = pg_servers(f"{name}-green", engine_version="16.3", settings=green_settings)
    link = repl.build_logical_green(blue, green, DB, f"bg_{name}")
    return blue, green, link


def test_logical_green_syncs_and_switchover_bumps_every_sequence(pg_servers: ServerFactory,
                                                                 pg_logins: dict[str, PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    # autovacuum off on green: the post-switchover statistics check must see green as the copy left it
    blue, green, link = _logical_pair(pg_servers, master, "logical", green_settings={"autovacuum": "off"})
    with blue.connect(DB) as b, green.connect(DB) as g:
        on_blue, on_green = counts(b), counts(g)
    for table in ("customers", "products", "orders", "documents"):
        assert on_green[table] == on_blue[table]
    # What logical replication does not carry: the large object and the materialized view's rows.
    assert on_blue["large_objects"] == 1 and on_green["large_objects"] == 0
    assert on_blue["customer_totals_populated"] == 1 and on_green["customer_totals_populated"] == 0
    assert green.execute("SHOW default_transaction_read_only") == [("on",)]

    blue.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at) "
                 "SELECT 1 + n % 2000, 1, 1, now() FROM generate_series(1, 5000) n", dbname=DB)
    assert repl.wait_caught_up(blue, green, link, timeout=30)
    assert green.execute("SELECT count(*), max(id) FROM orders", dbname=DB) == \
        blue.execute("SELECT count(*), max(id) FROM orders", dbname=DB)
    # Without the bump, green's sequences are at their start: a write there collides with a replicated row.
    with repl.writable(green, DB) as conn, pytest.raises(errors.UniqueViolation):
        with conn.transaction():
            _insert_order(conn)

    client = blue.connect(DB, login=master, application_name="app")
    timings = repl.switch_over(blue, green, [link])
    bumped = {b.sequence: b for b in timings.sequences}
    assert bumped["public.orders_id_seq"].green_after == _max_order(blue)
    assert bumped["public.invoice_numbers"].green_after == 1024
    assert bumped["public.customers_id_seq"].green_after == 2000
    with pytest.raises(psycopg.OperationalError):
        client.execute("SELECT 1")
    client.close()
    with green.connect(DB, login=master) as conn:
        assert _insert_order(conn) == _max_order(blue) + 1  # right after the switchover: no collision
        assert conn.execute("SELECT nextval('invoice_numbers')").fetchone() == (1025,)
    with blue.connect(DB, login=master) as conn, pytest.raises(errors.ReadOnlySqlTransaction):
        _insert_order(conn)
    assert green.execute("SELECT count(*) FROM pg_subscription", dbname=DB) == [(0,)]
    assert blue.execute("SELECT count(*) FROM pg_publication", dbname=DB) == [(0,)]
    assert blue.execute("SELECT count(*) FROM pg_replication_slots") == [(0,)]
    assert blue.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'rds_lab'", dbname=DB) == [(0,)]
    assert blue.execute("SELECT count(*) FROM pg_event_trigger", dbname=DB) == [(0,)]

    # After the switchover: statistics and materialized views, reminded and then run.
    with green.connect(DB, login=master) as conn:
        stats = guard.statistics_missing(conn)
        assert stats["result"] == "warn" and "public.orders" in stats["evidence"]["tables_without_statistics"]
        views = guard.materialized_views_to_refresh(conn)
        assert views["result"] == "warn"
        assert views["evidence"]["materialized_views"] == [{"view": "public.customer_totals", "populated": False}]
        guard.run_analyze(conn)
        assert guard.statistics_missing(conn)["result"] == "pass"
        assert guard.refresh_materialized_views(conn) == ["public.customer_totals"]
        assert counts(conn)["customer_totals"] == 2000


def _wait_stalled(green: PostgresServer, link: repl.LogicalLink, timeout: float = 20) -> repl.SubscriptionState:
    deadline = time.monotonic() + timeout
    while True:
        state = repl.subscription_state(green, link)
        if state.errors:
            return state
        assert time.monotonic() < deadline, f"the subscription did not stall: {state}"
        time.sleep(0.1)


def test_ddl_on_blue_stalls_the_subscription_and_is_detected(pg_servers: ServerFactory, pg_logins: dict[str,
                                                             PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    blue, green, link = _logical_pair(pg_servers, master, "ddl")
    lo_baseline = repl.large_objects(blue, DB)
    with blue.connect(DB, login=master) as conn:
        catalog_baseline = guard.catalog_fingerprint(conn)
    assert repl.degradation(blue, green, link, lo_baseline) == []
    customers_on_green = green.execute("SELECT count(*) FROM customers", dbname=DB)[0][0]

    with blue.connect(DB, login=master) as conn:
        conn.execute("GRANT SELECT ON customers TO rds_superuser")   # DCL: recorded, does not degrade
        conn.execute("ALTER TABLE orders ADD COLUMN note text")
        conn.execute("INSERT INTO orders (customer_id, product_id, quantity, ordered_at, note) "
                     "VALUES (1, 1, 1, now(), 'added on blue only')")
        conn.execute("INSERT INTO customers (name, email, created_at) VALUES ('late', 'late@example.com', now())")
        after = guard.catalog_fingerprint(conn)

    state = _wait_stalled(green, link)
    assert any('is missing replicated column: "note"' in e for e in state.errors)
    events = repl.ddl_events(blue, DB)
    assert [(e["tag"], e["degrades"]) for e in events] == [("GRANT", False), ("ALTER TABLE", True)]
    reasons = repl.degradation(blue, green, link, lo_baseline)
    assert any(r.startswith(f"DDL on blue: ALTER TABLE table public.orders by {master.user}") for r in reasons)
    assert any("missing replicated column" in r for r in reasons)
    # The whole subscription stalls: the row for another table does not arrive either.
    assert not repl.wait_caught_up(blue, green, link, timeout=2)
    assert green.execute("SELECT count(*) FROM customers", dbname=DB)[0][0] == customers_on_green
    check = guard.ddl_since_creation(catalog_baseline, after, DB)
    assert check["result"] == "fail" and "relation public.orders" in check["evidence"]["changed"]
    assert "Delete the blue/green deployment" in (check["remediation"] or "")
    assert guard.replication_degraded(f"Replication degraded: {reasons[0]}")["result"] == "fail"
    assert guard.replication_degraded(None)["result"] == "pass"
    # A switchover now cannot catch up: it rolls back and blue takes writes again.
    with pytest.raises(RunbookError, match="rolled back"):
        repl.switch_over(blue, green, [link], catch_up_timeout=1.5)
    with blue.connect(DB, login=master) as conn:
        assert _insert_order(conn) > 0
    # Delete with green databases and recreate: the new green is healthy and the switchover passes.
    repl.drop_logical_link(blue, green, link)
    green.remove()
    again = pg_servers("ddl-green2", engine_version="16.3")
    link2 = repl.build_logical_green(blue, again, DB, "bg_ddl2")
    assert repl.degradation(blue, again, link2, repl.large_objects(blue, DB)) == []
    repl.switch_over(blue, again, [link2])
    with again.connect(DB, login=master) as conn:
        assert conn.execute("SELECT count(*) FROM orders WHERE note = 'added on blue only'").fetchone() == (1,)
        assert _insert_order(conn) == _max_order(blue) + 1


def test_large_object_change_on_blue_is_detected(pg_servers: ServerFactory, pg_logins: dict[str,
                                                 PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    blue, green, link = _logical_pair(pg_servers, master, "lo")
    lo_baseline = repl.large_objects(blue, DB)
    with blue.connect(DB, login=master) as conn:
        guard_baseline = guard.large_object_fingerprint(conn)
        oid = _one(conn, "SELECT content FROM documents")
    with green.connect(DB) as conn, pytest.raises(errors.UndefinedObject):
        conn.execute("SELECT lo_get(%s)", (oid,))  # the oid replicated, the object did not
    assert repl.degradation(blue, green, link, lo_baseline) == []
    with blue.connect(DB, login=master) as conn:
        conn.execute("SELECT lo_put(%s, 0, 'Terms of service, version 2.')", (oid,))
        new_oid = _one(conn, "SELECT lo_from_bytea(0, 'invoice scan')")
        now = guard.large_object_fingerprint(conn)
    reasons = repl.degradation(blue, green, link, lo_baseline)
    assert f"large object(s) modified on blue: oid {oid}" in reasons
    assert f"large object(s) created on blue: oid {new_oid}" in reasons
    check = guard.large_objects_since_creation(guard_baseline, now, DB)
    assert check["result"] == "fail"
    assert check["evidence"]["changed"] == [str(oid)] and check["evidence"]["added"] == [str(new_oid)]


def test_table_without_primary_key_refuses_updates_on_blue_once_published(  # noqa: F811
        pg_servers: ServerFactory, pg_logins: dict[str, PgLogin]) -> None:
    master = pg_logins["master"]
    blue, green, link = _logical_pair(pg_servers, master, "nopk", with_no_pk_table=True)
    with blue.connect(DB, login=master) as conn:
        conn.execute(f"INSERT INTO {NO_PK_TABLE} VALUES (now(), 'x', 'insert works')")
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="does not have a replica identity"):
            conn.execute(f"UPDATE {NO_PK_TABLE} SET action = 'logout' WHERE actor = 'customer 1'")
    assert repl.wait_caught_up(blue, green, link, timeout=30)
    assert green.execute(f"SELECT count(*) FROM {NO_PK_TABLE}", dbname=DB) == [(101,)]
