"""The 5.7 -> 8.0 upgrade check catalogue: ids (as RDS, Aurora and MySQL Shell 8.0.x print them, spelling
kept), the newer Shell ids they map to, titles, levels, which upgrades each applies to, and what to do.

Facts come from MySQL Shell's upgrade checker (its registry, check creators and message file); wording is
ours. Gating follows the Shell's rule: a check registered for versions V1..Vn runs when the upgrade
crosses one of them (source < V <= target).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from runbook_lib.engines.mysql import variables as _variables

Version = tuple[int, ...]


def version_key(version: str) -> Version:
    """'5.7.44-log' -> (5, 7, 44); tolerant of suffixes and of missing parts."""
    parts = re.findall(r"\d+", version.split("-")[0])[:3]
    return tuple(int(p) for p in parts) + (0,) * (3 - len(parts))


@dataclass(frozen=True)
class CheckInfo:
    id: str
    title: str
    level: str                          # Error | Warning | Notice | per-row (CHECK TABLE) | per-item
    description: str                    # starts with the level word, as the Shell's text report does
    remediation: str
    crosses: tuple[str, ...] = ()       # runs when source < V <= target for one of these; () = always
    below: str | None = None            # and only for targets below this version
    shell_id: str | None = None         # the id newer MySQL Shell releases print (upgrade_checker/ ids)
    origin: str = "shell-8.0.40"        # shell-8.0.40 | shell-newer | rds (RDS-only, ours)
    manual: bool = False                # listed in manualChecks, nothing to query
    doc: str = "https://dev.mysql.com/doc/mysql-shell/8.0/en/mysql-shell-utilities-upgrade.html"
    titles: tuple[str, ...] = field(default=())  # other titles the same check was printed with

    def applies(self, source: str, target: str) -> bool:
        s, t = version_key(source), version_key(target)
        if self.below and t >= version_key(self.below):
            return False
        return not self.crosses or any(s < version_key(v) <= t for v in self.crosses)

    def gating(self) -> str:
        """The rule above in words (for 'not run' reasons and the parity table)."""
        parts = []
        if self.crosses:
            parts.append("upgrades crossing " + " or ".join(self.crosses))
        if self.below:
            parts.append(f"targets below {self.below}")
        return " and ".join(parts) or "every upgrade"


_80 = ("8.0.11",)
_ALL = [
    CheckInfo("oldTemporalCheck", "Usage of old temporal type", "Error",
              "Error: These DATETIME/TIME/TIMESTAMP columns are still stored in the pre-5.6.4 format, which 8.0 "
              "cannot read. Rebuild their tables before the upgrade.",
              "ALTER TABLE {table} FORCE; rebuilds the table in the current temporal format.", _80,
              shell_id="oldTemporal"),
    CheckInfo("routinesSyntaxCheck", "MySQL syntax check for routine-like objects", "Error",
              "Error: These stored programs do not parse with the 8.0 grammar, most often because a word 8.0 "
              "reserves is used unquoted. Quote such names with backticks (or remove the removed syntax) and "
              "recreate the objects.",
              "Recreate {object} with the offending word quoted in backticks (e.g. `rank`) or the removed syntax "
              "rewritten.", _80, shell_id="routineSyntax",
              titles=("MySQL 8.0 syntax check for routine-like objects",)),
    CheckInfo("reservedKeywordsCheck", "Usage of db objects with names conflicting with new reserved keywords",
              "Warning", "Warning: These objects are named with words 8.0 reserves. Statements that name them "
              "must quote them with backticks, or they fail after the upgrade.",
              "Quote the name with backticks wherever it is used, or rename the object.",
              ("8.0.11", "8.0.14", "8.0.17", "8.0.31"), shell_id="reservedKeywords"),
    CheckInfo("utf8mb3Check", "Usage of utf8mb3 charset", "Warning",
              "Warning: These objects use utf8mb3 (the old 'utf8'), which 8.0 deprecates. Converting them to "
              "utf8mb4 is recommended.",
              "Convert the schema or table to utf8mb4 (ALTER DATABASE/TABLE ... CONVERT TO CHARACTER SET utf8mb4).",
              _80, shell_id="utf8mb3"),
    CheckInfo("mysqlSchemaCheck", "Table names in the mysql schema conflicting with new tables in 8.0", "Error",
              "Error: These tables in the mysql schema have names 8.0 uses for its own data dictionary or system "
              "tables. Rename or drop them before the upgrade.",
              "RENAME TABLE the table out of the mysql schema, or drop it if nothing uses it.", _80,
              shell_id="mysqlSchema",
              titles=("Table names in the mysql schema conflicting with new tables in the latest MySQL.",)),
    CheckInfo("nonNativePartitioningCheck", "Partitioned tables using engines with non native partitioning", "Error",
              "Error: 8.0 keeps partitioning only for engines with their own partitioning handler (InnoDB, NDB). "
              "These partitioned tables use another engine and would be unusable after the upgrade.",
              "ALTER TABLE {table} ENGINE=InnoDB; (or ALTER TABLE {table} REMOVE PARTITIONING;)", _80,
              shell_id="nonNativePartitioning"),
    CheckInfo("foreignKeyLengthCheck", "Foreign key constraint names longer than 64 characters", "Error",
              "Error: These tables have foreign key names longer than 64 characters, which the 8.0 dictionary "
              "refuses. Rename the constraints first.",
              "ALTER TABLE {table} DROP FOREIGN KEY <long name>, ADD CONSTRAINT <name of at most 64 characters> "
              "FOREIGN KEY ...;", _80, shell_id="foreignKeyLength"),
    CheckInfo("maxdbFlagCheck", "Usage of obsolete MAXDB sql_mode flag", "Warning",
              "Warning: These objects were stored with the MAXDB sql_mode flag, which the upgrade clears; a "
              "DATETIME they use can then behave as TIMESTAMP (dates before 1970 or after 2037 change).",
              "Recreate {object} under an sql_mode without MAXDB.", _80, shell_id="maxdbSqlModeFlags"),
    CheckInfo("sqlModeFlagCheck", "Usage of obsolete sql_mode flags", "Notice",
              "Notice: These objects were stored with sql_mode flags 8.0 no longer has; the upgrade clears them.",
              "Nothing is required; recreate {object} under a current sql_mode to silence it.", _80,
              shell_id="obsoleteSqlModeFlags"),
    CheckInfo("enumSetElementLenghtCheck", "ENUM/SET column definitions containing elements longer than 255 characters",
              "Error", "Error: These ENUM/SET columns have an element longer than 255 characters, the 8.0 limit.",
              "ALTER TABLE {table} MODIFY {column} with elements of at most 255 characters (or VARCHAR).", _80,
              shell_id="enumSetElementLength"),
    CheckInfo("partitionedTablesInSharedTablespaceCheck", "Usage of partitioned tables in shared tablespaces", "Error",
              "Error: These partitions live in a shared tablespace (the system tablespace or a general one); 8.0.13 "
              "and later keep partitions only in file-per-table tablespaces.",
              "ALTER TABLE {table} REORGANIZE PARTITION <p> INTO (PARTITION <p> ... TABLESPACE=innodb_file_per_table);",
              ("8.0.11", "8.0.13"), shell_id="partitionedTablesInSharedTablespaces"),
    CheckInfo("circularDirectoryCheck", "Circular directory references in tablespace data file paths", "Error",
              "Error: These tablespaces have data file paths with '/../', which CREATE TABLESPACE ... ADD DATAFILE "
              "refuses from 8.0.17.",
              "Move the tablespace's data file to a path without '/../'.", ("8.0.17",), shell_id="circularDirectory"),
    CheckInfo("removedFunctionsCheck", "Usage of removed functions", "Error",
              "Error: These objects call functions 8.0 removed; they fail once upgraded. Rewrite them with the "
              "replacements named.",
              "Replace the removed functions with their 8.0 equivalents and recreate the object.", _80,
              shell_id="removedFunctions"),
    CheckInfo("groupByAscCheck", "Usage of removed GROUP BY ASC/DESC syntax", "Error",
              "Error: These objects sort with GROUP BY ... ASC/DESC, which 8.0.13 removed. Move the direction into "
              "an ORDER BY clause.",
              "Recreate {object}: drop ASC/DESC from GROUP BY and add ORDER BY <same columns> ASC/DESC.", ("8.0.13",),
              shell_id="groupbyAscSyntax"),
    CheckInfo("removedSysLogVars", "Removed system variables for error logging to the system log configuration",
              "Error", "Error: These syslog variables were removed in 8.0.13; the log_sink_syseventlog component's "
              "variables replace them.",
              "Reset {object} in the target parameter group (aws rds reset-db-parameter-group ...).", ("8.0.13",),
              shell_id="sysVars"),
    CheckInfo("removedSysVars", "Removed system variables", "Error",
              "Error: These system variables are set but 8.0 removed them; the upgrade fails while they are set.",
              "Reset {object} in the target parameter group: aws rds reset-db-parameter-group --db-parameter-group-name "
              "{group} --parameters ParameterName={variable},ApplyMethod=pending-reboot", shell_id="sysVars"),
    CheckInfo("sysVarsNewDefaults", "System variables with new default values", "Warning",
              "Warning: These variables are not set, and their defaults change in 8.0. Set them if you rely on the "
              "5.7 behaviour.",
              "Set {variable} explicitly in the 8.0 parameter group if the application relies on its 5.7 value.",
              shell_id="sysVars"),
    CheckInfo("zeroDatesCheck", "Zero Date, Datetime, and Timestamp values", "Warning",
              "Warning: Zero dates are allowed here (sql_mode without NO_ZERO_DATE/NO_ZERO_IN_DATE) or used as "
              "defaults. 8.0's default sql_mode refuses them; replace them with valid values.",
              "Give such columns a valid default and add NO_ZERO_DATE,NO_ZERO_IN_DATE (with strict mode) to sql_mode.",
              _80, shell_id="zeroDates"),
    CheckInfo("schemaInconsistencyCheck", "Schema inconsistencies resulting from file removal or corruption", "Error",
              "Error: InnoDB knows these tables but the SQL layer does not (a schema directory or .frm file was "
              "removed or damaged). Repair them before the upgrade.",
              "Restore the missing .frm from a backup, or recreate the table under that name and drop it.", _80,
              shell_id="schemaInconsistency"),
    CheckInfo("ftsTablenameCheck", "Table names containing 'FTS'", "Error",
              "Error: Upgrades to 8.0.11-8.0.17 cannot handle table names containing upper-case 'FTS'.",
              "RENAME TABLE {table} to a name without upper-case 'FTS' (rename back after the upgrade).", _80,
              below="8.0.18", shell_id="ftsInTablename"),
    CheckInfo("engineMixupCheck", "Tables recognized by InnoDB that belong to a different engine", "Error",
              "Error: InnoDB's dictionary has these tables while the SQL layer says another engine owns them (InnoDB "
              "files removed by hand and a table of another engine created under the same name).",
              "Rename the other-engine table away, drop the orphaned InnoDB table under a dummy definition, rename "
              "back (manual, see the MySQL Shell documentation).", _80, shell_id="engineMixup"),
    CheckInfo("oldGeometryCheck", "Spatial data columns created in MySQL 5.6", "Error",
              "Error: These spatial columns still have the 5.6 format, which 8.0 before 8.0.24 refuses to upgrade.",
              "ALTER TABLE {table} FORCE; (or upgrade straight to 8.0.24 or later)", _80, below="8.0.24",
              shell_id="oldGeometryTypes"),
    CheckInfo("checkTableOutput", "Issues reported by 'check table x for upgrade' command", "per-row",
              "Error: CHECK TABLE ... FOR UPGRADE reported these (each with its own level).",
              "Repair or rebuild {table} as CHECK TABLE says (ALTER TABLE {table} FORCE;).",
              shell_id="checkTableCommand"),
    CheckInfo("defaultAuthenticationPlugin", "New default authentication plugin considerations", "Warning",
              "Warning: 8.0's default authentication plugin is caching_sha2_password. Clients that predate it cannot "
              "authenticate accounts created with it; such clients need a newer connector, or the parameter group "
              "can keep default_authentication_plugin=mysql_native_password for a while.",
              "Check every client library for caching_sha2_password support.", _80, manual=True,
              doc="https://dev.mysql.com/doc/refman/8.0/en/upgrading-from-previous-series.html"),
    CheckInfo("changedFunctionsInGeneratedColumnsCheck", "Indexes on functions with changed semantics", "Warning",
              "Warning: These indexed generated columns use CAST or CONVERT, whose semantics changed in 8.0.28; "
              "replication problems or index corruption can follow unless they are rebuilt.",
              "Rebuild the index after the upgrade (ALTER TABLE {table} DROP INDEX ..., ADD INDEX ...).",
              ("5.7.0", "8.0.28"), shell_id="changedFunctionsInGeneratedColumns"),
    CheckInfo("columnsWhichCannotHaveDefaultsCheck", "Columns which cannot have default values", "Error",
              "Error: These BLOB, TEXT, GEOMETRY or JSON columns have a literal default, which 8.0 refuses (from "
              "8.0.13 defaults for them must be expressions).",
              "ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT;", ("8.0.12",),
              shell_id="columnsWhichCannotHaveDefaults"),
    CheckInfo("mysqlInvalid57NamesCheck", "Check for invalid table names and schema names used in 5.7", "Error",
              "Error: These schemas or tables have names that were never converted to the 5.1+ file name encoding "
              "('#mysql50#' prefix).",
              "mysqlcheck --check-upgrade --all-databases --fix-db-names --fix-table-names (or ALTER DATABASE `#mysql50#"
              "...` UPGRADE DATA DIRECTORY NAME)", ("8.0.0",), shell_id="invalid57Names"),
    CheckInfo("mysqlOrphanedRoutinesCheck", "Check for orphaned routines in 5.7", "Error",
              "Error: These routines belong to schemas that no longer exist; the upgrade fails on them.",
              "Drop them from mysql.proc, or create the schema and DROP the routine.", ("8.0.0",),
              shell_id="orphanedObjects"),
    CheckInfo("mysqlDollarSignNameCheck", "Check for deprecated usage of single dollar signs in object names",
              "Warning", "Warning: These names start with '$' without ending with it; 8.0.32 deprecates that.",
              "Rename so the name also ends with '$', or quote it with backticks everywhere.", ("8.0.31",),
              shell_id="dollarSignName"),
    CheckInfo("mysqlIndexTooLargeCheck",
              "Check for indexes that are too large to work on higher versions of MySQL Server than 5.7", "Error",
              "Error: These indexes on COMPACT or REDUNDANT tables were built too large for their row format by a "
              "server older than 5.7.34; the tables become inaccessible after the upgrade.",
              "ALTER TABLE {table} ROW_FORMAT=DYNAMIC; (or drop the index)", ("8.0.0",), shell_id="indexTooLarge"),
    CheckInfo("mysqlEmptyDotTableSyntaxCheck", "Check for deprecated '.<table>' syntax used in routines.", "Error",
              "Error: These stored programs name tables with the removed '.<table>' syntax.",
              "Recreate {object} with schema.table (or table) instead of .table.", ("8.0.0",),
              shell_id="emptyDotTableSyntax"),
    CheckInfo("mysqlInvalidEngineForeignKeyCheck",
              "Check for columns that have foreign keys pointing to tables from a diffrent database engine.", "Error",
              "Error: These columns have foreign keys to tables of another engine (created with "
              "foreign_key_checks=0); 8.0's dictionary refuses them.",
              "Drop the foreign key, or move both tables to InnoDB (ALTER TABLE <referenced> ENGINE=InnoDB;).",
              ("8.0.0",), shell_id="invalidEngineForeignKey",
              titles=("Check for columns that have foreign keys pointing to tables from a different database engine.",)),
    CheckInfo("deprecatedDefaultAuth", "Check for deprecated or invalid default authentication methods in system "
              "variables.", "per-item",
              "Warning: default_authentication_plugin or authentication_policy name a method that is deprecated (or "
              "removed) in the target.", "Set it to caching_sha2_password in the 8.0 parameter group.",
              ("8.0.0", "8.1.0", "8.2.0"), origin="shell-newer", shell_id="deprecatedDefaultAuth"),
    CheckInfo("deprecatedRouterAuthMethod", "Check for deprecated or invalid authentication methods in use by MySQL "
              "Router internal accounts.", "Warning",
              "Warning: These MySQL Router accounts use a deprecated authentication method; upgrade Router or give it "
              "a dedicated account.", "Re-bootstrap MySQL Router with a current version or a dedicated account.",
              ("8.0.0", "8.1.0", "8.2.0"), origin="shell-newer", shell_id="deprecatedRouterAuthMethod"),
    CheckInfo("deprecatedTemporalDelimiter", "Check for deprecated temporal delimiters in table partitions.", "Error",
              "Error: These partitioning values use custom date/time delimiters, deprecated since 8.0.29; the tables "
              "become inaccessible after the upgrade.",
              "ALTER TABLE {table} REORGANIZE PARTITION ... with 'YYYY-MM-DD[ hh:mm:ss]' literals.", ("8.0.29",),
              origin="shell-newer", shell_id="deprecatedTemporalDelimiter"),
    CheckInfo("authMethodUsage", "Check for deprecated or invalid user authentication methods.", "per-item",
              "Warning: These accounts use an authentication method that is deprecated (or removed) in the target.",
              "Move the accounts to caching_sha2_password (ALTER USER ... IDENTIFIED WITH caching_sha2_password BY ...).",
              origin="shell-newer", shell_id="authMethodUsage"),
    CheckInfo("pluginUsage", "Check for deprecated or removed plugin usage.", "per-item",
              "Warning: These ACTIVE plugins are deprecated (or removed) in the target.",
              "Replace the plugin with the component named.", origin="shell-newer", shell_id="pluginUsage"),
    # RDS's own additions (shared/docs/upgrade-prechecks.md); ids are ours.
    CheckInfo("rdsNullDefinerCheck", "Events and triggers with null or blank definer", "Error",
              "Error: These stored objects have no definer; RDS refuses to upgrade them.",
              "Recreate {object} with DEFINER=<an existing account>.", ("8.0.0",), origin="rds"),
    CheckInfo("rdsQueryCacheSyntaxCheck", "Usage of removed query cache syntax in routines", "Error",
              "Error: These stored programs use SQL_CACHE or QUERY CACHE statements, which 8.0 removed.",
              "Recreate {object} without SQL_CACHE / FLUSH QUERY CACHE / RESET QUERY CACHE (SQL_NO_CACHE is only "
              "deprecated).", ("8.0.0",), origin="rds"),
    CheckInfo("rdsFulltextDanglingCheck", "Dangling FULLTEXT index references", "Error",
              "Error: InnoDB has FULLTEXT auxiliary tables whose parent table no longer exists.",
              "Manual: restore or drop the orphaned FTS_* tables (AWS Support can help on RDS).", ("8.0.0",),
              origin="rds"),
    CheckInfo("rdsColumnDefinitionMismatchCheck", "Column definition mismatch between InnoDB dictionary and table",
              "Error", "Error: InnoDB's dictionary and the table definition (.frm) disagree on these tables' columns.",
              "ALTER TABLE {table} FORCE; rebuilds both from the .frm (take a backup first).", ("8.0.0",), origin="rds"),
    CheckInfo("rdsLowerCaseTableNamesCheck", "lower_case_table_names consistency", "Error",
              "Error: With lower_case_table_names=1 these schemas or tables have upper-case letters in their names, "
              "which the 8.0 dictionary cannot hold.",
              "RENAME TABLE to a lower-case name (schemas: dump and reload under a lower-case name).", ("8.0.0",),
              origin="rds"),
    CheckInfo("rdsFreeStorageCheck", "Free storage space for the upgrade", "Warning",
              "Warning: The upgrade rebuilds the data dictionary and may need free storage of about the size of "
              "the largest table; RDS cancels it when space runs out. SQL cannot see the instance's volume: read "
              "FreeStorageSpace in CloudWatch.", "Keep free storage above the largest table's size.", ("8.0.0",),
              origin="rds", manual=True),
]
CATALOGUE: dict[str, CheckInfo] = {c.id: c for c in _ALL}
# Every id and title a log may use for a check (newer Shell ids, older titles) -> our id.
BY_ID: dict[str, str] = {**{c.id: c.id for c in _ALL}, **{c.shell_id: c.id for c in _ALL
                                                             if c.shell_id and c.shell_id != "sysVars"},
                         "deprecatedAuthMethod": "authMethodUsage", "orphanedRoutines": "mysqlOrphanedRoutinesCheck",
                         "tableCommand": "checkTableOutput"}
BY_TITLE: dict[str, CheckInfo] = {t.rstrip(".").lower(): c for c in _ALL for t in (c.title, *c.titles)}


def _title_words(title: str) -> frozenset[str]:
    """A title's words without versions and 'latest' (titles say '8.0', 'MySQL 8.0' or 'the latest MySQL')."""
    return frozenset(w for w in re.findall(r"[a-z0-9_']+", title.lower().replace("8.0", " "))
                     if w not in ("latest", "the", "in", "mysql") and not w.isdigit())


