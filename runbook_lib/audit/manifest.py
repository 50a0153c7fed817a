"""manifest.json: the SHA-256 of every file of a run, chained to the previous run's manifest and signed
(the idea of CloudTrail's digest files). Verification recomputes everything and lists each finding."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from runbook_lib.audit import keys, ledger

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Finding:
    run: str
    kind: str      # modified | missing | added | signature | untrusted-key | chain | unsealed | gone
    detail: str

    def __str__(self) -> str:
        return f"{self.run}: {self.kind}: {self.detail}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


OPEN_MARKER = ".open"  # held by the `runbook run` that fills a folder; removed when it is sealed


def file_hashes(run_dir: Path) -> dict[str, str]:
    return {p.relative_to(run_dir).as_posix(): sha256_file(p)
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name not in (MANIFEST, OPEN_MARKER)}


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in data.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":")).encode()


def read(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / MANIFEST).read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def sealed_runs(root: Path) -> list[tuple[int, Path, dict[str, Any]]]:
    """Every sealed run under `root`, in chain order."""
    found = []
    for child in root.iterdir() if root.is_dir() else []:
        data = read(child) if child.is_dir() else None
        if data is not None:
            found.append((int(data.get("sequence", 0)), child, data))
    return sorted(found, key=lambda item: (item[0], item[1].name))


def write(run_dir: Path, root: Path) -> dict[str, Any]:
    """Hash, chain and sign the run folder's files; the ledger's head follows (one seal at a time)."""
    with ledger.locked():
        data = _write_locked(run_dir, root)
        ledger.sealed_head(root, {"run_id": data["run_id"], "sequence": data["sequence"],
                                  "manifest_sha256": sha256_file(run_dir / MANIFEST), "sealed": data["sealed"]})
    return data


def _write_locked(run_dir: Path, root: Path) -> dict[str, Any]:
    key = keys.load_or_create()
    chain = [r for r in sealed_runs(root) if r[1].resolve() != run_dir.resolve()]
    previous: dict[str, Any] | None = None
    if chain:
        seq, prev_dir, _ = chain[-1]
        previous = {"run_id": prev_dir.name, "sequence": seq, "manifest_sha256": sha256_file(prev_dir / MANIFEST)}
    head = ledger.entry(root)["head"]
    if head and head["run_id"] != run_dir.name and int(head["sequence"]) >= int((previous or {}).get("sequence", 0)):
        # Chain from the ledger's head even when its folder is gone: a deleted newest run stays a visible gap.
        previous = {k: head[k] for k in ("run_id", "sequence", "manifest_sha256")}
    data: dict[str, Any] = {
        "format": "bluegreen-runbook manifest v1", "run_id": run_dir.name,
        "sequence": (int(previous["sequence"]) + 1) if previous else 1,
        "sealed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "algorithm": "SHA-256; Ed25519 over the canonical JSON of this object without 'signature'",
        "files": file_hashes(run_dir), "previous": previous, "public_key": keys.public_b64(key),
    }
    data["signature"] = base64.b64encode(key.sign(_canonical(data))).decode()
    (run_dir / MANIFEST).write_text(json.dumps(data, indent=2))
    return data


def verify_run(run_dir: Path, trusted_public_key: str | None = None) -> list[Finding]:
    name = run_dir.name
    data = read(run_dir)
    if data is None:
        return [Finding(name, "unsealed", "no manifest.json (run still open or never sealed: runbook audit seal)")]
    findings: list[Finding] = []
    trusted = trusted_public_key or keys.public_b64(keys.load_or_create())
    if data.get("public_key") != trusted:
        findings.append(Finding(name, "untrusted-key", "the manifest is signed with a key other than the trusted one"))
    try:
        keys.public_from_b64(data["public_key"]).verify(base64.b64decode(data.get("signature", "")), _canonical(data))
    except (InvalidSignature, KeyError, ValueError):
        findings.append(Finding(name, "signature", "the manifest's signature does not match its content"))
    recorded: dict[str, str] = data.get("files", {})
    actual = file_hashes(run_dir)
    for path in sorted(recorded.keys() - actual.keys()):
        findings.append(Finding(name, "missing", path))
    for path in sorted(actual.keys() - recorded.keys()):
        findings.append(Finding(name, "added", path))
    for path in sorted(recorded.keys() & actual.keys()):
        if recorded[path] != actual[path]:
            findings.append(Finding(name, "modified", path))
    return findings


def verify_chain(root: Path) -> list[Finding]:
    findings = []
    chain = sealed_runs(root)
    for index, (seq, run_dir, data) in enumerate(chain):
        prev = data.get("previous")
        expected_seq = chain[index - 1][0] + 1 if index else 1
        if index == 0:
            if prev is not None:
                findings.append(Finding(run_dir.name, "chain", f"links to {prev.get('run_id')}, which is not in {root}"))
            elif seq != 1:
                findings.append(Finding(run_dir.name, "chain", f"sequence {seq}: earlier runs are missing"))
            continue
        prev_seq, prev_dir, _ = chain[index - 1]
        if prev is None:
            findings.append(Finding(run_dir.name, "chain", "has no link to the run before it"))
        elif prev.get("run_id") != prev_dir.name or prev.get("manifest_sha256") != sha256_file(prev_dir / MANIFEST):
            findings.append(Finding(run_dir.name, "chain", f"links to {prev.get('run_id')} (sequence "
                                    f"{prev.get('sequence')}) but the run before it is {prev_dir.name}, or its manifest changed"))
        if seq != expected_seq:
            findings.append(Finding(run_dir.name, "chain", f"sequence {seq} follows {prev_seq}: a run is missing"))
    return findings


def unsealed_runs(root: Path) -> list[Path]:
    """Run folders (they have steps/) without a manifest."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and ((p / "steps").is_dir() or (p / OPEN_MARKER).exists())
                  and not (p / MANIFEST).exists())


def verify_ledger(root: Path) -> list[Finding]:
    """What only the ledger outside runs/ can tell: the newest sealed run or an opened run was deleted."""
    findings: list[Finding] = []
    known = ledger.entry(root)
    head = known["head"]
    chain = sealed_runs(root)
    if head:
        newest = chain[-1] if chain else None
        if newest is None or newest[0] < int(head["sequence"]):
            findings.append(Finding(head["run_id"], "gone", f"the newest sealed run (sequence {head['sequence']}, "
                                    f"sealed {head.get('sealed')}) is no longer in {root}"))
        elif newest[0] == int(head["sequence"]) and (newest[1].name != head["run_id"]
                                                     or sha256_file(newest[1] / MANIFEST) != head["manifest_sha256"]):
            findings.append(Finding(newest[1].name, "chain", f"the ledger's head is {head['run_id']} with another "
                                    "manifest: the newest run was replaced or its manifest rewritten"))
    for run_id, info in sorted(known["open"].items()):
        if not (root / run_id).is_dir():
            findings.append(Finding(run_id, "gone", f"opened {info.get('opened')} ({info.get('kind')}) and never "
                                    f"sealed, and its folder is no longer in {root}"))
    return findings


def verify_all(root: Path, trusted_public_key: str | None = None) -> list[Finding]:
    findings: list[Finding] = []
    for _, run_dir, _ in sealed_runs(root):
        findings += verify_run(run_dir, trusted_public_key)
    for run_dir in unsealed_runs(root):
        findings.append(Finding(run_dir.name, "unsealed", "no manifest.json: still open, or abandoned without "
                                "'runbook audit seal' (its steps are not covered by any signature)"))
    return findings + verify_chain(root) + verify_ledger(root)
