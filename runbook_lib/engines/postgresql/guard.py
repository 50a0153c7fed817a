"""The guard while a logically replicated deployment exists: RDS puts green into "Replication degraded" and
refuses the switchover once blue saw DDL or a large-object creation/change (RDS user guide, "Logical
replication-specific limitations"; the switchover guardrail "Unsupported PostgreSQL changes"). The
runbook cannot ask RDS which statement did it, so it keeps fingerprints taken right after creation (as
the master user: nothing here needs a superuser) and compares them before the switchover.

After the switchover: statistics are not carried across a major version and materialized views are not
refreshed on green, so the guard reminds to ANALYZE and REFRESH, and can run both.
"""

from __future__ import annotations

import hashlib
from typing import Any

from psycopg import errors, sql

from runbook_lib.engines.postgresql.records import CheckRecord, Conn, record
from runbook_lib.errors import RunbookError

_SYSTEM = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"

# One query per kind of object: (key, signature) rows. Signatures are what a DDL statement changes.
_CATALOG_QUERIES = {
    "schema": f"SELECT n.nspname, n.nspowner::regrole::text FROM pg_namespace n WHERE {_SYSTEM}",
    "relation": f"""SELECT n.nspname || '.' || c.relname,
        c.relkind::text || ':' || c.relpersistence::text || ':' || c.relreplident::text || ':' ||
        c.relowner::regrole::text || ':' ||
        coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                  || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attnum)
                  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_SYSTEM} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'i', 'I', 'c')""",
    "view": f"""SELECT n.nspname || '.' || c.relname, md5(pg_get_viewdef(c.oid))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_SYSTEM} AND c.relkind IN ('v', 'm')""",
    "constraint": f"""SELECT n.nspname || '.' || cl.relname || '.' || co.conname, pg_get_constraintdef(co.oid)
        FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
        WHERE {_SYSTEM}""",
    "index": f"""SELECT n.nspname || '.' || c.relname, md5(pg_get_indexdef(c.oid))
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_SYSTEM}""",
    "trigger": f"""SELECT n.nspname || '.' || c.relname || '.' || t.tgname,
        t.tgenabled::text || ':' || md5(pg_get_triggerdef(t.oid))
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_SYSTEM} AND NOT t.tgisinternal""",
    "function": f"""SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
        md5(p.prokind::text || coalesce(p.prosrc, '') || coalesce(pg_get_function_result(p.oid), ''))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {_SYSTEM}""",
    "type": f"""SELECT n.nspname || '.' || t.typname, t.typtype::text FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {_SYSTEM} AND t.typtype IN ('e', 'd', 'c', 'r')
        AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')""",
    "extension": "SELECT extname, extversion FROM pg_extension",
}


def catalog_fingerprint(conn: Conn) -> dict[str, str]:
    """Every user object of the connection's database with a short signature ("kind name" → hash),
    JSON-friendly so a step can keep it in its record until the switchover."""
    out: dict[str, str] = {}
    for kind, query in _CATALOG_QUERIES.items():
        for name, signature in conn.execute(query).fetchall():
            out[f"{kind} {name}"] = hashlib.sha256(str(signature).encode()).hexdigest()[:16]
    return out


def large_object_fingerprint(conn: Conn) -> dict[str, str | None]:
    """Each large object (oid → hash of its content; None when this user may not read it)."""
    out: dict[str, str | None] = {}
    for (oid,) in conn.execute("SELECT oid FROM pg_largeobject_metadata ORDER BY oid").fetchall():
        try:
            with conn.transaction():
                row = conn.execute("SELECT md5(lo_get(%s))", (oid,)).fetchone()
            out[str(oid)] = str(row[0]) if row else None
        except errors.InsufficientPrivilege:
            out[str(oid)] = None
    return out


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[str]]:
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k])}


RECREATE = ("Delete the blue/green deployment together with its green databases and create it again "
            "(RDS: green is 'Replication degraded' and the switchover is refused until then).")


def ddl_since_creation(baseline: dict[str, str], now: dict[str, str], database: str) -> CheckRecord:
    """DDL on blue since the deployment was created, from two catalog fingerprints of one database."""
    diff = _diff(baseline, now)
    changed = any(diff.values())
    evidence: dict[str, Any] = {"database": database, **{k: v[:50] for k, v in diff.items()},
                                "objects_compared": len(now)}
    return record("pgNoDdlOnBlue", "fail" if changed else "pass", evidence,
                  f"Blue's schema changed after the deployment was created ({sum(map(len, diff.values()))} "
                  f"object(s) in {database}); logical replication does not carry DDL. {RECREATE}")


