"""Preflight checks: every documented prerequisite and limitation of RDS blue/green deployments that can be
checked for an RDS for MySQL instance (shared/docs/rds-bluegreen-facts.md), and the guardrails to check
again right before a switchover. Each check records id, result (pass/warn/fail), evidence, remediation."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from . import db
from .errors import RunbookError
from .precheck.catalog import REMOVED_SYS_VARS
from .step import Step

# IAM actions of the flow (facts file: create, switchover, delete, and what the rest reads and changes).
IAM_ACTIONS = [
    "rds:CreateBlueGreenDeployment", "rds:AddTagsToResource", "rds:CreateDBInstanceReadReplica",
    "rds:SwitchoverBlueGreenDeployment", "rds:ModifyDBInstance", "rds:PromoteReadReplica",
    "rds:DeleteBlueGreenDeployment", "rds:DeleteDBInstance", "rds:DescribeDBInstances",
    "rds:DescribeBlueGreenDeployments", "rds:DescribeDBParameters", "rds:DescribeDBParameterGroups",
    "rds:DescribeOptionGroups", "rds:DescribeDBEngineVersions", "rds:DescribeDBLogFiles",
    "rds:DownloadDBLogFilePortion", "rds:DescribeEvents", "rds:CreateDBSnapshot", "cloudwatch:GetMetricData",
]
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
LONG_TRANSACTION_S = 60  # a write transaction older than this blocks the switchover


def _replica_status(cur: Any) -> dict[str, Any]:
    """SHOW SLAVE STATUS as a dict by column name ({} when the server replicates from nobody)."""
    cur.execute("SHOW SLAVE STATUS")
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else {}


def _major(version: str) -> str:
    return ".".join(version.split(".")[:2])


# -- before anything is created (step 01) ----------------------------------------------------------------
def source_checks(step: Step, blue: dict[str, Any]) -> None:
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
    with db.connect(blue["Endpoint"], p.db_user, step.password()) as conn, conn.cursor() as cur:
        try:
            row = _replica_status(cur)
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


def target_checks(step: Step, blue: dict[str, Any]) -> None:
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


def iam_permissions(step: Step) -> None:
    """Simulate the caller's permissions for every action of the flow."""
    clients = step.clients
    try:
        arn = clients.sts.get_caller_identity()["Arn"]
        match = re.match(r"arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/", arn)
        principal = f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}" if match else arn
        results = clients.iam.simulate_principal_policy(PolicySourceArn=principal, ActionNames=IAM_ACTIONS)
    except Exception as exc:  # noqa: BLE001 - cannot simulate: say so instead of passing
        step.check("iamPermissions", "warn", {"error": str(exc)[:300]},
                   "Could not simulate permissions (iam:SimulatePrincipalPolicy denied?); check the IAM table in "
                   "README.md by hand.")
        return
    denied = sorted(r["EvalActionName"] for r in results["EvaluationResults"] if r["EvalDecision"] != "allowed")
    step.check("iamPermissions", "fail" if denied else "pass", {"principal": principal, "denied": denied,
                                                                "checked": len(IAM_ACTIONS)},
               f"Grant {', '.join(denied)} to {principal} (green instance names are generated: use '*' or tag "
               "conditions, not name patterns)." if denied else None)


