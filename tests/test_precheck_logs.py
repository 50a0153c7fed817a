"""The log reader on every real shape (RDS text and JSON, MySQL Shell text from the old and the new formatter,
Shell JSON with manualChecks, Aurora JSON) and on inputs that are not a precheck log (tests/bad_logs/), through
parse_log and through `runbook log explain` with its exit-code contract: 0 clean, 2 cannot judge, 3 blocking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.engines.mysql.upgrade_checks import (
    LogError,
    PrecheckReport,
    explain,
    parse_log,
    render_rds_text,
    render_text,
)
from runbook_lib.engines.mysql.upgrade_checks.model import CheckResult, Problem

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "precheck"
BAD = HERE / "bad_logs"


def _explain(path: Path, fmt: str = "json") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_lib.cli", "log", "explain", str(path), "--format", fmt],
                          capture_output=True, text=True, timeout=120)


def _objects(report: PrecheckReport, check: str) -> list[tuple[str, str]]:
    found = next(c for c in report.checksPerformed if c.id == check)
    return [(p.level, p.dbObject) for p in found.detectedProblems]


def test_shell_8040_text_wrapped_descriptionless_failed_manual() -> None:
    report = parse_log((FIXTURES / "shell_8040_text.log").read_text())
    assert (report.serverAddress, report.targetVersion) == ("db-prod.cluster-abc.eu-west-1.rds.amazonaws.com:3306",
                                                            "8.0.40")
    assert report.serverVersion == "5.7.44-log - Source distribution"
    assert (report.errorCount, report.warningCount, report.noticeCount) == (4, 3, 2)  # = the footer
    assert report.footerConsistent and not report.truncated
    # a title the catalogue spells differently ('MySQL 8.0 syntax ...') is still the routines check, at Error
    assert _objects(report, "routinesSyntaxCheck") == [("Error", "shop.rank_customers")]
    # an issue broken right after " -" keeps its object and description
    keywords = next(c for c in report.checksPerformed if c.id == "reservedKeywordsCheck")
    assert [(p.dbObject, p.description) for p in keywords.detectedProblems][1] == (
        "shop.orders_with_a_rather_long_table_name_for_wrapping.rows_processed_total", "Column name")
    # wrapped descriptions are whole, wrapped issues too
    removed = next(c for c in report.checksPerformed if c.id == "removedFunctionsCheck")
    assert removed.description and removed.description.endswith("alternatives before upgrade.")
    assert removed.detectedProblems[1].description.endswith("ASTEXT (consider using ST_ASTEXT instead)")
    # an object that is not schema.object is kept
    assert ("Notice", "global system variable sql_mode") in _objects(report, "sqlModeFlagCheck")
    # 'Error   : Table (x) - ...' of a check without description
    assert _objects(report, "checkTableOutput") == [("Error", "shop.broken_view")]
    # 'Check failed:' and a configuration error are 'could not run', never passed
    statuses = {c.id: c.status for c in report.checksPerformed}
    assert statuses["mysqlInvalid57NamesCheck"] == "ERROR" and statuses["removedSysVars"] == "CONFIGURATION_ERROR"
    assert [m.id for m in report.manualChecks] == ["defaultAuthenticationPlugin"]


def test_shell_new_formatter_text_ids_groups_and_levels() -> None:
    report = parse_log((FIXTURES / "shell_head_text.log").read_text())
    assert (report.errorCount, report.warningCount, report.noticeCount) == (2, 2, 0) and report.footerConsistent
    assert _objects(report, "authMethodUsage") == [("Warning", "app@%"), ("Warning", "report@10.0.0.%")]
    assert _objects(report, "deprecatedTemporalDelimiter") == [("Error", "sales.orders_by_day.d")]
    assert _objects(report, "routinesSyntaxCheck") == [("Error", "mysql.flush_rewrite_rules")]  # '(routineSyntax)'


@pytest.mark.parametrize(("name", "counts", "manual"), [
    ("shell_8040.json", (1, 3, 0), ["defaultAuthenticationPlugin"]),
    ("aurora_upgrade_prechecks.json", (1, 1, 0), []),
    ("rds_prepatch.json", (1, 0, 0), []),
])
def test_json_shapes_with_totals_and_manual_checks(name: str, counts: tuple[int, int, int], manual: list[str]) -> None:
    report = parse_log((FIXTURES / name).read_text())
    assert (report.errorCount, report.warningCount, report.noticeCount) == counts
    assert report.footerConsistent, report.footerMismatches  # manualChecks count, as the Shell counts them
    assert [m.id for m in report.manualChecks] == manual
    data = explain(report)
    assert all(p["sql"] or (p["manual"] or "").startswith("manual: ") for p in data["problems"])


def test_rds_text_title_unknown_to_catalogue_keeps_its_own_level() -> None:
    report = parse_log((FIXTURES / "rds_prepatch.log").read_text())
    assert (report.errorCount, report.warningCount) == (2, 1) and report.footerConsistent
    blank = next(c for c in report.checksPerformed if c.title == "Events and triggers with blank definer")
    assert [(p.level, p.dbObject) for p in blank.detectedProblems] == [("Error", "shop.nightly_cleanup")]


def test_every_fix_is_complete_sql_or_an_explicit_manual_step() -> None:
    for name in ("shell_8040_text.log", "shell_head_text.log", "rds_prepatch.log", "shell_8040.json"):
        for p in explain(parse_log((FIXTURES / name).read_text()))["problems"]:
            assert (p["sql"] is None) != (p["manual"] is None), p
            if p["sql"]:
                assert p["sql"].rstrip().endswith(";") or p["sql"].startswith("CREATE OR REPLACE"), p
                assert "<" not in p["sql"], p
            else:
                assert p["manual"].startswith("manual: ") and len(p["manual"]) > 20, p
    legacy = explain(parse_log((FIXTURES / "shell_8040_text.log").read_text()))
    view = next(p for p in legacy["problems"] if p["dbObject"] == "sales.v_legacy_hash")
    assert "PASSWORD() with SHA2()" in view["manual"]  # was '-- recreate sales.v_legacy_hash replacing '


def test_our_rds_text_round_trips() -> None:
    report = PrecheckReport(serverAddress="h:1", serverVersion="5.7.44", targetVersion="8.0.39", checksPerformed=[
        CheckResult(id="authMethodUsage", title="Check for deprecated or invalid user authentication methods.",
                    description="Warning: These accounts use a deprecated method.", detectedProblems=[
                        Problem(level="Warning", dbObject="a@%", description="deprecated"),
                        Problem(level="Error", dbObject="b@%", description="removed")])]).recount()
    back = parse_log(render_rds_text(report))
    assert (back.errorCount, back.warningCount) == (1, 1) and back.footerConsistent and not back.truncated


BAD_CASES = [
    ("empty.log", "it is empty"), ("whitespace.log", "it is empty"), ("binary.log", "binary"),
    ("gzip.log.gz", "binary"), ("garbage.txt", "neither the JSON shape"), ("nginx_access.log", "neither the JSON shape"),
    ("truncated.json", "the JSON ends early"), ("not_a_report.json", "no 'checksPerformed'"),
    ("json_array.json", "no 'checksPerformed'"),
]


@pytest.mark.parametrize(("name", "why"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_not_a_precheck_log_is_refused_with_exit_2(name: str, why: str) -> None:
    with pytest.raises(LogError, match=why) if name != "binary.log" and name != "gzip.log.gz" else \
            pytest.raises(LogError, match="binary"):
        parse_log((BAD / name).read_bytes().decode("utf-8", errors="replace"))
    done = _explain(BAD / name, "text")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert why in done.stderr and str(BAD / name) in done.stderr and "No problems" not in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("name", "code", "says"), [
    ("truncated_text.log", 3, "LOG TRUNCATED"),          # ends before its footer; what was read already blocks
    ("rds_no_end.log", 3, "no END OF LOG line"),
    ("footer_mismatch.log", 3, "FOOTER MISMATCH: the log's footer says Errors: 3 but its sections hold 2"),
    ("title_mismatch_blocking.log", 3, "BLOCKED"),
    ("clean_rds.log", 0, "No blocking problems"),
])
def test_incomplete_or_inconsistent_logs_never_read_clean(name: str, code: int, says: str) -> None:
    done = _explain(BAD / name, "text")
    assert done.returncode == code, done.stdout + done.stderr
    assert says in done.stdout


def test_truncated_log_without_errors_exits_2() -> None:
    text = (FIXTURES / "rds_prepatch.log").read_text()
    cut = text[: text.index("2) MySQL 8.0 syntax")]
    report = parse_log(cut)
    assert report.truncated and report.errorCount == 0
    from runbook_lib.engines.mysql.upgrade_checks.commands import exit_code
    assert exit_code(report) == 2


def test_title_mismatch_takes_level_from_footer_not_title() -> None:
    report = parse_log((BAD / "title_mismatch_blocking.log").read_text())
    routines = next(c for c in report.checksPerformed if c.title == "MySQL 8.0.40 grammar check for stored programs")
    assert [p.level for p in routines.detectedProblems] == ["Error"]
    assert report.errorCount == 4 and report.footerConsistent


def test_explain_json_cli_totals_and_objects() -> None:
    done = _explain(FIXTURES / "shell_8040_text.log")
    assert done.returncode == 3, done.stderr
    data = json.loads(done.stdout)
    assert (data["errorCount"], data["warningCount"], data["noticeCount"]) == (4, 3, 2)
    assert data["footerConsistent"] and not data["truncated"]
    assert {c["id"] for c in data["checksFailed"]} == {"mysqlInvalid57NamesCheck", "removedSysVars"}
    assert data["problems"][0]["level"] == "Error"
    assert render_text(parse_log((FIXTURES / "shell_8040_text.log").read_text())).count("fix: ") == 8
