"""Preflight (step 01) for PostgreSQL blue/green deployments: every rule of the Aurora blue/green overview
(the seed) and of the RDS user guide's PostgreSQL limitations, checked against the live database, each as
a check record with evidence and the fix (docs/postgresql.md lists the rules with their sources).

A rule takes a psycopg connection to one database of the side it is about ("blue" rules: blue; "green"
rules: green, when it exists) and, where the rule is about a parameter group, the group's parameters as
describe_db_parameters / describe_db_cluster_parameters return them ({name: {ParameterValue, Source}}).
Extensions, tables and publications are per database: run the database rules in every database of blue
(`databases`, `merge`). Nothing here needs a superuser: the master user can read all of it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from runbook_lib.engines.postgresql.method import Method
from runbook_lib.engines.postgresql.records import CheckRecord, Conn, Parameters, Result, parameter, record

SEQUENCES_SLOW_SWITCHOVER = 1000   # "thousands of sequences" can delay the switchover (logical replication)
DEFAULT_LOGICAL_DECODING_WORK_MEM_KB = 65536
_ORDER: dict[Result, int] = {"pass": 0, "warn": 1, "fail": 2}
_USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"


def _rows(conn: Conn, query: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def _setting(conn: Conn, name: str) -> str | None:
    row = conn.execute("SELECT current_setting(%s, true)", (name,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _libraries(value: str | None) -> list[str]:
    return [p.strip().strip('"') for p in (value or "").split(",") if p.strip()]


def _extension(conn: Conn, name: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n "
                       "ON n.oid = e.extnamespace WHERE e.extname = %s", (name,)).fetchone()
    return {"extension": name, "version": row[0], "schema": row[1]} if row else None


def _not_needed(check_id: str, method: Method, evidence: dict[str, Any] | None = None) -> CheckRecord:
    return record(check_id, "pass", {"replication": method, "applies_to": "logical replication",
                                     **(evidence or {})}, None)


def databases(conn: Conn) -> list[str]:
    """Every database a client can connect to (each gets its own replication slot and worker)."""
    return [r[0] for r in _rows(conn, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate "
                                      "ORDER BY 1")]


# -- tables and data -------------------------------------------------------------------------------------
def tables_without_primary_key(conn: Conn, method: Method = "logical") -> CheckRecord:
    """Logical replication refuses UPDATE and DELETE on blue for a published table without a primary key or
    another replica identity (measured here: the error is raised on the publisher)."""
    rows = _rows(conn, f"""
        SELECT format('%I.%I', n.nspname, c.relname), c.relreplident::text, c.reltuples::bigint,
               (SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                AND i.indimmediate AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull) ORDER BY 1 LIMIT 1)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND {_USER_SCHEMAS}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
        ORDER BY 1""")
    exposed = [{"table": r[0], "rows_estimate": max(int(r[2]), 0), "unique_not_null_index": r[3]}
               for r in rows if r[1] in ("d", "n")]
    covered = [{"table": r[0], "replica_identity": {"f": "FULL", "i": "INDEX"}[r[1]]}
               for r in rows if r[1] in ("f", "i")]
    evidence = {"database": _database(conn), "replication": method, "without_key": exposed[:50],
                "count": len(exposed), "covered_by_replica_identity": covered[:50]}
    if not exposed:
        return record("pgTablesWithoutPrimaryKey", "pass", evidence, None)
    if method == "physical":
        return record("pgTablesWithoutPrimaryKey", "warn", evidence,
                      "Physical replication copies these tables as they are; add primary keys anyway before a "
                      "future major version upgrade, which replicates logically.")
    fixes = [f"ALTER TABLE {t['table']} REPLICA IDENTITY USING INDEX {t['unique_not_null_index'].split('.')[-1]};"
             if t["unique_not_null_index"] else f"ALTER TABLE {t['table']} ADD PRIMARY KEY (…);  -- or: "
             f"ALTER TABLE {t['table']} REPLICA IDENTITY FULL;" for t in exposed[:10]]
    return record("pgTablesWithoutPrimaryKey", "fail", evidence,
                  "Once blue publishes these tables, UPDATE and DELETE on them fail on blue itself. Before creating "
                  "the deployment give each a primary key (best), or REPLICA IDENTITY FULL when no primary or "
                  "unique key exists (slower to replicate): " + " ".join(fixes))


def unlogged_tables(conn: Conn, method: Method = "logical", engine: str = "postgres",
                    params: Parameters | None = None) -> CheckRecord:
    """Unlogged tables are not published (and a promoted standby has them empty): their rows are not on green.
    Aurora PostgreSQL replicates them when rds.logically_replicate_unlogged_tables = 1."""
    rows = _rows(conn, f"""SELECT format('%I.%I', n.nspname, c.relname), c.reltuples::bigint FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' AND {_USER_SCHEMAS} ORDER BY 1""")
    tables = [{"table": r[0], "rows_estimate": max(int(r[1]), 0)} for r in rows]
    value, source = parameter(params, "rds.logically_replicate_unlogged_tables")
    evidence = {"database": _database(conn), "replication": method, "engine": engine, "unlogged_tables": tables[:50],
                "count": len(tables), "rds.logically_replicate_unlogged_tables": value, "source": source}
    if not tables:
        return record("pgUnloggedTables", "pass", evidence, None)
    if engine == "aurora-postgresql" and value == "1":
        evidence["note"] = "Do not change rds.logically_replicate_unlogged_tables after creating the deployment."
        return record("pgUnloggedTables", "pass", evidence, None)
    fix = ("set rds.logically_replicate_unlogged_tables = 1 in blue's cluster parameter group (and do not change it "
           "after creating the deployment), or " if engine == "aurora-postgresql" else "")
    return record("pgUnloggedTables", "warn", evidence,
                  f"The rows of these unlogged tables will not be on green, so not on the new production: {fix}"
                  "make them logged (ALTER TABLE … SET LOGGED) if their content matters, or accept that they "
                  "start empty after the switchover.")


