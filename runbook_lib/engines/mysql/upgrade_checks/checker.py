"""run_prechecks: every check that applies to this upgrade, against a live MySQL 5.7 (or the lab's MariaDB).

Order of work: which global privileges the account lacks (a check information_schema would silently starve
is reported as not run, naming the privilege), one snapshot of everything the checks read (snapshot.py),
then the checks in Python (checks.py). Each check ends in one of: run (with or without findings), failed
(status ERROR: could not judge), or not run (listed in checksNotRun with why: not for this target, not on
this server, opt-in, needs the parameter group).
"""

from __future__ import annotations

import time
from typing import Any

from runbook_lib.engines.mysql.upgrade_checks import sqltext
from runbook_lib.engines.mysql.upgrade_checks.catalog import CATALOGUE, CheckInfo, version_key
from runbook_lib.engines.mysql.upgrade_checks.checks import CHECKS, Finding, Upgrade
from runbook_lib.engines.mysql.upgrade_checks.model import CheckResult, ManualCheck, NotRun, PrecheckReport, Problem
from runbook_lib.engines.mysql.upgrade_checks.privileges import WHY, grant_advice, missing_privileges
from runbook_lib.engines.mysql.upgrade_checks.snapshot import Connect, Fetcher, Snapshot

PARAMETER_GROUP_CHECKS = ("removedSysVars", "removedSysLogVars", "sysVarsNewDefaults")
CHECK_TABLE = "checkTableOutput"


def _level(info: CheckInfo, finding: Finding) -> str:
    if finding.level:
        return finding.level
    return info.level if info.level in ("Error", "Warning", "Notice") else "Warning"


def result_for(info: CheckInfo, findings: list[Finding]) -> CheckResult:
    problems = [Problem(level=_level(info, f), dbObject=f.dbObject, description=f.description)  # type: ignore[arg-type]
                for f in findings]
    return CheckResult(id=info.id, title=info.title, status="OK", description=info.description if problems else None,
                       documentationLink=info.doc, detectedProblems=problems)


def _failed(info: CheckInfo, why: str) -> CheckResult:
    return CheckResult(id=info.id, title=info.title, status="ERROR", description=f"Check could not run: {why}",
                       documentationLink=info.doc)


def _source_version(server_version: str) -> str:
    """The MySQL version a server stands for ('5.7.44-MariaDB-lab' -> '5.7.44'; a bare MariaDB 10.x -> 5.7)."""
    key = version_key(server_version)
    return "5.7.44" if key[0] >= 10 else ".".join(map(str, key))


def run_prechecks(conn: Any, target_version: str, address: str = "", check_table_output: bool = False,
                  timings: dict[str, float] | None = None, connect_more: Connect | None = None,
                  workers: int = 2) -> PrecheckReport:
    """Every applicable check on `conn` (a DB-API connection) for an upgrade to `target_version`.

    `connect_more`, when given, opens further connections the same way as `conn` (the caller's connection
    code, TLS included) for per-schema queries over `workers` connections; without it all runs on `conn`."""
    started = time.perf_counter()
    try:
        lacking, account = missing_privileges(conn)
    except Exception as exc:  # noqa: BLE001 - unknown grants: judged as lacking all, said why
        lacking, account = set(WHY), f"(SHOW GRANTS failed: {exc})"
    fetcher = Fetcher(conn, connect_more, workers)
    # INNODB_SYS_COLUMNS (a pass over every column) only when oldGeometryCheck can apply (targets < 8.0.24)
    snap = fetcher.fetch(want_innodb_columns=version_key(target_version) < (8, 0, 24))
    fetched = time.perf_counter()
    source = _source_version(snap.server_version)
    up = Upgrade(source, target_version)
    results: list[CheckResult] = []
    not_run: list[NotRun] = []
    manual: list[ManualCheck] = []
    for info in CATALOGUE.values():
        if not info.applies(source, target_version):
            not_run.append(NotRun(id=info.id, title=info.title,
                                  reason=f"does not apply to {source} -> {target_version} (only {info.gating()})"))
            continue
        if info.manual:
            manual.append(ManualCheck(id=info.id, title=info.title, description=info.description,
                                      documentationLink=info.doc))
            continue
        if info.id in PARAMETER_GROUP_CHECKS:
            not_run.append(NotRun(id=info.id, title=info.title, reason="reads the target DB parameter group: give "
                                  "--parameter-group (the runbook's step 01 does)"))
            continue
        if info.id == CHECK_TABLE:
            if check_table_output:
                results.append(_check_table(conn, snap, info, timings))
            else:
                not_run.append(NotRun(id=info.id, title=info.title, reason="opt-in (--check-table): CHECK TABLE ... "
                                      "FOR UPGRADE opens every table and cannot be fast"))
            continue
        result = _run_one(info, snap, up, lacking, account, not_run)
        if result is not None:
            results.append(result)
    sqltext.forget()
    report = PrecheckReport(serverAddress=address, serverVersion=snap.server_version, targetVersion=target_version,
                            checksPerformed=results, manualChecks=manual, checksNotRun=not_run)
    report.checksNotApplicable = [n.as_dict() for n in not_run]  # type: ignore[attr-defined]
    report.openedTables = snap.opened_tables  # type: ignore[attr-defined]
    if timings is not None:
        timings.update({f"read {k}": v for k, v in snap.timings.items()})
        timings["fetch"] = fetched - started
        timings["checks"] = time.perf_counter() - fetched
        timings["total"] = time.perf_counter() - started
    return report.recount()