# -- right before the switchover (step 05) --------------------------------------------------------------
def before_switchover(step: Step, sides: Any) -> list[dict[str, Any]]:
    """Guardrails; raise before any change when one fails."""
    p = step.params
    d = sides.deployment
    step.check("deploymentAvailable", "pass" if d["Status"] == "AVAILABLE" else "fail",
               {"status": d["Status"], "details": d.get("StatusDetails")},
               None if d["Status"] == "AVAILABLE" else "Wait until the deployment is AVAILABLE (step 02).")
    green, blue = sides.green, sides.blue
    if green is None or blue is None:
        raise RunbookError("The deployment lacks its blue or green instance; it cannot be switched over.")
    password = step.password()
    with db.connect(green["Endpoint"], p.db_user, password) as conn, conn.cursor() as cur:
        row = _replica_status(cur)
        cur.execute("SELECT @@read_only")
        read_only = bool(cur.fetchone()[0])
    running = row.get("Slave_IO_Running") == "Yes" and row.get("Slave_SQL_Running") == "Yes"
    step.check("greenReplicating", "pass" if running else "fail",
               {"io": row.get("Slave_IO_Running"), "sql": row.get("Slave_SQL_Running"),
                "last_error": row.get("Last_SQL_Error") or row.get("Last_IO_Error")},
               None if running else "Replication to green is broken: fix the error shown (schema changes on green "
               "must be replication-compatible) or recreate the deployment.")
    step.check("greenReadOnly", "pass" if read_only else "fail", {"read_only": read_only},
               None if read_only else "Set read_only=1 on green (in its parameter group) so nothing writes there.")
    _replica_lag(step, green["DBInstanceIdentifier"])
    with db.connect(blue["Endpoint"], p.db_user, password) as conn, conn.cursor() as cur:
        cur.execute("SELECT trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, trx_started, NOW()), trx_rows_modified "
                    "FROM information_schema.innodb_trx WHERE TIMESTAMPDIFF(SECOND, trx_started, NOW()) >= %s",
                    (LONG_TRANSACTION_S,))
        long_trx = [{"thread": r[0], "age_s": r[1], "rows_modified": r[2]} for r in cur.fetchall()]
    step.check("noLongTransactions", "fail" if long_trx else "pass", {f"over_{LONG_TRANSACTION_S}s": long_trx},
               "Let these transactions finish (or kill them) before switching over: RDS refuses to switch while "
               "long write transactions run." if long_trx else None)
    _checksums(step, blue, green, password)
    failed = [c for c in step.checks if c["result"] == "fail"]
    if failed:
        raise RunbookError("Switchover preflight failed (nothing was changed): " + "; ".join(
            f"{c['id']}: {c['remediation'] or c['evidence']}" for c in failed))
    return step.checks


def _replica_lag(step: Step, green: str) -> None:
    p = step.params
    now = datetime.now(timezone.utc)
    try:
        data = step.clients.cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "lag", "MetricStat": {"Metric": {
                "Namespace": "AWS/RDS", "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": green}]}, "Period": 60, "Stat": "Maximum"}}],
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1))
        values = data["MetricDataResults"][0].get("Values", [])
    except Exception as exc:  # noqa: BLE001 - recorded as a warning: RDS's own guardrail still applies
        step.check("replicaLag", "warn", {"error": str(exc)[:300]}, "Check ReplicaLag of green in CloudWatch by hand.")
        return
    if not values:
        step.check("replicaLag", "warn", {"datapoints": 0}, "No ReplicaLag datapoint in the last 5 minutes yet.")
        return
    latest = float(values[0])
    ok = latest <= p.max_replica_lag_s
    step.check("replicaLag", "pass" if ok else "fail", {"ReplicaLag_s": latest, "max_replica_lag_s": p.max_replica_lag_s,
                                                        "source": "CloudWatch AWS/RDS ReplicaLag (Maximum, 1 min)"},
               None if ok else "Wait until green catches up (reduce write load), or raise max_replica_lag_s.")


def _checksums(step: Step, blue: dict[str, Any], green: dict[str, Any], password: str, attempts: int = 5) -> None:
    """CHECKSUM TABLE of every application table on both sides (a few tries: blue keeps changing)."""
    p = step.params
    skip = SYSTEM_SCHEMAS + (p.probe_database,)

    def sums(instance: dict[str, Any]) -> dict[str, int]:
        with db.connect(instance["Endpoint"], p.db_user, password) as conn, conn.cursor() as cur:
            cur.execute("SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables "
                        f"WHERE table_type = 'BASE TABLE' AND table_schema NOT IN {skip} ORDER BY 1")
            tables = [r[0] for r in cur.fetchall()]
            if not tables:
                return {}
            cur.execute(f"CHECKSUM TABLE {', '.join(tables)}")
            return {str(t): int(c or 0) for t, c in cur.fetchall()}
    different: list[str] = []
    for _ in range(attempts):
        left, right = sums(blue), sums(green)
        different = sorted(t for t in left.keys() | right.keys() if left.get(t) != right.get(t))
        if not different:
            break
        time.sleep(0.5)
    step.check("tableChecksums", "fail" if different else "pass", {"tables": len(left), "different": different[:50]},
               "Blue and green differ in these tables: writes on green, or replication filters. Compare them "
               "before switching over." if different else None)
