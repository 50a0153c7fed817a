"""bluegreen-runbook: an RDS blue/green deployment, one notebook per step, headless or in JupyterLab, against AWS
or the local lab, with a signed record.

This module is the public surface: what notebooks and users call. Everything else is the runbook's own and may
change; the step functions live in `runbook_lib.steps` (one module per notebook).

The names load on first use (PEP 562), so commands that need none of them (`runbook precheck`, `runbook log explain`,
`runbook probe`) do not pay for boto3 and the run machinery at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook_lib.errors import GateClosed, NotFound, RunbookError, WaitTimeout
    from runbook_lib.params import ParamsError, RunbookParams
    from runbook_lib.params import load as load_params
    from runbook_lib.run.context import STEPS, Step, begin
    from runbook_lib.ui.widgets import confirm, target_picker

_WHERE = {
    "GateClosed": ("runbook_lib.errors", "GateClosed"), "NotFound": ("runbook_lib.errors", "NotFound"),
    "RunbookError": ("runbook_lib.errors", "RunbookError"), "WaitTimeout": ("runbook_lib.errors", "WaitTimeout"),
    "ParamsError": ("runbook_lib.params", "ParamsError"), "RunbookParams": ("runbook_lib.params", "RunbookParams"),
    "load_params": ("runbook_lib.params", "load"),
    "STEPS": ("runbook_lib.run.context", "STEPS"), "Step": ("runbook_lib.run.context", "Step"),
    "begin": ("runbook_lib.run.context", "begin"),
    "confirm": ("runbook_lib.ui.widgets", "confirm"), "target_picker": ("runbook_lib.ui.widgets", "target_picker"),
}

__all__ = ["STEPS", "GateClosed", "NotFound", "ParamsError", "RunbookError", "RunbookParams", "Step", "WaitTimeout",
           "begin", "confirm", "load_params", "target_picker"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'runbook_lib' has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
