"""Upgrade prechecks on a real MariaDB server: each check with a schema that triggers it and one that
does not; gating, not-run reporting, set-based queries, the JSON shape; the log reader and the CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths
from runbook_lib.lab.servers import Admin, MariaDBServer, ServerSpec, new_server
from runbook_lib.precheck import PrecheckReport, explain, parse_log, render_rds_text, run_prechecks
from runbook_lib.precheck.explain import rewrite_removed_calls

TARGET = "8.0.39"


@pytest.fixture(scope="module")
def server(lab_paths: LabPaths, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    """A private server from the lab's template (the lab itself stays untouched)."""
    client.up(lab_paths)
    admin = Admin("root", json.loads((lab_paths.root / "internal.json").read_text())["admin_password"])
    srv = new_server(tmp_path_factory.mktemp("precheck") / "server", lab_paths.template, admin)
    srv.start(ServerSpec("5.7.44", 77))
    yield srv
    srv.remove()


_counter = iter(range(10_000))


def _schema(server: MariaDBServer, *statements: str, sql_mode: str | None = None) -> str:
    name = f"pc{next(_counter)}"
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        cur.execute(f"USE {name}")
        if sql_mode is not None:
            cur.execute(f"SET SESSION sql_mode = '{sql_mode}'")
        for sql in statements:
            cur.execute(sql)
    return name


def _found(server: MariaDBServer, check: str, schema: str, target: str = TARGET) -> list[str]:
    with server.connect() as conn:
        report = run_prechecks(conn, target)
    result = next(c for c in report.checksPerformed if c.id == check)
    assert result.status == "OK", result.description
    return [p.dbObject for p in result.detectedProblems if p.dbObject.startswith(schema + ".") or p.dbObject == schema]


CASES = [
    ("reservedKeywordsCheck", ["CREATE TABLE `rank` (id INT PRIMARY KEY, `rows` INT)"],
     ["CREATE TABLE ranking (id INT PRIMARY KEY, row_count INT)"], {".rank", ".rank.rows"}),
    ("utf8mb3Check", ["CREATE TABLE t (id INT PRIMARY KEY, c VARCHAR(10) CHARACTER SET utf8)"],
     ["CREATE TABLE t (id INT PRIMARY KEY, c VARCHAR(10) CHARACTER SET utf8mb4)"], {".t.c"}),
    ("nonNativePartitioningCheck", ["CREATE TABLE p (id INT) ENGINE=MyISAM PARTITION BY HASH(id) PARTITIONS 2"],
     ["CREATE TABLE p (id INT) ENGINE=InnoDB PARTITION BY HASH(id) PARTITIONS 2"], {".p"}),
    ("columnsWhichCannotHaveDefaultsCheck", ["CREATE TABLE t (id INT PRIMARY KEY, b TEXT DEFAULT 'abc')"],
     ["CREATE TABLE t (id INT PRIMARY KEY, b TEXT)"], {".t.b"}),
    ("zeroDatesCheck", ["CREATE TABLE t (id INT PRIMARY KEY, d DATETIME DEFAULT '0000-00-00 00:00:00')"],
     ["CREATE TABLE t (id INT PRIMARY KEY, d DATETIME DEFAULT '2020-01-01 00:00:00')"], {".t.d"}),
    ("mysqlDollarSignNameCheck", ["CREATE TABLE `$orders` (id INT PRIMARY KEY)"],
     ["CREATE TABLE `$orders$` (id INT PRIMARY KEY)"], {".$orders"}),
    ("removedFunctionsCheck",
     ["CREATE VIEW v1 AS SELECT PASSWORD('a') AS p", "CREATE VIEW v2 AS SELECT ENCODE('a', 'k') AS e",
      "CREATE FUNCTION f1(x VARCHAR(10)) RETURNS VARCHAR(100) DETERMINISTIC RETURN ENCRYPT(x)"],
     ["CREATE VIEW v1 AS SELECT SHA2('a', 256) AS p", "CREATE VIEW v2 AS SELECT 'password(' AS text_only"],
     {".v1", ".v2", ".f1"}),
    ("groupByAscCheck", ["CREATE TABLE t (a INT)", "CREATE PROCEDURE p1() SELECT a, COUNT(*) FROM t GROUP BY a DESC"],
     ["CREATE TABLE t (a INT)", "CREATE PROCEDURE p1() SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY a DESC"],
     {".p1"}),
    ("enumSetElementLenghtCheck", [f"CREATE TABLE t (id INT PRIMARY KEY, c ENUM('{'a' * 300}', 'b'))"],
     [f"CREATE TABLE t (id INT PRIMARY KEY, c ENUM('{'a' * 255}', 'b'))"], {".t.c"}),
    ("routinesSyntaxCheck", ["CREATE TABLE t (a INT)", "CREATE PROCEDURE p1() SELECT a AS rank FROM t"],
     ["CREATE TABLE t (a INT)", "CREATE PROCEDURE p1() SELECT a AS `rank`, RANK() OVER (ORDER BY a) FROM t"],
     {".p1"}),
    ("mysqlEmptyDotTableSyntaxCheck", ["CREATE TABLE t (a INT)", "CREATE PROCEDURE p1() SELECT a FROM .t"],
     ["CREATE TABLE t (a INT)", "CREATE PROCEDURE p1() SELECT a FROM t"], {".p1"}),
    ("changedFunctionsInGeneratedColumnsCheck",
     ["CREATE TABLE t (a VARCHAR(10), g INT AS (CAST(a AS SIGNED)) PERSISTENT, KEY (g))"],
     ["CREATE TABLE t (a VARCHAR(10), g INT AS (LENGTH(a)) PERSISTENT, KEY (g))"], {".t.g"}),
]


