"""Lab switches: faults that make failure paths deterministic (tests and demos), and settings where RDS's
documentation leaves a behaviour open (docs/lab-rules.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What a deployment's status is after RDS rolled a switchover back. The API reference says only that "any
# changes are rolled back, and no changes are made to the environments"; the user guide does not name the
# status afterwards (docs/lab-rules.md). Both plausible outcomes are a lab setting, and the runbook handles both.
ROLLBACK_STATUSES = ("AVAILABLE", "SWITCHOVER_FAILED")


@dataclass
class Faults:
    """Switches that make failure paths deterministic (tests and demos), and lab settings where RDS's
    documentation leaves a behaviour open."""

    stall_green_sql_thread: bool = False   # green stops applying during switchover -> timeout, rollback (PostgreSQL:
    #                                        the subscription disabled, or WAL replay paused on a physical green)
    # skip_catchup_wait on PostgreSQL: green stops applying at the fence and is promoted without the LSN wait
    skip_catchup_wait: bool = False        # promote green without waiting (unsafe; zero-loss must catch it)
    switchover_rollback_status: str = "AVAILABLE"   # deployment status after a rolled-back switchover
    switchover_hold_s: float = 0.0         # stay SWITCHOVER_IN_PROGRESS this long before fencing (kill tests)
    deletion_hold_s: float = 0.0           # stay 'deleting' this long before the final snapshot (kill tests)

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown lab switch {key!r}; known: {', '.join(vars(self))}")
            if key == "switchover_rollback_status":
                if value not in ROLLBACK_STATUSES:
                    raise ValueError(f"switchover_rollback_status must be one of {', '.join(ROLLBACK_STATUSES)}; "
                                     f"got {value!r}")
                self.switchover_rollback_status = str(value)
            elif key in ("switchover_hold_s", "deletion_hold_s"):
                setattr(self, key, max(0.0, float(value)))
            else:
                setattr(self, key, bool(value))