def large_objects_in_use(conn: Conn, method: Method = "logical") -> CheckRecord:
    """Large objects (pg_largeobject) are not replicated logically, neither existing ones nor new ones, and
    creating or changing one during the deployment puts green into "Replication degraded"."""
    row = conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    count = int(row[0]) if row else 0
    columns = _rows(conn, f"""SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname) FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE a.atttypid IN ('oid'::regtype, coalesce(to_regtype('lo'), 'oid'::regtype)) AND a.attnum > 0
          AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND {_USER_SCHEMAS} ORDER BY 1""")
    evidence = {"database": _database(conn), "replication": method, "large_objects": count,
                "oid_columns": [r[0] for r in columns][:50]}
    if method == "physical" or count == 0:
        return record("pgLargeObjects", "pass", evidence, None)
    return record("pgLargeObjects", "fail", evidence,
                  f"{count} large object(s) would be missing on green (logical replication copies the oid, not the "
                  "object), and creating or changing one during the deployment degrades replication. Move their "
                  "content into bytea columns before creating the deployment, or upgrade another way (AWS DMS).")


def materialized_views(conn: Conn, method: Method = "logical") -> CheckRecord:
    """Materialized views are not refreshed on green (not even populated, measured here): refresh them
    after the switchover."""
    rows = _rows(conn, "SELECT format('%I.%I', schemaname, matviewname) FROM pg_matviews ORDER BY 1")
    evidence = {"database": _database(conn), "replication": method, "materialized_views": [r[0] for r in rows]}
    if method == "physical" or not rows:
        return record("pgMaterializedViews", "pass", evidence, None)
    return record("pgMaterializedViews", "warn", evidence,
                  "Plan to refresh them right after the switchover (the runbook offers it): "
                  + " ".join(f"REFRESH MATERIALIZED VIEW {r[0]};" for r in rows[:10]))


