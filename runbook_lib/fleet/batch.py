"""`runbook fleet run --plan FILE`: the runbook for many databases, each a `runbook run` of its own (its own run
folder, its own deployment lock), a few at a time, from a state file that survives a crash.

The plan (YAML) names each database and what it confirms:

    defaults: parameters/lab.yaml           # every database starts from this parameter file
    databases:
      - source: orders-db                   # source_db_instance
        deployment: bg-orders-db            # optional: deployment_name (default bg-<source>)
        parameters: {probe_interval_ms: 50} # optional: per-database parameter values
        confirm:                            # optional: without it, destructive steps stop at their gate
          resource_id: db-ABC…              # the source's DbiResourceId, checked live before anything runs
          switchover: true
          delete: true

Destructive steps run only for a database the plan confirms by name *and* resource id: the source's DbiResourceId
is compared with the plan's before the run; steps 01–05 run with the switchover confirmed; the deletions (06) run
in a second `runbook run --from 06` whose confirm_delete names the old blue that step 05 recorded — after checking
that its DbiResourceId is the plan's (the old blue is the source, renamed).

The state file (`<plan>.state.json`, rewritten atomically) holds per database PENDING / IN_PROGRESS /
COMPLETED / SKIPPED / FAILED, its run folders and what happened. Killed and resumed (`--resume`), a database whose
run did not finish continues `--from` its first step not done; a COMPLETED one is not touched again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from runbook_lib.errors import RunbookError
from runbook_lib.params import RunbookParams, load, read_file, validate
from runbook_lib.run.step_record import STEPS

STATES = ("PENDING", "IN_PROGRESS", "COMPLETED", "SKIPPED", "FAILED")
DONE = ("succeeded", "expected-failure")


class PlanError(RunbookError):
    """The plan file is wrong; nothing was run."""


@dataclass
class Entry:
    source: str
    deployment: str
    parameters: dict[str, Any] = field(default_factory=dict)
    resource_id: str | None = None
    confirm_switchover: bool = False
    confirm_delete: bool = False


@dataclass
class Plan:
    path: Path
    defaults: Path
    entries: list[Entry]


@dataclass
class DatabaseState:
    status: str = "PENDING"
    runs: list[str] = field(default_factory=list)       # run folders, in order
    detail: str | None = None
    updated: str | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_plan(path: str | Path) -> Plan:
    """Read and check the plan: every problem at once, naming the entry and the fix."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PlanError(f"The plan {path} cannot be read as YAML ({exc}). Write it as described in `runbook fleet run "
                        "--help`: defaults: <parameter file>, databases: [ {source: …}, … ].") from None
    if not isinstance(data, dict) or not isinstance(data.get("databases"), list) or not data["databases"]:
        raise PlanError(f"The plan {path} must be a mapping with 'defaults' (a parameter file) and a non-empty "
                        "'databases' list. Nothing was run.")
    defaults = (path.parent / str(data.get("defaults") or "")).resolve() if data.get("defaults") else None
    if defaults is None or not defaults.is_file():
        raise PlanError(f"The plan's 'defaults' must name an existing parameter file (relative to the plan); got "
                        f"{data.get('defaults')!r}. Nothing was run.")
    base = read_file(defaults)
    problems: list[str] = []
    entries: list[Entry] = []
    seen: set[str] = set()
    for number, item in enumerate(data["databases"], 1):
        where = f"databases[{number}]"
        if not isinstance(item, dict) or not isinstance(item.get("source"), str):
            problems.append(f"{where}: needs 'source' (the DB instance identifier)")
            continue
        confirm = item.get("confirm") or {}
        if not isinstance(confirm, dict):
            problems.append(f"{where}: 'confirm' must be a mapping (resource_id, switchover, delete)")
            continue
        entry = Entry(item["source"], str(item.get("deployment") or f"bg-{item['source']}"),
                      dict(item.get("parameters") or {}), confirm.get("resource_id"),
                      bool(confirm.get("switchover", False)), bool(confirm.get("delete", False)))
        if (entry.confirm_switchover or entry.confirm_delete) and not entry.resource_id:
            problems.append(f"{where} ({entry.source}): confirming a destructive step needs confirm.resource_id, the "
                            "source's DbiResourceId (aws rds describe-db-instances), so the plan names the database "
                            "by name and by resource id")
        if entry.deployment in seen:
            problems.append(f"{where}: deployment {entry.deployment} appears twice")
        seen.add(entry.deployment)
        try:
            validate({**base, **entry.parameters, "source_db_instance": entry.source,
                      "deployment_name": entry.deployment, "confirm_switchover": None, "confirm_delete": []},
                     f"{path} {where}")
        except RunbookError as exc:
            problems.append(f"{where} ({entry.source}): {exc}")
        entries.append(entry)
    if problems:
        raise PlanError(f"The plan {path} has problems (nothing was run):\n" + "\n".join(f"  - {p}" for p in problems))
    return Plan(path.resolve(), defaults, entries)


