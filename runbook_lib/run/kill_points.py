"""Deterministic kill points for the re-run tests: a step (or the RDS facade, right after a mutating call) dies
at a named point when the environment asks for it. Unset in normal use; nothing here runs then."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


def at(label: str, step_number: str) -> None:
    """RUNBOOK_CRASH_AT=<label>[@<step>]: die here."""
    wanted = os.environ.get("RUNBOOK_CRASH_AT")
    if wanted:
        where, _, only = wanted.partition("@")
        if where == label and (not only or only == step_number):
            die()


def after_mutation(step_number: str) -> Callable[[str], None] | None:
    """RUNBOOK_CRASH_AFTER=<operation>[@<step>]: die right after that mutating call succeeded."""
    wanted = os.environ.get("RUNBOOK_CRASH_AFTER")
    if not wanted:
        return None
    operation_wanted, _, step_wanted = wanted.partition("@")

    def crash(operation: str) -> None:
        if operation == operation_wanted and (not step_wanted or step_wanted == step_number):
            die()
    return crash


def die() -> None:
    """A kill -9 of the kernel, and with RUNBOOK_CRASH_KILLS_RUNNER=1 of the `runbook run` that started it too
    (nothing gets to clean up or seal: the next command must find and seal what is left)."""
    if os.environ.get("RUNBOOK_CRASH_KILLS_RUNNER") == "1":
        runner = os.environ.get("RUNBOOK_RUNNER_PID")
        if runner and runner.isdigit():
            os.kill(int(runner), signal.SIGKILL)
    os._exit(137)
