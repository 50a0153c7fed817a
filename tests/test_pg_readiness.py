"""Each PostgreSQL preflight rule on a real server: the problem planted → fail/warn with evidence and the
fix; clean → pass. Extensions come from Debian's packages (postgresql-15-cron, -partman, -pglogical)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pg_fixtures import ServerFactory, pg_base, pg_logins, pg_servers, pg_template, require_package, seeded  # noqa: F401
from psycopg import sql

from runbook_lib.engines.postgresql import readiness as r
from runbook_lib.engines.postgresql.method import replication_method
from runbook_lib.errors import RunbookError
from runbook_lib.lab.dataplane.postgres_servers import PgLogin, PostgresServer

PRELOADED = "pg_cron,pglogical,pg_partman_bgw"
DB = tuple[str, psycopg.Connection[Any]]   # a test's own database: (name, the master user's connection)


@pytest.fixture(scope="module")
def ext(pg_servers: ServerFactory) -> PostgresServer:  # noqa: F811
    """A server with the extensions' libraries preloaded, as RDS would with them in the parameter group."""
    for control, package in (("pg_cron", "postgresql-15-cron"), ("pg_partman", "postgresql-15-partman"),
                             ("pglogical", "postgresql-15-pglogical")):
        require_package(control, package)
    return pg_servers("ext", settings={"shared_preload_libraries": PRELOADED, "cron.database_name": "postgres"})


@pytest.fixture(scope="module")
def plain(pg_servers: ServerFactory) -> PostgresServer:  # noqa: F811
    return pg_servers("plain")


def fresh_db(server: PostgresServer, name: str, owner: str) -> None:
    server.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))


@pytest.fixture
def db(request: pytest.FixtureRequest, plain: PostgresServer,
       pg_logins: dict[str, PgLogin]) -> Iterator[tuple[str, psycopg.Connection[Any]]]:  # noqa: F811
    """A new database on the plain server for one test: (name, master connection to it)."""
    name = "t_" + request.node.name.removeprefix("test_")[:40]
    fresh_db(plain, name, pg_logins["master"].user)
    with plain.connect(name, login=pg_logins["master"]) as conn:
        yield name, conn


def params(**values: str) -> dict[str, dict[str, Any]]:
    return {k.replace("__", "."): {"ParameterValue": v, "Source": "user"} for k, v in values.items()}


def test_replication_method_follows_the_documented_table() -> None:
    assert replication_method("aurora-postgresql", "15.4", None) == "logical"
    assert replication_method("postgres", "15.4", "16.3") == "logical"
    assert replication_method("postgres", "16.1", "17.2") == "logical"
    assert replication_method("postgres", "14.9", "14.12") == "physical"   # minor upgrade
    assert replication_method("postgres", "15.2", None) == "physical"      # no upgrade
    for old in ("15.3", "14.8", "13.11", "12.15", "11.20"):
        with pytest.raises(RunbookError, match="does not support a major version upgrade"):
            replication_method("postgres", old, "17.1")


def test_tables_without_primary_key(db: DB, plain: PostgresServer) -> None:
    name, conn = db
    conn.execute("CREATE TABLE keyed (id int PRIMARY KEY)")
    assert r.tables_without_primary_key(conn)["result"] == "pass"
    conn.execute("CREATE TABLE events (at timestamptz NOT NULL, what text)")
    conn.execute("CREATE TABLE codes (code text NOT NULL, label text)")
    conn.execute("CREATE UNIQUE INDEX codes_code ON codes (code)")
    check = r.tables_without_primary_key(conn)
    assert check["result"] == "fail" and check["evidence"]["count"] == 2
    assert [t["table"] for t in check["evidence"]["without_key"]] == ["public.codes", "public.events"]
    assert "ALTER TABLE public.events REPLICA IDENTITY FULL" in (check["remediation"] or "")
    assert "ALTER TABLE public.codes REPLICA IDENTITY USING INDEX codes_code" in (check["remediation"] or "")
    assert r.tables_without_primary_key(conn, "physical")["result"] == "warn"
    conn.execute("ALTER TABLE events REPLICA IDENTITY FULL")
    conn.execute("ALTER TABLE codes REPLICA IDENTITY USING INDEX codes_code")
    check = r.tables_without_primary_key(conn)
    assert check["result"] == "pass" and len(check["evidence"]["covered_by_replica_identity"]) == 2


