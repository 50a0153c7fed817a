"""A fleet command's record: a folder in the runs folder, sealed into the same signed chain as the runbook's runs.

`audit.seal.seal` builds run.json around the six steps (a folder without steps/ would read as six steps "not run"),
so a fleet folder writes its own run.json (the keys `runbook audit list` reads, plus `kind`) and reuses the manifest
(hash, chain, Ed25519 signature, ledger head; one seal at a time under the ledger lock) and the index as they are.

Folder names start with `fleet-`, not a timestamp: the runner takes the newest `2*` folder as the run a `--from`
resumes, and a fleet record must never be mistaken for one.
"""

from __future__ import annotations

import getpass
import json
import platform
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook_lib.audit import index, ledger, manifest, secrets
from runbook_lib.audit.run_json import git_commit, versions
from runbook_lib.run import lock
from runbook_lib.run.folder import new_run_id

FORMAT = "bluegreen-runbook fleet record v1"


@dataclass(frozen=True)
class FleetFolder:
    path: Path
    kind: str
    started: str

    @property
    def run_id(self) -> str:
        return self.path.name


@contextmanager
def opened(root: Path, kind: str, run_id: str | None = None) -> Iterator[tuple[FleetFolder, lock.RunLock]]:
    """Create `root/fleet-<kind>-<run id>`, tell the ledger (so deleting it before it is sealed is noticed) and hold
    its `.open` marker while the command works."""
    root.mkdir(parents=True, exist_ok=True)
    folder = FleetFolder(root / f"fleet-{kind}-{run_id or new_run_id()}", kind,
                         datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
    folder.path.mkdir(parents=True, exist_ok=False)
    marker = lock.acquire(folder.path / manifest.OPEN_MARKER, f"fleet {kind}", folder.run_id, kind=f"fleet {kind}")
    ledger.opened(folder.path, f"fleet {kind}")
    try:
        yield folder, marker
    finally:
        marker.release()


def seal(folder: FleetFolder, parameters: dict[str, Any], outcome: str, findings: dict[str, Any],
         files: dict[str, str], operator: str | None = None, ticket: str | None = None,
         secret_values: list[str] | None = None) -> dict[str, Any]:
    """Write run.json and the signed manifest; returns run.json's content. `files` maps each output to what it is."""
    run_dir = folder.path
    doc: dict[str, Any] = {
        "format": FORMAT, "kind": f"fleet-{folder.kind}", "run_id": folder.run_id, "started": folder.started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "outcome": outcome,
        "complete": outcome == "succeeded",
        "operator": {"os_user": getpass.getuser(), "name": operator, "ticket": ticket},
        "host": {"name": socket.gethostname(), "platform": platform.platform()},
        "runbook": {**git_commit(), "versions": versions()},
        "mode": parameters.get("mode"), "dry_run": False, "parameters": parameters,
        "steps": [], "failure": None if outcome == "succeeded" else findings.get("error"),
        "findings": findings, "files": files,
    }
    values = [s for s in (secret_values or []) if s]
    (run_dir / "run.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    hits = secrets.scan(run_dir, values)
    doc["secret_scan"] = ({"hits": [{"file": f, "form": how} for f, how in hits]} if hits
                          else {"hits": [], "values_checked": len(values)})
    if hits:
        doc["outcome"] = "failed: secret found in the record"
    (run_dir / "run.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    (run_dir / manifest.OPEN_MARKER).unlink(missing_ok=True)
    manifest.write(run_dir, run_dir.parent)
    index.write_index(run_dir.parent)
    if hits:
        secrets.assert_clean(run_dir, values)
    return doc
