"""Sealing a run folder: HTML exports, run.json, the secret scan, the signed manifest, the index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from runbook_lib.audit import export, index, manifest, secrets
from runbook_lib.audit import run_json as record
from runbook_lib.run.folder import project_root
from runbook_lib.run.step_record import STEPS


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
    unexported = {}
    for notebook in sorted(run_dir.glob("*.ipynb")):
        try:
            export.to_html(notebook)
        except Exception as exc:  # noqa: BLE001 - a notebook cut off by a kill must not keep the rest unsealed
            unexported[notebook.name] = f"{type(exc).__name__}: {str(exc)[:300]}"
    doc = record.build(run_dir, params, context)
    if unexported:
        doc["not_exported"] = unexported   # (the notebook itself is kept, and hashed, as it was left)
    (run_dir / "run.json").write_text(json.dumps(doc, indent=2, default=str))
    hits = secrets.scan(run_dir, [s for s in (secret_values or []) if s])
    unresolved = list(getattr(secret_values, "unresolved", []))
    if hits:
        doc["outcome"] = "failed: secret found in the record"
        doc["secret_scan"] = {"hits": [{"file": f, "form": how} for f, how in hits]}
    else:
        doc["secret_scan"] = {"hits": [], "values_checked": len([s for s in secret_values or [] if s])}
    if unresolved:   # the scan could not look for a value the run used: it did not pass
        doc["secret_scan"]["unresolved"] = unresolved
        doc["outcome"] = doc["outcome"] if hits else "failed: secret scan incomplete"
    (run_dir / "run.json").write_text(json.dumps(doc, indent=2, default=str))
    manifest.write(run_dir, run_dir.parent)
    # Only now: a seal that dies half-way leaves the marker, so the next command finds the folder and seals it.
    (run_dir / manifest.OPEN_MARKER).unlink(missing_ok=True)
    index.write_index(run_dir.parent)
    if hits:
        secrets.assert_clean(run_dir, [s for s in (secret_values or []) if s])
    if unresolved:
        raise secrets.SecretScanIncomplete(
            "SECRET SCAN INCOMPLETE: the run folder was not checked for " + "; ".join(unresolved) + ". Make the "
            "password's source available again (export the variable, or allow secretsmanager:GetSecretValue) and "
            f"re-run 'runbook audit seal {run_dir}'; the run is marked failed.")
    return doc


def seal_folder(run_dir: Path, operator: str | None = None, ticket: str | None = None,
                notebooks: Path | None = None) -> dict[str, Any]:
    """Seal a run folder that a person filled from JupyterLab: parameters and the password to scan for come
    from its own step results (the password from its source: environment, Secrets Manager or the lab)."""
    return seal(run_dir, None, {"operator": operator, "ticket": ticket}, _secrets_of(run_dir), notebooks)


def _secrets_of(run_dir: Path) -> secrets.SecretValues | list[str]:
    """The password a run used, resolved again from its recorded parameters (its source: environment, Secrets
    Manager or the lab), so the scan knows what to look for."""
    from runbook_lib.params import validate
    steps = sorted((run_dir / "steps").glob("*.json"))
    if not steps:
        return []
    try:
        params = validate(json.loads(steps[-1].read_text())["parameters"])
    except Exception as exc:  # noqa: BLE001 - the record's parameters are unreadable: the scan cannot know
        return secrets.SecretValues([], [f"the run's recorded parameters ({steps[-1].name}): {str(exc)[:200]}"])
    return secrets.resolve_run_secrets(params)


def seal_abandoned(root: Path) -> list[dict[str, Any]]:
    """Seal, as `interrupted`, every run folder whose `runbook run` died without sealing it (killed, machine lost):
    its `.open` marker is no longer held by a live process. Called by every command that touches the runs folder.
    Folders filled by hand in JupyterLab have no marker and stay open until `runbook audit seal`."""
    from runbook_lib.run.lock import is_held, read_holder
    sealed = []
    for run_dir in manifest.unsealed_runs(root):
        marker = run_dir / manifest.OPEN_MARKER
        if not (run_dir / "steps").is_dir() or not marker.exists() or is_held(marker):
            continue  # (a fleet command's folder has no steps: verify reports it unsealed)
        holder = read_holder(marker)
        context = {"outcome": "interrupted", "operator": holder.get("operator"), "ticket": holder.get("ticket"),
                   "started": holder.get("since"), "start_from": holder.get("start_from"),
                   "failure": f"the `runbook run` that filled this folder (pid {holder.get('pid')} on "
                              f"{holder.get('host')}) ended without sealing it: killed or lost. Sealed by a later "
                              "command with what its steps had recorded."}
        try:
            doc = seal(run_dir, None, context, _secrets_of(run_dir))
        except Exception as exc:  # noqa: BLE001 - one bad folder must not stop the others being sealed
            sealed.append({"run": run_dir.name, "error": str(exc)[:300]})
            continue
        sealed.append({"run": run_dir.name, "outcome": doc["outcome"]})
    return sealed