_BY_WORDS: dict[frozenset[str], CheckInfo] = {_title_words(t): c for c in _ALL for t in (c.title, *c.titles)}


def info_for_title(title: str) -> CheckInfo | None:
    """The check a log's section title names: exactly, or with versions and 'latest' wording ignored."""
    return BY_TITLE.get(title.strip().rstrip(".").lower()) or _BY_WORDS.get(_title_words(title))


# -- facts the checks use ---------------------------------------------------------------------------------
# Words 8.0 reserves, by the release that reserved them.
RESERVED_BY_VERSION: dict[str, list[str]] = {
    "8.0.11": ["ADMIN", "CUBE", "CUME_DIST", "DENSE_RANK", "EMPTY", "EXCEPT", "FIRST_VALUE", "FUNCTION", "GROUPING",
               "GROUPS", "JSON_TABLE", "LAG", "LAST_VALUE", "LEAD", "NTH_VALUE", "NTILE", "OF", "OVER",
               "PERCENT_RANK", "PERSIST", "PERSIST_ONLY", "RANK", "RECURSIVE", "ROW", "ROWS", "ROW_NUMBER", "SYSTEM",
               "WINDOW"],
    "8.0.14": ["LATERAL"],
    "8.0.17": ["ARRAY", "MEMBER"],
    "8.0.31": ["FULL", "INTERSECT"],
}
RESERVED_80 = RESERVED_BY_VERSION["8.0.11"]