def large_objects_since_creation(baseline: dict[str, str | None], now: dict[str, str | None],
                                 database: str) -> CheckRecord:
    """Large objects created, removed or rewritten on blue since the deployment was created."""
    diff = _diff(baseline, now)
    unreadable = sorted(k for k, v in now.items() if v is None)
    changed = any(diff.values())
    evidence: dict[str, Any] = {"database": database, **{k: v[:50] for k, v in diff.items()},
                                "large_objects": len(now), "content_not_readable": unreadable[:50]}
    if changed:
        return record("pgNoLargeObjectChangesOnBlue", "fail", evidence,
                      f"Large objects changed on blue in {database} after the deployment was created; they are "
                      f"not replicated. {RECREATE}")
    if unreadable:
        return record("pgNoLargeObjectChangesOnBlue", "warn", evidence,
                      "Some large objects cannot be read by this user, so a change to their content would go "
                      "unseen: run the guard as their owner (or a member of rds_superuser with SELECT on them).")
    return record("pgNoLargeObjectChangesOnBlue", "pass", evidence, None)


def replication_degraded(status_details: str | None) -> CheckRecord:
    """What RDS itself says: the deployment's StatusDetails mentioning replication degradation."""
    degraded = bool(status_details) and "degraded" in str(status_details).lower()
    return record("pgReplicationNotDegraded", "fail" if degraded else "pass",
                  {"StatusDetails": status_details}, f"RDS reports: {status_details}. {RECREATE}")


# -- after the switchover --------------------------------------------------------------------------------
def statistics_missing(conn: Conn) -> CheckRecord:
    """Tables with rows but no optimizer statistics (a major version upgrade does not carry pg_statistic)."""
    rows = conn.execute("""
        SELECT s.schemaname || '.' || s.relname FROM pg_stat_user_tables s
        JOIN pg_class c ON c.oid = s.relid
        WHERE c.reltuples <> 0 AND NOT EXISTS (SELECT 1 FROM pg_stats p
              WHERE p.schemaname = s.schemaname AND p.tablename = s.relname)
        ORDER BY 1""").fetchall()
    database = _database(conn)
    missing = [r[0] for r in rows]
    return record("pgAnalyzeAfterSwitchover", "warn" if missing else "pass",
                  {"database": database, "tables_without_statistics": missing[:50], "count": len(missing)},
                  f"Run ANALYZE in every database of the new production (here: {database}); optimizer statistics "
                  "are not carried across a major version upgrade. The runbook can run it (run_analyze).")


def materialized_views_to_refresh(conn: Conn) -> CheckRecord:
    rows = conn.execute("SELECT schemaname || '.' || matviewname, ispopulated FROM pg_matviews ORDER BY 1").fetchall()
    views = [{"view": r[0], "populated": bool(r[1])} for r in rows]
    return record("pgRefreshMaterializedViews", "warn" if views else "pass",
                  {"database": _database(conn), "materialized_views": views},
                  "Refresh these materialized views on the new production (REFRESH MATERIALIZED VIEW …): green "
                  "never refreshed them. The runbook can run it (refresh_materialized_views).")


def run_analyze(conn: Conn) -> None:
    """ANALYZE the connection's whole database (run it in each database)."""
    conn.execute("ANALYZE")


def refresh_materialized_views(conn: Conn) -> list[str]:
    """REFRESH every materialized view of the connection's database; the views refreshed, in order. A view
    that reads another view not populated yet fails and is tried again in the next round."""
    done: list[str] = []
    pending = [tuple(r) for r in conn.execute("SELECT schemaname, matviewname FROM pg_matviews ORDER BY 1, 2")]
    while pending:
        waiting = []
        for schema, name in pending:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}.{}").format(
                        sql.Identifier(schema), sql.Identifier(name)))
                done.append(f"{schema}.{name}")
            except errors.ObjectNotInPrerequisiteState:
                waiting.append((schema, name))
        if len(waiting) == len(pending):
            names = ", ".join(f"{s}.{n}" for s, n in waiting)
            raise RunbookError(f"Could not refresh these materialized views (each reads one that cannot be "
                               f"populated): {names}")
        pending = waiting
    return done


def _database(conn: Conn) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    return str(row[0]) if row else "?"