def test_unlogged_tables(db: DB) -> None:
    _, conn = db
    assert r.unlogged_tables(conn)["result"] == "pass"
    conn.execute("CREATE UNLOGGED TABLE sessions (id int PRIMARY KEY)")
    check = r.unlogged_tables(conn, "logical", "postgres")
    assert check["result"] == "warn" and check["evidence"]["unlogged_tables"][0]["table"] == "public.sessions"
    aurora_off = r.unlogged_tables(conn, "logical", "aurora-postgresql",
                                   params(rds__logically_replicate_unlogged_tables="0"))
    assert aurora_off["result"] == "warn"
    assert "rds.logically_replicate_unlogged_tables = 1" in (aurora_off["remediation"] or "")
    aurora_on = r.unlogged_tables(conn, "logical", "aurora-postgresql",
                                  params(rds__logically_replicate_unlogged_tables="1"))
    assert aurora_on["result"] == "pass" and "Do not change" in aurora_on["evidence"]["note"]


def test_large_objects_in_use(db: DB) -> None:
    _, conn = db
    assert r.large_objects_in_use(conn)["result"] == "pass"
    conn.execute("CREATE TABLE docs (id int PRIMARY KEY, body oid)")
    conn.execute("INSERT INTO docs VALUES (1, lo_from_bytea(0, 'hello'))")
    check = r.large_objects_in_use(conn)
    assert check["result"] == "fail" and check["evidence"]["large_objects"] == 1
    assert check["evidence"]["oid_columns"] == ["public.docs.body"] and "bytea" in (check["remediation"] or "")
    assert r.large_objects_in_use(conn, "physical")["result"] == "pass"


def test_materialized_views(db: DB) -> None:
    _, conn = db
    assert r.materialized_views(conn)["result"] == "pass"
    conn.execute("CREATE MATERIALIZED VIEW totals AS SELECT 1 AS n")
    check = r.materialized_views(conn)
    assert check["result"] == "warn" and check["evidence"]["materialized_views"] == ["public.totals"]
    assert "REFRESH MATERIALIZED VIEW public.totals;" in (check["remediation"] or "")


def test_sequence_count(db: DB) -> None:
    _, conn = db
    conn.execute("CREATE SEQUENCE one")
    assert r.sequences(conn)["result"] == "pass"
    conn.execute("DO $$ BEGIN FOR i IN 1..1000 LOOP EXECUTE format('CREATE SEQUENCE s%s', i); END LOOP; END $$")
    check = r.sequences(conn)
    assert check["result"] == "warn" and check["evidence"]["sequences"] == 1001
    assert "SwitchoverTimeout" in (check["remediation"] or "")
    assert r.sequences(conn, "physical")["result"] == "pass"


def test_partitioned_tables(db: DB) -> None:
    _, conn = db
    assert r.partitioned_tables(conn)["result"] == "pass"
    conn.execute("CREATE TABLE metrics (at date NOT NULL, v int) PARTITION BY RANGE (at)")
    check = r.partitioned_tables(conn)
    assert check["result"] == "warn" and check["evidence"]["partitioned_tables"] == ["public.metrics"]


def test_triggers_enable_replica_or_always(db: DB) -> None:
    _, conn = db
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, n int)")
    conn.execute("CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.n := NEW.n + 1; "
                 "RETURN NEW; END $$")
    conn.execute("CREATE TRIGGER t_bump BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION bump()")
    assert r.replica_or_always_triggers(conn)["result"] == "pass"
    conn.execute("ALTER TABLE t ENABLE ALWAYS TRIGGER t_bump")
    check = r.replica_or_always_triggers(conn)
    assert check["result"] == "fail"
    assert check["evidence"]["triggers"] == [{"table": "public.t", "trigger": "t_bump", "mode": "ENABLE ALWAYS"}]
    assert "ALTER TABLE public.t ENABLE TRIGGER t_bump;" in (check["remediation"] or "")


