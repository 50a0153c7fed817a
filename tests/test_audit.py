"""The audit record: verify passes untouched and catches every kind of tampering; secrets are caught in
every encoded form; interrupted runs are recorded, sealed and linked when resumed; HTML is offline."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pytest
from conftest import ROOT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runbook_lib.audit import manifest, seal
from runbook_lib.audit.export import remote_references
from runbook_lib.audit.secrets import SecretLeak, scan
from runbook_lib.run.folder import RunFolder

SECRET = "Sup3r-s3cret/pa$$word=42"


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNBOOK_AUDIT_KEY", str(tmp_path / "keys" / "audit.pem"))
    root = tmp_path / "runs"
    root.mkdir()
    return root


def _fake_run(root: Path, name: str, extra_output: str = "all good") -> Path:
    """A run folder as a step leaves it: a step result and an executed notebook with a diagram."""
    folder = RunFolder.create(root, name)
    folder.write_step("01", {"step": "01", "outcome": "succeeded", "started": "t0", "finished": "t1",
                             "checks": [{"id": "automatedBackups", "result": "pass"}], "identifiers": {"x": "y"},
                             "findings": {}, "changes": [], "rds_calls": [], "parameters": {"mode": "lab"}})
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("step = 1")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg><text>diagram</text></svg>",
                                                                 "text/plain": "diagram"}),
                    nbformat.v4.new_output("stream", name="stdout", text=extra_output)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Step 1 — Check prerequisites · 1. 사전 구성 요소 확인"), cell]
    nbformat.write(nb, folder.path / "01_prerequisites.ipynb")
    return folder.path


def _sealed(root: Path, name: str) -> Path:
    run = _fake_run(root, name)
    seal(run, {"mode": "lab"}, {"start_from": "01"}, [SECRET])
    return run


def test_untouched_runs_verify_and_html_is_offline(runs: Path) -> None:
    a, b = _sealed(runs, "20260101T000000Z-aaaaaa"), _sealed(runs, "20260102T000000Z-bbbbbb")
    assert manifest.verify_all(runs) == []
    assert json.loads((b / "manifest.json").read_text())["previous"]["run_id"] == a.name
    html = (a / "01_prerequisites.html").read_text()
    assert remote_references(html) == [] and "data:image/svg+xml" in html and "사전 구성 요소 확인" in html
    assert (runs / "index.html").read_text().count("<tr>") == 3  # header + two runs
    run_json = json.loads((a / "run.json").read_text())
    assert run_json["operator"]["os_user"] and run_json["runbook"]["versions"]["boto3"]
    assert run_json["secret_scan"] == {"hits": [], "values_checked": 1}


@pytest.mark.parametrize("tamper", ["one-byte edit", "deleted file", "added file", "edit and unsigned manifest",
                                    "edit and manifest re-signed with another key"])
def test_verify_detects_tampering(runs: Path, tamper: str) -> None:
    run = _sealed(runs, "20260101T000000Z-aaaaaa")
    target = run / "steps" / "01.json"
    if tamper == "deleted file":
        target.unlink()
        expected = "missing"
    elif tamper == "added file":
        (run / "notes.txt").write_text("added later")
        expected = "added"
    else:
        data = bytearray(target.read_bytes())
        data[data.index(b"succeeded")] = ord("S")  # one byte
        target.write_bytes(bytes(data))
        expected = "modified"
        if tamper != "one-byte edit":
            doc = json.loads((run / "manifest.json").read_text())
            doc["files"] = manifest.file_hashes(run)
            if tamper == "edit and unsigned manifest":
                doc.pop("signature")
                expected = "signature"
            else:
                other = Ed25519PrivateKey.generate()
                doc["public_key"] = base64.b64encode(other.public_key().public_bytes(
                    serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
                doc["signature"] = base64.b64encode(other.sign(manifest._canonical(doc))).decode()
                expected = "untrusted-key"
            (run / "manifest.json").write_text(json.dumps(doc))
    kinds = {f.kind for f in manifest.verify_run(run)}
    assert expected in kinds, kinds
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "audit", "verify", str(run)],
                          capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 1 and expected in done.stdout


def test_chain_detects_removed_and_reordered_runs(runs: Path) -> None:
    names = [f"2026010{i}T000000Z-run00{i}" for i in range(1, 5)]
    for name in names:
        _sealed(runs, name)
    assert manifest.verify_all(runs) == []
    shutil.rmtree(runs / names[1])                       # an earlier run removed
    assert any(f.kind == "chain" and f.run == names[2] for f in manifest.verify_all(runs))
    # reordered: two runs swap places (their folders swap names)
    (runs / names[2]).rename(runs / "tmp")
    (runs / names[3]).rename(runs / names[2])
    (runs / "tmp").rename(runs / names[3])
    assert any(f.kind == "chain" for f in manifest.verify_all(runs))


@pytest.mark.parametrize("form", ["raw", "json", "url", "base64-0", "base64-1", "base64-2"])
def test_a_secret_in_any_encoding_is_caught(runs: Path, form: str) -> None:
    encoded = {"raw": SECRET, "json": json.dumps({"p": SECRET}), "url": "mysql://u:" + quote(SECRET, safe="") + "@h",
               "base64-0": base64.b64encode(SECRET.encode()).decode(),
               "base64-1": base64.b64encode(b"x" + SECRET.encode() + b"yz").decode(),
               "base64-2": base64.b64encode(b"xy" + SECRET.encode()).decode()}[form]
    run = _fake_run(runs, "20260101T000000Z-leak00", extra_output=f"connecting with {encoded}")
    assert scan(run, [SECRET]), form
    with pytest.raises(SecretLeak, match="01_prerequisites"):
        seal(run, {"mode": "lab"}, {}, [SECRET])
    doc = json.loads((run / "run.json").read_text())
    assert doc["outcome"].startswith("failed") and doc["secret_scan"]["hits"]
    assert SECRET not in (run / "run.json").read_text()
    assert manifest.verify_run(run) == []  # the failed record itself is sealed and verifiable


@pytest.mark.e2e   # a whole run killed, then resumed: the full tier
def test_interrupted_run_is_recorded_sealed_and_resumed_with_a_link(lab_paths: Any, tmp_path: Path) -> None:
    env = dict(os.environ, RUNBOOK_AUDIT_KEY=str(tmp_path / "audit.pem"), RUNBOOK_RUNS_DIR=str(tmp_path / "runs"))
    proc = subprocess.Popen([sys.executable, "-m", "runbook_lib.cli", "run", "--params", "parameters/lab.yaml"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    runs = tmp_path / "runs"
    while time.monotonic() < deadline:
        if list(runs.glob("*/steps/02.json")):
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    first = Path(out.strip().splitlines()[-1])
    record = json.loads((first / "run.json").read_text())
    assert record["outcome"] == "interrupted" and record["complete"] is False
    assert [s["outcome"] for s in record["steps"]][-1] == "not run"
    verified = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "audit", "verify", str(first)], env=env,
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout
    resumed = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "run", "--params", "parameters/lab.yaml",
                              "--from", "02"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    second = Path(resumed.stdout.strip().splitlines()[-1])
    assert json.loads((second / "run.json").read_text())["resumed_from"] == {"run_id": first.name, "sealed": True}
    chain = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "audit", "verify"], env=env, capture_output=True,
                           text=True)
    assert chain.returncode == 0, chain.stdout


def test_a_run_made_by_hand_in_jupyterlab_is_sealed_like_a_headless_one(lab: Any, tmp_path: Path) -> None:
    """Notebooks executed in place (as JupyterLab saves them) join one run folder; `audit seal` adopts the
    executed copies, exports them, writes run.json and signs the manifest."""
    books = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", books)
    env = dict(os.environ)
    for name in ("01_prerequisites", "02_create_blue_green"):
        done = subprocess.run([sys.executable, "-m", "papermill", str(books / f"{name}.ipynb"), str(books / f"{name}.ipynb"),
                               "--no-progress-bar"], capture_output=True, text=True, cwd=books, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    run = Path((Path(env["RUNBOOK_RUNS_DIR"]) / "CURRENT").read_text().strip())
    sealed = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "audit", "seal", str(run), "--notebooks", str(books),
                             "--operator", "workshop-7"], capture_output=True, text=True, env=env, timeout=300)
    assert sealed.returncode == 0, sealed.stderr
    assert sorted(p.name for p in run.glob("*.html")) == ["01_prerequisites.html", "02_create_blue_green.html"]
    record = json.loads((run / "run.json").read_text())
    assert record["operator"]["name"] == "workshop-7" and record["secret_scan"]["values_checked"] == 1
    assert [s["outcome"] for s in record["steps"]][:2] == ["succeeded", "succeeded"]
    assert record["complete"] is False  # steps 03-06 were not run by hand
    verified = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "audit", "verify", str(run)], capture_output=True,
                              text=True, env=env)
    assert verified.returncode == 0, verified.stdout


def test_verify_reports_unsealed_runs_and_the_deletion_of_the_newest_or_an_open_run(runs: Path) -> None:
    from runbook_lib.audit import ledger
    a = _sealed(runs, "20260101T000000Z-aaaaaa")
    b = _sealed(runs, "20260102T000000Z-bbbbbb")
    assert manifest.verify_all(runs) == []
    shutil.rmtree(b)                                      # the newest sealed run deleted: the chain alone is fine
    assert manifest.verify_chain(runs) == []
    assert [(f.run, f.kind) for f in manifest.verify_all(runs)] == [(b.name, "gone")]
    _sealed(runs, "20260103T000000Z-cccccc")              # a new run does not hide the gap
    assert any(f.kind == "chain" for f in manifest.verify_all(runs))
    open_run = _fake_run(runs, "20260104T000000Z-dddddd")  # opened, never sealed
    ledger.opened(open_run, "notebook")
    assert (open_run.name, "unsealed") in [(f.run, f.kind) for f in manifest.verify_all(runs)]
    shutil.rmtree(open_run)                               # ... and deleted
    assert (open_run.name, "gone") in [(f.run, f.kind) for f in manifest.verify_all(runs)]
    assert a.is_dir()


def test_a_killed_runs_folder_is_sealed_as_interrupted_by_the_next_command(runs: Path, monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    from runbook_lib.audit.manifest import OPEN_MARKER
    run = _fake_run(runs, "20260101T000000Z-killed")
    (run / "steps" / "01.json").write_text(json.dumps({"step": "01", "outcome": "running", "started": "t0",
                                                       "parameters": {"mode": "lab"}, "findings": {}}))
    # what `runbook run` leaves when it is killed: a marker whose holder is gone
    (run / OPEN_MARKER).write_text(json.dumps({"pid": 999999, "host": "h", "run_id": run.name, "since": "t0"}))
    env = dict(os.environ, RUNBOOK_RUNS_DIR=str(runs))
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "audit", "verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sealed 20260101T000000Z-killed as interrupted" in done.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["outcome"] == "interrupted" and record["steps"][0]["outcome"] == "interrupted"
    assert record["failure"]["step"] == "01" and "ended without sealing" in record["failure"]["error"]
    assert not (run / OPEN_MARKER).exists() and manifest.verify_run(run) == []


def test_runs_sealed_at_the_same_time_get_distinct_ordered_sequences(runs: Path) -> None:
    folders = [_fake_run(runs, f"2026010{i}T000000Z-para0{i}") for i in range(1, 7)]
    code = ("import sys; from pathlib import Path; from runbook_lib.audit import seal; "
            "seal(Path(sys.argv[1]), {'mode': 'lab'}, {'start_from': '01'}, [])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(f)], env=dict(os.environ)) for f in folders]
    assert [p.wait(timeout=120) for p in procs] == [0] * len(procs)
    sequences = sorted(int(json.loads((f / "manifest.json").read_text())["sequence"]) for f in folders)
    assert sequences == list(range(1, len(folders) + 1))
    assert manifest.verify_all(runs) == []
