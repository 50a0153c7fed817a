"""The 5.7 -> 8.0 upgrade check catalogue (MySQL Shell / Aurora ids, titles and levels, spelling kept),
which targets each check applies to, and what to do about each finding."""

from __future__ import annotations

import re
from dataclasses import dataclass


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("-")[0].split(".")[:3] if p.isdigit())


@dataclass(frozen=True)
class CheckInfo:
    id: str
    title: str
    level: str                    # Error | Warning | Notice | per-row
    description: str
    remediation: str
    min_target: str | None = None  # applies to targets >= this
    max_target: str | None = None  # applies to targets <= this

    def applies_to(self, target: str) -> bool:
        t = version_key(target)
        if self.min_target and t < version_key(self.min_target):
            return False
        return not (self.max_target and t > version_key(self.max_target))

    @property
    def link(self) -> str:
        return "https://dev.mysql.com/doc/mysql-shell/8.0/en/mysql-shell-utilities-upgrade.html"


_ALL = [
    CheckInfo("oldTemporalCheck", "Usage of old temporal type", "Error",
              "Error: Following table columns use a deprecated and no longer supported temporal disk storage format. "
              "They must be converted to the new format before upgrading.",
              "Rebuild the table so its DATETIME/TIME/TIMESTAMP columns take the new format: ALTER TABLE {table} FORCE;"),
    CheckInfo("routinesSyntaxCheck", "MySQL syntax check for routine-like objects", "Error",
              "The following objects did not pass a syntax check with the latest MySQL grammar (APPROXIMATE here: a "
              "scan for words reserved in 8.0 used as bare identifiers in stored bodies). A list of reserved words "
              "as of MySQL 8.0 can be found at https://dev.mysql.com/doc/refman/8.0/en/keywords.html",
              "Quote the reserved word with backticks in the body of {object} (e.g. `rank`) and recreate it."),
    CheckInfo("reservedKeywordsCheck", "Usage of db objects with names conflicting with new reserved keywords",
              "Warning", "Warning: The following objects have names that conflict with new reserved keywords. Ensure "
              "queries sent by your applications use `quotes` when referring to them or they will result in errors.",
              "Quote the name with backticks everywhere it is used, or rename the object."),
    CheckInfo("utf8mb3Check", "Usage of utf8mb3 charset", "Warning",
              "Warning: The following objects use the utf8mb3 character set. It is recommended to convert them to use "
              "utf8mb4 instead, for improved Unicode support.",
              "Convert the schema or table to utf8mb4 (ALTER DATABASE/TABLE … CONVERT TO CHARACTER SET utf8mb4)."),
    CheckInfo("mysqlSchemaCheck", "Table names in the mysql schema conflicting with new tables in 8.0", "Error",
              "Error: The following tables in mysql schema have names that will conflict with the ones introduced in "
              "8.0 version. They must be renamed or removed before upgrading (use RENAME TABLE command).",
              "Rename the table out of the way (RENAME TABLE) or drop it if unused."),
    CheckInfo("nonNativePartitioningCheck", "Partitioned tables using engines with non native partitioning", "Error",
              "Error: In MySQL 8.0 storage engine is responsible for providing its own partitioning handler, and the "
              "MySQL server no longer provides generic partitioning support. InnoDB and NDB are the only storage "
              "engines that provide a native partitioning handler that is supported in MySQL 8.0.",
              "Move the table to InnoDB: ALTER TABLE {table} ENGINE=InnoDB; (or remove partitioning: ALTER TABLE "
              "{table} REMOVE PARTITIONING;)"),
    CheckInfo("foreignKeyLengthCheck", "Foreign key constraint names longer than 64 characters", "Error",
              "Error: The following tables contain foreign key constraint names longer than 64 characters. They must "
              "be renamed before upgrading.",
              "ALTER TABLE {table} DROP FOREIGN KEY <long name>, ADD CONSTRAINT <name of 64 characters or less> "
              "FOREIGN KEY …;"),
    CheckInfo("maxdbFlagCheck", "Usage of obsolete MAXDB sql_mode flag", "Warning",
              "Warning: The following DB objects have the obsolete MAXDB option persisted for sql_mode, which will be "
              "cleared during upgrade to 8.0. It can potentially change the datatype DATETIME into TIMESTAMP if it is "
              "used inside object's definition, and this in turn can change the behavior in case of dates earlier "
              "than 1970 or later than 2037. If this is a concern, please redefine these objects so that they do not "
              "rely on the MAXDB flag before running the upgrade to 8.0.",
              "Recreate {object} under an sql_mode without MAXDB (SET SESSION sql_mode = …; then DROP/CREATE)."),
    CheckInfo("sqlModeFlagCheck", "Usage of obsolete sql_mode flags", "Notice",
              "Notice: The following DB objects have obsolete options persisted for sql_mode, which will be cleared "
              "during upgrade to 8.0.",
              "Recreate {object} under an sql_mode without the obsolete flag (NO_AUTO_CREATE_USER is simply dropped "
              "by 8.0; no action is required for it alone)."),
    CheckInfo("enumSetElementLenghtCheck", "ENUM/SET column definitions containing elements longer than 255 characters",
              "Error", "Error: The following columns are defined as ENUM/SET and contain at least one element longer "
              "than 255 characters. They need to be altered so that all elements fit into the 255 characters limit.",
              "ALTER TABLE {table} MODIFY {column} … with elements of at most 255 characters (or use VARCHAR)."),
    CheckInfo("partitionedTablesInSharedTablespaceCheck", "Usage of partitioned tables in shared tablespaces", "Error",
              "Error: The following tables have partitions in shared tablespaces. They need to be moved to "
              "file-per-table tablespace before upgrading. You can do this by running query like 'ALTER TABLE "
              "table_name REORGANIZE PARTITION X INTO (PARTITION X VALUES LESS THAN (30) TABLESPACE=innodb_file_per_table);'",
              "ALTER TABLE {table} REORGANIZE PARTITION … TABLESPACE=innodb_file_per_table;"),
    CheckInfo("circularDirectoryCheck", "Circular directory references in tablespace data file paths", "Error",
              "Error: Following tablespaces contain circular directory references (e.g. the reference '/../') in data "
              "file paths which as of MySQL 8.0.17 are not permitted by the CREATE TABLESPACE ... ADD DATAFILE clause.",
              "Move the tablespace's data file to a path without '/../' (ALTER TABLESPACE … RENAME/ADD DATAFILE)."),
    CheckInfo("removedFunctionsCheck", "Usage of removed functions", "Error",
              "Error: Following DB objects make use of functions that have been removed in version 8.0. Please make "
              "sure to update them to use supported alternatives before upgrade.",
              "Replace the removed functions with their 8.0 equivalents and recreate the object."),
    CheckInfo("groupByAscCheck", "Usage of removed GROUP BY ASC/DESC syntax", "Error",
              "Error: The following DB objects use removed GROUP BY ASC/DESC syntax. They need to be altered so that "
              "ASC/DESC keyword is removed from GROUP BY clause and placed in appropriate ORDER BY clause.",
              "Recreate {object}: drop ASC/DESC from GROUP BY and add ORDER BY <same columns> ASC/DESC."),
    CheckInfo("removedSysVars", "Removed system variables", "Error",
              "Error: Following system variables that were detected as being used will be removed. Please update "
              "your system to not rely on them before the upgrade.",
              "Reset {object} in the target parameter group: aws rds reset-db-parameter-group --db-parameter-group-name "
              "{group} --parameters ParameterName={variable},ApplyMethod=pending-reboot"),
    CheckInfo("sysVarsNewDefaults", "System variables with new default values", "Warning",
              "Warning: Following system variables that are not defined in your configuration file will have new "
              "default values. Please review if you rely on their current values and if so define them before "
              "performing upgrade.",
              "If the application relies on the 5.7 value of {variable}, set it explicitly in the 8.0 parameter group."),
    CheckInfo("zeroDatesCheck", "Zero Date, Datetime, and Timestamp values", "Warning",
              "Warning: By default zero date/datetime/timestamp values are no longer allowed in MySQL, as of 5.7.8 "
              "NO_ZERO_IN_DATE and NO_ZERO_DATE are included in SQL_MODE by default. These modes should be used with "
              "strict mode as they will be merged with strict mode in a future release. If you do not include these "
              "modes in your SQL_MODE setting, you are able to insert date/datetime/timestamp values that contain "
              "zeros. It is strongly advised to replace zero values with valid ones, as they may not work correctly "
              "in the future.",
              "Replace zero dates with valid values, give such columns a valid default, and add NO_ZERO_DATE, "
              "NO_ZERO_IN_DATE (with strict mode) to sql_mode in the parameter group."),
    CheckInfo("schemaInconsistencyCheck", "Schema inconsistencies resulting from file removal or corruption", "Error",
              "Error: Following tables show signs that either table datadir directory or frm file was "
              "removed/corrupted. Please check server logs, examine datadir to detect the issue and fix it before "
              "upgrade",
              "Recreate or drop the orphaned InnoDB table {table} (DROP TABLE IF EXISTS, or restore it from a backup)."),
    CheckInfo("ftsTablenameCheck", "Table names containing 'FTS'", "Error",
              "Error: The following tables contain 'FTS' in their name; upgrade to 8.0.11-8.0.17 cannot handle them.",
              "RENAME TABLE {table} TO a name without 'FTS' (upper case).", min_target="8.0.11", max_target="8.0.17"),
    CheckInfo("engineMixupCheck", "Tables recognized by InnoDB that belong to a different engine", "Error",
              "Error: Following tables are recognized by InnoDB engine while the SQL layer believes they belong to a "
              "different engine. Such situation may happen when one removes InnoDB table files manually from the disk "
              "and creates e.g. a MyISAM table with the same name.",
              "Rename the table to move it to the engine InnoDB knows it by, then back (see MySQL Shell docs)."),
    CheckInfo("oldGeometryCheck", "Spatial data columns created in MySQL 5.6", "Error",
              "Error: The following columns are spatial data columns created in MySQL Server version 5.6 and older. "
              "These columns have to be recreated before upgrading to 8.0.24 or older.",
              "ALTER TABLE {table} FORCE;", max_target="8.0.23"),
    CheckInfo("checkTableOutput", "Issues reported by 'check table x for upgrade' command", "per-row",
              "CHECK TABLE … FOR UPGRADE on every table (opt-in: it opens every table and takes metadata locks).",
              "Repair or rebuild {table} as CHECK TABLE suggests (ALTER TABLE {table} FORCE;)."),
    CheckInfo("defaultAuthenticationPlugin", "New default authentication plugin considerations", "Warning",
              "Warning: The new default authentication plugin 'caching_sha2_password' offers more secure password "
              "hashing than previously used 'mysql_native_password' (and consequent improved client connection "
              "authentication). However, it also has compatibility implications that may affect existing MySQL "
              "installations.",
              "Check that every client library supports caching_sha2_password, or set default_authentication_plugin="
              "mysql_native_password in the 8.0 parameter group."),
    CheckInfo("changedFunctionsInGeneratedColumnsCheck", "Indexes on functions with changed semantics", "Warning",
              "Warning: The following indexes ware made on generated columns using CAST() or CONVERT(); their "
              "semantics changed in 8.0 and the index must be rebuilt after the upgrade.",
              "After the upgrade: ALTER TABLE {table} DROP INDEX …, ADD INDEX … (rebuild it)."),
    CheckInfo("columnsWhichCannotHaveDefaultsCheck", "Columns which cannot have default values", "Error",
              "Error: The following columns are defined as either BLOB, TEXT, GEOMETRY or JSON and have a default "
              "value set. These data types cannot have default values in MySQL versions prior to 8.0.13, while "
              "starting with 8.0.13, the default value must be specified as an expression.",
              "ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT;"),
    CheckInfo("mysqlInvalid57NamesCheck", "Check for invalid table names and schema names used in 5.7", "Error",
              "Error: The following tables and/or schemas have invalid names. In order to fix them use the mysqlcheck "
              "utility as follows: mysqlcheck --check-upgrade --all-databases --fix-db-names --fix-table-names",
              "mysqlcheck --check-upgrade --all-databases --fix-db-names --fix-table-names"),
    CheckInfo("mysqlOrphanedRoutinesCheck", "Check for orphaned routines in 5.7", "Error",
              "Error: The following routines have been orphaned. Schemas that they are referencing no longer exists. "
              "They have to be cleaned up or the upgrade will fail.",
              "DELETE FROM mysql.proc WHERE db = '{schema}' AND name = '{name}';  (or CREATE DATABASE {schema})"),
    CheckInfo("mysqlDollarSignNameCheck", "Check for deprecated usage of single dollar signs in object names",
              "Warning", "Warning: The following objects have names with deprecated usage of dollar sign ($) at the "
              "begining of the identifier. To correct this warning, ensure, that names starting with dollar sign, "
              "also end with it, similary to quotes ($example$). ",
              "Quote the name with backticks wherever it is used, or rename it so it also ends with $.", min_target="8.0.31"),
    CheckInfo("mysqlIndexTooLargeCheck",
              "Check for indexes that are too large to work on higher versions of MySQL Server than 5.7", "Error",
              "Error: The following indexes were made too large for their format in an older version of MySQL (older "
              "than 5.7.34). Normally those indexes within tables with compact or redundant row formats shouldn't be "
              "larger than 767 bytes. To fix this problem those indexes should be dropped before upgrading or those "
              "tables will be inaccessible.",
              "ALTER TABLE {table} ROW_FORMAT=DYNAMIC; (or drop the index)"),
    CheckInfo("mysqlEmptyDotTableSyntaxCheck", "Check for deprecated '.<table>' syntax used in routines.", "Error",
              "Error: The following routines contain identifiers in deprecated identifier syntax (\".<table>\"), and "
              "should be corrected before upgrade:",
              "Recreate {object} with the schema name before the dot (schema.table) or without the dot."),
]
CATALOGUE: dict[str, CheckInfo] = {c.id: c for c in _ALL}
BY_TITLE: dict[str, CheckInfo] = {c.title: c for c in _ALL}

