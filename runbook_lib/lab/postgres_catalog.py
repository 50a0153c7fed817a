"""What the lab knows about RDS for PostgreSQL and Aurora PostgreSQL that moto does not: engine versions with their
upgrade targets, the parameter group families, each family's engine-default parameters with RDS's Source values,
and the rule that decides which replication a blue/green deployment uses.

Sources (docs/lab-rules.md, "PostgreSQL"): RDS User Guide "PostgreSQL replication methods for blue/green deployments"
(the rule below), RDS User Guide "Creating a blue/green deployment" (preparing an RDS for PostgreSQL instance:
`rds.logical_replication`, slots, senders, workers), Aurora User Guide blue/green overview (Aurora PostgreSQL
replicates logically; `apg_plan_mgmt.capture_plan_baselines`, `rds.logically_replicate_unlogged_tables`). Default
values the documentation does not give are PostgreSQL's own (*assumed*)."""

from __future__ import annotations

from typing import Any

POSTGRES, AURORA_POSTGRES = "postgres", "aurora-postgresql"
ENGINES = (POSTGRES, AURORA_POSTGRES)

VERSIONS: dict[str, tuple[str, ...]] = {
    # 15.3 is kept as the "too old for a major version at creation" source (the replication-methods page).
    POSTGRES: ("14.8", "14.12", "15.3", "15.4", "15.7", "15.8", "16.1", "16.3", "16.4"),
    AURORA_POSTGRES: ("14.9", "14.12", "15.4", "15.7", "16.1", "16.4"),
}
# Families: RDS names them by major version (`postgres15`, `aurora-postgresql15`).
INSTANCE_FAMILIES = tuple(f"{e}{m}" for e in ENGINES for m in ("14", "15", "16"))
CLUSTER_FAMILIES = tuple(f"{AURORA_POSTGRES}{m}" for m in ("14", "15", "16"))

# Replication-methods page: a major version at creation replicates logically only from these minors (and later);
# older sources cannot take a major version at creation at all. Keyed by major.
LOGICAL_FROM_MINOR = {"11": (11, 21), "12": (12, 16), "13": (13, 12), "14": (14, 9), "15": (15, 4), "16": (16, 1)}


def key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def major_of(version: str) -> str:
    return version.split(".")[0]


def is_known(engine: str, version: str) -> bool:
    return version in VERSIONS.get(engine, ())


def family_of(engine: str, version: str) -> str | None:
    return f"{engine}{major_of(version)}" if is_known(engine, version) else None


def replication_method(engine: str, source_version: str, target_version: str) -> str:
    """'logical' or 'physical', as RDS chooses for a new deployment; ValueError when RDS refuses the request.

    The lab states the documented rule itself (it is the oracle the runbook's own
    `engines/postgresql/method.py` is tested against, so the two are deliberately not one function):
    Aurora PostgreSQL always replicates logically; RDS for PostgreSQL physically unless a higher major version is
    requested at creation, which needs a source of 16.1+, 15.4+, 14.9+, 13.12+, 12.16+ or 11.21+."""
    if engine == AURORA_POSTGRES:
        return "logical"
    if major_of(target_version) == major_of(source_version):
        return "physical"
    floor = LOGICAL_FROM_MINOR.get(major_of(source_version))
    if floor is not None and key(source_version)[:2] < floor:
        raise ValueError(
            f"Major version upgrades are not supported for blue/green deployments from PostgreSQL {source_version}. "
            f"Upgrade the source to {floor[0]}.{floor[1]} or a later {floor[0]} version first.")
    return "logical"


def upgrade_targets(engine: str, version: str) -> list[dict[str, Any]]:
    """ValidUpgradeTarget: later minors of the same major and every version of the next major."""
    out = []
    for target in sorted(VERSIONS[engine], key=key):
        if key(target) <= key(version):
            continue
        major = major_of(target) != major_of(version)
        if major and int(major_of(target)) != int(major_of(version)) + 1:
            continue
        out.append({"Engine": engine, "EngineVersion": target,
                    "Description": f"{_label(engine)} {target}", "AutoUpgrade": False,
                    "IsMajorVersionUpgrade": major})
    return out


def _label(engine: str) -> str:
    return "Aurora PostgreSQL" if engine == AURORA_POSTGRES else "PostgreSQL"


