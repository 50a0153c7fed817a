"""What earlier runs recorded about a deployment: the identities destructive steps act on (the deployment a run
created, the blue instance it was created from, the old blue its switchover produced) and who requested what.

A run resumed with `--from NN` is a new run folder; what the killed run did is only in its step records, so every
step that must act on recorded identity reads them here, newest first, matched by the deployment's resource id
(`bgd-…`) or by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.run.folder import runs_root


@dataclass(frozen=True)
class StepRecord:
    run_dir: Path
    number: str
    data: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def identifiers(self) -> dict[str, Any]:
        ids = self.data.get("identifiers")
        return ids if isinstance(ids, dict) else {}

    @property
    def changes(self) -> list[dict[str, Any]]:
        changes = self.data.get("changes")
        return [c for c in changes if isinstance(c, dict)] if isinstance(changes, list) else []


def _records(root: Path) -> Iterator[StepRecord]:
    """Every step record under `root`, newest run first (run ids start with their UTC start time)."""
    if not root.is_dir():
        return
    for run_dir in sorted((p for p in root.iterdir() if p.is_dir() and (p / "steps").is_dir()), reverse=True):
        for path in sorted((run_dir / "steps").glob("*.json"), reverse=True):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                yield StepRecord(run_dir, path.stem, data)


def about(deployment_id: str | None, deployment_name: str | None = None,
          root: Path | None = None) -> list[StepRecord]:
    """Records of this deployment (by resource id when known, else by name), newest first."""
    out = []
    for rec in _records(root or runs_root()):
        ids = rec.identifiers
        if deployment_id and ids.get("deployment_id") == deployment_id:
            out.append(rec)
        elif not deployment_id and deployment_name and ids.get("deployment_name") == deployment_name \
                and ids.get("deployment_id"):
            out.append(rec)
    return out


def recorded(records: list[StepRecord], key: str) -> tuple[Any, StepRecord] | None:
    """The newest value recorded under `key`, with the record that holds it."""
    for rec in records:
        value = rec.identifiers.get(key)
        if value:
            return value, rec
    return None


def change(records: list[StepRecord], what: str) -> tuple[dict[str, Any], StepRecord] | None:
    """The newest change entry `what` (e.g. 'requested switchover') among `records`."""
    for rec in records:
        for entry in reversed(rec.changes):
            if entry.get("what") == what:
                return entry, rec
    return None
