"""Choices and confirmations for people in JupyterLab (interactive: true). A running cell cannot wait for a
click, so a widget cell shows the dropdown or the buttons and the next cell reads them: until the choice or the
click it says what to do and stops (GateClosed, shown without a traceback), and after it runs on. Every choice and
click is recorded in the step record (`findings.decisions`: what, who, when). Headless runs take the same values
from the parameters and never render or wait on a widget."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runbook_lib.errors import GateClosed
from runbook_lib.run.context import Step
from runbook_lib.run.step_record import now
from runbook_lib.ui import display


def decided(step: Step, what: str, **details: Any) -> dict[str, Any]:
    """Record a decision made in JupyterLab: what, by whom, when (UTC)."""
    entry = {"what": what, "by": getpass.getuser(), "at": now(), "how": "clicked in JupyterLab", **details}
    step.findings.setdefault("decisions", []).append(entry)
    step.save()
    return entry


def decision_text(entry: dict[str, Any]) -> str:
    """How a decision reads on the button and in the HTML record: 'Confirmed by ann at 21:58:03 UTC'."""
    at = datetime.fromisoformat(str(entry["at"]))
    return f"by {entry['by']} at {at:%H:%M:%S} UTC"


def _last(step: Step, what: str, **match: Any) -> dict[str, Any] | None:
    found = [d for d in step.findings.get("decisions", [])
             if d.get("what") == what and all(d.get(k) == v for k, v in match.items())]
    return found[-1] if found else None


@dataclass
class TargetPicker:
    step: Step
    widget: Any = None

    def value(self) -> str:
        """The chosen target version; headless: the parameter."""
        if self.widget is None:
            return self.step.params.target_engine_version
        if not self.widget.value:
            raise GateClosed("Choose the target engine version in the **Upgrade to** dropdown above, then run this "
                             "cell again (or Run All). Nothing was changed.")
        return str(self.widget.value)


def target_picker(step: Step) -> TargetPicker:
    """A dropdown of the valid upgrade targets of the source's version (interactive runs only). Nothing is
    preselected: the person chooses (a choice made earlier in this run's step is kept)."""
    if not step.params.interactive:
        return TargetPicker(step)
    import ipywidgets as widgets
    blue = step.rds.instance(step.params.source_db_instance)
    options = [t["EngineVersion"] for t in step.rds.valid_upgrade_targets(blue["Engine"], blue["EngineVersion"])]
    earlier = step.findings.get("target_chosen_interactively")
    dropdown = widgets.Dropdown(options=options, value=earlier if earlier in options else None,
                                description="Upgrade to", style={"description_width": "initial"})
    if step.params.target_engine_version and earlier is None:
        display.note(f"The dropdown decides: `target_engine_version: {step.params.target_engine_version}` from the "
                     "parameters is not preselected.", "info")

    def chosen(change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        step.findings["target_chosen_interactively"] = change["new"]
        decided(step, "chose target engine version", value=change["new"], options=options)
    dropdown.observe(chosen, names="value")
    display.widget(dropdown, f"Upgrade to: {earlier or '(not chosen)'} of {', '.join(options)}",
                   {"widget": "target", "options": options})
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
        earlier = _last(step, f"confirmed {gate}", target=target)
        if earlier and target in step.confirmations.get(gate, []):
            _show_confirmed(button, gate, target, earlier)

        def clicked(_: Any, target: str = target, button: Any = button) -> None:
            if button.disabled:
                return
            step.confirmations.setdefault(gate, [])
            if target not in step.confirmations[gate]:
                step.confirmations[gate].append(target)
            entry = decided(step, f"confirmed {gate}", gate=gate, target=target)
            step.changed(f"confirmed {gate} interactively", target=target, by=entry["by"])
            _show_confirmed(button, gate, target, entry)
        button.on_click(clicked)
        display.widget(button, f"Confirm {gate} of {target} (button)", {"widget": "confirm", "gate": gate,
                                                                       "target": target})
        buttons.append(button)
    return buttons


def _show_confirmed(button: Any, gate: str, target: str, entry: dict[str, Any]) -> None:
    button.description = f"Confirmed {gate} of {target} {decision_text(entry)}"
    button.button_style = "success"
    button.disabled = True
