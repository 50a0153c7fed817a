"""bluegreen-runbook: an RDS blue/green deployment, one notebook per step, headless or in JupyterLab, against AWS
or the local lab, with a signed record.

This module is the public surface: what notebooks and users call. Everything else is the runbook's own and may
change; the step functions live in `runbook_lib.steps` (one module per notebook).
"""

from runbook_lib.errors import GateClosed, NotFound, RunbookError, WaitTimeout
from runbook_lib.params import ParamsError, RunbookParams
from runbook_lib.params import load as load_params
from runbook_lib.run.context import STEPS, Step, begin
from runbook_lib.ui.widgets import confirm, target_picker

__all__ = ["STEPS", "GateClosed", "NotFound", "ParamsError", "RunbookError", "RunbookParams", "Step", "WaitTimeout",
           "begin", "confirm", "load_params", "target_picker"]