@pytest.mark.parametrize(("check", "bad", "good", "objects"), CASES, ids=[c[0] for c in CASES])
def test_check_fires_on_a_bad_schema_and_not_on_a_good_one(server: MariaDBServer, check: str, bad: list[str],
                                                            good: list[str], objects: set[str]) -> None:
    mode = "" if check == "zeroDatesCheck" else None
    bad_schema = _schema(server, *bad, sql_mode=mode)
    good_schema = _schema(server, *good, sql_mode=mode)
    assert {o[len(bad_schema):] for o in _found(server, check, bad_schema)} == objects
    assert _found(server, check, good_schema) == []


@pytest.mark.parametrize(("flag", "check"), [("MAXDB", "maxdbFlagCheck"), ("NO_AUTO_CREATE_USER", "sqlModeFlagCheck")])
def test_routines_stored_with_obsolete_sql_mode(server: MariaDBServer, flag: str, check: str) -> None:
    bad = _schema(server, "CREATE PROCEDURE p1() SELECT 1", sql_mode=flag)
    good = _schema(server, "CREATE PROCEDURE p1() SELECT 1", sql_mode="STRICT_TRANS_TABLES")
    assert _found(server, check, bad) == [f"{bad}.p1"]
    assert _found(server, check, good) == []


def test_global_sql_mode_and_zero_dates(server: MariaDBServer) -> None:
    server.execute("SET GLOBAL sql_mode = 'STRICT_TRANS_TABLES'")
    with server.connect() as conn:
        report = run_prechecks(conn, TARGET)
    zero = next(c for c in report.checksPerformed if c.id == "zeroDatesCheck")
    assert "global.sql_mode" in [p.dbObject for p in zero.detectedProblems]
    server.execute("SET GLOBAL sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE'")
    try:
        with server.connect() as conn:
            report = run_prechecks(conn, TARGET)
        zero = next(c for c in report.checksPerformed if c.id == "zeroDatesCheck")
        assert "global.sql_mode" not in [p.dbObject for p in zero.detectedProblems]
    finally:
        server.execute("SET GLOBAL sql_mode = DEFAULT")


def test_old_temporal_and_orphaned_routines(server: MariaDBServer) -> None:
    server.execute("SET GLOBAL mysql56_temporal_format = OFF")
    try:
        old = _schema(server, "CREATE TABLE t (id INT PRIMARY KEY, d DATETIME)")
    finally:
        server.execute("SET GLOBAL mysql56_temporal_format = ON")
    new = _schema(server, "CREATE TABLE t (id INT PRIMARY KEY, d DATETIME)")
    assert _found(server, "oldTemporalCheck", old) == [f"{old}.t.d"]
    assert _found(server, "oldTemporalCheck", new) == []
    ghost = _schema(server, "CREATE PROCEDURE lost() SELECT 1")
    server.execute(f"UPDATE mysql.proc SET db = 'gone_{ghost}' WHERE db = '{ghost}'")
    with server.connect() as conn:
        report = run_prechecks(conn, TARGET)
    orphans = next(c for c in report.checksPerformed if c.id == "mysqlOrphanedRoutinesCheck")
    assert f"gone_{ghost}.lost" in [p.dbObject for p in orphans.detectedProblems]
    server.execute(f"DELETE FROM mysql.proc WHERE db = 'gone_{ghost}'")


