"""Sealing a run folder: HTML exports, run.json, the secret scan, the signed manifest, the index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..runfolder import project_root
from ..step import STEPS
from . import export, index, manifest, record, secrets


def _adopt_interactive_notebooks(run_dir: Path, notebooks: Path | None) -> list[Path]:
    """A JupyterLab run executes notebooks in place: take the executed copies of the steps it ran."""
    root = project_root()
    folder = notebooks or (root / "notebooks" if root else None)
    if folder is None or any(run_dir.glob("*.ipynb")):
        return []
    adopted = []
    for number in (p.stem for p in (run_dir / "steps").glob("*.json")):
        source = folder / f"{STEPS[number][0]}.ipynb"
        if not source.exists():
            continue
        nb = json.loads(source.read_text())
        if any(c.get("outputs") for c in nb.get("cells", [])):
            shutil.copy2(source, run_dir / source.name)
            adopted.append(run_dir / source.name)
    return adopted


def seal(run_dir: Path, params: dict[str, Any] | None = None, context: dict[str, Any] | None = None,
         secret_values: list[str] | None = None, notebooks: Path | None = None) -> dict[str, Any]:
    """Finish the record of a run (also an interrupted or interactive one). Raises SecretLeak after sealing
    if a secret value is found in it."""
    run_dir = run_dir.resolve()
    context = dict(context or {})
    _adopt_interactive_notebooks(run_dir, notebooks)
    if params is None:
        latest = [json.loads(p.read_text()) for p in sorted((run_dir / "steps").glob("*.json"))]
        params = next((r["parameters"] for r in reversed(latest) if r.get("parameters")), {})
        context.setdefault("start_from", min((r["step"] for r in latest), default="01"))
    for notebook in sorted(run_dir.glob("*.ipynb")):
        export.to_html(notebook)
    doc = record.build(run_dir, params, context)
    (run_dir / "run.json").write_text(json.dumps(doc, indent=2, default=str))
    hits = secrets.scan(run_dir, [s for s in (secret_values or []) if s])
    if hits:
        doc["outcome"] = "failed: secret found in the record"
        doc["secret_scan"] = {"hits": [{"file": f, "form": how} for f, how in hits]}
    else:
        doc["secret_scan"] = {"hits": [], "values_checked": len([s for s in secret_values or [] if s])}
    (run_dir / "run.json").write_text(json.dumps(doc, indent=2, default=str))
    manifest.write(run_dir, run_dir.parent)
    index.write_index(run_dir.parent)
    if hits:
        secrets.assert_clean(run_dir, [s for s in (secret_values or []) if s])
    return doc


def seal_folder(run_dir: Path, operator: str | None = None, ticket: str | None = None,
                notebooks: Path | None = None) -> dict[str, Any]:
    """Seal a run folder that a person filled from JupyterLab: parameters and the password to scan for come
    from its own step results (the password from its source: environment, Secrets Manager or the lab)."""
    from ..credentials import resolve_password
    from ..params import validate
    secret_values: list[str] = []
    steps = sorted((run_dir / "steps").glob("*.json"))
    if steps:
        try:
            secret_values = [resolve_password(validate(json.loads(steps[-1].read_text())["parameters"]))]
        except Exception:  # noqa: BLE001 - without a password there is nothing to look for
            secret_values = []
    return seal(run_dir, None, {"operator": operator, "ticket": ticket}, secret_values, notebooks)
