"""MySQL 5.7 -> 8.0 system variables: removed, renamed, deprecated aliases and changed defaults -- facts only.

One list for everything that needs them: the upgrade prechecks (`upgrade_checks.catalog` builds REMOVED_SYS_VARS and
NEW_DEFAULTS from it), step 01's green-group check, the 8.0 parameter-group planner (`parameter_groups`) and the lab's
engine-default parameter lists (`lab.parameter_defaults`).

Sources (docs/parameter-groups.md cites each):
- MySQL 8.0 Reference Manual, "Server and Status Variables and Options Added, Deprecated, or Removed in MySQL 8.0"
  (REMOVED_PAGE) and the MySQL Server Version Reference, "Option and Variable Changes for MySQL 8.0"
  (VERSION_REFERENCE_PAGE): release each variable was removed in, and its replacement.
- MySQL 8.0 Reference Manual, "Changes in MySQL 8.0", section "Changed Server Defaults" (DEFAULTS_PAGE).
- MySQL Shell's upgrade checker: its machine-readable record `res/upgrade_checker/sysvars.json` (removal, replacement,
  default per release) and, in 8.0.40, the removedSysVars / removedSysLogVars / sysVarsNewDefaults checks
  (`shell_gate`, `shell_text` below keep what the Shell itself reports, so the prechecks stay at parity).
"""

from __future__ import annotations

from dataclasses import dataclass

REMOVED_PAGE = "https://dev.mysql.com/doc/refman/8.0/en/added-deprecated-removed.html"
VERSION_REFERENCE_PAGE = "https://dev.mysql.com/doc/mysqld-version-reference/en/optvar-changes-8-0.html"
DEFAULTS_PAGE = "https://dev.mysql.com/doc/refman/8.0/en/upgrading-from-previous-series.html"
NUTSHELL_PAGE = "https://dev.mysql.com/doc/refman/8.0/en/mysql-nutshell.html"
SQL_MODE_PAGE = "https://dev.mysql.com/doc/refman/8.0/en/sql-mode.html"
SHELL_SYSVARS = "MySQL Shell, res/upgrade_checker/sysvars.json"


@dataclass(frozen=True)
class Removed:
    """A variable 5.7 has and 8.0 does not."""

    name: str
    removed_in: str
    why: str
    replacement: str | None = None
    # True: the replacement is the same setting under a new name (same values, same meaning), so a 5.7 value carries
    # over as is. False with a replacement: a different setting that covers the need; its own default applies.
    rename: bool = False
    # The version MySQL Shell 8.0.40 registers the removal under (its check runs when the upgrade crosses it);
    # None: not in the Shell's list.
    shell_gate: str | None = "8.0.11"
    shell_check: str = "removedSysVars"
    in_57: bool = True                 # False: introduced and removed inside 8.0 (the Shell lists it anyway)
    source: str = REMOVED_PAGE


