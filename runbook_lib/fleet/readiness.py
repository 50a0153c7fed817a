"""`runbook fleet readiness --plan FILE`: step 01 (the source preflight and the 5.7 → 8.0 prechecks) for every
database of a plan, a few at a time, each as a dry run in its own sealed run folder; then one ranked list: ready,
blocked (the first failing check and its fix), unreachable (the API or the database could not be reached).

Nothing changes anywhere: each database's step 01 runs with dry_run (it only reads) and takes no lock."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.errors import RunbookError
from runbook_lib.fleet.batch import Entry, Plan
from runbook_lib.params import read_file

RANK = {"ready": 0, "blocked": 1, "unreachable": 2}


@dataclass
class Readiness:
    deployment: str
    source: str
    verdict: str                  # ready | blocked | unreachable
    why: str | None
    run_dir: str | None
    checks: dict[str, str]        # check id -> pass | warn | fail | skip


def _one(plan: Plan, entry: Entry, workdir: Path, runs: Path) -> Readiness:
    import yaml

    from runbook_lib.audit import seal
    from runbook_lib.run.context import begin
    from runbook_lib.run.folder import RunFolder
    from runbook_lib.steps import prerequisites
    values = {**read_file(plan.defaults), **entry.parameters, "source_db_instance": entry.source,
              "deployment_name": entry.deployment, "confirm_switchover": None, "confirm_delete": [], "dry_run": True}
    params_file = workdir / f"{entry.deployment}-readiness.yaml"
    params_file.write_text(yaml.safe_dump(values, sort_keys=False))
    folder = RunFolder.create(runs)
    verdict, why = "ready", None
    step = None
    try:
        step = begin("01", str(params_file), {"run_dir": str(folder.path), "run_id": folder.run_id})
        prerequisites.check(step)
        step.finish()
    except RunbookError as exc:
        failed = [c for c in (step.checks if step else []) if c["result"] == "fail"]
        if step is not None:
            step.fail(exc)
        if failed:
            verdict, why = "blocked", f"{failed[0]['id']}: {failed[0]['remediation'] or failed[0]['evidence']}"
        else:
            verdict, why = "unreachable", str(exc)
    except Exception as exc:  # noqa: BLE001 - a database that cannot be reached is a finding, not the end
        if step is not None:
            step.fail(exc)
        verdict, why = "unreachable", f"{type(exc).__name__}: {exc}"
    secret = []
    if step is not None:
        try:
            secret = [step.password()]
        except RunbookError:
            secret = []
    seal(folder.path, values, {"start_from": "01", "outcome": None if verdict == "ready" else "failed",
                               "failure": why}, secret)
    checks = {c["id"]: c["result"] for c in (step.checks if step else [])}
    return Readiness(entry.deployment, entry.source, verdict, why, str(folder.path), checks)


def assess(plan: Plan, workdir: Path, runs: Path, concurrency: int = 2,
           log: Callable[[str], None] = lambda line: None) -> list[Readiness]:
    """Every database of the plan, ranked: ready first, then blocked, then unreachable."""
    workdir.mkdir(parents=True, exist_ok=True)
    # The steps narrate as they go; that narration goes to stderr so stdout stays the ranked list scripts read.
    with contextlib.redirect_stdout(sys.stderr), ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        found = list(pool.map(lambda e: _one(plan, e, workdir, runs), plan.entries))
    for item in found:
        log(f"{item.deployment}: {item.verdict}")
    return sorted(found, key=lambda r: (RANK[r.verdict], r.deployment))


def as_rows(found: list[Readiness]) -> list[dict[str, Any]]:
    return [{"deployment": r.deployment, "source": r.source, "verdict": r.verdict, "why": r.why,
             "run_dir": r.run_dir, "checks": r.checks} for r in found]
