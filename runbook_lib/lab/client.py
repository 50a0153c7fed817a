"""Starting, stopping and talking to the lab process from the outside (CLI, runner, tests)."""

from __future__ import annotations

import importlib.util
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

from runbook_lib.errors import RunbookError
from runbook_lib.host import alive
from runbook_lib.lab.paths import LabPaths


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
    if not recorded or not alive(recorded.get("pid")):
        return {"running": False, "endpoint_url": None, "region": None, "lab_dir": str(paths.root)}
    try:
        return dict(call(paths, "status", timeout=10))
    except (OSError, RunbookError):
        return {"running": False, "endpoint_url": None, "region": None, "lab_dir": str(paths.root)}


SETTINGS_FILE = "settings.json"


def lab_settings(paths: LabPaths, require_secure_transport: bool | None = None) -> dict[str, Any]:
    """The lab folder's own settings (kept across resets until changed): `require_secure_transport` — the lab's
    servers refuse plain connections (as RDS does with that parameter set in the instance's parameter group)."""
    file = paths.root / SETTINGS_FILE
    try:
        settings = dict(json.loads(file.read_text()))
    except (OSError, ValueError):
        settings = {}
    settings.setdefault("require_secure_transport", False)
    if require_secure_transport is not None and settings["require_secure_transport"] != require_secure_transport:
        settings["require_secure_transport"] = require_secure_transport
        paths.root.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(settings, indent=2))
    return settings


def up(paths: LabPaths | None = None, seed_blocker: bool = False, region: str = "us-east-1",
       timeout: float = 180, require_secure_transport: bool | None = None,
       target_groups: bool = True) -> dict[str, Any]:
    """Start the lab (or return the running one) and wait until its seeded instance is available.
    `require_secure_transport`: True/False sets the lab folder's setting; None keeps it. `target_groups` False seeds
    without pg-mysql-80 and mysql80-option-group (the DBA has yet to make them)."""
    paths = paths or LabPaths.default()
    current = status(paths)
    settings = lab_settings(paths, require_secure_transport)
    if current["running"]:
        if bool(current.get("require_secure_transport")) != settings["require_secure_transport"]:
            raise RunbookError(
                f"The running lab {'requires' if current.get('require_secure_transport') else 'does not require'} "
                "TLS, unlike what was asked: restart it with 'runbook lab reset --require-secure-transport' (or "
                "--no-require-secure-transport).")
        return current
    if importlib.util.find_spec("moto") is None:
        raise RunbookError("The lab needs the 'lab' extra (moto's server under the lab's RDS layer), which is not "
                           "installed: pip install 'bluegreen-runbook[lab]' (in a checkout: pip install -e '.[lab]'). "
                           "aws mode does not need it.")
    _kill_leftovers(paths)
    paths.root.mkdir(parents=True, exist_ok=True)
    log = paths.log_file.open("ab")
    cmd = [sys.executable, "-m", "runbook_lib.lab.daemon", "--lab-dir", str(paths.root), "--region", region]
    if seed_blocker:
        cmd.append("--seed-blocker")
    if settings["require_secure_transport"]:
        cmd.append("--require-secure-transport")
    if not target_groups:
        cmd.append("--without-target-groups")
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
    pid = int(recorded.get("pid") or 0)
    was_running = alive(pid)
    if was_running:
        try:
            call(paths, "shutdown", {}, timeout=10)
        except (OSError, RunbookError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
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
        if alive(pid) and "mariadbd" in _cmdline(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    paths.pids_file.unlink(missing_ok=True)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reset(paths: LabPaths | None = None, seed_blocker: bool = False, region: str = "us-east-1",
          require_secure_transport: bool | None = None, target_groups: bool = True) -> dict[str, Any]:
    """A freshly seeded lab: stop it, forget every instance and snapshot (keep template, credentials, settings)."""
    paths = paths or LabPaths.default()
    current = status(paths)
    same_tls = require_secure_transport in (None, bool(current.get("require_secure_transport")))
    if current["running"] and current.get("region") == region and same_tls:
        try:  # the same process, emptied and seeded again: seconds faster than a restart
            return dict(call(paths, "reset", {"seed_blocker": seed_blocker, "without_target_groups": not target_groups},
                             timeout=180))
        except RunbookError:
            pass  # fall back to a restart
    down(paths)
    lab_settings(paths, require_secure_transport)
    for folder in (paths.servers, paths.snapshots, paths.rds_logs):
        shutil.rmtree(folder, ignore_errors=True)
    for leftover in ("lab-errors.log",):
        (paths.root / leftover).unlink(missing_ok=True)
    return up(paths, seed_blocker=seed_blocker, region=region, target_groups=target_groups)


def seed_fleet(paths: LabPaths | None = None) -> dict[str, Any]:
    """The lab's fleet (lab/fleet_seed.py), made through the running lab's API; returns the lab's status."""
    from runbook_lib.lab import fleet_seed
    paths = paths or LabPaths.default()
    state = status(paths)
    creds = paths.read_credentials() or {}
    if not state["running"] or not creds:
        raise RunbookError(f"No lab is running at {paths.root}; start it with 'runbook lab up --fleet'.")
    fleet_seed.seed(str(state["endpoint_url"]), str(state["region"]), creds["master_user"], creds["master_password"])
    return status(paths)


def seed_aurora(paths: LabPaths | None = None, seed_blocker: bool = False) -> dict[str, Any]:
    """The lab's Aurora MySQL cluster (lab/control/aurora_seed.py), added to the running lab; returns the lab's status."""
    paths = paths or LabPaths.default()
    if not status(paths)["running"]:
        raise RunbookError(f"No lab is running at {paths.root}; start it with 'runbook lab up --aurora'.")
    return dict(call(paths, "aurora", {"seed_blocker": seed_blocker}, timeout=240))


def seed_postgres(paths: LabPaths | None = None) -> dict[str, Any]:
    """The lab's PostgreSQL databases, pg-1 and apg-1 (lab/control/postgres_seed.py), added to the running lab
    (idempotent); returns the lab's status."""
    paths = paths or LabPaths.default()
    if not status(paths)["running"]:
        raise RunbookError(f"No lab is running at {paths.root}; start it with 'runbook lab up --postgres'.")
    return dict(call(paths, "postgres", {}, timeout=240))


def set_switches(paths: LabPaths, **switches: Any) -> dict[str, Any]:
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
        "parameters": {g["DBParameterGroupName"]: rds.describe_db_parameters(
            DBParameterGroupName=g["DBParameterGroupName"], Source="user")["Parameters"]
            for g in rds.describe_db_parameter_groups()["DBParameterGroups"]},
        "option_groups": rds.describe_option_groups()["OptionGroupsList"],
        "events": [{k: e[k] for k in ("SourceIdentifier", "Message")} for e in rds.describe_events()["Events"]],
        "data": call(paths, "checksums"),
    }
    return hashlib.sha256(json.dumps(_stable(described), sort_keys=True, default=str).encode()).hexdigest()
