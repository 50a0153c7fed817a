"""`runbook run`: the notebooks in order under papermill, into a fresh run folder."""

from __future__ import annotations

import signal
import sys
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import papermill
from papermill.exceptions import PapermillExecutionError

from .audit import seal
from .audit.secrets import SecretLeak
from .aws import make_clients
from .credentials import resolve_password
from .errors import RunbookError
from .lab import client as lab_client
from .params import RunbookParams, load
from .runfolder import RunFolder, project_root, runs_root
from .step import STEPS


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


def _identity(params: RunbookParams) -> dict[str, Any] | None:
    try:
        who = make_clients(params).sts.get_caller_identity()
        return {k: who.get(k) for k in ("Account", "Arn", "UserId")}
    except Exception as exc:  # noqa: BLE001 - recorded, never fatal
        return {"error": str(exc)[:200]}


def _secret_values(params: RunbookParams) -> list[str]:
    try:
        return [resolve_password(params)]
    except Exception:  # noqa: BLE001 - no password available means none could leak
        return []


def run(params_file: str, start_from: str = "01", keep_lab: bool = False, dry_run: bool = False,
        log: Any = sys.stderr, operator: str | None = None, ticket: str | None = None) -> RunResult:
    """Validate, (re)seed the lab, execute the notebooks from `start_from`, stop at the first failure, and
    always seal the run folder (also when interrupted)."""
    overrides = {"dry_run": True} if dry_run else {}
    params: RunbookParams = load(params_file, overrides)  # every problem reported before anything runs
    if start_from not in STEPS:
        raise RunbookError(f"--from must be one of {', '.join(STEPS)}; got {start_from!r}.")
    if params.mode == "lab":
        started = time.monotonic()
        if keep_lab or start_from != "01" or dry_run:
            lab_client.up(seed_blocker=params.lab_seed_blocker, region=params.region)
        else:
            lab_client.reset(seed_blocker=params.lab_seed_blocker, region=params.region)
        print(f"lab ready in {time.monotonic() - started:.1f} s", file=log)
    previous = _latest_run() if start_from != "01" else None
    folder = RunFolder.create()
    result = RunResult(folder, ok=True)
    context: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                               "operator": operator, "ticket": ticket, "start_from": start_from,
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
    return result


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
            recorded = (folder.read_step(number) or {}).get("findings", {}).get("error")
            reason = recorded or f"{exc.ename}: {exc.evalue}"
            result.failure = (f"step {number} ({name}) failed in cell {exc.cell_index} "
                              f"(execution count {exc.exec_count}): {reason}")
            print(result.failure, file=log)
            return
        result.timings[number] = time.monotonic() - started
        print(f"step {number} done in {result.timings[number]:.1f} s", file=log, flush=True)