def reserved_words(target: str, source: str = "5.7.44") -> list[str]:
    """Words reserved by the releases this upgrade crosses."""
    s, t = version_key(source), version_key(target)
    return [w for v, words in RESERVED_BY_VERSION.items() if s < version_key(v) <= t for w in words]


# Removed functions (MySQL Shell's list of 72) and what replaces them; None: no replacement.
REMOVED_FUNCTIONS: dict[str, str | None] = {
    "ENCODE": "AES_ENCRYPT and AES_DECRYPT", "DECODE": "AES_ENCRYPT and AES_DECRYPT", "ENCRYPT": "SHA2",
    "DES_ENCRYPT": "AES_ENCRYPT and AES_DECRYPT", "DES_DECRYPT": "AES_ENCRYPT and AES_DECRYPT", "PASSWORD": None,
    "AREA": "ST_AREA", "ASBINARY": "ST_ASBINARY", "ASTEXT": "ST_ASTEXT", "ASWKB": "ST_ASWKB", "ASWKT": "ST_ASWKT",
    "BUFFER": "ST_BUFFER", "CENTROID": "ST_CENTROID", "CONTAINS": "MBRCONTAINS", "CROSSES": "ST_CROSSES",
    "DIMENSION": "ST_DIMENSION", "DISJOINT": "MBRDISJOINT", "DISTANCE": "ST_DISTANCE", "ENDPOINT": "ST_ENDPOINT",
    "ENVELOPE": "ST_ENVELOPE", "EQUALS": "MBREQUALS", "EXTERIORRING": "ST_EXTERIORRING",
    "GEOMCOLLFROMTEXT": "ST_GEOMCOLLFROMTEXT", "GEOMCOLLFROMWKB": "ST_GEOMCOLLFROMWKB",
    "GEOMETRYCOLLECTIONFROMTEXT": "ST_GEOMETRYCOLLECTIONFROMTEXT",
    "GEOMETRYCOLLECTIONFROMWKB": "ST_GEOMETRYCOLLECTIONFROMWKB", "GEOMETRYFROMTEXT": "ST_GEOMETRYFROMTEXT",
    "GEOMETRYFROMWKB": "ST_GEOMETRYFROMWKB", "GEOMETRYN": "ST_GEOMETRYN", "GEOMETRYTYPE": "ST_GEOMETRYTYPE",
    "GEOMFROMTEXT": "ST_GEOMFROMTEXT", "GEOMFROMWKB": "ST_GEOMFROMWKB", "GLENGTH": "ST_LENGTH",
    "INTERIORRINGN": "ST_INTERIORRINGN", "INTERSECTS": "MBRINTERSECTS", "ISCLOSED": "ST_ISCLOSED",
    "ISEMPTY": "ST_ISEMPTY", "ISSIMPLE": "ST_ISSIMPLE", "LINEFROMTEXT": "ST_LINEFROMTEXT",
    "LINEFROMWKB": "ST_LINEFROMWKB", "LINESTRINGFROMTEXT": "ST_LINESTRINGFROMTEXT",
    "LINESTRINGFROMWKB": "ST_LINESTRINGFROMWKB", "MBREQUAL": "MBREQUALS", "MLINEFROMTEXT": "ST_MLINEFROMTEXT",
    "MLINEFROMWKB": "ST_MLINEFROMWKB", "MPOINTFROMTEXT": "ST_MPOINTFROMTEXT", "MPOINTFROMWKB": "ST_MPOINTFROMWKB",
    "MPOLYFROMTEXT": "ST_MPOLYFROMTEXT", "MPOLYFROMWKB": "ST_MPOLYFROMWKB",
    "MULTILINESTRINGFROMTEXT": "ST_MULTILINESTRINGFROMTEXT", "MULTILINESTRINGFROMWKB": "ST_MULTILINESTRINGFROMWKB",
    "MULTIPOINTFROMTEXT": "ST_MULTIPOINTFROMTEXT", "MULTIPOINTFROMWKB": "ST_MULTIPOINTFROMWKB",
    "MULTIPOLYGONFROMTEXT": "ST_MULTIPOLYGONFROMTEXT", "MULTIPOLYGONFROMWKB": "ST_MULTIPOLYGONFROMWKB",
    "NUMGEOMETRIES": "ST_NUMGEOMETRIES", "NUMINTERIORRINGS": "ST_NUMINTERIORRINGS", "NUMPOINTS": "ST_NUMPOINTS",
    "OVERLAPS": "MBROVERLAPS", "POINTFROMTEXT": "ST_POINTFROMTEXT", "POINTFROMWKB": "ST_POINTFROMWKB",
    "POINTN": "ST_POINTN", "POLYFROMTEXT": "ST_POLYFROMTEXT", "POLYFROMWKB": "ST_POLYFROMWKB",
    "POLYGONFROMTEXT": "ST_POLYGONFROMTEXT", "POLYGONFROMWKB": "ST_POLYGONFROMWKB", "SRID": "ST_SRID",
    "STARTPOINT": "ST_STARTPOINT", "TOUCHES": "ST_TOUCHES", "WITHIN": "MBRWITHIN", "X": "ST_X", "Y": "ST_Y",
}
# The function that a rewrite puts in place of each removed one (first of the advice).
REPLACEMENT_CALL: dict[str, str] = {name: (advice.split(" and ")[0] if advice else "SHA2")
                                    for name, advice in REMOVED_FUNCTIONS.items()}
