"""What a notebook step begins with: the parameters and the clients they name (StepContext), the step's record in
the run folder (StepRecord), the deployment's lock, and the hooks a failing cell runs. `begin` makes all of them;
`Step` keeps them together and is what step functions take."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib.aws.clients import Clients, make_clients
from runbook_lib.aws.credentials import resolve_password
from runbook_lib.aws.rds import RdsFacade
from runbook_lib.errors import GateClosed, RunbookError
from runbook_lib.params import RunbookParams, injected, load
from runbook_lib.run import kill_points, lock
from runbook_lib.run.folder import RunFolder, project_root, runs_root
from runbook_lib.run.step_record import STEPS, StepRecord
from runbook_lib.ui import diagram, display

__all__ = ["STEPS", "Step", "StepContext", "begin"]


@dataclass
class StepContext:
    """The parameters and the AWS (or lab) clients they name; how to reach the database."""

    params: RunbookParams
    clients: Clients
    rds: RdsFacade
    _password: str | None = field(default=None, repr=False)
    # The source's live Engine, read once per step by steps/flows.py (which flow walks this source).
    source_engine: str | None = None

    def password(self) -> str:
        """The database password from its source, read once per step (one GetSecretValue, counted in api_calls)."""
        if self._password is None:
            self._password = resolve_password(self.params, self.clients.secretsmanager)
        return self._password

    def wait_s(self, rds_seconds: float) -> float:
        """A wait's timeout: RDS's own time in aws mode; in the lab, scaled as the lab scales RDS's waits (with a
        floor for the real work a lab server does)."""
        if self.clients.mode != "lab":
            return rds_seconds
        return max(rds_seconds * self.clients.time_scale, 30.0)


@dataclass
class Step:
    """One step as a notebook runs it. Step functions read parameters and clients, record what they check and
    change, and may ask for a confirmation; each of those lives in its own part."""

    context: StepContext
    record: StepRecord
    # This kernel's hold on the deployment's lock (None when the runner holds it for this run).
    lock: lock.RunLock | None = None
    # Called when the step fails anywhere (a running probe must stop and leave its record).
    on_failure: list[Any] = field(default_factory=list)

    # -- the parts, by the names step functions use ----------------------------------------------------------
    @property
    def params(self) -> RunbookParams:
        return self.context.params

    @property
    def clients(self) -> Clients:
        return self.context.clients

    @property
    def rds(self) -> RdsFacade:
        return self.context.rds

    @property
    def number(self) -> str:
        return self.record.number

    @property
    def title(self) -> str:
        return self.record.title

    @property
    def run(self) -> RunFolder:
        return self.record.run

    @property
    def checks(self) -> list[dict[str, Any]]:
        return self.record.checks

    @property
    def changes(self) -> list[dict[str, Any]]:
        return self.record.changes

    @property
    def identifiers(self) -> dict[str, Any]:
        return self.record.identifiers

    @property
    def findings(self) -> dict[str, Any]:
        return self.record.findings

    @property
    def confirmations(self) -> dict[str, list[str]]:
        return self.record.confirmations

    @property
    def outcome(self) -> str:
        return self.record.outcome

    def check(self, check_id: str, result: str, evidence: Any, remediation: str | None = None) -> dict[str, Any]:
        return self.record.check(check_id, result, evidence, remediation)

    def changed(self, what: str, **details: Any) -> None:
        self.record.changed(what, **details)

    def save(self) -> Path:
        return self.record.save()

    def password(self) -> str:
        return self.context.password()

    def wait_s(self, rds_seconds: float) -> float:
        return self.context.wait_s(rds_seconds)

    def planned_in_this_run(self, operation: str) -> bool:
        return self.record.planned_in_this_run(operation)

    def crash_point(self, label: str) -> None:
        kill_points.at(label, self.number)

    # -- the step's life --------------------------------------------------------------------------------------
    def finish(self, outcome: str = "succeeded") -> None:
        self.crash_point("finish")
        self.record.finish(outcome)
        if self.lock is not None:  # a notebook run by hand holds the deployment only while a step is under way
            self.lock.release()
            self.lock = None
        kind = "ok" if outcome in ("succeeded", "expected-failure") else "error"
        display.note(f"Step {self.number} ({self.title}): **{outcome}**. Result saved to "
                     f"`{self.run.path.name}/steps/{self.number}.json`.", kind)

    def fail(self, error: BaseException) -> None:
        while self.on_failure:
            self.on_failure.pop()()
        self.record.fail(error)

    def show_topology(self, moment: str) -> None:
        if self.params.source_db_cluster:
            diagram.show_cluster(self.rds, self.params.source_db_cluster, self.params.deployment_name,
                                 f"{moment}: step {self.number} — {self.title}")
            return
        diagram.show(self.rds, self.params.source_db_instance, self.params.deployment_name,
                     f"{moment}: step {self.number} — {self.title}")


def begin(step_number: str, params_file: str | None = None, namespace: dict[str, Any] | None = None) -> Step:
    """Start a step: load and check parameters, make clients, open the run folder."""
    if params_file is None and not namespace_has_params(namespace):
        params_file = os.environ.get(PARAMS_ENV) or ("parameters/lab.yaml" if project_root() else None)
    params = load(params_path(params_file), injected(namespace or {}))
    ignored = widgets_decide(params)
    clients = make_clients(params)
    held = _deployment_lock(params)
    run = RunFolder.open_or_join(params.run_dir, step_number)
    if held is not None:
        held.set_run(run.run_id)
    rds = RdsFacade(clients.rds, dry_run=params.dry_run, after_mutation=kill_points.after_mutation(step_number))
    record = StepRecord(step_number, run, params.redacted, rds.recorded_calls, api_calls=clients.calls.counts)
    step = Step(StepContext(params, clients, rds), record, held)
    rds.on_record = record.save  # a call RDS accepted is on record before anything else can happen
    step.identifiers.update(source_db_instance=params.source_db_instance, deployment_name=params.deployment_name)
    if params.interactive:
        _carry_decisions(step, run.read_step(step_number))
    if ignored:
        step.findings["ignored_in_interactive_mode"] = ignored
    step.save()
    _install_error_handler(step)
    display.note(f"Step {step_number} — **{step.title}** ({STEPS[step_number][2]}) · mode `{params.mode}`"
                 f"{' · DRY RUN: no change will be made' if params.dry_run else ''} · run `{run.run_id}`")
    if ignored:
        display.note("`interactive: true`: the widgets decide. Ignored from the parameters: "
                     + ", ".join(f"`{k}: {v}`" for k, v in ignored.items())
                     + ". Choose and confirm with the dropdown and buttons below.", "warning")
    return step


# The parameter file a notebook started with `params_file = None` reads (set by `runbook workshop`).
PARAMS_ENV = "RUNBOOK_PARAMS_FILE"


def params_path(params_file: str | Path | None) -> str | None:
    """A relative parameter path is read from the project root, so `parameters/…` means the same file whether the
    notebook runs from notebooks/, a workshop copy or papermill; outside a checkout, from the working directory."""
    if params_file is None:
        return None
    path = Path(params_file).expanduser()
    if path.is_absolute():
        return str(path)
    root = project_root()
    return str((root or Path.cwd()) / path)


def widgets_decide(params: RunbookParams) -> dict[str, Any]:
    """With interactive: true the dropdown and the buttons decide: confirmations a file pre-fills are dropped (and
    returned, to be shown and recorded), so Run All never switches over or deletes without a click."""
    if not params.interactive:
        return {}
    ignored: dict[str, Any] = {}
    if params.confirm_switchover:
        ignored["confirm_switchover"] = params.confirm_switchover
        params.confirm_switchover = None
    if params.confirm_delete:
        ignored["confirm_delete"] = list(params.confirm_delete)
        params.confirm_delete = []
    if params.create_green_groups:   # step 01's groups are created after the confirm buttons, like the rest
        ignored["create_green_groups"] = True
        params.create_green_groups = False
    return ignored


def _carry_decisions(step: Step, previous: dict[str, Any] | None) -> None:
    """Running a step's notebook again in the same run (Run All after a click) keeps the clicks and the choice made
    in it, so the gate that waited for them opens; a finished step starts over."""
    if not previous or previous.get("outcome") == "succeeded":
        return
    identifiers = previous.get("identifiers") or {}
    if identifiers.get("deployment_name") != step.params.deployment_name:
        return
    for gate, targets in (previous.get("confirmations") or {}).items():
        if gate == "switchover":   # bound to the deployment checked then (gates.bind_switchover_click), by id
            if not identifiers.get("checked_deployment_id"):
                continue
            step.identifiers["clicked_for_deployment_id"] = identifiers["checked_deployment_id"]
        step.confirmations[gate] = list(targets)
    found = previous.get("findings") or {}
    for key in ("decisions", "target_chosen_interactively"):
        if key in found:
            step.findings[key] = found[key]


def _deployment_lock(params: RunbookParams) -> lock.RunLock | None:
    """One run at a time per deployment. Under `runbook run` the runner holds the lock for the run it started (the
    kernel checks that); a notebook run by hand takes it for as long as its kernel lives. Dry runs change nothing and
    take no lock."""
    if params.dry_run:
        return None
    path = lock.lock_dir(params.mode) / lock.lock_name(params.region, params.profile, params.deployment_name)
    # the run this kernel belongs to: the one named, else the folder given, else the open one (CURRENT)
    run_id = params.run_id or (Path(params.run_dir).resolve().name if params.run_dir else _current_run_id())
    if lock.check_covered(path, params.deployment_name, run_id) is not None:
        return None
    return lock.acquire(path, params.deployment_name, run_id, kind="notebook kernel")


def _current_run_id() -> str | None:
    pointer = runs_root() / "CURRENT"
    try:
        return Path(pointer.read_text().strip()).name
    except OSError:
        return None


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
        if issubclass(etype, GateClosed) and step.params.interactive:
            # Waiting for a click is not an error: say what to click; the cell still ends as failed, so Run All
            # stops here, with nothing on stderr and no traceback.
            display.note(f"**Waiting for you.** {value}", "wait")
            return None
        if issubclass(etype, RunbookError):
            display.note(str(value), "error")
            sys.stderr.write(f"{etype.__name__}: {value}\n")
            return None
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

    shell.set_custom_exc((Exception,), handler)
