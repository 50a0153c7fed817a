"""Least privilege, written down once: the database privileges and the IAM actions the runbook needs, each with
why. `runbook grants` prints them (SQL for a DB user, an IAM policy), step 01 simulates the IAM list and checks the
database user's grants against the DB list, and tests derive the IAM actions a real lab run called from its step
records and compare them with this list, so the documentation cannot drift from the code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

# -- the database user -------------------------------------------------------------------------------------------
# (privileges, on, why). `{probe}` is the probe's database. Blue and green both need them (green is checked before
# the switchover and is production after it).
DB_GRANTS: list[tuple[tuple[str, ...], str, str]] = [
    (("SELECT",), "*.*",
     "step 01: information_schema (tables without a primary key, the upgrade prechecks), mysql.* the prechecks "
     "read; step 05: the consistency comparison of every application table, mysql.rds_topology (the probe)"),
    (("PROCESS",), "*.*", "step 05: information_schema.innodb_trx (long write transactions on blue)"),
    (("REPLICATION CLIENT",), "*.*",
     "step 01: SHOW SLAVE STATUS on blue (not an external replica); step 05: SHOW SLAVE STATUS on green, SHOW MASTER "
     "STATUS on blue (the consistency comparison's replication point)"),
    (("LOCK TABLES",), "*.*",
     "step 05: the consistency comparison's exact retry reads a key range LOCK IN SHARE MODE, which MySQL 8.0.22+ "
     "allows only with SELECT plus LOCK TABLES (or UPDATE/DELETE)"),
    (("CREATE", "INSERT"), "`{probe}`.*",
     "step 05: the downtime probe creates its database and heartbeat table, and writes one row per attempt"),
]

# Privileges that imply others (MariaDB splits REPLICATION CLIENT into monitors; ALL and SUPER cover everything).
_SATISFIED_BY: dict[str, list[set[str]]] = {
    "REPLICATION CLIENT": [{"REPLICATION CLIENT"}, {"BINLOG MONITOR", "SLAVE MONITOR"},
                           {"BINLOG MONITOR", "REPLICA MONITOR"}, {"SUPER"}],
    "PROCESS": [{"PROCESS"}, {"SUPER"}],
}


def db_grant_sql(user: str, probe_database: str = "runbook_probe", host: str = "%") -> str:
    """SQL that creates a user with exactly the privileges the runbook needs (password and TLS required)."""
    lines = ["-- Database user for bluegreen-runbook (checks, consistency comparison, probe). Run as the master user on",
             "-- the blue instance before step 01; it replicates to green. Replace <password> (never in a parameter",
             "-- file: export it in the variable db_password_env names, or keep it in Secrets Manager).",
             f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '<password>' REQUIRE SSL;"]
    for privileges, on, why in DB_GRANTS:
        lines.append(f"-- {why}")
        lines.append(f"GRANT {', '.join(privileges)} ON {on.format(probe=probe_database)} TO '{user}'@'{host}';")
    return "\n".join(lines)


def granted(cur: Any) -> dict[str, set[str]]:
    """The current user's privileges by object ('*.*', 'db.*'), from SHOW GRANTS (names only: the password hash some
    servers print is never kept)."""
    cur.execute("SHOW GRANTS")
    have: dict[str, set[str]] = {}
    for (line,) in cur.fetchall():
        match = re.match(r"^GRANT (.+?) ON (?:TABLE )?(\S+) TO ", str(line))
        if not match:
            if str(line).startswith("GRANT "):   # a role granted to the user: counted as unknown below
                have.setdefault("(roles)", set()).add(str(line).split(" TO ")[0][6:])
            continue
        privileges = {p.strip().upper() for p in re.sub(r"\([^)]*\)", "", match.group(1)).split(",")}
        on = match.group(2).replace("`", "").lower()
        have.setdefault(on, set()).update(privileges)
    return have


def _has(have: Mapping[str, set[str]], privilege: str, on: str) -> bool:
    scopes = [have.get("*.*", set())]
    if on != "*.*":
        scopes.append(have.get(on.replace("`", "").lower(), set()))
    held = set().union(*scopes)
    if "ALL PRIVILEGES" in held or "ALL" in held:
        return True
    return any(option <= held for option in _SATISFIED_BY.get(privilege, [{privilege}]))


def missing(have: Mapping[str, set[str]], probe_database: str = "runbook_probe") -> dict[str, list[str]]:
    """Needed privileges the user lacks, by object ({} when none)."""
    out: dict[str, list[str]] = {}
    for privileges, on, _ in DB_GRANTS:
        target = on.format(probe=probe_database)
        lacking = [p for p in privileges if not _has(have, p, target)]
        if lacking:
            out.setdefault(target, []).extend(lacking)
    return out


# -- IAM -----------------------------------------------------------------------------------------------------------
# Actions the runbook calls itself (the step records' api_calls show them), with the step that calls each.
IAM_CALLED: dict[str, str] = {
    "rds:DescribeDBInstances": "every step (blue, green, the old blue)",
    "rds:DescribeDBParameters": "01 (binlog_format, green group), 05 comparison",
    "rds:DescribeDBParameterGroups": "01 (green group's family)",
    "rds:DescribeOptionGroups": "01 (green option group's version)",
    "rds:DescribeDBEngineVersions": "01 (ValidUpgradeTarget, target family)",
    "rds:DescribeBlueGreenDeployments": "02-06",
    "rds:CreateBlueGreenDeployment": "02",
    "rds:ModifyDBInstance": "03, 04 (upgrade green)",
    "rds:DescribeEvents": "02, 03, 05, 06",
    "rds:DescribeDBLogFiles": "04",
    "rds:DownloadDBLogFilePortion": "04 (PrePatchCompatibility.log)",
    "rds:SwitchoverBlueGreenDeployment": "05",
    "rds:DeleteBlueGreenDeployment": "06 (and 02 when it replaces a failed deployment)",
    "rds:DeleteDBInstance": "06 (the old blue)",
    "rds:DescribeDBSnapshots": "06 (the old blue's final snapshot)",
    "cloudwatch:GetMetricData": "05 (green's ReplicaLag)",
    "iam:GetRole": "01 (an assumed role's ARN with its path, for the simulation)",
    "iam:SimulatePrincipalPolicy": "01 (this list, simulated)",
    "secretsmanager:GetSecretValue": "every step that connects, when db_password_secret_id is set",
}
# Actions RDS authorizes on the caller for a call above (AWS User Guide, blue/green authorizing access; DeleteDBInstance
# with a final snapshot), though the runbook never calls them.
IAM_IMPLIED: dict[str, str] = {
    "rds:AddTagsToResource": "CreateBlueGreenDeployment (tags on the deployment and green)",
    "rds:CreateDBInstanceReadReplica": "CreateBlueGreenDeployment (green is a read replica of blue)",
    "rds:PromoteReadReplica": "SwitchoverBlueGreenDeployment (green is promoted)",
    "rds:CreateDBSnapshot": "DeleteDBInstance with FinalDBSnapshotIdentifier (step 06)",
}
# Calls that need no permission at all.
IAM_EXEMPT = {"sts:GetCallerIdentity"}


def iam_actions(secrets_manager: bool = True) -> list[str]:
    """Every IAM action the runbook needs, sorted; without Secrets Manager when no secret is used."""
    actions = set(IAM_CALLED) | set(IAM_IMPLIED)
    if not secrets_manager:
        actions.discard("secretsmanager:GetSecretValue")
    return sorted(actions)


def iam_policy(secrets_manager: bool = True) -> dict[str, Any]:
    """An IAM policy document allowing exactly those actions. Resources are '*': green's names are generated, so
    name patterns cannot be used (restrict with tag conditions if needed)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "BlueGreenRunbook", "Effect": "Allow",
         "Action": [a for a in iam_actions(secrets_manager) if not a.startswith("secretsmanager:")],
         "Resource": "*"},
        *([{"Sid": "BlueGreenRunbookPassword", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
            "Resource": "*"}] if secrets_manager else []),
    ]}


def actions_of_calls(calls: Iterable[str]) -> set[str]:
    """IAM actions for recorded `service:Operation` calls (the signing name is the IAM prefix for these services)."""
    return {c for c in calls if c not in IAM_EXEMPT}


def render(user: str, probe_database: str, host: str = "%", secrets_manager: bool = True,
           fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps({"db_sql": db_grant_sql(user, probe_database, host),
                           "db_privileges": [{"privileges": list(p), "on": on.format(probe=probe_database), "why": why}
                                             for p, on, why in DB_GRANTS],
                           "iam_policy": iam_policy(secrets_manager),
                           "iam_actions": {a: IAM_CALLED.get(a) or f"implied by {IAM_IMPLIED[a]}"
                                           for a in iam_actions(secrets_manager)}}, indent=2)
    why = "\n".join(f"#   {a:<36} {IAM_CALLED.get(a) or 'implied by ' + IAM_IMPLIED[a]}"
                    for a in iam_actions(secrets_manager))
    return (f"{db_grant_sql(user, probe_database, host)}\n\n"
            f"# IAM policy for the operator's role (why each action:)\n{why}\n"
            f"{json.dumps(iam_policy(secrets_manager), indent=2)}")
