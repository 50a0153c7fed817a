"""Fleet records in the shared runs folder: many processes sealing at the same moment get one unbroken chain."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

from runbook_lib.audit import ledger, manifest
from runbook_lib.fleet import record

WORKERS = 6


def _seal_one(root: str, barrier: Any, done: Any, n: int) -> None:
    with record.opened(Path(root), "inventory") as (folder, _marker):
        (folder.path / "inventory.json").write_text(json.dumps({"worker": n, "pid": os.getpid()}))
        barrier.wait(timeout=60)             # every worker seals at the same moment
        record.seal(folder, {"mode": "lab", "worker": n}, "succeeded", {"worker": n}, {"inventory.json": "json"})
    done.put(folder.run_id)


def test_concurrent_seals_get_distinct_ordered_sequences_and_the_chain_verifies(lab_paths: Any, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(WORKERS)
    done = ctx.Queue()
    workers = [ctx.Process(target=_seal_one, args=(str(root), barrier, done, n)) for n in range(WORKERS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * WORKERS
    run_ids = [done.get(timeout=5) for _ in workers]
    assert len(set(run_ids)) == WORKERS
    sealed = manifest.sealed_runs(root)
    assert [seq for seq, _, _ in sealed] == list(range(1, WORKERS + 1))
    assert manifest.verify_all(root) == []
    head = ledger.entry(root)
    assert head["head"]["sequence"] == WORKERS and head["open"] == {}
    for _, run_dir, data in sealed:
        run = json.loads((run_dir / "run.json").read_text())
        assert run["kind"] == "fleet-inventory" and not (run_dir / manifest.OPEN_MARKER).exists()
        assert run_dir.name.startswith("fleet-inventory-") and set(data["files"]) == {"inventory.json", "run.json"}


def test_a_fleet_folder_deleted_before_its_seal_is_noticed_by_the_ledger(lab_paths: Any, tmp_path: Path) -> None:
    import shutil
    root = tmp_path / "runs"
    with record.opened(root, "inventory") as (folder, _marker):
        shutil.rmtree(folder.path)
    findings = manifest.verify_ledger(root)
    assert [(f.run, f.kind) for f in findings] == [(folder.run_id, "gone")]
