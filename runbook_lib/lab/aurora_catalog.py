"""What the lab knows about Aurora MySQL that moto does not: engine versions with their upgrade targets, the cluster
parameter group families, and each family's engine-default cluster parameters with RDS's Source values.

Sources (docs/lab-rules.md, "Aurora MySQL clusters"): Aurora User Guide AuroraMySQL.Updates (version names
`<mysql major>.mysql_aurora.<aurora version>`), AuroraMySQL.Upgrading.Paths (2.x -> 3.x), the blue/green overview
(2.08 and 2.09 are neither source nor target), AuroraMySQL.Reference.ParameterGroups (cluster parameters)."""

from __future__ import annotations

from typing import Any

ENGINE = "aurora-mysql"

# version -> (cluster/instance parameter group family, the MySQL version the engine is compatible with)
AURORA_MYSQL_VERSIONS: dict[str, tuple[str, str]] = {
    "5.7.mysql_aurora.2.08.3": ("aurora-mysql5.7", "5.7.12"),
    "5.7.mysql_aurora.2.09.2": ("aurora-mysql5.7", "5.7.12"),
    "5.7.mysql_aurora.2.11.2": ("aurora-mysql5.7", "5.7.12"),
    "5.7.mysql_aurora.2.11.5": ("aurora-mysql5.7", "5.7.12"),
    "5.7.mysql_aurora.2.12.0": ("aurora-mysql5.7", "5.7.40"),
    "5.7.mysql_aurora.2.12.4": ("aurora-mysql5.7", "5.7.44"),
    "8.0.mysql_aurora.3.04.3": ("aurora-mysql8.0", "8.0.28"),
    "8.0.mysql_aurora.3.05.2": ("aurora-mysql8.0", "8.0.32"),
    "8.0.mysql_aurora.3.08.2": ("aurora-mysql8.0", "8.0.39"),
}
FAMILIES = ("aurora-mysql5.7", "aurora-mysql8.0")
DEFAULT_GROUP = {family: f"default.{family}" for family in FAMILIES}
# Aurora overview, limitations: "Aurora MySQL versions 2.08 and 2.09 aren't supported as a source or target".
NOT_FOR_BLUE_GREEN = ("2.08", "2.09")


def aurora_version(version: str) -> str:
    """`5.7.mysql_aurora.2.11.2` -> `2.11.2` (what `SELECT aurora_version()` answers)."""
    return version.split(".mysql_aurora.")[-1]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in aurora_version(version).split("."))


def is_aurora_mysql(version: str) -> bool:
    return version in AURORA_MYSQL_VERSIONS


def family_of(version: str) -> str | None:
    known = AURORA_MYSQL_VERSIONS.get(version)
    return known[0] if known else None


def mysql_version_of(version: str) -> str:
    """The MySQL version the lab's server reports for an Aurora version (its `VERSION()`)."""
    return AURORA_MYSQL_VERSIONS[version][1]


def major_of(version: str) -> str:
    """The Aurora major (`2` or `3`)."""
    return aurora_version(version).split(".")[0]


def blue_green_supported(version: str) -> bool:
    return ".".join(aurora_version(version).split(".")[:2]) not in NOT_FOR_BLUE_GREEN


def upgrade_targets(version: str) -> list[dict[str, Any]]:
    """ValidUpgradeTarget: later 2.x of a 2.x (minor), and 3.x (major) -- from 2.12 only 3.05 and later, since 2.12
    carries fixes 3.04 lacks (AuroraMySQL.Upgrading.Paths); 3.x to later 3.x."""
    out = []
    for target in sorted(AURORA_MYSQL_VERSIONS, key=_key):
        if _key(target) <= _key(version):
            continue
        major = major_of(target) != major_of(version)
        if major and (major_of(version) != "2" or (_key(version)[:2] >= (2, 12) and _key(target)[:2] < (3, 5))):
            continue
        out.append({"Engine": ENGINE, "EngineVersion": target, "Description": f"Aurora MySQL {aurora_version(target)}",
                    "AutoUpgrade": False, "IsMajorVersionUpgrade": major})
    return out


def engine_version_record(version: str) -> dict[str, Any]:
    family, mysql = AURORA_MYSQL_VERSIONS[version]
    return {
        "Engine": ENGINE, "EngineVersion": version, "DBParameterGroupFamily": family,
        "DBEngineDescription": "Aurora MySQL",
        "DBEngineVersionDescription": f"Aurora MySQL {aurora_version(version)} (compatible with MySQL {mysql})",
        "ValidUpgradeTarget": upgrade_targets(version),
        "ExportableLogTypes": ["audit", "error", "general", "slowquery"],
        "SupportsLogExportsToCloudwatchLogs": True, "SupportsReadReplica": False,
        "SupportedEngineModes": ["provisioned"], "Status": "available",
    }


