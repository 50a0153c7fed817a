"""`runbook run`: the notebooks in order under papermill, into a fresh run folder."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import papermill
from papermill.exceptions import PapermillExecutionError

from .errors import RunbookError
from .lab import client as lab_client
from .params import RunbookParams, load
from .runfolder import RunFolder, project_root
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


def run(params_file: str, start_from: str = "01", keep_lab: bool = False, dry_run: bool = False,
        log: Any = sys.stderr) -> RunResult:
    """Validate, (re)seed the lab, execute the notebooks from `start_from`; stop at the first failure."""
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
    folder = RunFolder.create()
    result = RunResult(folder, ok=True)
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
        except PapermillExecutionError as exc:
            result.timings[number] = time.monotonic() - started
            result.ok = False
            recorded = (folder.read_step(number) or {}).get("findings", {}).get("error")
            reason = recorded or f"{exc.ename}: {exc.evalue}"
            result.failure = (f"step {number} ({name}) failed in cell {exc.cell_index} "
                              f"(execution count {exc.exec_count}): {reason}")
            print(result.failure, file=log)
            break
        result.timings[number] = time.monotonic() - started
        print(f"step {number} done in {result.timings[number]:.1f} s", file=log, flush=True)
    return result