_QC = "the query cache was removed in 8.0"
_FF = "8.0 has only the Barracuda file format; the setting has nothing left to choose"
_SYSLOG = "error logging to the system log moved to the log_sink_syseventlog component (8.0.13)"
REMOVED: tuple[Removed, ...] = (
    Removed("date_format", "8.0.3", "unused since 5.x; removed"),
    Removed("datetime_format", "8.0.3", "unused since 5.x; removed"),
    Removed("time_format", "8.0.3", "unused since 5.x; removed"),
    Removed("group_replication_allow_local_disjoint_gtids_join", "8.0.4", "deprecated in 5.7.21; removed"),
    Removed("have_crypt", "8.0.3", "ENCRYPT() was removed with it"),
    Removed("ignore_builtin_innodb", "8.0.3", "InnoDB cannot be replaced by a plugin in 8.0"),
    Removed("ignore_db_dirs", "8.0.0", "the data dictionary does not read schema directories"),
    Removed("innodb_checksums", "8.0.0", "replaced by innodb_checksum_algorithm (other values)",
            "innodb_checksum_algorithm"),
    Removed("innodb_disable_resize_buffer_pool_debug", "8.0.0", "debug builds only; removed"),
    Removed("innodb_file_format", "8.0.0", _FF),
    Removed("innodb_file_format_check", "8.0.0", _FF),
    Removed("innodb_file_format_max", "8.0.0", _FF),
    Removed("innodb_large_prefix", "8.0.0", "large index prefixes are always on in 8.0"),
    Removed("innodb_locks_unsafe_for_binlog", "8.0.0", "use the READ COMMITTED isolation level instead"),
    Removed("innodb_stats_sample_pages", "8.0.0", "renamed", "innodb_stats_transient_sample_pages", rename=True),
    Removed("innodb_support_xa", "8.0.0", "two-phase commit in XA transactions is always on in 8.0"),
    Removed("innodb_undo_logs", "8.0.2", "renamed", "innodb_rollback_segments", rename=True),
    Removed("log_warnings", "8.0.3", "replaced by log_error_verbosity (another scale: 1 errors, 2 +warnings, "
            "3 +notes)", "log_error_verbosity"),
    Removed("log_builtin_as_identified_by_password", "8.0.11", "removed with PASSWORD()-style account syntax"),
    Removed("log_error_filter_rules", "8.0.4", "replaced by the log_filter_internal component's rules",
            in_57=False),
    Removed("max_tmp_tables", "8.0.3", "unused; removed"),
    Removed("multi_range_count", "8.0.3", "unused since 5.1; removed"),
    Removed("old_passwords", "8.0.11", "removed with PASSWORD() and the pre-4.1 hash"),
    Removed("query_cache_limit", "8.0.3", _QC),
    Removed("query_cache_min_res_unit", "8.0.3", _QC),
    Removed("query_cache_size", "8.0.3", _QC),
    Removed("query_cache_type", "8.0.3", _QC),
    Removed("query_cache_wlock_invalidate", "8.0.3", _QC),
    Removed("secure_auth", "8.0.3", "the pre-4.1 password hash it refused is gone"),
    Removed("show_compatibility_56", "8.0.1", "INFORMATION_SCHEMA's status/variable tables moved to "
            "performance_schema"),
    Removed("sync_frm", "8.0.0", "8.0 has no .frm files (data dictionary)"),
    Removed("tx_isolation", "8.0.3", "renamed", "transaction_isolation", rename=True),
    Removed("tx_read_only", "8.0.3", "renamed", "transaction_read_only", rename=True),
    Removed("metadata_locks_cache_size", "8.0.13", "the metadata lock cache was rewritten; removed",
            shell_gate="8.0.13"),
    Removed("metadata_locks_hash_instances", "8.0.13", "the metadata lock cache was rewritten; removed",
            shell_gate="8.0.13"),
    Removed("internal_tmp_disk_storage_engine", "8.0.16", "on-disk internal temporary tables are always InnoDB",
            shell_gate="8.0.16"),
    Removed("log_syslog", "8.0.13", _SYSLOG, shell_gate="8.0.13", shell_check="removedSysLogVars"),
    Removed("log_syslog_facility", "8.0.13", _SYSLOG, "syseventlog.facility", shell_gate="8.0.13",
            shell_check="removedSysLogVars"),
    Removed("log_syslog_include_pid", "8.0.13", _SYSLOG, "syseventlog.include_pid", shell_gate="8.0.13",
            shell_check="removedSysLogVars"),
    Removed("log_syslog_tag", "8.0.13", _SYSLOG, "syseventlog.tag", shell_gate="8.0.13",
            shell_check="removedSysLogVars"),
    Removed("ndb_cache_check_time", "8.0.1", "NDB only; removed with the query cache", shell_gate=None,
            source=VERSION_REFERENCE_PAGE),
)
REMOVED_BY_NAME: dict[str, Removed] = {r.name: r for r in REMOVED}


@dataclass(frozen=True)
class DefaultChange:
    """A variable whose compiled-in default differs between 5.7 and 8.0 (as of the latest 8.0 release)."""

    name: str
    changed_in: str
    old: str
    new: str
    why: str = ""
    # MySQL Shell 8.0.40's sysVarsNewDefaults wording ("from X to Y"); None: the Shell does not list it.
    shell_text: str | None = None
    source: str = DEFAULTS_PAGE


