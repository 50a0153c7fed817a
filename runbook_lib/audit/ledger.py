"""The ledger: kept outside the runs folder, next to the signing key. For each runs folder (by absolute path, so
two checkouts on one machine keep separate ledgers) it holds the head of the chain (the newest sealed run: sequence,
run id, manifest hash) and the runs opened there and not sealed yet.

A chain kept only inside runs/ cannot notice that its newest run, or a run never sealed, was deleted (CloudTrail's
digest files share that blind spot); the ledger can. Every read-modify-write of the ledger, and every sealing, holds
one lock, so runs sealed at the same time still get distinct, ordered sequence numbers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook_lib.audit import keys
from runbook_lib.host import write_private_json


def ledger_path() -> Path:
    return keys.key_path().parent / "runs-ledger.json"


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise ledger updates and sealing across processes."""
    path = ledger_path().with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read() -> dict[str, Any]:
    try:
        data = json.loads(ledger_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(data: dict[str, Any]) -> None:
    write_private_json(ledger_path(), data)


def _key(root: Path) -> str:
    return str(root.resolve())


def entry(root: Path) -> dict[str, Any]:
    """{'head': {...} | None, 'open': {run_id: {...}}} for this runs folder."""
    found = _read().get(_key(root)) or {}
    return {"head": found.get("head"), "open": dict(found.get("open") or {})}


def opened(run_dir: Path, kind: str) -> None:
    """A run folder was created (by `runbook run` or by a notebook in JupyterLab)."""
    with locked():
        data = _read()
        folder = data.setdefault(_key(run_dir.parent), {})
        folder.setdefault("open", {})[run_dir.name] = {
            "opened": datetime.now(timezone.utc).isoformat(timespec="seconds"), "kind": kind, "pid": os.getpid()}
        _write(data)


def sealed_head(root: Path, head: dict[str, Any]) -> None:
    """Called with the ledger lock held, right after a manifest was written."""
    data = _read()
    folder = data.setdefault(_key(root), {})
    folder["head"] = head
    folder.setdefault("open", {}).pop(head["run_id"], None)
    _write(data)