RESERVED_80 = ["ADMIN", "CUBE", "CUME_DIST", "DENSE_RANK", "EMPTY", "EXCEPT", "FIRST_VALUE", "FUNCTION", "GROUPING",
               "GROUPS", "JSON_TABLE", "LAG", "LAST_VALUE", "LEAD", "NTH_VALUE", "NTILE", "OF", "OVER",
               "PERCENT_RANK", "PERSIST", "PERSIST_ONLY", "RANK", "RECURSIVE", "ROW", "ROWS", "ROW_NUMBER", "SYSTEM",
               "WINDOW"]


def reserved_words(target: str) -> list[str]:
    words = list(RESERVED_80)
    t = version_key(target)
    if t >= (8, 0, 14):
        words.append("LATERAL")
    if t >= (8, 0, 17):
        words += ["ARRAY", "MEMBER"]
    if t >= (8, 0, 31):
        words += ["FULL", "INTERSECT"]
    return words


# Removed functions and what replaces them.
REMOVED_FUNCTIONS = {
    "ENCODE": "AES_ENCRYPT", "DECODE": "AES_DECRYPT", "ENCRYPT": "SHA2", "DES_ENCRYPT": "AES_ENCRYPT",
    "DES_DECRYPT": "AES_DECRYPT", "PASSWORD": "SHA2",
    "AREA": "ST_AREA", "ASBINARY": "ST_ASBINARY", "ASTEXT": "ST_ASTEXT", "ASWKB": "ST_ASWKB", "ASWKT": "ST_ASWKT",
    "BUFFER": "ST_BUFFER", "CENTROID": "ST_CENTROID", "CONTAINS": "MBRCONTAINS", "CROSSES": "ST_CROSSES",
    "DIMENSION": "ST_DIMENSION", "DISJOINT": "MBRDISJOINT", "DISTANCE": "ST_DISTANCE", "ENDPOINT": "ST_ENDPOINT",
    "ENVELOPE": "ST_ENVELOPE", "EQUALS": "MBREQUALS", "EXTERIORRING": "ST_EXTERIORRING",
    "GEOMCOLLFROMTEXT": "ST_GEOMCOLLFROMTEXT", "GEOMFROMTEXT": "ST_GEOMFROMTEXT", "GEOMFROMWKB": "ST_GEOMFROMWKB",
    "GEOMETRYN": "ST_GEOMETRYN", "GEOMETRYTYPE": "ST_GEOMETRYTYPE", "GLENGTH": "ST_LENGTH",
    "INTERIORRINGN": "ST_INTERIORRINGN", "INTERSECTS": "MBRINTERSECTS", "ISCLOSED": "ST_ISCLOSED",
    "ISEMPTY": "ST_ISEMPTY", "ISSIMPLE": "ST_ISSIMPLE", "LINEFROMTEXT": "ST_LINEFROMTEXT",
    "NUMGEOMETRIES": "ST_NUMGEOMETRIES", "NUMINTERIORRINGS": "ST_NUMINTERIORRINGS", "NUMPOINTS": "ST_NUMPOINTS",
    "OVERLAPS": "MBROVERLAPS", "POINTFROMTEXT": "ST_POINTFROMTEXT", "POINTN": "ST_POINTN",
    "POLYFROMTEXT": "ST_POLYFROMTEXT", "SRID": "ST_SRID", "STARTPOINT": "ST_STARTPOINT", "TOUCHES": "ST_TOUCHES",
    "WITHIN": "MBRWITHIN", "X": "ST_X", "Y": "ST_Y",
}

