"""Preflight (step 01) for an Aurora MySQL cluster's blue/green deployment: each prerequisite and limitation the
Aurora overview (the project's second seed) and the shared facts name, checked against the live cluster, each as a
check record with evidence and the fix (docs/aurora-mysql.md lists the rules with their sources).

Inputs are what the RDS API returns (the DescribeDBClusters record, cluster parameters by name as
DescribeDBClusterParameters gives them) and a PyMySQL cursor on the writer (through the cluster endpoint); the
rules make no AWS call themselves except `iam_permissions`, which simulates the caller's policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runbook_lib.engines.check_record import CheckRecord, record

Parameters = Mapping[str, Mapping[str, Any]]

# Aurora overview, limitations: "Aurora MySQL versions 2.08 and 2.09 aren't supported as a source or target".
UNSUPPORTED = ("2.08", "2.09")
BINLOG_ON = ("ROW", "MIXED", "STATEMENT")
# Hours of binary log RDS keeps when asked; any non-NULL value passes, this is what the fix proposes.
RETENTION_HOURS = 24
# Aurora overview "Authorizing access" and the shared facts (IAM actions, Aurora column), plus what the flow reads.
CLUSTER_IAM_ACTIONS = sorted({
    "rds:CreateBlueGreenDeployment", "rds:AddTagsToResource", "rds:CreateDBCluster", "rds:CreateDBInstance",
    "rds:CreateDBClusterEndpoint", "rds:SwitchoverBlueGreenDeployment", "rds:ModifyDBCluster",
    "rds:PromoteReadReplicaDBCluster", "rds:DeleteBlueGreenDeployment", "rds:DeleteDBCluster",
    "rds:DeleteDBInstance", "rds:DeleteDBClusterEndpoint", "rds:DescribeDBClusters", "rds:DescribeDBInstances",
    "rds:DescribeBlueGreenDeployments", "rds:DescribeDBClusterParameters", "rds:DescribeDBClusterParameterGroups",
    "rds:DescribeDBClusterEndpoints", "rds:DescribeDBEngineVersions", "rds:DescribeEvents",
    "rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots"})


def aurora_version(version: str) -> str:
    """`5.7.mysql_aurora.2.11.5` -> `2.11.5`."""
    return version.split(".mysql_aurora.")[-1]


# Aurora MySQL 3 minor -> the MySQL 8.0 release it is compatible with (Aurora MySQL release notes); 2.x is 5.7.
_MYSQL_OF_AURORA3 = {"3.04": "8.0.28", "3.05": "8.0.32", "3.06": "8.0.34", "3.07": "8.0.36", "3.08": "8.0.39",
                     "3.09": "8.0.40", "3.10": "8.0.42"}


def mysql_compatible(version: str) -> str:
    """The MySQL version an Aurora MySQL version is compatible with (what the 5.7 -> 8.0 prechecks target)."""
    aurora = aurora_version(version)
    if aurora.startswith("3."):
        return _MYSQL_OF_AURORA3.get(".".join(aurora.split(".")[:2]), "8.0.32")
    return "5.7.44"


def _value(params: Parameters, name: str) -> str | None:
    value = (params.get(name) or {}).get("ParameterValue")
    return None if value is None else str(value)


def _writer(cluster: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((m for m in cluster.get("DBClusterMembers") or [] if m.get("IsClusterWriter")), None)


# -- the cluster record and its parameter group ----------------------------------------------------------------
def custom_cluster_parameter_group(cluster: Mapping[str, Any]) -> CheckRecord:
    """Binary logging needs a custom cluster parameter group: a default group (`default.*`) cannot be changed."""
    group = str(cluster.get("DBClusterParameterGroup") or "")
    ok = bool(group) and not group.startswith("default.")
    return record("auroraCustomClusterParameterGroup", "pass" if ok else "fail",
                  {"cluster": cluster.get("DBClusterIdentifier"), "cluster_parameter_group": group},
                  f"Create a custom DB cluster parameter group of the cluster's family (aws rds "
                  f"create-db-cluster-parameter-group …), set binlog_format=ROW in it, attach it to "
                  f"{cluster.get('DBClusterIdentifier')} (modify-db-cluster --db-cluster-parameter-group-name) and "
                  "reboot the writer.")


def binlog_format(cluster: Mapping[str, Any], params: Parameters) -> CheckRecord:
    """Aurora MySQL blue/green replicates with binary logs: binlog_format must be on (ROW recommended)."""
    value = _value(params, "binlog_format")
    on = (value or "").upper() in BINLOG_ON
    group = cluster.get("DBClusterParameterGroup")
    return record("auroraBinlogFormat", "pass" if on else "fail",
                  {"cluster_parameter_group": group, "binlog_format": value,
                   "source": (params.get("binlog_format") or {}).get("Source")},
                  f"Set binlog_format=ROW in {group} (a static parameter: reboot the writer afterwards).")


def writer_in_sync(cluster: Mapping[str, Any]) -> CheckRecord:
    """The writer must run with the group's current values (binlog_format is static: a reboot applies it)."""
    writer = _writer(cluster)
    status = (writer or {}).get("DBClusterParameterGroupStatus")
    ok = writer is not None and status == "in-sync"
    name = (writer or {}).get("DBInstanceIdentifier")
    return record("auroraWriterInSync", "pass" if ok else "fail",
                  {"writer": name, "DBClusterParameterGroupStatus": status},
                  f"Reboot the writer so it runs with the cluster parameter group: aws rds reboot-db-instance "
                  f"--db-instance-identifier {name}." if writer else "The cluster has no writer instance.")


