"""Is the source ready for a blue/green deployment and for the target version? Every documented prerequisite and
limitation of RDS blue/green deployments that can be checked for an RDS for MySQL instance (docs/lab-rules.md,
the facts the lab follows), each recorded as id, result (pass/warn/fail), evidence and remediation. Step 01."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook_lib.engines.mysql import connection as db
from runbook_lib.engines.mysql.connection import SYSTEM_SCHEMAS, replica_status
from runbook_lib.engines.mysql.upgrade_checks.catalog import REMOVED_SYS_VARS
from runbook_lib.params import RDS_CA_BUNDLE_URL
from runbook_lib.run.context import Step


def _major(version: str) -> str:
    return ".".join(version.split(".")[:2])


def source_checks(step: Step, blue: Mapping[str, Any]) -> None:
    p = step.params
    name = blue["DBInstanceIdentifier"]
    retention = int(blue.get("BackupRetentionPeriod") or 0)
    step.check("automatedBackups", "pass" if retention > 0 else "fail", {"BackupRetentionPeriod": retention},
               None if retention > 0 else f"Turn on automated backups: aws rds modify-db-instance "
               f"--db-instance-identifier {name} --backup-retention-period 7 --apply-immediately")

    group = blue["DBParameterGroups"][0]["DBParameterGroupName"]
    params = step.rds.parameters(group)
    binlog = params.get("binlog_format", {})
    value = binlog.get("ParameterValue")
    ok = value in ("ROW", "MIXED")
    step.check("binlogFormat", "pass" if ok else "warn",
               {"parameter_group": group, "binlog_format": value, "source": binlog.get("Source"),
                "parameters_read": len(params)},
               None if ok else f"Set binlog_format to ROW (or MIXED) in {group}: recommended for replication on RDS "
                               "for MySQL, required for Aurora MySQL.")

    managed = bool(blue.get("MasterUserSecret"))
    step.check("masterPasswordNotManaged", "fail" if managed else "pass", {"MasterUserSecret": managed},
               "Blue/green deployments do not support a master password managed in Secrets Manager: turn it off "
               "(modify-db-instance --no-manage-master-user-password) first." if managed else None)

    api_source = blue.get("ReadReplicaSourceDBInstanceIdentifier")
    tls = db.tls_settings(p)
    with db.connect(blue["Endpoint"], p.db_user, step.password(), tls=tls) as conn, conn.cursor() as cur:
        tls_check(step, tls, db.session_tls(cur))
        privileges_check(step, cur)
        try:
            row = replica_status(cur)
            external = {"source_host": row.get("Master_Host"), "io_running": row.get("Slave_IO_Running")} if row else None
            readable = True
        except Exception as exc:  # noqa: BLE001 - no privilege: say so, do not pass silently
            external, readable = {"error": str(exc)}, False
        cur.execute("SELECT CONCAT(t.table_schema, '.', t.table_name) FROM information_schema.tables t LEFT JOIN "
                    "information_schema.table_constraints c ON c.table_schema = t.table_schema AND c.table_name = "
                    "t.table_name AND c.constraint_type = 'PRIMARY KEY' WHERE t.table_type = 'BASE TABLE' AND "
                    f"t.table_schema NOT IN {SYSTEM_SCHEMAS + (p.probe_database,)} AND c.constraint_name IS NULL")
        no_pk = [r[0] for r in cur.fetchall()]
    result = "fail" if api_source or (readable and external) else "pass" if readable else "warn"
    step.check("notExternalReplica", result, {"ReadReplicaSourceDBInstanceIdentifier": api_source,
                                              "replication_on_blue": external},
               None if result == "pass" else
               "The blue instance must not replicate from another server: stop that replication "
               "(CALL mysql.rds_stop_replication; CALL mysql.rds_reset_external_master;) or grant the check user "
               "REPLICATION CLIENT so it can be verified.")
    step.check("tablesWithoutPrimaryKey", "warn" if no_pk else "pass", {"tables": no_pk[:50], "count": len(no_pk)},
               "Add a primary key to these tables: without one, row-based replication to green is slow and the "
               "switchover can time out." if no_pk else None)


def tls_check(step: Step, tls: db.TlsSettings, session: Mapping[str, Any]) -> None:
    """How the runbook reaches the databases, as the server saw this session: verified TLS passes; TLS relaxed by
    the parameters is a warning saying what it gives up; in the lab, plain connections are the lab's default."""
    evidence = {**tls.describe(), **session}
    if tls.encrypted and not session.get("ssl_version"):
        step.check("databaseTls", "fail", evidence, "TLS was asked for but the server reports a plain session.")
    elif tls.relaxed and step.params.tls is not None:
        step.check("databaseTls", "warn", evidence,
                   f"tls: {tls.mode} — {tls.relaxed}. Use tls: verify-identity with ca_bundle (for RDS: "
                   f"{RDS_CA_BUNDLE_URL}) unless you know why not.")
    elif not tls.encrypted:
        step.check("databaseTls", "skip", evidence, None)  # the lab without its TLS option
    else:
        step.check("databaseTls", "pass", evidence, None)


