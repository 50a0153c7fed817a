"""Confirmation gates for destructive steps: the run must name exactly what it is about to change, in the
parameters (headless) or with a click on the confirm button (JupyterLab, interactive: true)."""

from __future__ import annotations

from collections.abc import Mapping

from runbook_lib.errors import GateClosed
from runbook_lib.params import RunbookParams


def _clicked(params: RunbookParams, confirmations: Mapping[str, list[str]] | None, gate: str, target: str) -> bool:
    return bool(params.interactive and confirmations and target in confirmations.get(gate, []))


def _click_first(gate: str, target: str, consequence: str) -> GateClosed:
    """In JupyterLab the button decides: say which one to click and how to go on."""
    return GateClosed(f"Click **Confirm {gate} of {target}** above, then run this cell again (or Run All). "
                      f"{consequence}")


def require_switchover(params: RunbookParams, deployment_name: str,
                       confirmations: Mapping[str, list[str]] | None = None) -> None:
    if params.confirm_switchover == deployment_name or _clicked(params, confirmations, "switchover", deployment_name):
        return
    if params.interactive:
        raise _click_first("switchover", deployment_name, "The switchover renames production and cannot be reversed. "
                           "Nothing was changed; the downtime probe has not started.")
    got = f"it is {params.confirm_switchover!r}" if params.confirm_switchover else "it is not set"
    raise GateClosed(
        f"Switchover not confirmed: set confirm_switchover: {deployment_name} in the parameter file (or click "
        f"Confirm in JupyterLab); {got}. The switchover renames production and cannot be reversed. Nothing was "
        "changed.")


def require_delete(params: RunbookParams, target: str, confirmations: Mapping[str, list[str]] | None = None) -> None:
    if target in params.confirm_delete or _clicked(params, confirmations, "delete", target):
        return
    if params.interactive:
        raise _click_first("delete", target, "Nothing was deleted.")
    raise GateClosed(
        f"Deletion of {target} not confirmed: add {target} to confirm_delete in the parameter file (or click "
        f"Confirm in JupyterLab); it lists {params.confirm_delete or 'nothing'}. Nothing was deleted.")
