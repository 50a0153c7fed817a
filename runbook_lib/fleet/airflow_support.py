"""What an orchestrator's tasks run with the project's interpreter: open a run folder before the notebooks, judge it
after the seal. The Airflow DAG (orchestration/airflow/) calls these through `python -m runbook_lib.fleet.airflow_support`
because Airflow lives in its own virtual environment, without runbook_lib.

    open PARAMS_FILE [--keep-lab]   validate, (lab) reset the lab, refuse when an unsealed run of the same deployment
                                    is open, create the run folder, tell the ledger; last line printed: the folder
    verdict RUN_DIR                 the sealed folder verifies and its outcome is `succeeded`; else exit 1
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from runbook_lib.errors import RunbookError


def open_run(params_file: str, keep_lab: bool = False) -> Path:
    """The run folder a DAG run fills, as `runbook run` would open it (same folder name, same ledger entry)."""
    from runbook_lib.audit import ledger, manifest
    from runbook_lib.audit.seal import seal_abandoned
    from runbook_lib.lab import client as lab_client
    from runbook_lib.params import load
    from runbook_lib.run import lock
    from runbook_lib.run.folder import RunFolder, runs_root

    params = load(params_file)
    root = runs_root()
    for done in seal_abandoned(root):
        print(f"sealed {done['run']} as interrupted", file=sys.stderr)
    for run_dir in manifest.unsealed_runs(root):
        recorded = [json.loads(p.read_text()).get("parameters", {}) for p in sorted((run_dir / "steps").glob("*.json"))]
        if any(r.get("deployment_name") == params.deployment_name for r in recorded):
            raise RunbookError(
                f"Run {run_dir.name} of deployment {params.deployment_name} is still open (not sealed). One run at a "
                f"time per deployment: let it finish, or seal it (runbook audit seal {run_dir}). Nothing was changed.")
    if params.mode == "lab":
        if keep_lab:
            lab_client.up(seed_blocker=params.lab_seed_blocker, region=params.region)
        else:
            others = lock.held_in(lock.lock_dir("lab"))
            if others:
                raise lock.Locked("The lab is in use by " + "; ".join(lock.describe(h) for h in others) + "; a DAG run "
                                  "resets the lab first (unless keep_lab). Nothing was changed.", others[0])
            lab_client.reset(seed_blocker=params.lab_seed_blocker, region=params.region)
    folder = RunFolder.create(root)
    ledger.opened(folder.path, "airflow")
    return folder.path


def verdict(run_dir: Path) -> tuple[bool, str]:
    """(ok, one line): the folder verifies and run.json says succeeded."""
    from runbook_lib.audit import manifest
    findings = manifest.verify_run(run_dir)
    if findings:
        return False, "record does not verify: " + "; ".join(str(f) for f in findings)
    try:
        run = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError) as exc:
        return False, f"no readable run.json in {run_dir}: {exc}"
    steps = ", ".join(f"{s['step']} {s['outcome']}" for s in run.get("steps", []))
    if run.get("outcome") != "succeeded":
        failure = run.get("failure") or {}
        return False, f"outcome {run.get('outcome')} ({steps}); {failure.get('error') or ''}".strip()
    return True, f"outcome succeeded ({steps}); record verifies"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m runbook_lib.fleet.airflow_support")
    sub = ap.add_subparsers(dest="action", required=True)
    op = sub.add_parser("open")
    op.add_argument("params_file")
    op.add_argument("--keep-lab", action="store_true")
    ve = sub.add_parser("verdict")
    ve.add_argument("run_dir")
    args = ap.parse_args(argv)
    try:
        if args.action == "open":
            print(open_run(args.params_file, args.keep_lab))
            return 0
        ok, line = verdict(Path(args.run_dir))
        print(line)
        return 0 if ok else 1
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
