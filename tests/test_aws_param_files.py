"""Parameter files that are not parameter files at all (binary, empty, a directory, not a mapping, another encoding)
get the one-paragraph parameter error, exit code 2, before anything starts: no traceback, no lab, no run folder.
tests/bad_params/files/ holds them (test_guardrails.py's corpus needs a first line, which these cannot have)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

FILES = ROOT / "tests" / "bad_params" / "files"
# file -> the key the error names, and words it must say
EXPECT = {
    "binary.yaml": ("params_file", "not a text file"),
    "an_executable.yaml": ("params_file", "not a text file"),
    "utf16.yaml": ("params_file", "not a text file"),
    "empty.yaml": ("(file)", "is empty"),
    "comments_only.yaml": ("(file)", "is empty"),
    "a_directory.yaml": ("params_file", "is a directory"),
    "scalar.yaml": ("(file)", "must be a YAML mapping"),
    "list.yaml": ("(file)", "must be a YAML mapping"),
}


def test_every_file_in_the_folder_has_an_expectation() -> None:
    assert sorted(p.name for p in FILES.iterdir()) == sorted(EXPECT)


def _runbook(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RUNBOOK_LAB_DIR=str(tmp_path / "lab"), RUNBOOK_RUNS_DIR=str(tmp_path / "runs"),
               RUNBOOK_AUDIT_KEY=str(tmp_path / "keys" / "audit.pem"))
    return subprocess.run([sys.executable, "-m", "runbook_lib.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("name", sorted(EXPECT))
@pytest.mark.parametrize("command", ["run", "check"])
def test_a_file_that_is_not_a_parameter_file_is_refused_in_one_paragraph(name: str, command: str,
                                                                         tmp_path: Path) -> None:
    key, words = EXPECT[name]
    path = str(FILES / name)
    done = _runbook(tmp_path, *(["run", "--params", path] if command == "run" else ["params", "check", path]))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr.split("\n")[0]
    assert f"  - {key}: " in done.stderr and words in done.stderr, done.stderr
    assert "parameters/lab.yaml" in done.stderr            # says what to pass instead
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, lines                          # the heading and the one problem
    assert not (tmp_path / "lab" / "lab.json").exists() and not (tmp_path / "runs").exists()  # nothing started


def test_params_check_reads_the_ca_bundle_it_names(tmp_path: Path) -> None:
    """Validation itself needs no file; `runbook params check` also reads the files a parameter names."""
    params = tmp_path / "aws.yaml"
    params.write_text(f"mode: aws\nregion: eu-west-1\nca_bundle: {tmp_path / 'missing.pem'}\n")
    done = _runbook(tmp_path, "params", "check", str(params))
    assert done.returncode == 2 and "- ca_bundle: cannot be read" in done.stderr, done.stderr
    assert "truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in done.stderr
    (tmp_path / "missing.pem").write_text("not a certificate\n")
    done = _runbook(tmp_path, "params", "check", str(params))
    assert done.returncode == 2 and "- ca_bundle: is not a PEM certificate bundle" in done.stderr, done.stderr
