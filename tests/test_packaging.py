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