def backtrack(cluster: Mapping[str, Any]) -> CheckRecord:
    """A backtracking source gets a green without backtrack, and backtracking blue breaks the deployment."""
    window = int(cluster.get("BacktrackWindow") or 0)
    return record("auroraBacktrack", "warn" if window else "pass", {"BacktrackWindow": window},
                  "Backtrack is on: the green cluster is created without it (binlog replication cannot backtrack), "
                  "and backtracking the blue cluster while the deployment exists stops it and blocks the "
                  "switchover. Do not backtrack until the deployment is deleted.")


def master_password_not_managed(cluster: Mapping[str, Any]) -> CheckRecord:
    managed = bool(cluster.get("MasterUserSecret"))
    return record("masterPasswordNotManaged", "fail" if managed else "pass", {"MasterUserSecret": managed},
                  "Blue/green deployments do not support a master password managed in Secrets Manager: turn it off "
                  f"(aws rds modify-db-cluster --db-cluster-identifier {cluster.get('DBClusterIdentifier')} "
                  "--no-manage-master-user-password --master-user-password …) first.")


def versions(source: str, target: str, valid_targets: Iterable[str]) -> CheckRecord:
    """Source and target must not be Aurora MySQL 2.08 or 2.09; the target must be a valid upgrade target."""
    valid = list(valid_targets)
    bad = [v for v in (source, target) if ".".join(aurora_version(v).split(".")[:2]) in UNSUPPORTED]
    reachable = target == source or target in valid
    ok = not bad and reachable
    fix = (f"Aurora MySQL {', '.join(aurora_version(v) for v in bad)} cannot be a blue/green source or target: "
           "upgrade the cluster in place to 2.11 or later first." if bad else
           f"Set target_engine_version to one of: {', '.join(valid) or '(none)'}.")
    return record("auroraVersions", "pass" if ok else "fail",
                  {"source": source, "target": target, "valid_targets": valid, "unsupported": bad}, fix)


def green_event_scheduler_off(group: str, params: Parameters) -> CheckRecord:
    """event_scheduler must be off in the green environment (events would write to green and diverge)."""
    value = _value(params, "event_scheduler")
    on = (value or "OFF").upper() in ("ON", "1")
    return record("greenEventSchedulerOff", "fail" if on else "pass", {"group": group, "event_scheduler": value},
                  f"Set event_scheduler=OFF in {group} until after the switchover.")


