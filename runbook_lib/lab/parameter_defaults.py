"""The engine-default parameters the lab answers with for the mysql5.7 and mysql8.0 families (DescribeDBParameters,
DescribeEngineDefaultParameters), each with RDS's Source: `engine-default` (MySQL's own default applies; RDS shows
no value for most), `system` (RDS sets it). A representative set of everyday parameters, plus every variable the
MySQL 8.0 manual lists as removed (5.7 only), renamed (old name 5.7 only, new name in both), deprecated under a new
name, or with a changed default (engines/mysql/variables.py, the one list of those facts)."""

from __future__ import annotations

from typing import Any

from runbook_lib.engines.mysql import variables

# name -> (default value or None, data type, allowed values, apply type, source, modifiable)
Row = tuple[str | None, str, str, str, str, bool]
FAMILIES = ("mysql5.7", "mysql8.0")

_COMMON: dict[str, Row] = {
    "autocommit": ("1", "boolean", "0,1", "dynamic", "engine-default", True),
    "binlog_cache_size": ("32768", "integer", "4096-18446744073709547520", "dynamic", "engine-default", True),
    "binlog_checksum": ("CRC32", "string", "NONE,CRC32", "dynamic", "engine-default", True),
    "binlog_format": ("MIXED", "string", "ROW,STATEMENT,MIXED", "dynamic", "system", True),
    "binlog_row_image": ("full", "string", "full,minimal,noblob", "dynamic", "engine-default", True),
    "character_set_client": (None, "string", "big5,latin1,utf8,utf8mb4", "dynamic", "engine-default", True),
    "character_set_server": (None, "string", "big5,latin1,utf8,utf8mb4", "dynamic", "engine-default", True),
    "collation_server": (None, "string", "latin1_swedish_ci,utf8_general_ci,utf8mb4_general_ci,utf8mb4_0900_ai_ci",
                         "dynamic", "engine-default", True),
    "event_scheduler": ("OFF", "string", "ON,OFF", "dynamic", "engine-default", True),
    "explicit_defaults_for_timestamp": ("1", "boolean", "0,1", "dynamic", "engine-default", True),
    "general_log": (None, "boolean", "0,1", "dynamic", "engine-default", True),
    "gtid-mode": ("OFF_PERMISSIVE", "string", "OFF,OFF_PERMISSIVE,ON_PERMISSIVE,ON", "pending-reboot", "system", True),
    "enforce_gtid_consistency": ("OFF", "string", "OFF,WARN,ON", "pending-reboot", "system", True),
    "innodb_autoinc_lock_mode": ("1", "integer", "0-2", "static", "engine-default", True),
    "innodb_buffer_pool_size": ("{DBInstanceClassMemory*3/4}", "integer", "0-9223372036854775807", "static", "system",
                                True),
    "innodb_checksum_algorithm": (None, "string", "crc32,innodb,none,strict_crc32,strict_innodb,strict_none",
                                  "dynamic", "engine-default", True),
    "innodb_file_per_table": ("1", "boolean", "0,1", "dynamic", "system", True),
    "innodb_flush_log_at_trx_commit": ("1", "integer", "0,1,2", "dynamic", "system", True),
    "innodb_lock_wait_timeout": ("50", "integer", "1-1073741824", "dynamic", "engine-default", True),
    "innodb_rollback_segments": (None, "integer", "1-128", "dynamic", "engine-default", True),
    "innodb_stats_transient_sample_pages": (None, "integer", "1-18446744073709551615", "dynamic", "engine-default",
                                            True),
    "log_bin_trust_function_creators": (None, "boolean", "0,1", "dynamic", "engine-default", True),
    "log_error_verbosity": (None, "integer", "1-3", "dynamic", "engine-default", True),
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
    "transaction_isolation": (None, "string", "READ-UNCOMMITTED,READ-COMMITTED,REPEATABLE-READ,SERIALIZABLE",
                              "dynamic", "engine-default", True),
    "transaction_read_only": (None, "boolean", "0,1", "dynamic", "engine-default", True),
    "wait_timeout": (None, "integer", "1-31536000", "dynamic", "engine-default", True),
}
_ONLY_57: dict[str, Row] = {
    "query_cache_size": ("0", "integer", "0-18446744073709551615", "dynamic", "engine-default", True),
    "query_cache_type": ("0", "string", "0,1,2", "dynamic", "engine-default", True),
    "innodb_file_format": ("Barracuda", "string", "Antelope,Barracuda", "dynamic", "engine-default", True),
    "tx_isolation": (None, "string", "READ-UNCOMMITTED,READ-COMMITTED,REPEATABLE-READ,SERIALIZABLE", "dynamic",
                     "engine-default", True),
    "log_warnings": (None, "integer", "0-18446744073709551615", "dynamic", "engine-default", True),
}
_ONLY_80: dict[str, Row] = {
    "default_authentication_plugin": (None, "string", "mysql_native_password,caching_sha2_password", "static",
                                      "engine-default", True),
    "binlog_expire_logs_seconds": ("2592000", "integer", "0-4294967295", "dynamic", "engine-default", True),
    "innodb_dedicated_server": (None, "boolean", "0,1", "static", "engine-default", True),
    "activate_all_roles_on_login": ("0", "boolean", "0,1", "dynamic", "engine-default", True),
}
# What a MySQL server cannot change at run time or RDS does not let a parameter group set.
_STATIC = {"ignore_builtin_innodb", "ignore_db_dirs", "innodb_flush_method", "innodb_undo_tablespaces",
           "metadata_locks_cache_size", "metadata_locks_hash_instances", "thread_stack", "back_log",
           "innodb_file_format_check", "log_syslog", "log_syslog_facility", "log_syslog_include_pid", "log_syslog_tag",
           "master_info_repository", "relay_log_info_repository", "performance_schema_max_cond_classes",
           "performance_schema_max_memory_classes", "performance_schema_max_mutex_classes",
           "performance_schema_max_rwlock_classes", "performance_schema_max_stage_classes",
           "performance_schema_max_thread_classes", "default_authentication_plugin"}