def sequences(conn: Conn, method: Method = "logical") -> CheckRecord:
    """RDS sets every sequence on green to blue's value during the switchover (RDS-EVENT-0307/0308); with
    thousands of them the switchover takes longer."""
    row = conn.execute("SELECT count(*) FROM pg_sequences").fetchone()
    count = int(row[0]) if row else 0
    evidence = {"database": _database(conn), "replication": method, "sequences": count,
                "slow_from": SEQUENCES_SLOW_SWITCHOVER}
    if method == "physical" or count < SEQUENCES_SLOW_SWITCHOVER:
        return record("pgSequenceCount", "pass", evidence, None)
    return record("pgSequenceCount", "warn", evidence,
                  f"{count} sequences must be synchronised during the switchover: allow for it with a longer "
                  "SwitchoverTimeout (switchover_timeout), and drop sequences nothing uses.")


def partitioned_tables(conn: Conn, method: Method = "logical") -> CheckRecord:
    """New partitions cannot be created during the deployment (CREATE TABLE is DDL, not replicated)."""
    rows = _rows(conn, f"""SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'p' AND {_USER_SCHEMAS} ORDER BY 1""")
    evidence = {"database": _database(conn), "replication": method, "partitioned_tables": [r[0] for r in rows][:50]}
    if method == "physical" or not rows:
        return record("pgPartitionedTables", "pass", evidence, None)
    return record("pgPartitionedTables", "warn", evidence,
                  "Create every partition needed until after the switchover now, before creating the deployment: a "
                  "new partition during the deployment is DDL and degrades replication.")


def replica_or_always_triggers(conn: Conn, method: Method = "logical") -> CheckRecord:
    """Triggers set ENABLE REPLICA or ENABLE ALWAYS fire in green's apply worker too: changes get applied
    twice (once replicated, once by the trigger)."""
    rows = _rows(conn, f"""SELECT format('%I.%I', n.nspname, c.relname), t.tgname,
        CASE t.tgenabled WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND t.tgenabled IN ('R', 'A') AND {_USER_SCHEMAS} ORDER BY 1, 2""")
    triggers = [{"table": r[0], "trigger": r[1], "mode": r[2]} for r in rows]
    evidence = {"database": _database(conn), "replication": method, "triggers": triggers[:50]}
    if method == "physical" or not triggers:
        return record("pgTriggersReplicaOrAlways", "pass", evidence, None)
    return record("pgTriggersReplicaOrAlways", "fail", evidence,
                  "Set these triggers back to fire on the origin only, so green does not apply their effect twice: "
                  + " ".join(f"ALTER TABLE {t['table']} ENABLE TRIGGER {t['trigger']};" for t in triggers[:10]))


# -- extensions ------------------------------------------------------------------------------------------
def pg_partman_on_blue(conn: Conn, method: Method = "logical") -> CheckRecord:
    """pg_partman creates partitions (CREATE TABLE): it must be disabled on blue when creating the deployment."""
    ext = _extension(conn, "pg_partman")
    preload = _libraries(_setting(conn, "shared_preload_libraries"))
    evidence: dict[str, Any] = {"database": _database(conn), "replication": method, "pg_partman": ext,
                                "pg_partman_bgw_preloaded": "pg_partman_bgw" in preload}
    if ext:
        try:
            with conn.transaction():
                parents = _rows(conn, f"SELECT parent_table FROM {_quote(ext['schema'])}.part_config ORDER BY 1")
            evidence["managed_parents"] = [r[0] for r in parents][:50]
        except psycopg.errors.InsufficientPrivilege as exc:
            evidence["managed_parents"] = f"not readable by this user: {exc.diag.message_primary}"
    if method == "physical" or not (ext or evidence["pg_partman_bgw_preloaded"]):
        return record("pgPartmanOnBlue", "pass", evidence, None)
    return record("pgPartmanOnBlue", "fail", evidence,
                  "Disable pg_partman on blue before creating the deployment: remove pg_partman_bgw from "
                  "shared_preload_libraries in blue's parameter group (reboot), and stop every scheduled "
                  "run_maintenance() (e.g. its pg_cron job) — or DROP EXTENSION pg_partman. Enable it again after "
                  "the switchover.")


