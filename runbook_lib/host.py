"""This machine's side of things that both the runbook and the lab need: whether a recorded process still lives, and
JSON written for the owner only (lock holders, the ledger, the lab's credentials)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def alive(pid: int | None) -> bool:
    """True while process `pid` runs (a zombie that only waits to be reaped counts as gone)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] not in ("Z", "X")
    except OSError:
        return False


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by the owner only (0600 from the first byte), replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)
