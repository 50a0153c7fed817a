"""The switchover gate in a live kernel, as JupyterLab runs it: Run All stops at the gate with the probe not started;
after the click, running the cell again starts the probe, switches over, and the report is what that probe saw."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from conftest import ROOT, create_available_deployment, upgrade_green
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

pytestmark = pytest.mark.e2e


def _code_cells(nb: Any) -> list[tuple[int, Any]]:
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _errors(cell: Any) -> list[str]:
    return [o.get("ename", "") + ": " + o.get("evalue", "") for o in cell.outputs if o.output_type == "error"] + \
        [o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.get("name") == "stderr"]


def test_gate_refused_then_confirmed_by_a_click_in_a_live_kernel(rds: Any, tmp_path: Path) -> None:
    bgd = create_available_deployment(rds)
    upgrade_green(rds, bgd["Target"].split(":")[-1])
    values = yaml.safe_load((ROOT / "parameters" / "lab.yaml").read_text())
    values.update(interactive=True)   # lab.yaml pre-confirms the switchover: interactive, the button decides
    params = tmp_path / "interactive.yaml"
    params.write_text(yaml.safe_dump(values))
    nb = parameterize_notebook(load_notebook_node(str(ROOT / "notebooks" / "05_switchover.ipynb")),
                               {"params_file": str(params)})
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=600,
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    cells = _code_cells(nb)
    gate_index = next(i for i, c in cells if "switchover.switch_over(step)" in c.source)
    with client.setup_kernel(env=dict(os.environ)):
        for index, cell in cells:                                   # Run All: it stops at the gate
            if index == gate_index:
                client.allow_errors = False                         # the cell ends as failed: Run All stops here
                with pytest.raises(CellExecutionError):
                    client.execute_cell(cell, index)
                client.allow_errors = True
                break
            client.execute_cell(cell, index)
        begin_cell = next(c for _, c in cells if "rb.begin" in c.source)
        begun = " ".join(str(o.get("data", {}).get("text/markdown", "")) for o in begin_cell.outputs)
        assert "Ignored from the parameters" in begun and "confirm_switchover" in begun, begun
        gate_cell = nb.cells[gate_index]
        assert not _errors(gate_cell), _errors(gate_cell)                # a clean stop: no traceback, no stderr
        shown = " ".join(str(o.get("data", {}).get("text/markdown", "")) for o in gate_cell.outputs)
        assert "Waiting for you" in shown and "Confirm switchover of bg-deployment" in shown, shown
        assert gate_cell.execution_count is not None
        probe_state = _exec(client, "import json; print(json.dumps([str(step.run.path), "
                                    "step.findings.get('probe'), step.outcome]))")
        run_path, probe, outcome = json.loads(probe_state)
        assert probe is None and outcome == "waiting-for-confirmation"            # no probe before the gate
        assert not (Path(run_path) / "probe").exists()
        _exec(client, "buttons[0].click()")                                        # the click
        nb.cells[gate_index].outputs = []
        client.execute_cell(nb.cells[gate_index], gate_index)                     # the cell again
        assert not _errors(nb.cells[gate_index]), _errors(nb.cells[gate_index])
        for index, cell in cells:
            if index > gate_index:
                client.execute_cell(cell, index)
                assert not _errors(cell), (index, _errors(cell))
    record = json.loads((Path(run_path) / "steps" / "05.json").read_text())
    assert record["outcome"] == "succeeded" and record["confirmations"] == {"switchover": ["bg-deployment"]}
    decision = [d for d in record["findings"]["decisions"] if d["what"] == "confirmed switchover"][0]
    assert decision["target"] == "bg-deployment" and decision["by"] and decision["at"]   # who, when, what
    downtime = record["findings"]["downtime"]
    assert downtime["observed"] is True and downtime["write_unavailable_s"] > 0
    assert downtime["observed_by"]["run"] == Path(run_path).name
    assert record["findings"]["zero_loss"]["missing"] == 0 and record["findings"]["zero_loss"]["acknowledged"] > 0
    started = [c for c in record["changes"] if c["what"] == "confirmed switchover interactively"][0]["at"]
    assert record["findings"]["probe"]["started"] > started              # the probe started after the click


def _exec(client: NotebookClient, source: str) -> str:
    cell = nbformat.v4.new_code_cell(source)
    client.execute_cell(cell, 0)
    assert not _errors(cell), _errors(cell)
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