def _extension_off_on_blue(conn: Conn, check_id: str, names: Iterable[str]) -> CheckRecord:
    found = [e for e in (_extension(conn, n) for n in names) if e]
    preload = [lib for lib in _libraries(_setting(conn, "shared_preload_libraries")) if lib in names]
    evidence = {"database": _database(conn), "extensions": found, "preloaded": preload}
    if not found and not preload:
        return record(check_id, "pass", evidence, None)
    label = " and ".join(sorted({e["extension"] for e in found} | set(preload)))
    return record(check_id, "fail", evidence,
                  f"Disable {label} on blue before creating the deployment (DROP EXTENSION in this database and "
                  "remove it from shared_preload_libraries in blue's parameter group, then reboot); blue must not "
                  "be a logical publisher or subscriber itself. Enable it again after the switchover.")


def pglogical_on_blue(conn: Conn) -> CheckRecord:
    return _extension_off_on_blue(conn, "pglogicalOnBlue", ("pglogical",))


def pgactive_on_blue(conn: Conn) -> CheckRecord:
    """pgactive (named pg_active in some write-ups) is not packaged for Debian: the lab cannot plant it."""
    return _extension_off_on_blue(conn, "pgactiveOnBlue", ("pgactive", "pg_active"))


def extensions_to_update(conn: Conn) -> CheckRecord:
    """Update every extension to its latest version before creating the deployment."""
    rows = _rows(conn, """SELECT e.extname, e.extversion, a.default_version FROM pg_extension e
        JOIN pg_available_extensions a ON a.name = e.extname
        WHERE a.default_version IS NOT NULL AND e.extversion <> a.default_version ORDER BY 1""")
    old = [{"extension": r[0], "installed": r[1], "latest": r[2]} for r in rows]
    evidence = {"database": _database(conn), "out_of_date": old}
    return record("pgExtensionsUpToDate", "warn" if old else "pass", evidence,
                  "Update these extensions before creating the deployment: "
                  + " ".join(f"ALTER EXTENSION {r[0]} UPDATE TO '{r[2]}';" for r in rows))


def fdw_servers_by_address(conn: Conn) -> CheckRecord:
    """Foreign servers must name blue by its endpoint, not an IP address, to keep working after switchover."""
    rows = _rows(conn, "SELECT srvname, srvoptions FROM pg_foreign_server ORDER BY 1")
    by_ip = []
    for name, options in rows:
        for option in options or []:
            key, _, value = option.partition("=")
            if key in ("host", "hostaddr") and _is_ip(value):
                by_ip.append({"server": name, key: value})
    evidence = {"database": _database(conn), "foreign_servers": len(rows), "by_address": by_ip}
    return record("pgForeignServersByEndpoint", "warn" if by_ip else "pass", evidence,
                  "Point these foreign servers at the DB endpoint name instead of an IP address, so they follow "
                  "the switchover: " + " ".join(f"ALTER SERVER {s['server']} OPTIONS (SET host '<endpoint>');"
                                                for s in by_ip))


def aws_s3_extension(conn: Conn) -> CheckRecord:
    """With aws_s3, green needs its own IAM role for S3 after creation (Aurora PostgreSQL best practice)."""
    ext = _extension(conn, "aws_s3")
    return record("pgAwsS3Access", "warn" if ext else "pass", {"database": _database(conn), "aws_s3": ext},
                  "After the deployment is created, associate the IAM role for S3 import/export with the green "
                  "cluster (add-role-to-db-cluster), so aws_s3 keeps working after the switchover.")


