"""The run folder: where a run's executed notebooks and each step's structured result land."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def project_root() -> Path | None:
    """The source checkout this library runs from, if it is one."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file() else None


def runs_root() -> Path:
    explicit = os.environ.get("RUNBOOK_RUNS_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    root = project_root()
    return (root / "runs") if root else (Path.cwd() / "runs")


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def steps(self) -> Path:
        return self.path / "steps"

    @classmethod
    def create(cls, root: Path | None = None, run_id: str | None = None) -> RunFolder:
        folder = cls((root or runs_root()) / (run_id or new_run_id()))
        folder.steps.mkdir(parents=True, exist_ok=True)
        return folder

    @classmethod
    def open_or_join(cls, run_dir: str | None, step_number: str) -> RunFolder:
        """The runner's folder; else, for interactive use, the open one (step 01 starts a new one)."""
        if run_dir:
            folder = cls(Path(run_dir).resolve())
            folder.steps.mkdir(parents=True, exist_ok=True)
            return folder
        root = runs_root()
        pointer = root / "CURRENT"
        if step_number != "01" and pointer.is_file():
            current = cls(Path(pointer.read_text().strip()))
            if current.path.is_dir() and not (current.path / "manifest.json").exists():
                return current
        folder = cls.create(root)
        root.mkdir(parents=True, exist_ok=True)
        pointer.write_text(str(folder.path))
        from runbook_lib.audit import ledger  # (lazy: the audit package reads run folders itself)
        ledger.opened(folder.path, "notebook")
        return folder

    def write_step(self, number: str, data: dict[str, Any]) -> Path:
        path = self.steps / f"{number}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, path)
        return path

    def read_step(self, number: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.steps / f"{number}.json").read_text())
            return data if isinstance(data, dict) else None
        except (OSError, ValueError):
            return None
