"""Set-based 5.7 -> 8.0 prechecks against a live MySQL/MariaDB connection, in MySQL Shell's JSON shape.

Each check is one information_schema query (never one query per table). The catalogue is in
shared/docs/upgrade-prechecks.md; checks that cannot run on the connected server are reported as
not run, with the reason, never as passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

SYSTEM = "('mysql','information_schema','performance_schema','sys')"

RESERVED_80 = ["ADMIN", "CUBE", "CUME_DIST", "DENSE_RANK", "EMPTY", "EXCEPT", "FIRST_VALUE", "FUNCTION",
               "GROUPING", "GROUPS", "JSON_TABLE", "LAG", "LAST_VALUE", "LEAD", "NTH_VALUE", "NTILE", "OF",
               "OVER", "PERCENT_RANK", "PERSIST", "PERSIST_ONLY", "RANK", "RECURSIVE", "ROW", "ROWS",
               "ROW_NUMBER", "SYSTEM", "WINDOW"]
REMOVED_FUNCTIONS = ["ENCODE", "DECODE", "ENCRYPT", "DES_ENCRYPT", "DES_DECRYPT", "PASSWORD"]


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("-")[0].split(".")[:3])


def reserved_words(target: str) -> list[str]:
    words = list(RESERVED_80)
    t = _version_key(target)
    if t >= (8, 0, 14):
        words.append("LATERAL")
    if t >= (8, 0, 17):
        words += ["ARRAY", "MEMBER"]
    if t >= (8, 0, 31):
        words += ["FULL", "INTERSECT"]
    return words


@dataclass
class Problem:
    level: str
    dbObject: str
    description: str


@dataclass
class CheckResult:
    id: str
    title: str
    status: str  # OK (the check ran) / ERROR / CONFIGURATION_ERROR (it could not run)
    description: str
    detectedProblems: list[Problem] = field(default_factory=list)
    documentationLink: str | None = None


@dataclass
class PrecheckReport:
    serverAddress: str
    serverVersion: str
    targetVersion: str
    checksPerformed: list[CheckResult]

    def count(self, level: str) -> int:
        return sum(1 for c in self.checksPerformed for p in c.detectedProblems if p.level == level)

    @property
    def errorCount(self) -> int:
        return self.count("Error")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(errorCount=self.count("Error"), warningCount=self.count("Warning"),
                    noticeCount=self.count("Notice"))
        data["summary"] = (f"{data['errorCount']} errors were found. Please correct these issues before "
                           "upgrading to avoid compatibility issues." if data["errorCount"] else
                           "No fatal errors were found that would prevent an upgrade, but some potential "
                           "issues were detected." if data["warningCount"] or data["noticeCount"] else
                           "No known compatibility errors or issues were found.")
        return data


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    level: str
    description: str
    sql: Callable[[str], str]          # target version -> query returning (dbObject, detail)
    detail: str                        # how a row's detail is phrased


CHECKS: list[Check] = [
    Check("reservedKeywordsCheck", "Usage of db objects with names conflicting with new reserved keywords",
          "Warning", "Warning: The following objects have names that conflict with new reserved keywords. "
          "Ensure queries sent by your applications use `quotes` when referring to them or they will result "
          "in errors.",
          lambda t: "SELECT CONCAT(table_schema,'.',table_name,'.',column_name), 'Column name' FROM "
                    f"information_schema.columns WHERE table_schema NOT IN {SYSTEM} AND UPPER(column_name) IN "
                    f"({_list(reserved_words(t))}) UNION ALL SELECT CONCAT(table_schema,'.',table_name), "
                    "IF(table_type='VIEW','View name','Table name') FROM information_schema.tables WHERE "
                    f"table_schema NOT IN {SYSTEM} AND UPPER(table_name) IN ({_list(reserved_words(t))}) "
                    "UNION ALL SELECT CONCAT(routine_schema,'.',routine_name), 'Routine name' FROM "
                    f"information_schema.routines WHERE routine_schema NOT IN {SYSTEM} AND UPPER(routine_name) "
                    f"IN ({_list(reserved_words(t))}) UNION ALL SELECT schema_name, 'Schema name' FROM "
                    f"information_schema.schemata WHERE UPPER(schema_name) IN ({_list(reserved_words(t))})",
          "{}"),
    Check("utf8mb3Check", "Usage of utf8mb3 charset", "Warning",
          "Warning: The following objects use the utf8mb3 character set. It is recommended to convert them "
          "to use utf8mb4 instead, for improved Unicode support.",
          lambda t: "SELECT CONCAT(table_schema,'.',table_name,'.',column_name), CONCAT('column''s default "
                    "character set: ', character_set_name) FROM information_schema.columns WHERE table_schema "
                    f"NOT IN {SYSTEM} AND character_set_name IN ('utf8','utf8mb3') UNION ALL SELECT schema_name, "
                    "CONCAT('schema''s default character set: ', default_character_set_name) FROM "
                    f"information_schema.schemata WHERE schema_name NOT IN {SYSTEM} AND "
                    "default_character_set_name IN ('utf8','utf8mb3')",
          "{}"),
    Check("removedFunctionsCheck", "Usage of removed functions", "Error",
          "Error: The following DB objects use functions that were removed in the latest MySQL version. "
          "Please make sure to update them to use supported alternatives before upgrade.",
          lambda t: "SELECT CONCAT(table_schema,'.',table_name), CONCAT('VIEW uses removed function ', "
                    f"{_first_match('view_definition')}) FROM information_schema.views WHERE table_schema NOT IN "
                    f"{SYSTEM} AND {_any_call('view_definition')} UNION ALL SELECT CONCAT(routine_schema,'.',"
                    f"routine_name), CONCAT(routine_type,' uses removed function ', {_first_match('routine_definition')}) "
                    f"FROM information_schema.routines WHERE routine_schema NOT IN {SYSTEM} AND "
                    f"{_any_call('routine_definition')}",
          "{}"),
    Check("nonNativePartitioningCheck", "Partitioned tables using engines with non native partitioning",
          "Error", "Error: In MySQL 8.0 storage engine is responsible for providing its own partitioning "
          "handler, and the MySQL server no longer provides generic partitioning support. InnoDB and NDB are "
          "the only storage engines that provide a native partitioning handler.",
          lambda t: "SELECT CONCAT(table_schema,'.',table_name), CONCAT('table uses non-native partitioning "
                    "engine ', engine) FROM information_schema.tables WHERE table_schema NOT IN "
                    f"{SYSTEM} AND create_options LIKE '%partitioned%' AND UPPER(engine) NOT IN ('INNODB','NDBCLUSTER','NDB')",
          "{}"),
]


def _list(words: list[str]) -> str:
    return ",".join(f"'{w}'" for w in words)


def _any_call(column: str) -> str:
    return "(" + " OR ".join(f"UPPER({column}) REGEXP '(^|[^A-Z0-9_]){f}[[:space:]]*\\\\('"
                             for f in REMOVED_FUNCTIONS) + ")"


def _first_match(column: str) -> str:
    cases = " ".join(f"WHEN UPPER({column}) REGEXP '(^|[^A-Z0-9_]){f}[[:space:]]*\\\\(' THEN '{f}'"
                     for f in REMOVED_FUNCTIONS)
    return f"CASE {cases} END"


def run_prechecks(conn: Any, target_version: str, address: str = "") -> PrecheckReport:
    """Run every check on `conn` (a DB-API connection) for an upgrade to `target_version`."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@version")
        server_version = str(cur.fetchone()[0])
        results = []
        for check in CHECKS:
            try:
                cur.execute(check.sql(target_version))
                rows = cur.fetchall()
            except Exception as exc:  # noqa: BLE001 - reported as not run, never as passed
                results.append(CheckResult(check.id, check.title, "ERROR", f"Check could not run: {exc}"))
                continue
            problems = [Problem(check.level, str(obj), check.detail.format(detail)) for obj, detail in rows]
            results.append(CheckResult(check.id, check.title, "OK", check.description if problems else "",
                                       problems))
    return PrecheckReport(address, server_version, target_version, results)