# -- parameters ------------------------------------------------------------------------------------------
def logical_replication_settings(conn: Conn, params: Parameters | None, method: Method = "logical",
                                 engine: str = "postgres") -> CheckRecord:
    """rds.logical_replication = 1 in blue's custom (cluster) parameter group, in effect (wal_level logical,
    nothing pending a reboot), and enough slots, WAL senders and workers: one per database at least."""
    names = ("wal_level", "max_replication_slots", "max_wal_senders", "max_logical_replication_workers",
             "max_worker_processes")
    live = {r[0]: (r[1], bool(r[2])) for r in _rows(
        conn, "SELECT name, setting, pending_restart FROM pg_settings WHERE name = ANY (%s)", (list(names),))}
    value, source = parameter(params, "rds.logical_replication")
    dbs = len(databases(conn))
    slots_used = int(_rows(conn, "SELECT count(*) FROM pg_replication_slots")[0][0])
    senders_used = int(_rows(conn, "SELECT count(*) FROM pg_stat_replication")[0][0])
    evidence: dict[str, Any] = {"replication": method, "engine": engine, "rds.logical_replication": value,
                                "source": source, "databases": dbs, "slots_in_use": slots_used,
                                "wal_senders_in_use": senders_used,
                                **{n: live.get(n, (None, False))[0] for n in names},
                                "pending_restart": sorted(n for n, (_, p) in live.items() if p)}
    if method == "physical":
        return _not_needed("pgLogicalReplicationSettings", method, evidence)
    problems = []
    group = "cluster parameter group" if engine == "aurora-postgresql" else "parameter group"
    if params is not None and value != "1":
        problems.append(f"set rds.logical_replication = 1 in blue's custom {group}")
    if live.get("wal_level", ("", False))[0] != "logical":
        problems.append("wal_level is not 'logical' yet: reboot blue after turning rds.logical_replication on")
    if evidence["pending_restart"]:
        problems.append(f"reboot blue: {', '.join(evidence['pending_restart'])} wait for a restart (RDS refuses "
                        "to create the deployment when the instance is not in sync with its parameter group)")
    need = {"max_replication_slots": dbs + slots_used, "max_wal_senders": dbs + senders_used,
            "max_logical_replication_workers": dbs}
    evidence["needed_at_least"] = need
    for name, minimum in need.items():
        current = int(live.get(name, ("0", False))[0] or 0)
        if current < minimum:
            problems.append(f"raise {name} to at least {minimum} (now {current})")
    workers = int(live.get("max_worker_processes", ("0", False))[0] or 0)
    if workers <= int(live.get("max_logical_replication_workers", ("0", False))[0] or 0):
        problems.append("raise max_worker_processes above max_logical_replication_workers")
    return record("pgLogicalReplicationSettings", "fail" if problems else "pass", evidence,
                  "; ".join(problems) + ".")


def logical_decoding_work_mem(conn: Conn, params: Parameters | None, method: Method = "logical") -> CheckRecord:
    """More logical_decoding_work_mem on blue decodes in memory instead of on disk (when FreeableMemory
    allows)."""
    value, source = parameter(params, "logical_decoding_work_mem")
    live = _rows(conn, "SELECT setting::bigint FROM pg_settings WHERE name = 'logical_decoding_work_mem'")
    kb = int(live[0][0]) if live else DEFAULT_LOGICAL_DECODING_WORK_MEM_KB
    evidence = {"replication": method, "logical_decoding_work_mem_kb": kb, "parameter_value": value,
                "source": source, "default_kb": DEFAULT_LOGICAL_DECODING_WORK_MEM_KB}
    if method == "physical" or kb > DEFAULT_LOGICAL_DECODING_WORK_MEM_KB:
        return record("pgLogicalDecodingWorkMem", "pass", evidence, None)
    return record("pgLogicalDecodingWorkMem", "warn", evidence,
                  "If blue has memory to spare (CloudWatch FreeableMemory), raise logical_decoding_work_mem in "
                  "blue's parameter group (e.g. 256MB) so large transactions decode in memory rather than on disk.")


def replication_timeouts(blue_conn: Conn, blue_params: Parameters | None, green_params: Parameters | None,
                         method: Method = "logical") -> CheckRecord:
    """When replication is slow, WAL senders (blue) and receivers (green) that time out restart and delay the
    sync: the documented advice is wal_sender_timeout = 0 on blue and wal_receiver_timeout = 0 on green."""
    sender, sender_source = parameter(blue_params, "wal_sender_timeout")
    receiver, receiver_source = parameter(green_params, "wal_receiver_timeout")
    sender = sender if sender is not None else _setting(blue_conn, "wal_sender_timeout")
    evidence = {"replication": method, "wal_sender_timeout (blue)": sender, "source_blue": sender_source,
                "wal_receiver_timeout (green group)": receiver, "source_green": receiver_source}
    nonzero = [n for n, v in (("wal_sender_timeout on blue", sender), ("wal_receiver_timeout on green", receiver))
               if v is None or _duration_ms(v) != 0]
    if method == "physical" or not nonzero:
        return record("pgReplicationTimeouts", "pass", evidence, None)
    return record("pgReplicationTimeouts", "warn", evidence,
                  f"If replication to green turns out slow, set {' and '.join(nonzero)} to 0 in the respective "
                  "parameter group, so senders and receivers stop restarting on timeouts.")