def privileges_check(step: Step, cur: Any) -> None:
    """The database user's privileges against what the runbook needs (runbook grants), missing ones by name."""
    from runbook_lib.checks import grants
    have = grants.granted(cur)
    missing = grants.missing(have, step.params.probe_database)
    roles = sorted(have.get("(roles)", set()))  # MySQL 8.0 roles are not expanded: a gap may be covered by one
    step.check("databasePrivileges", ("warn" if roles else "fail") if missing else "pass",
               {"user": step.params.db_user, "missing": missing, "granted": sorted(have.get("*.*", set()))[:40],
                "roles_not_expanded": roles},
               f"Grant {step.params.db_user} what it lacks: " + "; ".join(
                   f"GRANT {', '.join(privs)} ON {on} TO '{step.params.db_user}'" for on, privs in missing.items())
               + " (all needed grants: runbook grants --db-user " + step.params.db_user + ")" if missing else None)


def target_checks(step: Step, blue: Mapping[str, Any], green_groups_ready: bool = True) -> None:
    """The target version, and the green groups when they exist (when they do not yet, step 01's offer to make them
    from blue's groups records why: check greenGroups)."""
    p = step.params
    targets = step.rds.valid_upgrade_targets(blue["Engine"], blue["EngineVersion"])
    versions = [t["EngineVersion"] for t in targets]
    ok = p.target_engine_version in versions or p.target_engine_version == blue["EngineVersion"]
    step.check("targetVersion", "pass" if ok else "fail",
               {"current": blue["EngineVersion"], "target": p.target_engine_version, "valid_targets": versions},
               None if ok else f"Set target_engine_version to one of: {', '.join(versions)}")
    step.findings["valid_upgrade_targets"] = versions
    target = step.rds.engine_version(blue["Engine"], p.target_engine_version) if ok else None
    family = target.get("DBParameterGroupFamily") if target else None
    if not green_groups_ready:
        return

    group = step.rds.parameter_group(p.green_parameter_group)
    ok = family is None or group["DBParameterGroupFamily"] == family
    step.check("greenParameterGroupFamily", "pass" if ok else "fail",
               {"group": p.green_parameter_group, "family": group["DBParameterGroupFamily"], "needed": family},
               None if ok else f"green_parameter_group must be of family {family}: create one "
               f"(aws rds create-db-parameter-group --db-parameter-group-family {family} …) and name it.")
    params = step.rds.parameters(p.green_parameter_group)
    removed = sorted(n for n, v in params.items() if n in REMOVED_SYS_VARS and v.get("Source") == "user")
    step.check("greenParameterGroupRemovedVariables", "fail" if removed else "pass", {"removed_variables_set": removed},
               f"Reset {', '.join(removed)} in {p.green_parameter_group}: 8.0 removed them." if removed else None)
    scheduler = (params.get("event_scheduler") or {}).get("ParameterValue")
    ok = str(scheduler or "OFF").upper() not in ("ON", "1")
    step.check("greenEventSchedulerOff", "pass" if ok else "fail",
               {"group": p.green_parameter_group, "event_scheduler": scheduler},
               None if ok else f"Set event_scheduler=OFF in {p.green_parameter_group} until after the switchover "
               "(events on green would write to a replica).")

    if p.green_option_group:
        og = step.rds.option_group(p.green_option_group)
        ok = og.get("EngineName") == blue["Engine"] and og.get("MajorEngineVersion") == _major(p.target_engine_version)
        step.check("greenOptionGroupVersion", "pass" if ok else "fail",
                   {"group": p.green_option_group, "engine": og.get("EngineName"),
                    "major_version": og.get("MajorEngineVersion"), "needed": _major(p.target_engine_version)},
                   None if ok else f"green_option_group must be an option group for {blue['Engine']} "
                   f"{_major(p.target_engine_version)}.")
