"""The record one step leaves in its run folder (steps/NN.json): checks with evidence, changes, identities,
findings, confirmations, every mutating RDS call, every AWS call counted (api_calls), and the outcome. Saved after every change, so a killed step
leaves what it had done; later steps, resumed runs and the audit record read it."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook_lib.errors import GateClosed
from runbook_lib.run.folder import RunFolder

STEPS = {
    "01": ("01_prerequisites", "Check prerequisites", "사전 구성 요소 확인"),
    "02": ("02_create_blue_green", "Create the blue/green deployment", "Blue/Green Deployment 생성"),
    "03": ("03_upgrade_green", "Upgrade the green instance", "Green DB 엔진 버전 업그레이드"),
    "04": ("04_upgrade_logs", "Read the upgrade logs", "버전 업그레이드 확인"),
    "05": ("05_switchover", "Switch over", "Blue/Green Deployment 전환"),
    "06": ("06_cleanup", "Clean up", "전환 결과 확인 및 리소스 삭제 진행"),
}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class StepRecord:
    number: str
    run: RunFolder
    # What the record repeats from elsewhere: the parameters (names of secret sources only) and the RDS calls.
    parameters: Callable[[], dict[str, Any]]
    calls: Callable[[], list[dict[str, Any]]]
    started: str = field(default_factory=now)
    checks: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    identifiers: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    outcome: str = "running"
    # Confirmations clicked in JupyterLab (gate -> targets); headless runs use the parameters.
    confirmations: dict[str, list[str]] = field(default_factory=dict)
    # Every AWS call of the step (service:Operation -> count), for the IAM actions a run really needs. None: taken
    # from the RDS facade whose recorded_calls is `calls` (the clients it was made with carry the log).
    api_calls: Callable[[], dict[str, int] | None] | None = None

    @property
    def name(self) -> str:
        return STEPS[self.number][0]

    @property
    def title(self) -> str:
        return STEPS[self.number][1]

    def check(self, check_id: str, result: str, evidence: Any, remediation: str | None = None) -> dict[str, Any]:
        """Record one check (result: pass, warn, fail, skip)."""
        entry = {"id": check_id, "result": result, "evidence": evidence, "remediation": remediation}
        self.checks = [c for c in self.checks if c["id"] != check_id] + [entry]
        self.save()
        return entry

    def changed(self, what: str, **details: Any) -> None:
        self.changes.append({"at": now(), "what": what, **details})
        self.save()

    def save(self) -> Path:
        params = self.parameters()
        return self.run.write_step(self.number, {
            "step": self.number, "name": self.name, "title": self.title, "title_lab": STEPS[self.number][2],
            "started": self.started, "finished": None if self.outcome == "running" else now(),
            "outcome": self.outcome, "mode": params.get("mode"), "dry_run": params.get("dry_run"),
            "operator": getpass.getuser(), "pid": os.getpid(), "identifiers": self.identifiers, "checks": self.checks,
            "changes": self.changes, "findings": self.findings, "rds_calls": self.calls(),
            "parameters": params, "confirmations": self.confirmations, "api_calls": self._api_calls(),
        })

    def _api_calls(self) -> dict[str, int] | None:
        source = self.api_calls or getattr(getattr(self.calls, "__self__", None), "api_calls", None)
        return source() if callable(source) else None

    def finish(self, outcome: str) -> None:
        self.outcome = outcome
        self.findings.pop("waiting_for", None)
        self.save()

    def fail(self, error: BaseException) -> None:
        if isinstance(error, GateClosed):
            # Not a failure of the step: it waits for a confirmation (a click, or the parameter) and resumes when
            # the cell is run again; nothing was changed.
            self.findings["waiting_for"] = str(error)
            self.outcome = "waiting-for-confirmation"
        else:
            self.findings["error"] = str(error)
            self.outcome = "failed"
        self.save()

    def planned_in_this_run(self, operation: str) -> bool:
        """True when a step of this run only recorded `operation` (a dry run's plan)."""
        for number in STEPS:
            record = self.run.read_step(number) or {}
            if any(c.get("operation") == operation and not c.get("performed") for c in record.get("rds_calls", [])):
                return True
        return False