def test_gating_not_run_shape_and_set_based_queries(server: MariaDBServer) -> None:
    with server.connect() as conn:
        old_target = run_prechecks(conn, "8.0.30")
        new_target = run_prechecks(conn, TARGET)
    ids = lambda r: {c.id for c in r.checksPerformed}  # noqa: E731
    assert "mysqlDollarSignNameCheck" not in ids(old_target) and "mysqlDollarSignNameCheck" in ids(new_target)
    assert "ftsTablenameCheck" not in ids(new_target) and "oldGeometryCheck" not in ids(new_target)
    assert {"id": "checkTableOutput", "reason": "opt-in (heavy: opens every table)"} in new_target.checksNotApplicable
    circular = next(c for c in new_target.checksPerformed if c.id == "circularDirectoryCheck")
    assert circular.status == "ERROR" and "could not run" in circular.description  # never reported as passed
    data = new_target.to_json()
    assert {"serverAddress", "serverVersion", "targetVersion", "errorCount", "warningCount", "noticeCount", "summary",
            "checksPerformed"} <= set(data)
    assert PrecheckReport.model_validate(data).errorCount == data["errorCount"]
    assert data["errorCount"] == sum(1 for c in data["checksPerformed"] for p in c["detectedProblems"]
                                     if p["level"] == "Error")

    class Counting:
        def __init__(self, conn: Any) -> None:
            self.conn, self.executed = conn, 0

        def cursor(self) -> Any:
            outer, cur = self, self.conn.cursor()

            class Wrapped:
                def __enter__(self) -> Any:
                    return self

                def __exit__(self, *a: Any) -> None:
                    cur.close()

                def execute(self, sql: str, args: Any = None) -> Any:
                    outer.executed += 1
                    return cur.execute(sql, args)

                def fetchall(self) -> Any:
                    return cur.fetchall()

                def fetchone(self) -> Any:
                    return cur.fetchone()
            return Wrapped()

    with server.connect() as conn:
        few = Counting(conn)
        run_prechecks(few, TARGET)
    _schema(server, *[f"CREATE TABLE t{i} (id INT PRIMARY KEY, c VARCHAR(10) CHARACTER SET utf8)" for i in range(60)])
    with server.connect() as conn:
        many = Counting(conn)
        run_prechecks(many, TARGET)
    assert many.executed == few.executed  # one query per check, whatever the number of tables


RDS_LOG_CLEAN = """Executing Compatibility Checks for the MySQL server at db.abc.eu-west-1.rds.amazonaws.com:3306.
Source Version: 5.7.44, Target Version: 8.0.39.

1) Usage of old temporal type
  No issues found

2) Usage of db objects with names conflicting with new reserved keywords
  No issues found

Errors:   0
Warnings: 0
Notices:  0
Database Objects Affected: 0

No known compatibility errors or issues were found.

----------------------- END OF LOG ----------------------
"""

RDS_LOG_PROBLEMS = """Executing Compatibility Checks for the MySQL server at db.abc.eu-west-1.rds.amazonaws.com:3306.
Source Version: 5.7.44-rds.20240808, Target Version: 8.0.39.

1) Usage of db objects with names conflicting with new reserved keywords
  Warning: The following objects have names that conflict with new reserved keywords. Ensure queries sent by your
  applications use `quotes` when referring to them or they will result in errors.
  More information: https://dev.mysql.com/doc/refman/en/keywords.html

  shop.rank - Table name
  shop.orders.rows - Column name

2) Usage of removed functions
  Error: Following DB objects make use of functions that have been removed in version 8.0. Please make sure to
  update them to use supported alternatives before upgrade.

  shop.legacy_login_hashes - VIEW uses removed functions PASSWORD (consider using SHA2 instead)

3) Usage of obsolete sql_mode flags
  Notice: The following DB objects have obsolete options persisted for sql_mode, which will be cleared during upgrade.

  shop.order_count - FUNCTION uses obsolete NO_AUTO_CREATE_USER sql_mode

4) Some check RDS added
  Error: Dangling FULLTEXT index references were found.

  shop.docs - table has a dangling FULLTEXT reference

Errors:   {errors}
Warnings: 2
Notices:  1
Database Objects Affected: 5

2 errors were found. Please correct these issues before upgrading to avoid compatibility issues.

----------------------- END OF LOG ----------------------
"""


def test_rds_text_log_parses_with_levels_and_footer_cross_check() -> None:
    clean = parse_log(RDS_LOG_CLEAN)
    assert (clean.errorCount, clean.warningCount, clean.noticeCount) == (0, 0, 0) and clean.footerConsistent
    assert clean.targetVersion == "8.0.39" and len(clean.checksPerformed) == 2
    report = parse_log(RDS_LOG_PROBLEMS.replace("{errors}", "2"))
    assert (report.errorCount, report.warningCount, report.noticeCount) == (2, 2, 1)
    assert report.footerConsistent
    by_id = {c.id: c for c in report.checksPerformed}
    assert [p.dbObject for p in by_id["reservedKeywordsCheck"].detectedProblems] == ["shop.rank", "shop.orders.rows"]
    assert by_id["removedFunctionsCheck"].detectedProblems[0].level == "Error"
    assert by_id["someCheckRdsAddedCheck"].detectedProblems[0].level == "Error"  # level from its own text
    wrong = parse_log(RDS_LOG_PROBLEMS.replace("{errors}", "3"))
    assert not wrong.footerConsistent and wrong.footerMismatches == {"Errors": {"footer": 3, "parsed": 2}}