class StateFile:
    """The batch's progress, next to the plan; every change is written at once (tmp file + rename)."""

    def __init__(self, path: Path, entries: list[Entry]) -> None:
        self.path = path
        self._lock = threading.Lock()
        known: dict[str, Any] = {}
        if path.is_file():
            try:
                known = json.loads(path.read_text()).get("databases", {})
            except (OSError, ValueError):
                raise PlanError(f"The state file {path} is unreadable; move it away to start over (the run folders "
                                "it named are still in the runs folder).") from None
        self.databases = {e.deployment: DatabaseState(**known[e.deployment]) if e.deployment in known
                          else DatabaseState() for e in entries}

    def update(self, deployment: str, **changes: Any) -> None:
        with self._lock:
            state = self.databases[deployment]
            for key, value in changes.items():
                setattr(state, key, value)
            state.updated = _now()
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"databases": {k: asdict(v) for k, v in self.databases.items()}}, indent=2))
            os.replace(tmp, self.path)


@dataclass
class Batch:
    plan: Plan
    state: StateFile
    workdir: Path                      # per-database parameter files
    concurrency: int = 1
    dry_run: bool = False
    runbook: list[str] = field(default_factory=lambda: [sys.executable, "-m", "runbook_lib.cli"])
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def run(self) -> dict[str, DatabaseState]:
        todo = [e for e in self.plan.entries if self.state.databases[e.deployment].status != "COMPLETED"]
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            list(pool.map(self._one, todo))
        return self.state.databases

    # -- one database ----------------------------------------------------------------------------------------
    def _one(self, entry: Entry) -> None:
        try:
            self._database(entry)
        except Exception as exc:  # noqa: BLE001 - one database failing must not stop the others
            self.state.update(entry.deployment, status="FAILED", detail=f"{type(exc).__name__}: {exc}")
            self.log(f"{entry.deployment}: FAILED: {exc}")

    def _params(self, entry: Entry, **extra: Any) -> Path:
        base = read_file(self.plan.defaults)
        values = {**base, **entry.parameters, "source_db_instance": entry.source, "deployment_name": entry.deployment,
                  "confirm_switchover": None, "confirm_delete": [], **extra}
        path = self.workdir / f"{entry.deployment}{'-06' if 'confirm_delete' in extra else ''}.yaml"
        path.write_text(yaml.safe_dump(values, sort_keys=False))
        return path

    def _started_file(self, entry: Entry) -> Path:
        return self.workdir / f"{entry.deployment}.run"

    def _adopt_started_run(self, entry: Entry) -> None:
        """A run the batch started but did not see finish (the batch was killed) belongs to this database too."""
        started = self._started_file(entry)
        run_dir = started.read_text().strip() if started.is_file() else ""
        runs = self.state.databases[entry.deployment].runs
        if run_dir and run_dir not in runs and Path(run_dir).is_dir():
            self.state.update(entry.deployment, runs=[*runs, run_dir])

    def _database(self, entry: Entry) -> None:
        self._adopt_started_run(entry)
        current = self.state.databases[entry.deployment]
        if entry.resource_id and not self.dry_run:
            live = self._source_resource_id(entry)
            old = self._recorded(current, "05", "old_dbi_resource_id")
            # (after its switchover the name carries green's id; the plan's id is then the recorded old blue's)
            if live is not None and entry.resource_id not in (live, old):
                self.state.update(entry.deployment, status="FAILED",
                                  detail=f"{entry.source} is {live} but the plan confirms {entry.resource_id}: not the "
                                         "database the plan names; nothing was run for it")
                self.log(f"{entry.deployment}: FAILED: resource id mismatch")
                return
        start = self._resume_from(current)
        self.state.update(entry.deployment, status="IN_PROGRESS", detail=f"from step {start}")
        if start <= "05":
            confirmed = {"confirm_switchover": entry.deployment} if entry.confirm_switchover else {}
            outcome = self._runbook(entry, self._params(entry, **confirmed), start)
            if outcome == "gate-05":
                self.state.update(entry.deployment, status="SKIPPED",
                                  detail="not confirmed by the plan: stopped at the switchover gate (steps 01-04 done)")
                return
            if outcome not in ("done", "gate-06"):
                return
            if outcome == "done":  # (06 had nothing to delete)
                self.state.update(entry.deployment, status="COMPLETED", detail="all steps done")
                return
        if not entry.confirm_delete:
            self.state.update(entry.deployment, status="COMPLETED",
                              detail="switched over; deletions not confirmed by the plan (the old blue is kept)")
            return
        latest = self.state.databases[entry.deployment]
        old = self._recorded(latest, "05", "old_instance")
        old_id = self._recorded(latest, "05", "old_dbi_resource_id")
        if not old or old_id != entry.resource_id:
            self.state.update(entry.deployment, status="FAILED",
                              detail=f"the old blue recorded by step 05 ({old}, {old_id}) is not the plan's "
                                     f"{entry.resource_id}: deletions not run")
            return
        if self._runbook(entry, self._params(entry, confirm_delete=[entry.deployment, old]), "06") == "done":
            self.state.update(entry.deployment, status="COMPLETED", detail="all steps done")

    def _runbook(self, entry: Entry, params: Path, start: str) -> str:
        """One `runbook run`: 'done', 'gate-05' / 'gate-06' (stopped at that step's confirmation gate), or
        'failed' (the state says why)."""
        cmd = [*self.runbook, "run", "--params", str(params), "--from", start, "--keep-lab"]
        if self.dry_run:
            cmd.append("--dry-run")
        self.log(f"{entry.deployment}: runbook run --from {start}")
        started = self._started_file(entry)
        started.unlink(missing_ok=True)
        done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_die_with_parent,
                              env={**os.environ, "RUNBOOK_REPORT_RUN_DIR": str(started)})
        self._adopt_started_run(entry)
        run_dir = started.read_text().strip() if started.is_file() else None
        if done.returncode == 0:
            return "done"
        for number in ("05", "06"):
            if self._outcome(run_dir, number) == "waiting-for-confirmation":
                return f"gate-{number}"
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        self.state.update(entry.deployment, status="FAILED", detail=f"runbook run exit {done.returncode}: {tail[0]}")
        self.log(f"{entry.deployment}: FAILED ({tail[0]})")
        return "failed"

    # -- what the runs recorded ------------------------------------------------------------------------------
    @staticmethod
    def _step(run_dir: str | None, number: str) -> dict[str, Any]:
        if not run_dir:
            return {}
        try:
            return dict(json.loads((Path(run_dir) / "steps" / f"{number}.json").read_text()))
        except (OSError, ValueError):
            return {}

    def _outcome(self, run_dir: str | None, number: str) -> str | None:
        return self._step(run_dir, number).get("outcome")

    def _recorded(self, state: DatabaseState, number: str, key: str) -> Any:
        for run_dir in reversed(state.runs):
            value = self._step(run_dir, number).get("identifiers", {}).get(key)
            if value:
                return value
        return None

    def _resume_from(self, state: DatabaseState) -> str:
        """The first step no run of this database finished (01 when nothing ran)."""
        done = {n for run_dir in state.runs for n in STEPS if self._outcome(run_dir, n) in DONE}
        return next((n for n in STEPS if n not in done), "06")

    def _source_resource_id(self, entry: Entry) -> str | None:
        from runbook_lib.aws.clients import make_clients
        from runbook_lib.aws.rds import RdsFacade
        params: RunbookParams = load(self._params(entry))
        found = RdsFacade(make_clients(params).rds).find_instance(entry.source)
        return str(found["DbiResourceId"]) if found else None


def _die_with_parent() -> None:
    """A `runbook run` of the batch ends with the batch (SIGTERM: it seals its run as interrupted)."""
    import ctypes
    import signal
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_plan(plan_file: str, concurrency: int = 1, dry_run: bool = False, resume: bool = False,
             workdir: Path | None = None) -> tuple[dict[str, DatabaseState], Path]:
    """Run the plan; returns the final states and the state file."""
    plan = load_plan(plan_file)
    state_path = plan.path.with_name(plan.path.stem + ".state.json")
    if state_path.exists() and not resume:
        raise PlanError(f"{state_path} exists: a batch of this plan ran before. Pass --resume to continue it (nothing "
                        "finished is repeated), or move the state file away to start over.")
    state = StateFile(state_path, plan.entries)
    work = workdir or plan.path.with_name(plan.path.stem + ".params")
    work.mkdir(parents=True, exist_ok=True)
    if plan.entries:
        first = load(Batch(plan, state, work)._params(plan.entries[0]))
        if first.mode == "lab":
            from runbook_lib.lab import client
            client.up(region=first.region)
    started = time.monotonic()
    states = Batch(plan, state, work, concurrency, dry_run).run()
    print(f"batch done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return states, state_path
