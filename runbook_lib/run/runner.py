"""`runbook run`: the notebooks in order under papermill, into a fresh run folder."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import papermill
from papermill.exceptions import PapermillExecutionError

from runbook_lib.audit import ledger, seal
from runbook_lib.audit.manifest import OPEN_MARKER
from runbook_lib.audit.seal import seal_abandoned
from runbook_lib.audit.secrets import SecretLeak, SecretValues, resolve_run_secrets
from runbook_lib.aws.clients import Clients, make_clients
from runbook_lib.errors import RunbookError
from runbook_lib.lab import client as lab_client
from runbook_lib.params import RunbookParams, load
from runbook_lib.run import lock
from runbook_lib.run.folder import RunFolder, new_run_id, project_root, runs_root
from runbook_lib.run.step_record import STEPS


def notebooks_dir() -> Path:
    root = project_root()
    if root is None:
        raise RunbookError("The notebooks folder was not found; run from a checkout of bluegreen-runbook.")
    return root / "notebooks"


@dataclass
class RunResult:
    run: RunFolder
    ok: bool
    timings: dict[str, float] = field(default_factory=dict)
    failure: str | None = None


class Interrupted(RunbookError):
    """The run was stopped from outside (Ctrl-C or SIGTERM)."""


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise Interrupted(f"stopped by signal {signum}")


def _identity(params: RunbookParams, clients: Clients | None = None) -> dict[str, Any] | None:
    try:
        who = (clients or make_clients(params)).sts.get_caller_identity()
        return {k: who.get(k) for k in ("Account", "Arn", "UserId")}
    except Exception as exc:  # noqa: BLE001 - recorded, never fatal
        return {"error": str(exc)[:200]}


def _secret_values(params: RunbookParams, clients: Clients | None = None) -> SecretValues:
    """Every secret value the run used, resolved as the steps resolved it (Secrets Manager too); one that cannot be
    resolved fails the scan instead of passing it (audit/secrets.py)."""
    client = clients.secretsmanager if clients is not None else None
    return resolve_run_secrets(params, client)


def run(params_file: str, start_from: str = "01", keep_lab: bool = False, dry_run: bool = False,
        log: Any = sys.stderr, operator: str | None = None, ticket: str | None = None) -> RunResult:
    """Validate, take the deployment's lock, (re)seed the lab, execute the notebooks from `start_from`, stop at the
    first failure, and always seal the run folder (also when interrupted)."""
    overrides = {"dry_run": True} if dry_run else {}
    params: RunbookParams = load(params_file, overrides)  # every problem reported before anything runs
    if start_from not in STEPS:
        raise RunbookError(f"--from must be one of {', '.join(STEPS)}; got {start_from!r}.")
    root = runs_root()
    for done in seal_abandoned(root):
        print(f"sealed {done['run']} as interrupted: the run that filled it died without sealing it", file=log)
    run_id = new_run_id()
    held = None if dry_run else lock.acquire(deployment_lock_path(params), params.deployment_name, run_id)
    stale = dict(held.previous) if held is not None else {}
    if stale:
        print(f"took over the lock of {params.deployment_name} from {lock.describe(stale)}: that process ended without "
              "releasing it", file=log)
    try:
        return _run_locked(params, params_file, start_from, keep_lab, dry_run, log, operator, ticket, run_id, root,
                           stale)
    finally:
        if held is not None:
            held.release()


def deployment_lock_path(params: RunbookParams) -> Path:
    return lock.lock_dir(params.mode) / lock.lock_name(params.region, params.profile, params.deployment_name)


def _run_locked(params: RunbookParams, params_file: str, start_from: str, keep_lab: bool, dry_run: bool, log: Any,
                operator: str | None, ticket: str | None, run_id: str, root: Path,
                stale_lock: dict[str, Any] | None = None) -> RunResult:
    overrides = {"dry_run": True} if dry_run else {}
    if params.mode == "lab":
        started = time.monotonic()
        if keep_lab or start_from != "01" or dry_run:
            lab_client.up(seed_blocker=params.lab_seed_blocker, region=params.region)
        else:
            others = [h for h in lock.held_in(lock.lock_dir("lab")) if h.get("run_id") != run_id]
            if others:
                raise lock.Locked(
                    "The lab is in use by " + "; ".join(lock.describe(h) for h in others) + ". `runbook run` resets "
                    "the lab before step 01 (unless --keep-lab), which would pull it from under that run: wait for "
                    "it to finish, or pass --keep-lab. Nothing was changed.", others[0])
            lab_client.reset(seed_blocker=params.lab_seed_blocker, region=params.region)
        _seed_source(params)
        print(f"lab ready in {time.monotonic() - started:.1f} s", file=log)
    previous = _latest_run() if start_from != "01" else None
    folder = RunFolder.create(root, run_id)
    report = os.environ.get("RUNBOOK_REPORT_RUN_DIR")
    if report:  # a batch learns the folder at once, so a run killed with it is not lost to its resume
        Path(report).write_text(str(folder.path))
    marker = lock.acquire(folder.path / OPEN_MARKER, params.deployment_name, run_id, kind="runbook run",
                          extra={"operator": operator, "ticket": ticket, "start_from": start_from})
    ledger.opened(folder.path, "runbook run")
    os.environ["RUNBOOK_RUNNER_PID"] = str(os.getpid())  # the kill-point tests kill the whole run from a kernel
    result = RunResult(folder, ok=True)
    context: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                               "operator": operator, "ticket": ticket, "start_from": start_from,
                               "lock": {"taken_over_from": stale_lock} if stale_lock else None,
                               "aws_identity": _identity(params),
                               "resumed_from": previous and {"run_id": previous.name,
                                                             "sealed": (previous / "manifest.json").exists()}}
    old_handler = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        _execute(folder, params_file, start_from, overrides, result, log)
    except (KeyboardInterrupt, Interrupted) as exc:
        result.ok = False
        result.failure = f"interrupted ({exc or 'Ctrl-C'})"
        context["outcome"] = "interrupted"
        print(result.failure, file=log)
    finally:
        signal.signal(signal.SIGTERM, old_handler)
        if result.failure and "outcome" not in context:
            context["outcome"] = "failed"
        context["failure"] = result.failure
        try:
            seal(folder.path, params.redacted(), context, _secret_values(params))
        except SecretLeak as leak:
            result.ok = False
            result.failure = str(leak)
            print(str(leak), file=log)
        finally:
            marker.release()
    return result


def _seed_source(params: RunbookParams) -> None:
    """What the parameters' source needs in the lab beside database-1 (each seed is idempotent): the Aurora MySQL
    cluster for a cluster going to an Aurora MySQL version (`runbook lab up --aurora`); the PostgreSQL instance and
    cluster (`runbook lab up --postgres`) for a PostgreSQL target version (major.minor, 10 and later) when the source
    is not there yet. Anything else is left to step 01, which names what is missing."""
    if params.source_db_cluster and "mysql_aurora" in params.target_engine_version:
        lab_client.seed_aurora(seed_blocker=params.lab_seed_blocker)
    elif re.fullmatch(r"[1-9]\d+\.\d+", params.target_engine_version) and _lab_engine(params) is None:
        lab_client.seed_postgres()


def _lab_engine(params: RunbookParams) -> str | None:
    """The Engine of the source the parameters name, as the lab reports it now; None when it does not exist."""
    rds = make_clients(params).rds
    try:
        found: list[Any] = list(
            rds.describe_db_clusters(DBClusterIdentifier=params.source_db_cluster)["DBClusters"]
            if params.source_db_cluster else
            rds.describe_db_instances(DBInstanceIdentifier=params.source_db_instance)["DBInstances"])
    except Exception as exc:  # noqa: BLE001 - only "not found" means absent
        if "NotFound" in str(exc):
            return None
        raise
    return str(found[0]["Engine"]) if found else None


def _latest_run() -> Path | None:
    root = runs_root()
    candidates = sorted(p for p in root.glob("2*") if p.is_dir()) if root.is_dir() else []
    return candidates[-1] if candidates else None


def _execute(folder: RunFolder, params_file: str, start_from: str, overrides: dict[str, Any], result: RunResult,
             log: Any) -> None:
    for number, (name, title, _) in STEPS.items():
        if number < start_from:
            continue
        started = time.monotonic()
        print(f"step {number} {title} ...", file=log, flush=True)
        try:
            papermill.execute_notebook(
                str(notebooks_dir() / f"{name}.ipynb"), str(folder.path / f"{name}.ipynb"),
                parameters={"params_file": str(Path(params_file).resolve()), "run_dir": str(folder.path),
                            "run_id": folder.run_id, **overrides},
                kernel_name="python3", progress_bar=False, cwd=str(notebooks_dir()))
        except Exception as exc:  # noqa: BLE001 - a dead kernel or any other failure of the step
            if isinstance(exc, Interrupted):
                raise
            if not isinstance(exc, PapermillExecutionError):
                result.timings[number] = time.monotonic() - started
                result.ok = False
                result.failure = f"step {number} ({name}) failed: {type(exc).__name__}: {str(exc)[:500]}"
                print(result.failure, file=log)
                return
            result.timings[number] = time.monotonic() - started
            result.ok = False
            findings = (folder.read_step(number) or {}).get("findings", {})
            recorded = findings.get("error") or findings.get("waiting_for")
            reason = recorded or f"{exc.ename}: {exc.evalue}"
            result.failure = (f"step {number} ({name}) failed in cell {exc.cell_index} "
                              f"(execution count {exc.exec_count}): {reason}")
            print(result.failure, file=log)
            return
        result.timings[number] = time.monotonic() - started
        print(f"step {number} done in {result.timings[number]:.1f} s", file=log, flush=True)
