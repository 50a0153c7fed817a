"""`runbook workshop`: the hands-on lab in JupyterLab from one command. It brings the lab up (freshly seeded),
opens a run folder, copies the six notebooks into a working folder for that run (the committed notebooks stay
clean), starts JupyterLab on loopback at that folder (its `parameters/` beside the notebooks) and, when stopped
(Ctrl-C), seals the run with the working copies: exactly the notebooks that were run."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from runbook_lib.errors import RunbookError
from runbook_lib.params import RunbookParams, load
from runbook_lib.run import lock
from runbook_lib.run.context import PARAMS_ENV, params_path
from runbook_lib.run.folder import RunFolder, project_root, runs_root
from runbook_lib.run.step_record import STEPS

DEFAULT_PARAMS = "parameters/lab-interactive.yaml"


@dataclass
class Workshop:
    """What `runbook workshop` started: the run, the working copies, JupyterLab."""

    run: RunFolder
    folder: Path          # JupyterLab's root: the working copies and parameters/
    url: str              # the first notebook, with the token
    base_url: str
    token: str
    process: subprocess.Popen[bytes]
    params_file: str


def workshop_root() -> Path:
    """Where working copies live: RUNBOOK_WORKSHOP_DIR, else workshop/ in the checkout (git-ignored)."""
    explicit = os.environ.get("RUNBOOK_WORKSHOP_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return _checkout() / "workshop"


def _checkout() -> Path:
    root = project_root()
    if root is None:
        raise RunbookError("The notebooks folder was not found; run `runbook workshop` from a checkout of "
                           "bluegreen-runbook.")
    return root


def _params_file(given: str | None) -> str:
    """The parameter file as given: from the working directory if it is there, else from the project root; the
    error names the path tried."""
    name = given or DEFAULT_PARAMS
    here = Path(name).expanduser()
    if here.is_file():
        return str(here.resolve())
    resolved = params_path(name)
    if resolved is None or not Path(resolved).is_file():
        raise RunbookError(f"No parameter file at {here.resolve()} or {resolved}. Pass one with --params, "
                           f"e.g. {DEFAULT_PARAMS}.")
    return resolved


def working_copies(run: RunFolder, params_file: str, folder: Path) -> list[Path]:
    """The six notebooks, copied for this run with its parameter file and run folder set in their parameters cell
    (outputs none: the committed notebooks are kept without)."""
    folder.mkdir(parents=True, exist_ok=True)
    root = _checkout()
    shown = os.path.relpath(params_file, root) if Path(params_file).is_relative_to(root) else params_file
    copies = []
    for name, _title, _lab in STEPS.values():
        nb = json.loads((root / "notebooks" / f"{name}.ipynb").read_text())
        for cell in nb["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                cell["source"] = _parameters_cell(shown, run)
        target = folder / f"{name}.ipynb"
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        copies.append(target)
    link = folder / "parameters"
    if not link.exists():
        link.symlink_to(root / "parameters", target_is_directory=True)
    return copies


def _parameters_cell(params_file: str, run: RunFolder) -> str:
    return (f"# Set by `runbook workshop` for run {run.run_id}. Edit the parameter file (parameters/ in the file\n"
            "# browser) or point params_file at another one; a relative path is read from the project root.\n"
            f"params_file = {params_file!r}\n"
            f"run_dir = {str(run.path)!r}\n"
            f"run_id = {run.run_id!r}\n"
            "dry_run = None\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _jupyter_command(folder: Path, port: int, token: str) -> list[str]:
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.root_dir={folder}", f"--IdentityProvider.token={token}",
               "--ServerApp.port_retries=0", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.workspaces_dir={folder / '.workspaces'}", f"--LabApp.user_settings_dir={_settings(folder)}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")   # JupyterLab refuses to run as root without it
    return command


def _settings(folder: Path) -> Path:
    """JupyterLab settings for the workshop: no news prompt over the notebooks."""
    settings = folder / ".settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false"}))
    return settings


def _wait_ready(base_url: str, token: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RunbookError(f"JupyterLab exited with code {process.returncode} before it was ready.")
        try:
            with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RunbookError(f"JupyterLab did not answer at {base_url} within {timeout_s:.0f} s.")


def start(params_file: str | None = None, keep_lab: bool = False, log: TextIO = sys.stderr) -> Workshop:
    """Lab up (reset unless keep_lab), a new run folder, its working copies, JupyterLab ready."""
    from runbook_lib.audit import ledger
    from runbook_lib.lab import client as lab_client
    chosen = _params_file(params_file)
    params: RunbookParams = load(chosen)
    if params.mode == "lab":
        started = time.monotonic()
        held = lock.held_in(lock.lock_dir("lab"))
        if keep_lab or held:
            if held and not keep_lab:
                print("the lab is in use by " + "; ".join(lock.describe(h) for h in held) + ": kept as it is",
                      file=log)
            lab_client.up(seed_blocker=params.lab_seed_blocker, region=params.region)
        else:
            lab_client.reset(seed_blocker=params.lab_seed_blocker, region=params.region)
        print(f"lab ready in {time.monotonic() - started:.1f} s", file=log, flush=True)
    run = RunFolder.create(runs_root())
    (run.path.parent / "CURRENT").write_text(str(run.path))
    ledger.opened(run.path, "runbook workshop")
    folder = workshop_root() / run.run_id
    working_copies(run, chosen, folder)
    port, token = _free_port(), secrets.token_hex(24)
    env = {**os.environ, PARAMS_ENV: chosen}
    jlog = (folder / ".jupyter.log").open("ab")
    process = subprocess.Popen(_jupyter_command(folder, port, token), cwd=folder, env=env, stdout=jlog,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, token, process)
    except BaseException:
        stop_jupyter(process)
        raise
    url = f"{base_url}/lab/tree/{STEPS['01'][0]}.ipynb?token={token}"
    return Workshop(run, folder, url, base_url, token, process, chosen)


def stop_jupyter(process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """Stop JupyterLab and its kernels (its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout_s)
    except ProcessLookupError:
        pass


