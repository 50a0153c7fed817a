"""Choices and confirmations for people in JupyterLab (interactive: true). A running cell cannot wait for a
click, so a widget cell records the choice and the next cell reads it and refuses to go on without it.
Headless runs take the same values from the parameters and never render or wait on a widget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook_lib.errors import GateClosed
from runbook_lib.run.context import Step
from runbook_lib.ui import display


@dataclass
class TargetPicker:
    step: Step
    widget: Any = None

    def value(self) -> str:
        """The chosen target version; headless: the parameter."""
        if self.widget is None:
            return self.step.params.target_engine_version
        if not self.widget.value:
            raise GateClosed("Pick the target engine version in the dropdown above, then run this cell again.")
        return str(self.widget.value)


def target_picker(step: Step) -> TargetPicker:
    """A dropdown of the valid upgrade targets of the source's version (interactive runs only)."""
    if not step.params.interactive:
        return TargetPicker(step)
    import ipywidgets as widgets
    blue = step.rds.instance(step.params.source_db_instance)
    options = [t["EngineVersion"] for t in step.rds.valid_upgrade_targets(blue["Engine"], blue["EngineVersion"])]
    default = step.params.target_engine_version if step.params.target_engine_version in options else None
    dropdown = widgets.Dropdown(options=options, value=default, description="Upgrade to",
                                style={"description_width": "initial"})

    def chosen(change: dict[str, Any]) -> None:
        step.findings["target_chosen_interactively"] = change["new"]
        step.save()
    dropdown.observe(chosen, names="value")
    display.show(dropdown)
    return TargetPicker(step, dropdown)


def confirm(step: Step, gate: str, targets: list[str] | str) -> list[Any]:
    """One confirm button per target of a gate (switchover, delete); a click records the confirmation."""
    targets = [targets] if isinstance(targets, str) else list(targets)
    if not step.params.interactive:
        return []
    import ipywidgets as widgets
    buttons = []
    for target in targets:
        button = widgets.Button(description=f"Confirm {gate} of {target}", button_style="danger",
                                layout=widgets.Layout(width="auto"))

        def clicked(_: Any, target: str = target, button: Any = button) -> None:
            step.confirmations.setdefault(gate, [])
            if target not in step.confirmations[gate]:
                step.confirmations[gate].append(target)
            step.changed(f"confirmed {gate} interactively", target=target)
            button.description = f"Confirmed: {gate} of {target}"
            button.disabled = True
        button.on_click(clicked)
        display.show(button)
        buttons.append(button)
    return buttons