REPLACEMENT_CALL.update({"DECODE": "AES_DECRYPT", "DES_DECRYPT": "AES_DECRYPT"})

MYSQL80_DICTIONARY_TABLES = ["catalogs", "character_sets", "collations", "column_type_elements", "columns",
                             "dd_properties", "events", "foreign_key_column_usage", "foreign_keys",
                             "index_column_usage", "index_partitions", "index_stats", "indexes",
                             "parameter_type_elements", "parameters", "routines", "schemata",
                             "st_spatial_reference_systems", "table_partition_values", "table_partitions",
                             "table_stats", "tables", "tablespace_files", "tablespaces", "triggers",
                             "view_routine_usage", "view_table_usage", "component", "default_roles", "global_grants",
                             "innodb_ddl_log", "innodb_dynamic_metadata", "password_history", "role_edges"]

OBSOLETE_SQL_MODES = ["DB2", "MSSQL", "MYSQL323", "MYSQL40", "NO_AUTO_CREATE_USER", "NO_FIELD_OPTIONS",
                      "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "ORACLE", "POSTGRESQL"]

# Removed variables as MySQL Shell 8.0.40's removedSysVars check registers them (by the version it gates each on);
# value: the replacement, if any. The facts live in engines/mysql/variables.py (one list for every user).
REMOVED_SYS_VARS_BY_VERSION: dict[str, dict[str, str | None]] = {}
for _removed in _variables.REMOVED:
    if _removed.shell_gate and _removed.shell_check == "removedSysVars":
        REMOVED_SYS_VARS_BY_VERSION.setdefault(_removed.shell_gate, {})[_removed.name] = _removed.replacement
REMOVED_SYS_LOG_VARS: dict[str, str | None] = {r.name: r.replacement for r in _variables.REMOVED
                                               if r.shell_check == "removedSysLogVars"}
# Every variable 8.0 removed (checks/source_readiness.py reads this name).
REMOVED_SYS_VARS = sorted(r.name for r in _variables.REMOVED)


def removed_sys_vars(target: str, source: str = "5.7.44") -> dict[str, str | None]:
    s, t = version_key(source), version_key(target)
    out: dict[str, str | None] = {}
    for version, names in REMOVED_SYS_VARS_BY_VERSION.items():
        if s < version_key(version) <= t or (version == "8.0.11" and s < (8, 0, 11)):
            out.update(names)
    return out


# Variables whose default changes in 8.0, as MySQL Shell 8.0.40's sysVarsNewDefaults reports them (its 26), with the
# change; the full list is engines/mysql/variables.py's DEFAULT_CHANGES.
NEW_DEFAULTS: dict[str, str] = {d.name: d.shell_text for d in _variables.DEFAULT_CHANGES if d.shell_text}

# Deprecated/removed features (authMethodUsage, pluginUsage): (start, deprecated, removed, replacement).
Feature = tuple[str | None, str | None, str | None, str]
AUTH_FEATURES: dict[str, Feature] = {
    "authentication_fido": ("8.0.27", "8.2.0", "8.4.0", "authentication_webauthn"),
    "sha256_password": (None, "8.0.0", "9.0.0", "caching_sha2_password"),
    "mysql_native_password": (None, "8.0.0", "9.0.0", "caching_sha2_password"),
}
PLUGIN_FEATURES: dict[str, Feature] = {
    "authentication_fido": ("8.0.27", "8.2.0", "8.4.0", "the 'authentication_webauthn' plugin"),
    "keyring_file": (None, "8.0.34", "8.4.0", "the 'component_keyring_file' component"),
    "keyring_encrypted_file": (None, "8.0.34", "8.4.0", "the 'component_encrypted_keyring_file' component"),
    "keyring_oci": (None, "8.0.31", "8.4.0", "the 'component_keyring_oci' component"),
}
DEPRECATED_AUTH = ["sha256_password", "mysql_native_password", "authentication_fido"]


def feature_level(feature: Feature, source: str, target: str) -> str | None:
    """Level of a feature in use for this upgrade; None when the source cannot have it."""
    start, deprecated, removed, _ = feature
    s, t = version_key(source), version_key(target)
    if (start and s < version_key(start)) or (removed and s >= version_key(removed)):
        return None
    if deprecated and t < version_key(deprecated):
        return "Notice"
    if removed and t < version_key(removed):
        return "Warning"
    return "Error"
