"""What the lab knows about RDS for MySQL that moto does not: engine versions, upgrade paths and the
engine-default parameters of each family (a representative subset, with RDS's Source values)."""

from __future__ import annotations

from typing import Any

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


# name -> (default value or None, data type, allowed values, apply type, source, modifiable)
_COMMON: dict[str, tuple[str | None, str, str, str, str, bool]] = {
    "autocommit": ("1", "boolean", "0,1", "dynamic", "engine-default", True),
    "binlog_cache_size": ("32768", "integer", "4096-18446744073709547520", "dynamic", "engine-default", True),
    "binlog_checksum": ("CRC32", "string", "NONE,CRC32", "dynamic", "engine-default", True),
    "binlog_format": ("MIXED", "string", "ROW,STATEMENT,MIXED", "dynamic", "system", True),
    "binlog_row_image": ("full", "string", "full,minimal,noblob", "dynamic", "engine-default", True),
    "character_set_client": (None, "string", "big5,latin1,utf8,utf8mb4", "dynamic", "engine-default", True),
    "character_set_server": (None, "string", "big5,latin1,utf8,utf8mb4", "dynamic", "engine-default", True),
    "collation_server": (None, "string", "latin1_swedish_ci,utf8_general_ci,utf8mb4_general_ci,utf8mb4_0900_ai_ci", "dynamic", "engine-default", True),
    "event_scheduler": ("OFF", "string", "ON,OFF", "dynamic", "engine-default", True),
    "explicit_defaults_for_timestamp": ("1", "boolean", "0,1", "dynamic", "engine-default", True),
    "general_log": (None, "boolean", "0,1", "dynamic", "engine-default", True),
    "gtid-mode": ("OFF_PERMISSIVE", "string", "OFF,OFF_PERMISSIVE,ON_PERMISSIVE,ON", "pending-reboot", "system", True),
    "enforce_gtid_consistency": ("OFF", "string", "OFF,WARN,ON", "pending-reboot", "system", True),
    "innodb_autoinc_lock_mode": ("1", "integer", "0-2", "static", "engine-default", True),
    "innodb_buffer_pool_size": ("{DBInstanceClassMemory*3/4}", "integer", "0-9223372036854775807", "static", "system", True),
    "innodb_file_per_table": ("1", "boolean", "0,1", "dynamic", "system", True),
    "innodb_flush_log_at_trx_commit": ("1", "integer", "0,1,2", "dynamic", "system", True),
    "innodb_lock_wait_timeout": ("50", "integer", "1-1073741824", "dynamic", "engine-default", True),
    "log_bin_trust_function_creators": (None, "boolean", "0,1", "dynamic", "engine-default", True),
    "log_output": ("TABLE", "string", "TABLE,FILE,NONE", "dynamic", "system", True),
    "long_query_time": (None, "float", "0-31536000", "dynamic", "engine-default", True),
    "lower_case_table_names": (None, "integer", "0,1", "static", "engine-default", True),
    "max_allowed_packet": (None, "integer", "1024-1073741824", "dynamic", "engine-default", True),
    "max_connections": ("{DBInstanceClassMemory/12582880}", "integer", "1-100000", "dynamic", "system", True),
    "read_only": ("{TrueIfReplica}", "boolean", "0,1", "dynamic", "system", True),
    "server_id": (None, "integer", "", "static", "system", False),
    "slow_query_log": (None, "boolean", "0,1", "dynamic", "engine-default", True),
    "sql_mode": (None, "string", "", "dynamic", "engine-default", True),
    "time_zone": (None, "string", "UTC,Asia/Seoul,US/Eastern", "dynamic", "engine-default", True),
    "transaction_isolation": (None, "string", "READ-UNCOMMITTED,READ-COMMITTED,REPEATABLE-READ,SERIALIZABLE", "dynamic", "engine-default", True),
    "wait_timeout": (None, "integer", "1-31536000", "dynamic", "engine-default", True),
}
_ONLY_57 = {
    "query_cache_size": ("0", "integer", "0-18446744073709551615", "dynamic", "engine-default", True),
    "query_cache_type": ("0", "string", "0,1,2", "dynamic", "engine-default", True),
    "innodb_file_format": ("Barracuda", "string", "Antelope,Barracuda", "dynamic", "engine-default", True),
    "innodb_large_prefix": (None, "boolean", "0,1", "dynamic", "engine-default", True),
    "tx_isolation": (None, "string", "READ-UNCOMMITTED,READ-COMMITTED,REPEATABLE-READ,SERIALIZABLE", "dynamic", "engine-default", True),
    "log_warnings": (None, "integer", "0-18446744073709551615", "dynamic", "engine-default", True),
    "show_compatibility_56": (None, "boolean", "0,1", "dynamic", "engine-default", True),
}
_ONLY_80 = {
    "default_authentication_plugin": (None, "string", "mysql_native_password,caching_sha2_password", "static", "engine-default", True),
    "binlog_expire_logs_seconds": ("2592000", "integer", "0-4294967295", "dynamic", "engine-default", True),
    "innodb_dedicated_server": (None, "boolean", "0,1", "static", "engine-default", True),
    "activate_all_roles_on_login": ("0", "boolean", "0,1", "dynamic", "engine-default", True),
}


def engine_default_parameters(family: str) -> dict[str, dict[str, Any]]:
    """The parameters of a family as describe_db_parameters shows them before any user change."""
    table = dict(_COMMON)
    table.update(_ONLY_57 if family == "mysql5.7" else _ONLY_80)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(table):
        value, dtype, allowed, apply_type, source, modifiable = table[name]
        record: dict[str, Any] = {
            "ParameterName": name, "Description": name.replace("_", " "), "Source": source,
            "ApplyType": apply_type, "DataType": dtype, "IsModifiable": modifiable,
            "ApplyMethod": "pending-reboot",
        }
        if allowed:
            record["AllowedValues"] = allowed
        if value is not None:
            record["ParameterValue"] = value
        out[name] = record
    return out


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
    "wait_timeout": "wait-timeout",
    "long_query_time": "long-query-time",
}