def engine_version_record(engine: str, version: str) -> dict[str, Any]:
    return {
        "Engine": engine, "EngineVersion": version, "DBParameterGroupFamily": f"{engine}{major_of(version)}",
        "DBEngineDescription": "Aurora (PostgreSQL)" if engine == AURORA_POSTGRES else "PostgreSQL",
        "DBEngineVersionDescription": f"{_label(engine)} {version}",
        "ValidUpgradeTarget": upgrade_targets(engine, version),
        "ExportableLogTypes": ["postgresql", "upgrade"],
        "SupportsLogExportsToCloudwatchLogs": True, "SupportsReadReplica": engine == POSTGRES,
        "SupportedEngineModes": ["provisioned"], "Status": "available",
    }


def engine_version_records() -> list[dict[str, Any]]:
    return [engine_version_record(e, v) for e in ENGINES for v in sorted(VERSIONS[e], key=key)]


# name -> (default value or None, data type, allowed values, apply type, source, modifiable)
Row = tuple[str | None, str, str, str, str, bool]
_REPLICATION: dict[str, Row] = {
    "rds.logical_replication": ("0", "boolean", "0,1", "static", "system", True),
    "max_replication_slots": ("20", "integer", "5-262143", "static", "engine-default", True),
    "max_wal_senders": ("20", "integer", "5-262143", "static", "engine-default", True),
    "max_logical_replication_workers": ("4", "integer", "0-262143", "static", "engine-default", True),
    "max_worker_processes": ("GREATEST(${DBInstanceVCPU*2},8)", "integer", "0-262143", "static", "system", True),
    "shared_preload_libraries": ("pg_stat_statements", "list",
                                 "auto_explain,orafce,pgaudit,pglogical,pg_cron,pg_hint_plan,pg_partman_bgw,"
                                 "pg_stat_statements", "static", "system", True),
    "logical_decoding_work_mem": ("65536", "integer", "64-2147483647", "dynamic", "engine-default", True),
    "wal_sender_timeout": ("60000", "integer", "0-3600000", "dynamic", "engine-default", True),
    "wal_receiver_timeout": ("60000", "integer", "0-3600000", "dynamic", "engine-default", True),
    "rds.logically_replicate_unlogged_tables": ("0", "boolean", "0,1", "dynamic", "engine-default", True),
}
_INSTANCE: dict[str, Row] = {
    "default_transaction_read_only": ("off", "boolean", "on,off", "dynamic", "engine-default", True),
    "max_connections": ("LEAST({DBInstanceClassMemory/9531392},5000)", "integer", "6-262143", "static", "system",
                        True),
    "rds.force_ssl": ("0", "boolean", "0,1", "dynamic", "system", True),
    "password_encryption": ("scram-sha-256", "string", "md5,scram-sha-256", "dynamic", "system", True),
    "timezone": ("UTC", "string", "", "dynamic", "system", True),
    "cron.database_name": (None, "string", "", "static", "engine-default", True),
    "track_commit_timestamp": ("off", "boolean", "on,off", "static", "engine-default", True),
}
_AURORA: dict[str, Row] = {
    "apg_plan_mgmt.capture_plan_baselines": ("off", "string", "automatic,manual,off", "dynamic", "engine-default",
                                             True),
}


def _rows(family: str, cluster: bool) -> dict[str, Row]:
    rows = dict(_REPLICATION)
    if family.startswith(AURORA_POSTGRES):
        rows.update(_AURORA)
        if not cluster:  # instance groups of Aurora hold the instance-level ones
            rows = {k: v for k, v in {**_INSTANCE, **_AURORA}.items() if k != "rds.force_ssl"}
    else:
        rows.update(_INSTANCE)
    return rows


def default_parameters(family: str, cluster: bool = False) -> dict[str, dict[str, Any]]:
    """A family's parameters as Describe(Cluster)Parameters / DescribeEngineDefault(Cluster)Parameters show them
    before any user change (cluster: the cluster parameter group of an Aurora PostgreSQL family)."""
    out: dict[str, dict[str, Any]] = {}
    for name, (value, dtype, allowed, apply_type, source, modifiable) in sorted(_rows(family, cluster).items()):
        record: dict[str, Any] = {"ParameterName": name, "Description": name.replace("_", " "), "Source": source,
                                  "ApplyType": apply_type, "DataType": dtype, "IsModifiable": modifiable,
                                  "ApplyMethod": "pending-reboot" if apply_type == "static" else "immediate"}
        if allowed:
            record["AllowedValues"] = allowed
        if cluster:
            record["SupportedEngineModes"] = ["provisioned"]
        if value is not None:
            record["ParameterValue"] = value
        out[name] = record
    return out


# Parameters a lab PostgreSQL server honours, as server settings (the rest are record-level).
SERVER_SETTINGS = ("logical_decoding_work_mem", "wal_sender_timeout", "wal_receiver_timeout")