def _run_one(info: CheckInfo, snap: Snapshot, up: Upgrade, lacking: set[str], account: str,
             not_run: list[NotRun]) -> CheckResult | None:
    """The check's result; None when it was listed in `not_run` instead."""
    check = CHECKS[info.id]
    if snap.is_mariadb and check.mariadb_note:
        not_run.append(NotRun(id=info.id, title=info.title, reason=f"not on this server: {check.mariadb_note}"))
        return None
    need = set(check.privileges) & lacking
    if need:
        return _failed(info, f"the account {account} lacks the global {', '.join(sorted(need))} privilege"
                             f"{'s' if len(need) > 1 else ''} ({'; '.join(WHY[p] for p in sorted(need))}), so "
                             f"information_schema would hide what this check reads. {grant_advice(need, account)}")
    gone = [snap.unavailable[s] for s in check.sources if s in snap.unavailable]
    if gone and all(g.not_applicable for g in gone):
        not_run.append(NotRun(id=info.id, title=info.title, reason=f"not on this server: {gone[0].reason}"))
        return None
    hard = [g for g in gone if not g.not_applicable]
    if hard:
        g = hard[0]
        hint = f" (needs the {g.privilege} privilege)" if g.privilege and "denied" in g.reason else ""
        return _failed(info, f"reading {g.source} failed{hint}: {g.reason}")
    if info.id == "zeroDatesCheck" and "session_modes" in snap.unavailable:
        not_run.append(NotRun(id=info.id, title=info.title, part="session.sql_mode",
                              reason=snap.unavailable["session_modes"].reason))
    return result_for(info, check.fn(snap, up))


def _check_table(conn: Any, snap: Snapshot, info: CheckInfo, timings: dict[str, float] | None) -> CheckResult:
    """CHECK TABLE ... FOR UPGRADE on every table and view (as the Shell does); its own time is reported."""
    started = time.perf_counter()
    findings: list[Finding] = []
    try:
        with conn.cursor() as cur:
            if version_key(snap.server_version) < (8, 0, 0) and not snap.is_mariadb:
                try:
                    cur.execute("FLUSH LOCAL TABLES")
                except Exception as exc:  # noqa: BLE001
                    return CheckResult(id=info.id, title=info.title, status="CONFIGURATION_ERROR",
                                       description=f"To run this check the RELOAD grant is required ({exc}).")
            for t in snap.tables:
                if t.schema in ("information_schema", "performance_schema", "sys"):
                    continue
                cur.execute(f"CHECK TABLE `{t.schema.replace('`', '``')}`.`{t.name.replace('`', '``')}` FOR UPGRADE")
                for _, _, msg_type, text in cur.fetchall():
                    kind = str(msg_type).lower()
                    if kind == "status":
                        continue
                    level = "Warning" if kind == "warning" else "Error" if kind == "error" else "Notice"
                    if level == "Warning" and "use native partitioning instead." in str(text):
                        continue
                    findings.append(Finding(f"{t.schema}.{t.name}", str(text), level))
    except Exception as exc:  # noqa: BLE001 - a failure here is reported, not swallowed
        return _failed(info, str(exc))
    finally:
        if timings is not None:
            timings["checkTableOutput"] = time.perf_counter() - started
    result = result_for(info, findings)
    result.seconds = round(time.perf_counter() - started, 3)  # type: ignore[attr-defined]
    return result
