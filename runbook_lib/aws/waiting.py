"""Polling until a resource reaches a state: timeout, backoff, a progress bar, the last state seen.

RDS has no SDK waiter for blue/green deployments, and instance waiters cannot show progress, so
every wait in the runbook goes through `wait_until`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from tqdm.auto import tqdm

from runbook_lib.errors import RunbookError, WaitTimeout

T = TypeVar("T")


def wait_until(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    what: str,
    state_of: Callable[[T], str],
    timeout_s: float,
    failed: Callable[[T], str | None] = lambda _: None,
    first_poll_s: float = 0.2,
    max_poll_s: float = 15.0,
    progress: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fetch` until `done(result)`; raise on `failed(result)` or after `timeout_s`."""
    start = clock()
    poll = first_poll_s
    bar = tqdm(total=None, desc=what, unit="poll", disable=not progress, leave=True)
    states: list[str] = []
    try:
        while True:
            value = fetch()
            state = state_of(value)
            if not states or states[-1] != state:
                states.append(state)
            bar.set_postfix_str(state, refresh=False)
            bar.update(1)
            if done(value):
                return value
            reason = failed(value)
            if reason:
                raise RunbookError(f"{what}: {reason} (states seen: {' -> '.join(states)}).")
            elapsed = clock() - start
            if elapsed >= timeout_s:
                raise WaitTimeout(
                    f"{what}: still not done after {timeout_s:.0f} s; last state seen: {state} "
                    f"(states seen: {' -> '.join(states)}). Nothing was rolled back; re-run the step "
                    "to keep waiting, or look at the resource in the console.", last_state=value)
            sleep(min(poll, max(0.0, timeout_s - elapsed)))
            poll = min(poll * 1.5, max_poll_s)
    finally:
        bar.close()
        if progress:
            _final_line(bar)


def _final_line(bar: Any) -> None:
    """In a notebook the bar is a widget that the saved notebook keeps in its first state: print its last line as
    text, so the record shows how the wait ended."""
    if hasattr(bar, "container"):  # tqdm.notebook's bar (a terminal bar already leaves its last line)
        print(str(bar).strip())