def test_our_rds_text_round_trips_and_json_logs_parse(server: MariaDBServer) -> None:
    schema = _schema(server, "CREATE VIEW v AS SELECT PASSWORD('x') AS p", "CREATE TABLE `window` (id INT)")
    with server.connect() as conn:
        report = run_prechecks(conn, TARGET, "127.0.0.1:1")
    parsed = parse_log(render_rds_text(report))
    assert parsed.footerConsistent
    assert (parsed.errorCount, parsed.warningCount, parsed.noticeCount) == (report.errorCount, report.warningCount,
                                                                           report.noticeCount)
    aurora = {"serverAddress": "x:3306", "serverVersion": "5.7.12", "targetVersion": "8.0.39", "auroraServerVersion": "2.11",
              "errorCount": 1, "warningCount": 0, "noticeCount": 0, "Summary": "1 errors were found.",
              "checksPerformed": [{"id": "removedFunctionsCheck", "title": "Usage of removed functions", "status": "OK",
                                   "detectedProblems": [{"level": "Error", "dbObject": f"{schema}.v",
                                                         "description": "VIEW uses removed functions PASSWORD"}]}]}
    from_json = parse_log(json.dumps(aurora, indent=1))
    assert from_json.errorCount == 1 and from_json.footerConsistent and from_json.summary.startswith("1 errors")


def test_explanations_give_concrete_sql(server: MariaDBServer) -> None:
    schema = _schema(server, "CREATE TABLE c (id INT PRIMARY KEY, email VARCHAR(50) CHARACTER SET utf8)",
                     "CREATE VIEW v AS SELECT id, PASSWORD(email) AS h, ENCODE(email, 'k') AS e FROM c",
                     "CREATE TABLE p (id INT) ENGINE=MyISAM PARTITION BY HASH(id) PARTITIONS 2")
    with server.connect() as conn:
        data = explain(run_prechecks(conn, TARGET), conn)
        fixes = {(p["check"], p["dbObject"]): p["sql"] for p in data["problems"]}
        view_sql = fixes[("removedFunctionsCheck", f"{schema}.v")]
        assert "SHA2(" in view_sql and "AES_ENCRYPT(" in view_sql and "PASSWORD" not in view_sql.upper()
        with conn.cursor() as cur:
            cur.execute(view_sql)
        assert explain(run_prechecks(conn, TARGET), conn)["errorCount"] == data["errorCount"] - 1
    assert fixes[("utf8mb3Check", f"{schema}.c.email")].startswith(f"ALTER TABLE `{schema}`.`c` CONVERT TO CHARACTER SET utf8mb4")
    assert fixes[("nonNativePartitioningCheck", f"{schema}.p")] == f"ALTER TABLE `{schema}`.`p` ENGINE=InnoDB;"
    assert rewrite_removed_calls("select x(p), y(p), glength(l)") == "select ST_X(p), ST_Y(p), ST_LENGTH(l)"


def test_cli_exit_codes(server: MariaDBServer, tmp_path: Path) -> None:
    env = dict(os.environ, ADMIN_PW=server.admin.password)
    base = [sys.executable, "-m", "runbook_lib.cli", "precheck", "--host", "127.0.0.1", "--port", str(server.port),
            "--user", "root", "--password-env", "ADMIN_PW", "--target-version", TARGET]
    _schema(server, "CREATE VIEW v AS SELECT ENCRYPT('x') AS e")  # an Error-level finding now exists
    done = subprocess.run(base + ["--format", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout)["errorCount"] >= 1
    refused = subprocess.run(base[:-2] + ["--target-version", TARGET, "--port", "1"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert refused.returncode == 2 and "Cannot connect" in refused.stderr
    log = tmp_path / "PrePatchCompatibility.log"
    log.write_text(RDS_LOG_PROBLEMS.replace("{errors}", "2"))
    explained = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "log", "explain", str(log), "--format", "json"],
                               capture_output=True, text=True, timeout=60)
    assert explained.returncode == 3
    data = json.loads(explained.stdout)
    assert (data["errorCount"], data["warningCount"], data["noticeCount"]) == (2, 2, 1)
    assert data["problems"][0]["level"] == "Error" and data["problems"][0]["advice"]
    log.write_text(RDS_LOG_CLEAN)
    clean = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "log", "explain", str(log)], capture_output=True,
                           text=True, timeout=60)
    assert clean.returncode == 0 and "nothing blocks the upgrade" in clean.stdout