MYSQL80_DICTIONARY_TABLES = ["catalogs", "character_sets", "check_constraints", "collations", "column_statistics",
                             "column_type_elements", "columns", "dd_properties", "events", "foreign_key_column_usage",
                             "foreign_keys", "index_column_usage", "index_partitions", "index_stats", "indexes",
                             "parameter_type_elements", "parameters", "resource_groups", "routines", "schemata",
                             "st_spatial_reference_systems", "table_partition_values", "table_partitions",
                             "table_stats", "tables", "tablespace_files", "tablespaces", "triggers", "view_routine_usage",
                             "view_table_usage", "component", "default_roles", "global_grants", "innodb_ddl_log",
                             "innodb_dynamic_metadata", "password_history", "role_edges"]

OBSOLETE_SQL_MODES = ["DB2", "MSSQL", "MYSQL323", "MYSQL40", "NO_AUTO_CREATE_USER", "NO_FIELD_OPTIONS",
                      "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "ORACLE", "POSTGRESQL"]

REMOVED_SYS_VARS = ["date_format", "datetime_format", "group_replication_allow_local_disjoint_gtids_join",
                    "have_crypt", "ignore_builtin_innodb", "ignore_db_dirs", "innodb_checksums",
                    "innodb_disable_resize_buffer_pool_debug", "innodb_file_format", "innodb_file_format_check",
                    "innodb_file_format_max", "innodb_large_prefix", "innodb_locks_unsafe_for_binlog",
                    "innodb_stats_sample_pages", "innodb_support_xa", "innodb_undo_logs", "log_builtin_as_identified_by_password",
                    "log_error_filter_rules", "log_syslog", "log_syslog_facility", "log_syslog_include_pid",
                    "log_syslog_tag", "log_warnings", "max_tmp_tables", "metadata_locks_cache_size",
                    "metadata_locks_hash_instances", "multi_range_count", "old_passwords", "query_cache_limit",
                    "query_cache_min_res_unit", "query_cache_size", "query_cache_type", "query_cache_wlock_invalidate",
                    "secure_auth", "show_compatibility_56", "sync_frm", "time_format", "timed_mutexes", "tx_isolation",
                    "tx_read_only"]

# Variables whose default changes in 8.0 and that RDS leaves to the parameter group.
NEW_DEFAULTS = {"character_set_server": "utf8mb4", "collation_server": "utf8mb4_0900_ai_ci", "event_scheduler": "ON",
                "explicit_defaults_for_timestamp": "ON", "innodb_autoinc_lock_mode": "2",
                "innodb_undo_log_truncate": "ON", "max_allowed_packet": "67108864", "max_error_count": "1024",
                "table_open_cache": "4000", "transaction_write_set_extraction": "XXHASH64"}


def removed_call_pattern() -> re.Pattern[str]:
    """A call of a removed function in SQL text (longest names first, not part of a longer identifier)."""
    names = "|".join(sorted(REMOVED_FUNCTIONS, key=len, reverse=True))
    return re.compile(rf"(?<![\w.$`])({names})\s*\(", re.I)
