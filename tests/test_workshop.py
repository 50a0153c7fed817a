"""The workshop's pieces without a browser: parameter paths from the project root, pre-filled confirmations ignored
when the widgets decide, the working copies of the notebooks, and the HTML record showing decisions instead of
widget reprs. (The whole workshop in Chromium: test_workshop_browser.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from runbook_lib.audit import export
from runbook_lib.params import ParamsError, load
from runbook_lib.run.context import params_path, widgets_decide
from runbook_lib.run.folder import RunFolder
from runbook_lib.run.workshop import working_copies


def test_a_relative_parameter_path_is_read_from_the_project_root(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)                      # as a notebook does from notebooks/ or a workshop copy
    assert params_path("parameters/lab.yaml") == str(ROOT / "parameters" / "lab.yaml")
    assert load(params_path("parameters/lab-interactive.yaml")).interactive is True
    with pytest.raises(ParamsError) as missing:
        load(params_path("parameters/my-lab.yaml"))
    assert str(ROOT / "parameters" / "my-lab.yaml") in str(missing.value)   # the error names the path it tried
    assert params_path("/abs/elsewhere.yaml") == "/abs/elsewhere.yaml"


def test_interactive_ignores_pre_filled_confirmations() -> None:
    params = load(str(ROOT / "parameters" / "lab.yaml"), {"interactive": True})
    assert params.confirm_switchover == "bg-deployment"
    ignored = widgets_decide(params)
    assert ignored == {"confirm_switchover": "bg-deployment", "confirm_delete": ["bg-deployment", "database-1-old1"]}
    assert params.confirm_switchover is None and params.confirm_delete == []
    headless = load(str(ROOT / "parameters" / "lab.yaml"))
    assert widgets_decide(headless) == {} and headless.confirm_switchover == "bg-deployment"
    shipped = load(str(ROOT / "parameters" / "lab-interactive.yaml"))
    assert widgets_decide(shipped) == {}             # the workshop's file pre-fills nothing


def test_working_copies_carry_the_run_and_leave_the_committed_notebooks_alone(tmp_path: Path) -> None:
    committed = {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")}
    run = RunFolder.create(tmp_path / "runs", "20260101T000000Z-abcdef")
    copies = working_copies(run, str(ROOT / "parameters" / "lab-interactive.yaml"), tmp_path / "ws")
    assert [p.name for p in copies] == sorted(committed)
    assert (tmp_path / "ws" / "parameters" / "lab.yaml").is_file()          # parameters/ beside the notebooks
    for copy in copies:
        nb = json.loads(copy.read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        source = "".join(cell["source"])
        assert "params_file = 'parameters/lab-interactive.yaml'" in source and str(run.path) in source
        assert not any(c.get("outputs") for c in nb["cells"])
    assert {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")} == committed


def test_html_record_shows_the_decision_not_the_widget(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "steps").mkdir(parents=True)
    (run / "steps" / "05.json").write_text(json.dumps({"findings": {"decisions": [
        {"what": "confirmed switchover", "gate": "switchover", "target": "bg-deployment", "by": "ann",
         "at": "2026-01-01T10:11:12.000+00:00"}]}}))
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0}}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("buttons = rb.confirm(...)", outputs=[
        nbformat.v4.new_output("display_data", {**widget, "text/plain": "Button(button_style='danger')"},
                               metadata={"runbook": {"widget": "confirm", "gate": "switchover",
                                                     "target": "bg-deployment"}}),
        nbformat.v4.new_output("display_data", {**widget, "text/plain": "deployment: 0poll [00:00, ?poll/s]"}),
        nbformat.v4.new_output("stream", name="stdout", text="deployment: 7poll [00:02, 3.1poll/s, AVAILABLE]")])]
    path = run / "05_switchover.ipynb"
    nbformat.write(nb, path)
    html = export.to_html(path).read_text()
    assert "Confirmed by ann at 2026-01-01 10:11:12 UTC" in html
    assert "Button(" not in html and "0poll [00:00" not in html and "7poll [00:02" in html
    os.remove(run / "steps" / "05.json")
    assert "not confirmed" in export.to_html(path).read_text()               # no click recorded: said so
