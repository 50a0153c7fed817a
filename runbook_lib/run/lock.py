"""One run at a time per deployment: an advisory lock file per deployment, held with flock(2) for as long as the
run lasts. The kernel releases a flock when its holder dies, so a lock left by a killed run is never a dead
end: the next run finds it free, reads who held it, and says so.

Where the lock files live (docs/record.md): lab mode, in the lab's own folder (every checkout that talks to that
lab shares them); aws mode, in the user's state folder (every checkout on this machine shares them), one file
per Region, profile and deployment name. Runs on other machines are not seen: use one operator machine per
change window.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from runbook_lib.errors import RunbookError
from runbook_lib.host import alive


class Locked(RunbookError):
    """Another live run holds the lock of this deployment."""

    def __init__(self, message: str, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


def state_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "bluegreen-runbook"


def lock_dir(mode: str, lab_root: Path | None = None) -> Path:
    if mode == "lab":
        if lab_root is None:
            from runbook_lib.lab.paths import default_lab_dir
            lab_root = default_lab_dir()
        return lab_root / "locks"
    return state_dir() / "locks"


def lock_name(region: str, profile: str | None, deployment: str) -> str:
    raw = f"{region}--{profile or 'default'}--{deployment}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw) + ".lock"


def read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def is_held(path: Path) -> bool:
    """True when some live process holds `path` (probing without taking it for long)."""
    try:
        fh = path.open("a")
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


@dataclass
class RunLock:
    """A held lock; `previous` is what a dead holder left behind (a killed run), if anything."""

    path: Path
    holder: dict[str, Any]
    previous: dict[str, Any] = field(default_factory=dict)
    _fh: IO[str] | None = field(default=None, repr=False)

    def set_run(self, run_id: str) -> None:
        """Name the run once its folder exists (a notebook takes the lock before it opens the folder)."""
        if self._fh is None:
            return
        self.holder["run_id"] = run_id
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(self.holder))
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            try:
                self._fh.seek(0)
                self._fh.truncate()
                self._fh.flush()
            finally:
                fcntl.flock(self._fh, fcntl.LOCK_UN)
                self._fh.close()
                self._fh = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _describe(holder: dict[str, Any]) -> str:
    return (f"run {holder.get('run_id') or '(unknown)'} (pid {holder.get('pid')}, user {holder.get('user')}, "
            f"host {holder.get('host')}, since {holder.get('since')}, {holder.get('kind', 'run')})")


def acquire(path: Path, deployment: str, run_id: str | None, kind: str = "runbook run",
            extra: dict[str, Any] | None = None) -> RunLock:
    """Take the lock of `deployment` or raise Locked naming the live holder. A process that holds it already (a
    notebook re-running its first cell) gets a handle that owns nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        holder = read_holder(path)
        if holder.get("pid") == os.getpid():
            return RunLock(path, holder)
        raise Locked(
            f"Deployment {deployment} is in use by another {_describe(holder)}. One run at a time may act on a "
            f"deployment: wait for that run to finish, or stop it (kill {holder.get('pid')}) if it is stuck; a "
            f"killed run releases the lock by itself. Lock file: {path}. Nothing was changed.", holder) from None
    fh.seek(0)
    previous = read_holder(path)
    holder = {"deployment": deployment, "run_id": run_id, "pid": os.getpid(), "user": getpass.getuser(),
              "host": socket.gethostname(), "kind": kind,
              "since": datetime.now(timezone.utc).isoformat(timespec="seconds"), **(extra or {})}
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps(holder))
    fh.flush()
    stale = previous if previous.get("pid") and previous.get("pid") != os.getpid() else {}
    return RunLock(path, holder, stale, fh)


def check_covered(path: Path, deployment: str, run_id: str | None) -> dict[str, Any] | None:
    """For a notebook kernel started by `runbook run`: the lock must be held by the run it belongs to.
    Returns the holder when it is this run, None when nobody holds the lock; raises Locked otherwise."""
    if not is_held(path):
        return None
    holder = read_holder(path)
    if run_id and holder.get("run_id") == run_id:
        return holder
    raise Locked(
        f"Deployment {deployment} is in use by another {_describe(holder)}. One run at a time may act on a "
        f"deployment: wait for it to finish (or stop it). Lock file: {path}. Nothing was changed.", holder)


def held_in(folder: Path) -> list[dict[str, Any]]:
    """Every lock in `folder` a live process holds (e.g. before a lab reset, which would pull the lab from under
    them)."""
    found = []
    for path in sorted(folder.glob("*.lock")) if folder.is_dir() else []:
        if is_held(path):
            found.append({**read_holder(path), "lock_file": str(path)})
    return found


def describe(holder: dict[str, Any]) -> str:
    return _describe(holder)


def holderalive(holder: dict[str, Any]) -> bool:
    return alive(holder.get("pid"))