def pg_cron_on_green(green_params: Parameters | None, green_conn: Conn | None = None,
                     method: Method = "logical") -> CheckRecord:
    """pg_cron must stay disabled on every green database: its workers run as superuser and ignore green's
    read-only setting."""
    value, source = parameter(green_params, "shared_preload_libraries")
    evidence: dict[str, Any] = {"replication": method, "green_shared_preload_libraries": value, "source": source}
    problems = []
    if "pg_cron" in _libraries(value):
        problems.append("pg_cron is in shared_preload_libraries of green's parameter group")
    if green_conn is not None:
        launcher = int(_rows(green_conn, "SELECT count(*) FROM pg_stat_activity "
                                         "WHERE backend_type = 'pg_cron launcher'")[0][0])
        evidence["pg_cron_launcher_running_on_green"] = bool(launcher)
        evidence["green_extension"] = _extension(green_conn, "pg_cron")
        if launcher:
            problems.append("pg_cron's launcher runs on green")
    if method == "physical" or not problems:
        return record("pgCronOffOnGreen", "pass", evidence, None)
    return record("pgCronOffOnGreen", "fail", evidence,
                  f"{'; '.join(problems)}. Remove pg_cron from shared_preload_libraries in the parameter group green "
                  "uses (TargetDBParameterGroupName / TargetDBClusterParameterGroupName) and reboot green; add it "
                  "back after the switchover.")


def plan_baselines_on_green(green_params: Parameters | None, green_conn: Conn | None = None,
                            engine: str = "aurora-postgresql") -> CheckRecord:
    """Aurora PostgreSQL: apg_plan_mgmt.capture_plan_baselines must be off on green, or capturing the same
    plans as blue collides on primary keys."""
    name = "apg_plan_mgmt.capture_plan_baselines"
    value, source = parameter(green_params, name)
    live = _setting(green_conn, name) if green_conn is not None else None
    evidence = {"engine": engine, "parameter_value": value, "source": source, "green_live_value": live}
    on = [v for v in (value, live) if v is not None and v.lower() != "off"]
    if engine != "aurora-postgresql" or not on:
        return record("pgPlanBaselinesOffOnGreen", "pass", evidence, None)
    return record("pgPlanBaselinesOffOnGreen", "fail", evidence,
                  f"Set {name} = off in green's parameter group. To capture plans on replicas after the switchover, "
                  "give apg_plan_mgmt.create_replica_plan_capture the blue cluster endpoint.")


def pgaudit_on_both(blue_params: Parameters | None, green_params: Parameters | None,
                    blue_conn: Conn | None = None) -> CheckRecord:
    """With pgAudit, pgaudit must stay in shared_preload_libraries of both blue's and green's groups."""
    blue_value = parameter(blue_params, "shared_preload_libraries")[0]
    if blue_value is None and blue_conn is not None:
        blue_value = _setting(blue_conn, "shared_preload_libraries")
    green_value = parameter(green_params, "shared_preload_libraries")[0]
    evidence = {"blue": blue_value, "green": green_value}
    missing = "pgaudit" in _libraries(blue_value) and "pgaudit" not in _libraries(green_value)
    return record("pgAuditOnBoth", "fail" if missing else "pass", evidence,
                  "Keep pgaudit in shared_preload_libraries of green's parameter group too.")


