"""Where a lab keeps its state, so that tests can run an isolated lab beside a user's."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.host import write_private_json


def default_lab_dir() -> Path:
    """RUNBOOK_LAB_DIR, else the user's state directory."""
    explicit = os.environ.get("RUNBOOK_LAB_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "bluegreen-runbook" / "lab"


@dataclass(frozen=True)
class LabPaths:
    root: Path

    @classmethod
    def default(cls) -> LabPaths:
        return cls(default_lab_dir())

    @property
    def status_file(self) -> Path:
        return self.root / "lab.json"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    @property
    def pids_file(self) -> Path:
        return self.root / "pids.json"

    @property
    def log_file(self) -> Path:
        return self.root / "lab.log"

    @property
    def servers(self) -> Path:
        return self.root / "servers"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def template(self) -> Path:
        return self.root / "template"

    @property
    def rds_logs(self) -> Path:
        return self.root / "rds-logs"

    @property
    def faults_file(self) -> Path:
        return self.root / "faults.json"

    def read_status(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.status_file.read_text())
            return data if isinstance(data, dict) else None
        except (OSError, ValueError):
            return None

    def read_credentials(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.credentials_file.read_text())
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None
        except (OSError, ValueError):
            return None

    def write_private(self, path: Path, data: dict[str, Any]) -> None:
        """Write JSON readable by the owner only (0600 from the first byte)."""
        write_private_json(path, data)
