"""The audit record of a run: what happened (run.json), readable offline (HTML), secret-free (scan), and
tamper-evident (a signed manifest chained to the previous run's)."""

from runbook_lib.audit.manifest import Finding, verify_all, verify_run
from runbook_lib.audit.seal import seal

__all__ = ["Finding", "seal", "verify_all", "verify_run"]