# -- blue as a replication source or target itself --------------------------------------------------------
def blue_is_publisher_or_subscriber(conn: Conn) -> CheckRecord:
    """Blue must not be a self-managed logical publisher or subscriber (RDS for PostgreSQL, both methods;
    Aurora PostgreSQL): publications, subscriptions, logical slots."""
    publications = [r[0] for r in _rows(conn, "SELECT pubname FROM pg_publication ORDER BY 1")]
    subscriptions = [{"subscription": r[0], "database": r[1], "enabled": r[2]} for r in _rows(
        conn, "SELECT s.subname, d.datname, s.subenabled FROM pg_subscription s "
              "JOIN pg_database d ON d.oid = s.subdbid ORDER BY 1")]
    slots = [{"slot": r[0], "database": r[1], "active": r[2]} for r in _rows(
        conn, "SELECT slot_name, database, active FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY 1")]
    evidence = {"database": _database(conn), "publications": publications, "subscriptions": subscriptions,
                "logical_slots": slots}
    if not (publications or subscriptions or slots):
        return record("pgBlueNotLogicalSourceOrReplica", "pass", evidence, None)
    fixes = ([f"DROP PUBLICATION {p};" for p in publications]
             + [f"DROP SUBSCRIPTION {s['subscription']};  -- in {s['database']}" for s in subscriptions]
             + [f"SELECT pg_drop_replication_slot('{s['slot']}');" for s in slots])
    return record("pgBlueNotLogicalSourceOrReplica", "fail", evidence,
                  "Blue must not be a logical publisher or subscriber: drop the self-managed replication across all "
                  "its databases, create and switch over the deployment, then recreate it: " + " ".join(fixes))


# -- running them ----------------------------------------------------------------------------------------
def database_checks(conn: Conn, method: Method, engine: str, params: Parameters | None) -> list[CheckRecord]:
    """Every rule that is about one database of blue."""
    return [tables_without_primary_key(conn, method), unlogged_tables(conn, method, engine, params),
            large_objects_in_use(conn, method), materialized_views(conn, method), sequences(conn, method),
            partitioned_tables(conn, method), replica_or_always_triggers(conn, method),
            pg_partman_on_blue(conn, method), pglogical_on_blue(conn), pgactive_on_blue(conn),
            extensions_to_update(conn), fdw_servers_by_address(conn), aws_s3_extension(conn),
            blue_is_publisher_or_subscriber(conn)]


def blue_checks(connect: Callable[[str], Conn], method: Method, engine: str, params: Parameters | None,
                green_params: Parameters | None) -> list[CheckRecord]:
    """All blue-side rules: the database rules in every database (merged per rule), then the instance rules."""
    with connect("postgres") as conn:
        names = databases(conn)
        instance = [logical_replication_settings(conn, params, method, engine),
                    logical_decoding_work_mem(conn, params, method),
                    replication_timeouts(conn, params, green_params, method),
                    pgaudit_on_both(params, green_params, conn)]
    per_database: list[CheckRecord] = []
    for name in names:
        if name == "rdsadmin":
            continue  # RDS's own database: the master user cannot connect to it
        with connect(name) as conn:
            per_database += database_checks(conn, method, engine, params)
    return merge(per_database) + instance


def green_checks(green_params: Parameters | None, green_conn: Conn | None, method: Method,
                 engine: str) -> list[CheckRecord]:
    """The rules about green: before creation from the group green will use, afterwards also live."""
    return [pg_cron_on_green(green_params, green_conn, method),
            plan_baselines_on_green(green_params, green_conn, engine)]


def merge(records: list[CheckRecord]) -> list[CheckRecord]:
    """One record per rule across databases: the worst result, evidence per database, the fixes joined."""
    by_id: dict[str, list[CheckRecord]] = {}
    for rec in records:
        by_id.setdefault(rec["id"], []).append(rec)
    out = []
    for check_id, group in by_id.items():
        worst = max(group, key=lambda r: _ORDER[r["result"]])
        fixes = list(dict.fromkeys(r["remediation"] for r in group if r["remediation"]))
        out.append(record(check_id, worst["result"],
                          {"databases": {str(r["evidence"].get("database")): r["evidence"] for r in group}},
                          " ".join(fixes) or None))
    return out


# -- small helpers ---------------------------------------------------------------------------------------
def _database(conn: Conn) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    return str(row[0]) if row else "?"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
        return True
    except ValueError:
        return False


_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def _duration_ms(value: str) -> float:
    """'60s', '60000', '0' → milliseconds (a bare number is in ms, as both timeouts are)."""
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*", value)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS_MS.get(match.group(2) or "ms", float("nan"))