def _shut_down_kernels(workshop: Workshop) -> None:
    """Kernels run in their own sessions: ask JupyterLab to end them before it ends."""
    try:
        with urllib.request.urlopen(f"{workshop.base_url}/api/kernels?token={workshop.token}", timeout=5) as answer:
            kernels = json.loads(answer.read())
        for kernel in kernels:
            request = urllib.request.Request(f"{workshop.base_url}/api/kernels/{kernel['id']}?token={workshop.token}",
                                             method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass   # JupyterLab already gone: its kernels went with it or end on their own


def finish(workshop: Workshop, keep_lab: bool = False, log: TextIO = sys.stderr) -> dict[str, Any]:
    """JupyterLab stopped, the run sealed with the working copies the steps ran (saved notebooks), the lab down."""
    from runbook_lib.audit.seal import seal_folder
    _shut_down_kernels(workshop)
    stop_jupyter(workshop.process)
    doc: dict[str, Any] = {"outcome": "nothing run"}
    if any(workshop.run.steps.glob("*.json")):
        doc = seal_folder(workshop.run.path, notebooks=workshop.folder)
        print(f"sealed {workshop.run.path} ({doc['outcome']})", file=log)
    else:
        print(f"no step ran: {workshop.run.path} left unsealed and empty", file=log)
    if not keep_lab and load(workshop.params_file).mode == "lab":
        from runbook_lib.lab import client as lab_client
        lab_client.down()
        print("lab stopped", file=log)
    return doc


def serve(params_file: str | None = None, keep_lab: bool = False, out: TextIO = sys.stdout,
          log: TextIO = sys.stderr) -> int:
    """`runbook workshop`: start, print where to go, wait for Ctrl-C (or SIGTERM), finish."""
    started = time.monotonic()
    workshop = start(params_file, keep_lab, log)
    print(f"JupyterLab ready in {time.monotonic() - started:.1f} s (run {workshop.run.run_id}, "
          f"parameters {workshop.params_file})", file=log)
    print(f"working copies: {workshop.folder}", file=log)
    print("Open in your browser (save each notebook before you stop: Ctrl-S); Ctrl-C here seals the run:", file=log)
    print(workshop.url, file=out, flush=True)

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while workshop.process.poll() is None:
            time.sleep(0.5)
        print(f"JupyterLab exited (code {workshop.process.returncode})", file=log)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        finish(workshop, keep_lab, log)
    print(workshop.run.path, file=out, flush=True)
    return 0
