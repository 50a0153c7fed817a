"""run.json: who ran what, when, where, with which parameters, what the checks found and what changed."""

from __future__ import annotations

import getpass
import json
import platform
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from runbook_lib.run.folder import project_root
from runbook_lib.run.step_record import STEPS

PACKAGES = ("bluegreen-runbook", "boto3", "botocore", "PyMySQL", "papermill", "jupyterlab", "ipywidgets",
            "graphviz", "moto", "pydantic", "nbconvert", "cryptography")


def git_commit() -> dict[str, Any]:
    root = project_root()
    if root is None:
        return {"commit": None, "dirty": None}
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out


def step_results(run_dir: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((run_dir / "steps").glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except ValueError:
            out[path.stem] = {"outcome": "unreadable"}
    return out


def build(run_dir: Path, params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The run.json document. `context` carries what only the runner knows (operator, ticket, identity,
    outcome, resumed_from, started)."""
    steps = step_results(run_dir)
    planned = [n for n in STEPS if n >= (context.get("start_from") or "01")]
    outcomes = {n: steps.get(n, {}).get("outcome", "not run") for n in planned}
    if context.get("outcome") == "interrupted":  # a step still 'running' when its process died
        outcomes = {n: "interrupted" if o == "running" else o for n, o in outcomes.items()}
    complete = all(o in ("succeeded", "expected-failure") for o in outcomes.values())
    findings: dict[str, Any] = {}
    for number, result in steps.items():
        if result.get("checks"):
            findings.setdefault("checks", {})[number] = [{k: c.get(k) for k in ("id", "result", "remediation")}
                                                        for c in result["checks"]]
        for key in ("precheck", "downtime", "zero_loss", "observation", "switchover", "final_snapshot",
                    "upgrade_cancelled", "error", "waiting_for"):
            if key in result.get("findings", {}):
                findings.setdefault(key, {})[number] = result["findings"][key]
    resources: dict[str, Any] = {}
    for result in steps.values():
        resources.update({k: v for k, v in result.get("identifiers", {}).items() if v})
    changes = [{"step": n, **c} for n, r in steps.items() for c in r.get("changes", [])]
    calls = [{"step": n, **c} for n, r in steps.items() for c in r.get("rds_calls", [])]
    return {
        "run_id": run_dir.name,
        "started": context.get("started"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "outcome": context.get("outcome") or ("succeeded" if complete else "incomplete"),
        "complete": complete,
        "operator": {"os_user": getpass.getuser(), "name": context.get("operator"), "ticket": context.get("ticket")},
        "aws_identity": context.get("aws_identity"),
        "host": {"name": socket.gethostname(), "platform": platform.platform()},
        "runbook": {**git_commit(), "versions": versions()},
        "mode": params.get("mode"), "dry_run": params.get("dry_run"),
        "parameters": params,
        "resumed_from": context.get("resumed_from"),
        "lock": context.get("lock"),
        "steps": [{"step": n, "name": STEPS[n][0], "started": steps.get(n, {}).get("started"),
                   "finished": steps.get(n, {}).get("finished"), "outcome": outcomes[n]} for n in planned],
        "failure": _failure(steps, outcomes, context),
        "findings": findings,
        "resources": resources,
        "changes": changes,
        "rds_calls": calls,
    }


def _failure(steps: dict[str, dict[str, Any]], outcomes: dict[str, str], context: dict[str, Any]) -> dict[str, Any] | None:
    """For a run that did not succeed: the step that stopped it and the error (from the step's own record when it
    wrote one, else what the runner saw)."""
    if context.get("outcome") in (None, "succeeded") and not context.get("failure"):
        return None
    stopped = next((n for n, o in outcomes.items() if o not in ("succeeded", "expected-failure")), None)
    found = (steps.get(stopped or "", {}).get("findings") or {}) if stopped else {}
    error = found.get("error") or found.get("waiting_for")
    return {"step": stopped, "step_outcome": outcomes.get(stopped or ""), "error": error or context.get("failure"),
            "runner": context.get("failure")}
