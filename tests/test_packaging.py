"""The project's shape: dependencies listed once in two places, notebooks committed clean."""

from __future__ import annotations

import json
import re
import tomllib

import yaml
from conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_and_pyproject_list_the_same_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {_name(r) for r in project["project"]["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r) for r in pip_section if not r.startswith("-")}
    assert declared == listed
    for chosen in ("jupyterlab", "boto3", "pymysql", "ipywidgets", "papermill", "graphviz"):
        assert chosen in declared


def test_notebooks_are_thin_clean_and_parameterised() -> None:
    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert [b.stem[:2] for b in books] == ["01", "02", "03", "04", "05", "06"]
    for book in books:
        nb = json.loads(book.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert any("parameters" in c["metadata"].get("tags", []) for c in code), book.name
        assert all(not c["outputs"] and c["execution_count"] is None for c in code), book.name
        source = "".join("".join(c["source"]) for c in code)
        assert "boto3" not in source and "pymysql" not in source, f"{book.name} must call runbook_lib only"
        title = "".join(nb["cells"][0]["source"])
        assert re.search(r"[\uac00-\ud7a3]", title), f"{book.name} lacks the lab's Korean step title"


def test_the_lab_is_an_extra_and_the_runbook_imports_without_it() -> None:
    """pip install . gives aws mode only: moto comes with the `lab` extra (which `test` includes), and nothing the
    notebooks, the runner or the CLI import needs it; `runbook lab up` without it says how to get it."""
    import subprocess
    import sys
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not any(_name(r) == "moto" for r in project["project"]["dependencies"])
    extras = project["project"]["optional-dependencies"]
    assert any(_name(r) == "moto" for r in extras["lab"])
    assert "bluegreen-runbook[lab]" in extras["test"]
    blocked = ("import sys; sys.modules['moto'] = None\n"
               "import importlib, pkgutil, runbook_lib\n"
               "skip = ('runbook_lib.lab.api', 'runbook_lib.lab.control', 'runbook_lib.lab.daemon', "
               "'runbook_lib.lab.moto_internals')\n"
               "for m in pkgutil.walk_packages(runbook_lib.__path__, 'runbook_lib.'):\n"
               "    if not m.name.startswith(skip):\n"
               "        importlib.import_module(m.name)\n"
               "import importlib.util; importlib.util.find_spec = lambda name, *a: None\n"
               "from runbook_lib.cli import main\n"
               "sys.exit(main(['lab', 'up']))\n")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**__import__("os").environ, "RUNBOOK_LAB_DIR": "/nonexistent-lab-dir-for-this-test"})
    assert done.returncode == 1, done.stderr[-2000:]
    assert "pip install 'bluegreen-runbook[lab]'" in done.stderr