def sorted_versions() -> list[str]:
    return sorted(AURORA_MYSQL_VERSIONS, key=_key)


# name -> (default value or None, data type, allowed values, apply type, source, modifiable)
Row = tuple[str | None, str, str, str, str, bool]
_CLUSTER_COMMON: dict[str, Row] = {
    # Binary logging is off in Aurora unless a custom cluster group sets binlog_format (User Guide
    # AuroraMySQL.Replication.MySQL.EnableBinlog); blue/green needs it on.
    "binlog_format": ("OFF", "string", "ROW,STATEMENT,MIXED,OFF", "static", "engine-default", True),
    "binlog_row_image": ("full", "string", "full,minimal,noblob", "dynamic", "engine-default", True),
    "binlog_checksum": ("CRC32", "string", "NONE,CRC32", "dynamic", "engine-default", True),
    "character_set_server": (None, "string", "big5,latin1,utf8,utf8mb4", "dynamic", "engine-default", True),
    "collation_server": (None, "string", "latin1_swedish_ci,utf8_general_ci,utf8mb4_general_ci",
                         "dynamic", "engine-default", True),
    "lower_case_table_names": (None, "integer", "0,1", "static", "engine-default", True),
    "time_zone": (None, "string", "UTC,Asia/Seoul,US/Eastern", "dynamic", "engine-default", True),
    "server_audit_logging": ("0", "boolean", "0,1", "dynamic", "engine-default", True),
    "innodb_file_per_table": ("1", "boolean", "0,1", "dynamic", "system", True),
    "aurora_binlog_replication_max_yield_seconds": ("0", "integer", "0-36000", "dynamic", "engine-default", True),
    "aurora_enable_repl_bin_log_filtering": ("1", "boolean", "0,1", "dynamic", "engine-default", True),
    "tls_version": ("TLSv1.2", "list", "TLSv1.2,TLSv1.3", "static", "system", True),
}
_CLUSTER_FAMILY: dict[str, dict[str, Row]] = {
    "aurora-mysql5.7": {
        "aurora_enable_repl_bin_log_filtering": ("1", "boolean", "0,1", "dynamic", "engine-default", True),
        "tx_isolation": (None, "string", "READ-UNCOMMITTED,READ-COMMITTED,REPEATABLE-READ,SERIALIZABLE",
                         "dynamic", "engine-default", True),
        # Instance-level, but a cluster parameter group holds defaults for instance-level parameters too (User
        # Guide USER_WorkingWithDBClusterParamGroups); removed in Aurora MySQL 3 with MySQL 8.0's query cache.
        "query_cache_size": ("{DBInstanceClassMemory/24}", "integer", "0-18446744073709551615", "dynamic",
                             "engine-default", True),
        "query_cache_type": ("1", "string", "0,1,2", "dynamic", "engine-default", True),
    },
    "aurora-mysql8.0": {
        # Aurora MySQL 3: event_scheduler is a cluster parameter; read_only too ({TrueIfReplica}).
        "event_scheduler": ("OFF", "string", "ON,OFF", "dynamic", "engine-default", True),
        "read_only": ("{TrueIfReplica}", "boolean", "0,1", "dynamic", "system", True),
        "transaction_isolation": (None, "string", "READ-UNCOMMITTED,READ-COMMITTED,REPEATABLE-READ,SERIALIZABLE",
                                  "dynamic", "engine-default", True),
    },
}


def cluster_default_parameters(family: str) -> dict[str, dict[str, Any]]:
    """A family's cluster parameters as DescribeDBClusterParameters shows them before any user change."""
    out: dict[str, dict[str, Any]] = {}
    for name, (value, dtype, allowed, apply_type, source, modifiable) in sorted(
            {**_CLUSTER_COMMON, **_CLUSTER_FAMILY[family]}.items()):
        record: dict[str, Any] = {"ParameterName": name, "Description": name, "Source": source, "ApplyType": apply_type,
                                  "DataType": dtype, "AllowedValues": allowed, "IsModifiable": modifiable,
                                  "ApplyMethod": "pending-reboot" if apply_type == "static" else "immediate",
                                  "SupportedEngineModes": ["provisioned"]}
        if value is not None:
            record["ParameterValue"] = value
        out[name] = record
    return out