DEFAULT_CHANGES: tuple[DefaultChange, ...] = (
    # The "Changed Server Defaults" table (MySQL Shell 8.0.40 reports these 26).
    DefaultChange("character_set_server", "8.0.1", "latin1", "utf8mb4", "new schemas and tables default to utf8mb4",
                  "from latin1 to utf8mb4"),
    DefaultChange("collation_server", "8.0.1", "latin1_swedish_ci", "utf8mb4_0900_ai_ci", "",
                  "from latin1_swedish_ci to utf8mb4_0900_ai_ci"),
    DefaultChange("explicit_defaults_for_timestamp", "8.0.2", "OFF", "ON",
                  "TIMESTAMP columns no longer get implicit DEFAULT/ON UPDATE CURRENT_TIMESTAMP", "from OFF to ON"),
    DefaultChange("optimizer_trace_max_mem_size", "8.0.4", "16384", "1048576", "", "from 16KB to 1MB"),
    DefaultChange("back_log", "8.0.1", "autosized: 50 + max_connections/5, at most 900", "autosized: max_connections", "",
                  "now derived from max_connections"),
    DefaultChange("max_allowed_packet", "8.0.3", "4194304", "67108864", "", "from 4194304 (4MB) to 67108864 (64MB)"),
    DefaultChange("max_error_count", "8.0.3", "64", "1024", "", "from 64 to 1024"),
    DefaultChange("event_scheduler", "8.0.3", "OFF", "ON",
                  "events run on 8.0 unless turned off (a blue/green green must keep it OFF)", "from OFF to ON"),
    DefaultChange("table_open_cache", "8.0.4", "2000", "4000", "", "from 2000 to 4000"),
    DefaultChange("log_error_verbosity", "8.0.4", "3", "2", "notes are no longer written to the error log",
                  "from 3 (Notes) to 2 (Warning)"),
    DefaultChange("innodb_undo_tablespaces", "8.0.2", "0", "2", "", "from 0 to 2"),
    DefaultChange("innodb_undo_log_truncate", "8.0.2", "OFF", "ON", "", "from OFF to ON"),
    DefaultChange("innodb_flush_method", "8.0.0", "NULL", "fsync", "", "from NULL to fsync (Unix)"),
    DefaultChange("innodb_autoinc_lock_mode", "8.0.3", "1", "2",
                  "interleaved auto-increment locking; statement-based replication of multi-row inserts can differ",
                  "from 1 (consecutive) to 2 (interleaved)"),
    DefaultChange("innodb_flush_neighbors", "8.0.3", "1", "0", "", "from 1 (enable) to 0 (disable)"),
    DefaultChange("innodb_max_dirty_pages_pct_lwm", "8.0.3", "0", "10", "", "from 0 (%) to 10 (%)"),
    DefaultChange("innodb_max_dirty_pages_pct", "8.0.3", "75", "90", "", "from 75 (%) to 90 (%)"),
    DefaultChange("performance_schema_consumer_events_transactions_current", "8.0.11", "OFF", "ON", "",
                  "from OFF to ON"),
    DefaultChange("performance_schema_consumer_events_transactions_history", "8.0.11", "OFF", "ON", "",
                  "from OFF to ON"),
    DefaultChange("log_bin", "8.0.11", "OFF", "ON", "", "from OFF to ON"),
    DefaultChange("server_id", "8.0.3", "0", "1", "", "from 0 to 1"),
    DefaultChange("log_slave_updates", "8.0.3", "OFF", "ON", "", "from OFF to ON"),
    DefaultChange("master_info_repository", "8.0.2", "FILE", "TABLE", "", "from FILE to TABLE"),
    DefaultChange("relay_log_info_repository", "8.0.2", "FILE", "TABLE", "", "from FILE to TABLE"),
    DefaultChange("transaction_write_set_extraction", "8.0.2", "OFF", "XXHASH64", "", "from OFF to XXHASH64"),
    DefaultChange("slave_rows_search_algorithms", "8.0.2", "INDEX_SCAN,TABLE_SCAN", "INDEX_SCAN,HASH_SCAN", "",
                  "from 'INDEX_SCAN, TABLE_SCAN' to 'INDEX_SCAN, HASH_SCAN'"),
    # The rest of MySQL Shell's sysvars.json changes between 5.7 and the latest 8.0 (the manual's table grew with
    # later 8.0 releases; the Shell 8.0.40 check does not report these).
    DefaultChange("character_set_client", "8.0.1", "utf8", "utf8mb4", source=SHELL_SYSVARS),
    DefaultChange("character_set_connection", "8.0.1", "utf8", "utf8mb4", source=SHELL_SYSVARS),
    DefaultChange("character_set_results", "8.0.1", "utf8", "utf8mb4", source=SHELL_SYSVARS),
    DefaultChange("character_set_database", "8.0.1", "latin1", "utf8mb4", source=SHELL_SYSVARS),
    DefaultChange("collation_database", "8.0.1", "latin1_swedish_ci", "utf8mb4_0900_ai_ci", source=SHELL_SYSVARS),
    DefaultChange("default_authentication_plugin", "8.0.4", "mysql_native_password", "caching_sha2_password",
                  "new accounts get caching_sha2_password; old clients may not speak it"),
    DefaultChange("local_infile", "8.0.2", "ON", "OFF", "LOAD DATA LOCAL is refused unless turned on"),
    DefaultChange("max_length_for_sort_data", "8.0.1", "1024", "4096", source=SHELL_SYSVARS),
    DefaultChange("gtid_executed_compression_period", "8.0.23", "1000", "0", source=SHELL_SYSVARS),
    DefaultChange("slave_pending_jobs_size_max", "8.0.12", "16777216", "134217728"),
    DefaultChange("slave_parallel_type", "8.0.27", "DATABASE", "LOGICAL_CLOCK", "multithreaded replica by default"),
    DefaultChange("slave_parallel_workers", "8.0.27", "0", "4", "multithreaded replica by default"),
    DefaultChange("slave_preserve_commit_order", "8.0.27", "OFF", "ON", "multithreaded replica by default"),
    DefaultChange("thread_stack", "8.0.27", "262144", "1048576", source=SHELL_SYSVARS),
    DefaultChange("tls_version", "8.0.28", "TLSv1,TLSv1.1,TLSv1.2", "TLSv1.2,TLSv1.3",
                  "TLSv1 and TLSv1.1 clients cannot connect", source=SHELL_SYSVARS),
    DefaultChange("group_replication_components_stop_timeout", "8.0.27", "31536000", "300", source=SHELL_SYSVARS),
    DefaultChange("performance_schema_max_cond_classes", "8.0.27", "80", "150", source=SHELL_SYSVARS),
    DefaultChange("performance_schema_max_memory_classes", "8.0.1", "320", "450", source=SHELL_SYSVARS),
    DefaultChange("performance_schema_max_mutex_classes", "8.0.27", "200", "350", source=SHELL_SYSVARS),
    DefaultChange("performance_schema_max_rwlock_classes", "8.0.12", "50", "100", source=SHELL_SYSVARS),
    DefaultChange("performance_schema_max_stage_classes", "8.0.13", "150", "175", source=SHELL_SYSVARS),
    DefaultChange("performance_schema_max_thread_classes", "8.0.3", "50", "100", source=SHELL_SYSVARS),
)
DEFAULT_CHANGES_BY_NAME: dict[str, DefaultChange] = {d.name: d for d in DEFAULT_CHANGES}

