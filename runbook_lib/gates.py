"""Confirmation gates for destructive steps: the run must name exactly what it is about to change."""

from __future__ import annotations

from .errors import GateClosed
from .params import RunbookParams


def require_switchover(params: RunbookParams, deployment_name: str) -> None:
    if params.confirm_switchover != deployment_name:
        got = f"it is {params.confirm_switchover!r}" if params.confirm_switchover else "it is not set"
        raise GateClosed(
            f"Switchover not confirmed: set confirm_switchover: {deployment_name} in the parameter file (or "
            f"click Confirm in JupyterLab); {got}. The switchover renames production and cannot be reversed. "
            "Nothing was changed.")


def require_delete(params: RunbookParams, target: str) -> None:
    if target not in params.confirm_delete:
        raise GateClosed(
            f"Deletion of {target} not confirmed: add {target} to confirm_delete in the parameter file (or "
            f"click Confirm in JupyterLab); it lists {params.confirm_delete or 'nothing'}. Nothing was deleted.")
