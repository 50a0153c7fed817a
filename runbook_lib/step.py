"""One runbook step as a notebook runs it: validated parameters, clients, the run folder, and the
structured result (steps/NN.json) that later steps and the audit record read."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import diagram, display
from .aws import Clients, make_clients
from .credentials import resolve_password
from .errors import RunbookError
from .params import RunbookParams, injected, load
from .rds import RdsFacade
from .runfolder import RunFolder, project_root

STEPS = {
    "01": ("01_prerequisites", "Check prerequisites", "사전 구성 요소 확인"),
    "02": ("02_create_blue_green", "Create the blue/green deployment", "Blue/Green Deployment 생성"),
    "03": ("03_upgrade_green", "Upgrade the green instance", "Green DB 엔진 버전 업그레이드"),
    "04": ("04_upgrade_logs", "Read the upgrade logs", "버전 업그레이드 확인"),
    "05": ("05_switchover", "Switch over", "Blue/Green Deployment 전환"),
    "06": ("06_cleanup", "Clean up", "전환 결과 확인 및 리소스 삭제 진행"),
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Step:
    number: str
    params: RunbookParams
    clients: Clients
    rds: RdsFacade
    run: RunFolder
    started: str = field(default_factory=_now)
    checks: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    identifiers: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    outcome: str = "running"
    # Confirmations clicked in JupyterLab (gate -> targets); headless runs use the parameters.
    confirmations: dict[str, list[str]] = field(default_factory=dict)
    # Called when the step fails anywhere (a running probe must stop and leave its record).
    on_failure: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return STEPS[self.number][0]

    @property
    def title(self) -> str:
        return STEPS[self.number][1]

    # -- recording -------------------------------------------------------------------------------
    def check(self, check_id: str, result: str, evidence: Any, remediation: str | None = None) -> dict[str, Any]:
        """Record one check (result: pass, warn, fail, skip)."""
        entry = {"id": check_id, "result": result, "evidence": evidence, "remediation": remediation}
        self.checks = [c for c in self.checks if c["id"] != check_id] + [entry]
        self.save()
        return entry

    def changed(self, what: str, **details: Any) -> None:
        self.changes.append({"at": _now(), "what": what, **details})
        self.save()

    def save(self) -> Path:
        calls = [{"operation": c.operation, "arguments": c.arguments, "performed": c.performed}
                 for c in self.rds.calls]
        return self.run.write_step(self.number, {
            "step": self.number, "name": self.name, "title": self.title, "title_lab": STEPS[self.number][2],
            "started": self.started, "finished": None if self.outcome == "running" else _now(),
            "outcome": self.outcome, "mode": self.params.mode, "dry_run": self.params.dry_run,
            "operator": getpass.getuser(), "identifiers": self.identifiers, "checks": self.checks,
            "changes": self.changes, "findings": self.findings, "rds_calls": calls,
            "parameters": self.params.redacted(), "confirmations": self.confirmations,
        })

    def finish(self, outcome: str = "succeeded") -> None:
        self.outcome = outcome
        self.save()
        kind = "ok" if outcome in ("succeeded", "expected-failure") else "error"
        display.note(f"Step {self.number} ({self.title}): **{outcome}**. Result saved to "
                     f"`{self.run.path.name}/steps/{self.number}.json`.", kind)

    def fail(self, error: BaseException) -> None:
        self.findings["error"] = str(error)
        self.outcome = "failed"
        while self.on_failure:
            self.on_failure.pop()()
        self.save()

    # -- shared helpers ------------------------------------------------------------------------------
    def show_topology(self, moment: str) -> None:
        diagram.show(self.rds, self.params.source_db_instance, self.params.deployment_name,
                     f"{moment}: step {self.number} — {self.title}")

    def password(self) -> str:
        secrets_client = None
        if self.params.db_password_secret_id:
            import boto3
            secrets_client = boto3.session.Session(profile_name=self.params.profile,
                                                   region_name=self.params.region).client("secretsmanager")
        return resolve_password(self.params, secrets_client)


def begin(step_number: str, params_file: str | None = None, namespace: dict[str, Any] | None = None) -> Step:
    """Start a step: load and check parameters, make clients, open the run folder."""
    if params_file is None and not namespace_has_params(namespace):
        root = project_root()
        params_file = str(root / "parameters" / "lab.yaml") if root else None
    params = load(params_file, injected(namespace or {}))
    clients = make_clients(params)
    run = RunFolder.open_or_join(params.run_dir, step_number)
    step = Step(step_number, params, clients, RdsFacade(clients.rds, dry_run=params.dry_run,
                                                        after_mutation=_crash_point(step_number)), run)
    step.rds.on_record = step.save  # a call RDS accepted is on record before anything else can happen
    step.identifiers.update(source_db_instance=params.source_db_instance, deployment_name=params.deployment_name)
    step.save()
    _install_error_handler(step)
    display.note(f"Step {step_number} — **{step.title}** ({STEPS[step_number][2]}) · mode `{params.mode}`"
                 f"{' · DRY RUN: no change will be made' if params.dry_run else ''} · run `{run.run_id}`")
    return step


def _crash_point(number: str) -> Any:
    """RUNBOOK_CRASH_AFTER=<operation>[@<step>]: kill this process right after that mutating call succeeds
    (in that step only, when given): the deterministic crash points of the re-run tests. Unset in normal use."""
    wanted = os.environ.get("RUNBOOK_CRASH_AFTER")
    if not wanted:
        return None
    operation_wanted, _, step_wanted = wanted.partition("@")

    def crash(operation: str) -> None:
        if operation == operation_wanted and (not step_wanted or step_wanted == number):
            os._exit(137)
    return crash


def namespace_has_params(namespace: dict[str, Any] | None) -> bool:
    """True when papermill injected parameter keys themselves (`-f file.yaml`), not just the runner's."""
    given = injected(namespace or {})
    return bool(set(given) - {"run_dir", "run_id", "dry_run"})


def _install_error_handler(step: Step) -> None:
    """In a notebook, a RunbookError shows as its message (no traceback) and marks the step failed."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> Any:
        step.fail(value)
        if issubclass(etype, RunbookError):
            display.note(str(value), "error")
            sys.stderr.write(f"{etype.__name__}: {value}\n")
            return None
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

    shell.set_custom_exc((Exception,), handler)