# Deprecated in 8.0 under a new name (both names work in every 8.0 release): a 5.7 value carries over as is.
DEPRECATED_ALIASES: dict[str, tuple[str, str]] = {  # old -> (new, deprecated in)
    "init_slave": ("init_replica", "8.0.26"),
    "log_slave_updates": ("log_replica_updates", "8.0.26"),
    "log_slow_slave_statements": ("log_slow_replica_statements", "8.0.26"),
    "pseudo_slave_mode": ("pseudo_replica_mode", "8.0.26"),
    "rpl_stop_slave_timeout": ("rpl_stop_replica_timeout", "8.0.26"),
    "slave_checkpoint_group": ("replica_checkpoint_group", "8.0.26"),
    "slave_checkpoint_period": ("replica_checkpoint_period", "8.0.26"),
    "slave_compressed_protocol": ("replica_compressed_protocol", "8.0.18"),
    "slave_load_tmpdir": ("replica_load_tmpdir", "8.0.26"),
    "slave_max_allowed_packet": ("replica_max_allowed_packet", "8.0.26"),
    "slave_net_timeout": ("replica_net_timeout", "8.0.26"),
    "slave_parallel_type": ("replica_parallel_type", "8.0.26"),
    "slave_parallel_workers": ("replica_parallel_workers", "8.0.26"),
    "slave_pending_jobs_size_max": ("replica_pending_jobs_size_max", "8.0.26"),
    "slave_preserve_commit_order": ("replica_preserve_commit_order", "8.0.26"),
    "slave_sql_verify_checksum": ("replica_sql_verify_checksum", "8.0.26"),
    "slave_transaction_retries": ("replica_transaction_retries", "8.0.26"),
    "slave_type_conversions": ("replica_type_conversions", "8.0.26"),
}

# sql_mode flags 8.0 removed (Features Removed in MySQL 8.0; the Shell's obsoleteSqlModeFlags list): a server whose
# configuration names one refuses to start.
REMOVED_SQL_MODES: tuple[str, ...] = ("NO_AUTO_CREATE_USER", "DB2", "MAXDB", "MSSQL", "MYSQL323", "MYSQL40", "ORACLE",
                                      "POSTGRESQL", "NO_FIELD_OPTIONS", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS")


def renamed() -> dict[str, str]:
    """Old name -> new name, for the removals that are renames."""
    return {r.name: r.replacement for r in REMOVED if r.rename and r.replacement}


def version_key(version: str) -> tuple[int, int, int]:
    parts = [int(p) for p in version.split("-")[0].split(".")[:3] if p.isdigit()]
    parts += [0] * (3 - len(parts))
    return (parts[0], parts[1], parts[2])


def removed_for(target: str, source: str = "5.7.44") -> dict[str, Removed]:
    """The removals an upgrade from `source` to `target` crosses."""
    s, t = version_key(source), version_key(target)
    return {r.name: r for r in REMOVED if s < version_key(r.removed_in) <= t}
