"""What the lab knows about RDS for MySQL that moto does not: engine versions, upgrade paths, and (from
`parameter_defaults`) the engine-default parameters of each family with RDS's Source values."""

from __future__ import annotations

from typing import Any

from runbook_lib.lab import parameter_defaults

MYSQL_VERSIONS: dict[str, str] = {
    # version -> parameter group family
    "5.7.44": "mysql5.7",
    "8.0.32": "mysql8.0", "8.0.35": "mysql8.0", "8.0.36": "mysql8.0",
    "8.0.39": "mysql8.0", "8.0.40": "mysql8.0", "8.0.41": "mysql8.0",
}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def family_of(version: str) -> str | None:
    return MYSQL_VERSIONS.get(version)


def major_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def upgrade_targets(version: str) -> list[dict[str, Any]]:
    """ValidUpgradeTarget as RDS lists it: later versions of the same major, and the next major."""
    out = []
    for target in sorted(MYSQL_VERSIONS, key=_key):
        if _key(target) <= _key(version):
            continue
        major = major_of(target) != major_of(version)
        if major and major_of(version) != "5.7":
            continue
        out.append({"Engine": "mysql", "EngineVersion": target,
                    "Description": f"MySQL {target}", "AutoUpgrade": False,
                    "IsMajorVersionUpgrade": major})
    return out


def engine_version_record(version: str) -> dict[str, Any]:
    return {
        "Engine": "mysql", "EngineVersion": version,
        "DBParameterGroupFamily": MYSQL_VERSIONS[version],
        "DBEngineDescription": "MySQL Community Edition",
        "DBEngineVersionDescription": f"MySQL {version}",
        "ValidUpgradeTarget": upgrade_targets(version),
        "ExportableLogTypes": ["audit", "error", "general", "slowquery"],
        "SupportsLogExportsToCloudwatchLogs": True, "SupportsReadReplica": True,
        "Status": "available",
    }


def engine_default_parameters(family: str) -> dict[str, dict[str, Any]]:
    """The parameters of a family as describe_db_parameters shows them before any user change."""
    return parameter_defaults.engine_default_parameters(family)


# Settings of a parameter group that a MariaDB lab server can honour, and how to say them.
MARIADB_SETTINGS = {
    "binlog_format": "binlog-format",
    "binlog_row_image": "binlog-row-image",
    "character_set_server": "character-set-server",
    "collation_server": "collation-server",
    "event_scheduler": "event-scheduler",
    "innodb_lock_wait_timeout": "innodb-lock-wait-timeout",
    "max_allowed_packet": "max-allowed-packet",
    "max_connections": "max-connections",
    "sql_mode": "sql-mode",
    "transaction_isolation": "transaction-isolation",
    "tx_isolation": "transaction-isolation",          # 5.7's name for the same setting
    "wait_timeout": "wait-timeout",
    "long_query_time": "long-query-time",
    "require_secure_transport": "require-secure-transport",
}