def test_pg_partman_on_blue(ext: PostgresServer, plain: PostgresServer, pg_logins: dict[str,
                            PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    fresh_db(ext, "partman", master.user)
    ext.execute("CREATE SCHEMA partman", "CREATE EXTENSION pg_partman SCHEMA partman",
                "CREATE TABLE public.events (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at)",
                "SELECT partman.create_parent('public.events', 'at', 'native', 'daily')", dbname="partman")
    with ext.connect("partman", login=master) as conn:
        unreadable = r.pg_partman_on_blue(conn)   # the extension's tables belong to whoever created it
    assert unreadable["result"] == "fail" and "not readable" in unreadable["evidence"]["managed_parents"]
    with ext.connect("partman") as conn:
        check = r.pg_partman_on_blue(conn)
    assert check["result"] == "fail"
    assert check["evidence"]["pg_partman"]["version"] and check["evidence"]["pg_partman_bgw_preloaded"]
    assert check["evidence"]["managed_parents"] == ["public.events"]
    assert "pg_partman_bgw" in (check["remediation"] or "")
    with plain.connect(login=master) as conn:
        assert r.pg_partman_on_blue(conn)["result"] == "pass"


def test_pglogical_and_pgactive_on_blue(ext: PostgresServer, plain: PostgresServer, pg_logins: dict[str,
                                        PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    fresh_db(ext, "pgl", master.user)
    ext.execute("CREATE EXTENSION pglogical", dbname="pgl")
    with ext.connect("pgl", login=master) as conn:
        check = r.pglogical_on_blue(conn)
    assert check["result"] == "fail" and check["evidence"]["extensions"][0]["extension"] == "pglogical"
    assert check["evidence"]["preloaded"] == ["pglogical"] and "DROP EXTENSION" in (check["remediation"] or "")
    with plain.connect(login=master) as conn:
        assert r.pglogical_on_blue(conn)["result"] == "pass"
        # pgactive is not packaged for Debian: only the clean case can run on a real server here.
        assert r.pgactive_on_blue(conn)["result"] == "pass"


def test_extensions_to_update(db: DB, plain: PostgresServer) -> None:
    name, conn = db
    assert r.extensions_to_update(conn)["result"] == "pass"
    plain.execute("CREATE EXTENSION hstore VERSION '1.4'", dbname=name)
    check = r.extensions_to_update(conn)
    assert check["result"] == "warn"
    assert check["evidence"]["out_of_date"] == [{"extension": "hstore", "installed": "1.4", "latest": "1.8"}]
    assert "ALTER EXTENSION hstore UPDATE TO '1.8';" in (check["remediation"] or "")
    plain.execute("ALTER EXTENSION hstore UPDATE", dbname=name)
    assert r.extensions_to_update(conn)["result"] == "pass"


def test_foreign_servers_by_endpoint(db: DB, plain: PostgresServer) -> None:
    name, conn = db
    plain.execute("CREATE EXTENSION postgres_fdw",
                  "CREATE SERVER by_name FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.example.internal')",
                  dbname=name)
    assert r.fdw_servers_by_address(conn)["result"] == "pass"
    plain.execute("CREATE SERVER by_ip FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '10.0.3.7', dbname 'x')",
                  dbname=name)
    check = r.fdw_servers_by_address(conn)
    assert check["result"] == "warn" and check["evidence"]["by_address"] == [{"server": "by_ip", "host": "10.0.3.7"}]


def test_aws_s3_extension_absent_here(db: DB) -> None:
    _, conn = db  # aws_s3 exists only on RDS: the planted case cannot run on a Debian server
    assert r.aws_s3_extension(conn)["result"] == "pass"


def test_logical_replication_settings(pg_servers: ServerFactory, pg_logins: dict[str, PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    plain = pg_servers("settings")
    with plain.connect(login=master) as conn:
        ok = r.logical_replication_settings(conn, params(rds__logical_replication="1"))
        assert ok["result"] == "pass", ok
        off = r.logical_replication_settings(conn, params(rds__logical_replication="0"))
        assert off["result"] == "fail" and "rds.logical_replication = 1" in (off["remediation"] or "")
        physical = r.logical_replication_settings(conn, params(rds__logical_replication="0"), "physical")
        assert physical["result"] == "pass"
    replica_level = pg_servers("walreplica", settings={"wal_level": "replica", "max_replication_slots": "1"})
    for n in range(3):
        fresh_db(replica_level, f"app{n}", master.user)
    with replica_level.connect(login=master) as conn:
        check = r.logical_replication_settings(conn, params(rds__logical_replication="1"))
    assert check["result"] == "fail"
    assert "wal_level is not 'logical'" in (check["remediation"] or "")
    assert "raise max_replication_slots to at least 4 (now 1)" in (check["remediation"] or "")
    plain.execute("ALTER SYSTEM SET max_wal_senders = 12", "SELECT pg_reload_conf()")
    try:
        with plain.connect(login=master) as conn:
            for _ in range(100):
                pending = r.logical_replication_settings(conn, params(rds__logical_replication="1"))
                if pending["result"] == "fail":
                    break
        assert pending["evidence"]["pending_restart"] == ["max_wal_senders"]
        assert "reboot blue" in (pending["remediation"] or "")
    finally:
        plain.execute("ALTER SYSTEM RESET max_wal_senders", "SELECT pg_reload_conf()")


def test_logical_decoding_work_mem_and_timeouts(plain: PostgresServer, pg_servers: ServerFactory,
                                                pg_logins: dict[str, PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    with plain.connect(login=master) as conn:
        mem = r.logical_decoding_work_mem(conn, None)
        assert mem["result"] == "warn" and mem["evidence"]["logical_decoding_work_mem_kb"] == 65536
        timeouts = r.replication_timeouts(conn, None, params(wal_receiver_timeout="60s"))
        assert timeouts["result"] == "warn"
        assert "wal_sender_timeout on blue and wal_receiver_timeout on green" in (timeouts["remediation"] or "")
    tuned = pg_servers("tuned", settings={"logical_decoding_work_mem": "256MB", "wal_sender_timeout": "0"})
    with tuned.connect(login=master) as conn:
        assert r.logical_decoding_work_mem(conn, params(logical_decoding_work_mem="262144"))["result"] == "pass"
        assert r.replication_timeouts(conn, None, params(wal_receiver_timeout="0"))["result"] == "pass"


def test_pg_cron_on_green(ext: PostgresServer, plain: PostgresServer, pg_logins: dict[str,
                          PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    ext.execute("CREATE EXTENSION IF NOT EXISTS pg_cron", "SELECT cron.schedule('nightly', '0 3 * * *', 'SELECT 1')")
    with ext.connect(login=master) as green:
        live = r.pg_cron_on_green(params(shared_preload_libraries="pg_stat_statements"), green)
    assert live["result"] == "fail" and live["evidence"]["pg_cron_launcher_running_on_green"]
    assert live["evidence"]["green_extension"]["extension"] == "pg_cron"
    planned = r.pg_cron_on_green(params(shared_preload_libraries="pg_stat_statements,pg_cron"))
    assert planned["result"] == "fail" and "Remove pg_cron" in (planned["remediation"] or "")
    with plain.connect(login=master) as green:
        assert r.pg_cron_on_green(params(shared_preload_libraries="pg_stat_statements"), green)["result"] == "pass"


def test_plan_baselines_on_green(pg_servers: ServerFactory, pg_logins: dict[str, PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    capturing = pg_servers("capture", settings={"apg_plan_mgmt.capture_plan_baselines": "automatic"})
    with capturing.connect(login=master) as green:
        check = r.plan_baselines_on_green(None, green)
        assert check["result"] == "fail" and check["evidence"]["green_live_value"] == "automatic"
        assert r.plan_baselines_on_green(None, green, engine="postgres")["result"] == "pass"
    name = "apg_plan_mgmt__capture_plan_baselines"
    assert r.plan_baselines_on_green(params(**{name: "manual"}))["result"] == "fail"
    assert r.plan_baselines_on_green(params(**{name: "off"}))["result"] == "pass"


def test_pgaudit_on_both() -> None:
    blue = params(shared_preload_libraries="pg_stat_statements,pgaudit")
    check = r.pgaudit_on_both(blue, params(shared_preload_libraries="pg_stat_statements"))
    assert check["result"] == "fail" and "pgaudit" in (check["remediation"] or "")
    assert r.pgaudit_on_both(blue, blue)["result"] == "pass"


def test_blue_is_publisher_or_subscriber(pg_servers: ServerFactory, pg_logins: dict[str,
                                         PgLogin]) -> None:  # noqa: F811
    master: PgLogin = pg_logins["master"]
    blue = pg_servers("pubsub-blue")
    other = pg_servers("pubsub-other")
    with blue.connect(login=master) as conn:
        assert r.blue_is_publisher_or_subscriber(conn)["result"] == "pass"
    blue.execute("CREATE TABLE t (id int PRIMARY KEY)", "CREATE PUBLICATION to_warehouse FOR TABLE t")
    other.execute("CREATE TABLE t (id int PRIMARY KEY)", "CREATE PUBLICATION from_other FOR TABLE t")
    password = other.admin.password.replace("\\", "\\\\").replace("'", "\\'")
    blue.execute(sql.SQL("CREATE SUBSCRIPTION from_other CONNECTION {} PUBLICATION from_other").format(
        sql.Literal(f"host=127.0.0.1 port={other.port} user={other.admin.user} dbname=postgres "
                    f"password='{password}'")))
    with blue.connect(login=master) as conn:
        check = r.blue_is_publisher_or_subscriber(conn)
    assert check["result"] == "fail"
    assert check["evidence"]["publications"] == ["to_warehouse"]
    assert check["evidence"]["subscriptions"][0]["subscription"] == "from_other"
    assert "DROP SUBSCRIPTION from_other;" in (check["remediation"] or "")
    with other.connect(login=master) as conn:  # the other side holds a logical slot for blue's subscription
        slots = r.blue_is_publisher_or_subscriber(conn)["evidence"]["logical_slots"]
    assert "from_other" in [s["slot"] for s in slots]  # (plus a table-sync slot while the copy runs)
    blue.execute("DROP SUBSCRIPTION from_other")


def test_blue_checks_run_every_rule_in_every_database(pg_servers: ServerFactory, pg_logins: dict[str,
                                                      PgLogin]) -> None:  # noqa: F811
    master = pg_logins["master"]
    blue = pg_servers("runner")
    seeded(blue, master, with_no_pk_table=True)

    def connect(dbname: str) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = blue.connect(dbname, login=master)
        return conn

    checks = {c["id"]: c for c in r.blue_checks(connect, "logical", "postgres",
                                                 params(rds__logical_replication="1"), None)}
    assert checks["pgTablesWithoutPrimaryKey"]["result"] == "fail"
    shop = checks["pgTablesWithoutPrimaryKey"]["evidence"]["databases"]["shop"]
    assert shop["without_key"][0]["table"] == "public.audit_log"
    assert checks["pgTablesWithoutPrimaryKey"]["evidence"]["databases"]["postgres"]["count"] == 0
    assert checks["pgLargeObjects"]["result"] == "fail"
    assert checks["pgMaterializedViews"]["result"] == "warn"
    assert checks["pgLogicalReplicationSettings"]["result"] == "pass"
    assert checks["pgBlueNotLogicalSourceOrReplica"]["result"] == "pass"
    assert len(checks) == 18
