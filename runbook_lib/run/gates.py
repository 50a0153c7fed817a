"""Confirmation gates for destructive steps: the run must name exactly what it is about to change, in the
parameters (headless) or with a click on the confirm button (JupyterLab, interactive: true)."""

from __future__ import annotations

from collections.abc import Mapping

from runbook_lib.errors import GateClosed
from runbook_lib.params import RunbookParams
from runbook_lib.run.context import Step
from runbook_lib.ui import display


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


def bind_switchover_click(step: Step, deployment_id: str) -> None:
    """Act on recorded identity: a click carried from an earlier attempt of step 05 in this run (Run All again)
    holds only for the deployment that attempt checked, by id; one deleted and created again under the same name
    needs a new click. Records which deployment this attempt checks, for the next attempt."""
    carried_for = step.identifiers.pop("clicked_for_deployment_id", None)
    step.identifiers["checked_deployment_id"] = deployment_id
    if carried_for is None or carried_for == deployment_id or "switchover" not in step.confirmations:
        return
    targets = step.confirmations.pop("switchover")
    display.note(f"The switchover confirmation of {', '.join(targets)} carried from an earlier attempt was made for "
                 f"deployment {carried_for}; that name now belongs to deployment {deployment_id} (deleted and created "
                 "again), so it no longer counts: confirm again below.", "warning")


def require_delete(params: RunbookParams, target: str, confirmations: Mapping[str, list[str]] | None = None) -> None:
    if target in params.confirm_delete or _clicked(params, confirmations, "delete", target):
        return
    if params.interactive:
        raise _click_first("delete", target, "Nothing was deleted.")
    raise GateClosed(
        f"Deletion of {target} not confirmed: add {target} to confirm_delete in the parameter file (or click "
        f"Confirm in JupyterLab); it lists {params.confirm_delete or 'nothing'}. Nothing was deleted.")


def require_replacement(params: RunbookParams, deployment_name: str, green_name: str | None, status: str, why: object,
                        confirmations: Mapping[str, list[str]] | None = None, green_word: str = "green instance") -> None:
    """Step 02 deletes a deployment that can no longer be switched over together with its green (DeleteTarget) only
    when both are confirmed by name; the refusal says why and what the way on is."""
    for name in [deployment_name] + ([green_name] if green_name else []):
        try:
            require_delete(params, name, confirmations)
        except GateClosed as closed:
            raise GateClosed(
                f"Deployment {deployment_name} is {status} ({why}): it can no longer be switched over. The way on is "
                f"to delete it together with its {green_word} {green_name} (DeleteTarget=true; blue, still production, "
                f"is untouched) and create it anew. {closed}") from None
