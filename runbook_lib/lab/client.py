"""Starting, stopping and talking to the lab process from the outside (CLI, runner, tests)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from ..errors import RunbookError
from .paths import LabPaths


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] not in ("Z", "X")
    except OSError:
        return False


def call(paths: LabPaths, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    """One request to the running lab's admin API."""
    status = paths.read_status()
    if not status:
        raise RunbookError(f"No lab is running at {paths.root}; start it with 'runbook lab up'.")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{status['endpoint_url']}/_lab/{path}", data=data,
                                 headers={"Content-Type": "application/json"},
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise RunbookError(f"The lab refused /_lab/{path}: {exc.read().decode(errors='replace')}") from None


def status(paths: LabPaths | None = None) -> dict[str, Any]:
    paths = paths or LabPaths.default()
    recorded = paths.read_status()
    if not recorded or not _alive(recorded.get("pid")):
        return {"running": False, "endpoint_url": None, "region": None, "lab_dir": str(paths.root)}
    try:
        return dict(call(paths, "status", timeout=10))
    except (OSError, RunbookError):
        return {"running": False, "endpoint_url": None, "region": None, "lab_dir": str(paths.root)}


def up(paths: LabPaths | None = None, seed_blocker: bool = False, region: str = "us-east-1",
       timeout: float = 180) -> dict[str, Any]:
    """Start the lab (or return the running one) and wait until its seeded instance is available."""
    paths = paths or LabPaths.default()
    current = status(paths)
    if current["running"]:
        return current
    _kill_leftovers(paths)
    paths.root.mkdir(parents=True, exist_ok=True)
    log = paths.log_file.open("ab")
    cmd = [sys.executable, "-m", "runbook_lib.lab.daemon", "--lab-dir", str(paths.root), "--region", region]
    if seed_blocker:
        cmd.append("--seed-blocker")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = paths.log_file.read_text(errors="replace")[-2000:]
            raise RunbookError(f"The lab did not start (exit code {proc.returncode}). End of {paths.log_file}:\n{tail}")
        recorded = paths.read_status()
        if recorded and recorded.get("pid") == proc.pid:
            return status(paths)
        time.sleep(0.1)
    proc.terminate()
    raise RunbookError(f"The lab did not become ready within {timeout:.0f} s; see {paths.log_file}.")


def down(paths: LabPaths | None = None, timeout: float = 60) -> bool:
    """Stop the lab and every process it started; True if something was running."""
    paths = paths or LabPaths.default()
    recorded = paths.read_status() or {}
    pid = recorded.get("pid")
    was_running = _alive(pid)
    if was_running:
        try:
            call(paths, "shutdown", {}, timeout=10)
        except (OSError, RunbookError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    _kill_leftovers(paths)
    paths.status_file.unlink(missing_ok=True)
    return was_running


def _kill_leftovers(paths: LabPaths) -> None:
    """Servers of a lab process that died without cleaning up (normally none: they die with it)."""
    try:
        pids = json.loads(paths.pids_file.read_text())
    except (OSError, ValueError):
        return
    for pid in pids.values():
        if _alive(pid) and "mariadbd" in _cmdline(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    paths.pids_file.unlink(missing_ok=True)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reset(paths: LabPaths | None = None, seed_blocker: bool = False, region: str = "us-east-1") -> dict[str, Any]:
    """A freshly seeded lab: stop it, forget every instance and snapshot (keep template and credentials)."""
    paths = paths or LabPaths.default()
    down(paths)
    for folder in (paths.servers, paths.snapshots, paths.rds_logs):
        shutil.rmtree(folder, ignore_errors=True)
    for leftover in ("lab-errors.log",):
        (paths.root / leftover).unlink(missing_ok=True)
    return up(paths, seed_blocker=seed_blocker, region=region)


def set_switches(paths: LabPaths, **switches: bool) -> dict[str, Any]:
    return dict(call(paths, "switches", dict(switches)))


def inject(paths: LabPaths, names: list[str], mode: str, seconds: float | None = None, cut: bool = False) -> None:
    call(paths, "fault", {"names": names, "mode": mode, "seconds": seconds, "cut": cut})


def set_iam_policy(paths: LabPaths, allow: list[str], deny: list[str] | None = None) -> None:
    """What the lab's SimulatePrincipalPolicy answers (default: everything allowed)."""
    call(paths, "iam-policy", {"allow": allow, "deny": deny or []})


_VOLATILE = {"LatestRestorableTime", "ResponseMetadata"}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in sorted(value.items()) if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def state_digest(paths: LabPaths) -> str:
    """A hash of every describe call's output and of the servers' data checksums: equal before and after
    something means that something changed nothing."""
    import hashlib

    import boto3
    state = status(paths)
    rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name=state["region"],
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    described = {
        "instances": rds.describe_db_instances()["DBInstances"],
        "deployments": rds.describe_blue_green_deployments()["BlueGreenDeployments"],
        "snapshots": rds.describe_db_snapshots()["DBSnapshots"],
        "parameter_groups": rds.describe_db_parameter_groups()["DBParameterGroups"],
        "parameters": {g: rds.describe_db_parameters(DBParameterGroupName=g, Source="user")["Parameters"]
                       for g in ("pg-mysql-57", "pg-mysql-80")},
        "option_groups": [rds.describe_option_groups(OptionGroupName=g)["OptionGroupsList"]
                          for g in ("mysql57-option-group", "mysql80-option-group")],
        "events": [{k: e[k] for k in ("SourceIdentifier", "Message")} for e in rds.describe_events()["Events"]],
        "data": call(paths, "checksums"),
    }
    return hashlib.sha256(json.dumps(_stable(described), sort_keys=True, default=str).encode()).hexdigest()