def green_read_only(target: str, group: str, params: Parameters) -> CheckRecord:
    """Aurora MySQL 3: the green cluster accepts writes by default; the overview recommends read_only=1 + reboot."""
    if aurora_version(target).split(".")[0] != "3":
        return record("greenReadOnly", "pass", {"target": target, "applies_to": "Aurora MySQL 3"}, None)
    value = _value(params, "read_only")
    ok = value in ("1", "ON")
    return record("greenReadOnly", "pass" if ok else "warn", {"target": target, "group": group, "read_only": value},
                  f"Aurora MySQL 3 green clusters accept writes by default: set read_only=1 in {group} and reboot "
                  "the green writer after creation, so nothing writes to green before the switchover (writes there "
                  "can break replication or land in production unnoticed).")


# -- inside the writer ---------------------------------------------------------------------------------------
def binlog_retention(cur: Any) -> CheckRecord:
    """`binlog retention hours` must not be NULL: binary logs could be purged before green read them."""
    try:
        cur.execute("CALL mysql.rds_show_configuration")
        rows = {str(r[0]): r[1] for r in cur.fetchall()}
        while cur.nextset():
            pass
    except Exception as exc:  # noqa: BLE001 - cannot read it: say so instead of passing
        return record("auroraBinlogRetention", "warn", {"error": str(exc)[:300]},
                      "Could not run CALL mysql.rds_show_configuration: grant EXECUTE to the check user, or check "
                      "binlog retention hours by hand.")
    value = rows.get("binlog retention hours")
    return record("auroraBinlogRetention", "fail" if value is None else "pass",
                  {"binlog retention hours": value},
                  f"On the writer: CALL mysql.rds_set_configuration('binlog retention hours', {RETENTION_HOURS});")


def no_tmp_database(cur: Any) -> CheckRecord:
    """A database named `tmp` is not copied to green (and a source with one is refused)."""
    cur.execute("SHOW DATABASES LIKE 'tmp'")
    found = bool(cur.fetchall())
    return record("auroraNoTmpDatabase", "fail" if found else "pass", {"database_tmp": found},
                  "Rename the database `tmp` (create a new schema, move its tables with RENAME TABLE tmp.t TO "
                  "new.t, drop `tmp`): Aurora blue/green does not copy it.")


# -- the caller --------------------------------------------------------------------------------------------
def iam_permissions(sts: Any, iam: Any, principal: str | None = None) -> CheckRecord:
    """The caller's permissions for every cluster action of the flow, simulated (iam:SimulatePrincipalPolicy)."""
    try:
        principal = principal or str(sts.get_caller_identity()["Arn"])
        results = iam.simulate_principal_policy(PolicySourceArn=principal, ActionNames=CLUSTER_IAM_ACTIONS)
    except Exception as exc:  # noqa: BLE001 - cannot simulate: say so instead of passing
        return record("iamPermissionsCluster", "warn", {"principal": principal, "error": str(exc)[:300]},
                      "Could not simulate permissions: check these actions by hand: " + ", ".join(CLUSTER_IAM_ACTIONS))
    denied = sorted(r["EvalActionName"] for r in results["EvaluationResults"] if r["EvalDecision"] != "allowed")
    return record("iamPermissionsCluster", "fail" if denied else "pass",
                  {"principal": principal, "denied": denied, "checked": len(CLUSTER_IAM_ACTIONS)},
                  f"Grant {', '.join(denied)} to {principal} (green names are generated: use '*' or tag conditions, "
                  "not name patterns).")


def source_rules(cluster: Mapping[str, Any], params: Parameters, cur: Any) -> list[CheckRecord]:
    """Every rule about the blue cluster (the record, its cluster parameter group, the writer)."""
    return [custom_cluster_parameter_group(cluster), binlog_format(cluster, params), writer_in_sync(cluster),
            binlog_retention(cur), no_tmp_database(cur), backtrack(cluster), master_password_not_managed(cluster)]


def target_rules(source: str, target: str, valid_targets: Iterable[str], group: str,
                 params: Parameters) -> list[CheckRecord]:
    """Every rule about the target version and green's cluster parameter group."""
    return [versions(source, target, valid_targets), green_event_scheduler_off(group, params),
            green_read_only(target, group, params)]