_NOT_MODIFIABLE = {"have_crypt", "log_bin", "server_id", "character_set_system", "innodb_disable_resize_buffer_pool_debug"}
_NOT_ON_RDS_PREFIXES = ("ndb_",)   # RDS for MySQL has no NDB


def _dtype(*values: str) -> str:
    if all(v.upper() in ("ON", "OFF") for v in values):
        return "boolean"
    if all(v.lstrip("-").isdigit() for v in values):
        return "integer"
    return "string"


def _generic(name: str, value: str | None = None, dtype: str = "string") -> Row:
    return (value, dtype, "", "static" if name in _STATIC else "dynamic", "engine-default",
            name not in _NOT_MODIFIABLE)


def _table(family: str) -> dict[str, Row]:
    """Every parameter of a family: the representative set, then the variables facts module's lists."""
    table = dict(_COMMON)
    table.update(_ONLY_57 if family == "mysql5.7" else _ONLY_80)
    removed = {r.name for r in variables.REMOVED}
    if family == "mysql5.7":
        for r in variables.REMOVED:
            if r.in_57 and not r.name.startswith(_NOT_ON_RDS_PREFIXES):
                table.setdefault(r.name, _generic(r.name))
    for r in variables.REMOVED:
        if r.rename and r.replacement:
            table.setdefault(r.replacement, _generic(r.replacement))
    for old, (new, _) in variables.DEPRECATED_ALIASES.items():
        table.setdefault(old, _generic(old))
        if family != "mysql5.7":
            table.setdefault(new, _generic(new))
    for change in variables.DEFAULT_CHANGES:
        if change.name not in removed:
            table.setdefault(change.name, _generic(change.name, None, _dtype(change.old, change.new)))
    return table


def engine_default_parameters(family: str) -> dict[str, dict[str, Any]]:
    """The parameters of a family as describe_db_parameters shows them before any user change."""
    out: dict[str, dict[str, Any]] = {}
    for name, (value, dtype, allowed, apply_type, source, modifiable) in sorted(_table(family).items()):
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
