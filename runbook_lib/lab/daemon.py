"""The lab process: moto's server with the lab's RDS layer, the data plane, and a small admin API
under /_lab/ (status, faults, shutdown). Started by `runbook lab up`; stops every process it started."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import moto.iam.urls
import moto.rds.urls
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .control import DEFAULT_TIME_SCALE, Lab
from .dataplane import Credentials
from .paths import LabPaths
from .iam_api import LabIamResponse
from .rds_api import LabRDSResponse
from .servers import Admin

SEED_INSTANCE = "database-1"
SEED_VERSION = "5.7.44"


def load_credentials(paths: LabPaths) -> Credentials:
    """The lab's generated credentials (kept 0600 in the lab folder, stable across resets)."""
    master = paths.read_credentials()
    if not master:
        master = {"master_user": "admin", "master_password": secrets.token_urlsafe(18)}
        paths.write_private(paths.credentials_file, master)
    internal_file = paths.root / "internal.json"
    try:
        internal = json.loads(internal_file.read_text())
    except (OSError, ValueError):
        internal = {"admin_password": secrets.token_urlsafe(18)}
        paths.write_private(internal_file, internal)
    return Credentials(master["master_user"], master["master_password"], Admin("root", internal["admin_password"]))


def seed(lab: Lab, with_blocker: bool) -> None:
    """The lab's starting point: one MySQL 5.7.44 instance with automated backups and the groups."""
    b = lab.backend
    with lab.lock:
        b.create_db_parameter_group({"db_parameter_group_name": "pg-mysql-57", "db_parameter_group_family": "mysql5.7",
                                     "description": "MySQL 5.7 (lab)"})
        b.modify_db_parameter_group("pg-mysql-57", [{"ParameterName": "binlog_format", "ParameterValue": "ROW",
                                                     "ApplyMethod": "immediate"}])
        b.create_db_parameter_group({"db_parameter_group_name": "pg-mysql-80", "db_parameter_group_family": "mysql8.0",
                                     "description": "MySQL 8.0 (lab)"})
        b.modify_db_parameter_group("pg-mysql-80", [{"ParameterName": "binlog_format", "ParameterValue": "ROW",
                                                     "ApplyMethod": "immediate"}])
        for name, major in (("mysql57-option-group", "5.7"), ("mysql80-option-group", "8.0")):
            b.create_option_group({"option_group_name": name, "engine_name": "mysql",
                                   "major_engine_version": major, "option_group_description": f"MySQL {major} (lab)"})
        inst = b.create_db_instance({
            "db_instance_identifier": SEED_INSTANCE, "db_instance_class": "db.t3.micro", "engine": "mysql",
            "engine_version": SEED_VERSION, "allocated_storage": 20, "master_username": lab.creds.master_user,
            "master_user_password": "(lab)", "backup_retention_period": 7,
            "db_parameter_group_name": "pg-mysql-57", "option_group_name": "mysql57-option-group",
            "storage_type": "gp3", "tags": [{"Key": "environment", "Value": "lab"}]})
    lab.create_instance(inst, seed=True, seed_blocker=with_blocker)
    deadline = time.monotonic() + 120
    while inst.status != "available":
        if lab.failures:
            raise RuntimeError("seeding the lab failed:\n" + lab.failures[-1])
        if time.monotonic() > deadline:
            raise RuntimeError("seeding the lab timed out")
        time.sleep(0.05)


class LabApp:
    """WSGI: /_lab/* is the admin API; everything else is RDS (and other AWS services) via moto,
    one request at a time under the lab's lock."""

    def __init__(self, lab: Lab, stop: threading.Event) -> None:
        self.lab = lab
        self.stop = stop
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.endpoint_url = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/_lab/"):
            return self.admin(Request(environ))(environ, start_response)
        with self.lab.lock:
            return self.moto(environ, start_response)

    def status(self) -> dict[str, Any]:
        with self.lab.lock:
            instances = {
                i.db_instance_identifier: {
                    "status": i.status, "engine_version": i.engine_version, "dbi_resource_id": i.dbi_resource_id,
                    "endpoint_port": i.port,
                    "server_port": self.lab.data.servers[i.dbi_resource_id].port
                    if i.dbi_resource_id in self.lab.data.servers else None,
                    "server_pid": (self.lab.data.servers[i.dbi_resource_id].proc.pid  # type: ignore[union-attr]
                                   if i.dbi_resource_id in self.lab.data.servers
                                   and self.lab.data.servers[i.dbi_resource_id].proc else None)}
                for i in self.lab.backend.databases.values()}
        return {"running": True, "endpoint_url": self.endpoint_url, "region": self.lab.region, "pid": os.getpid(),
                "ca_bundle": str(self.lab.data.tls["ca"]) if self.lab.data.tls else None,
                "lab_dir": str(self.lab.paths.root), "time_scale": self.lab.time_scale, "instances": instances,
                "endpoints": self.lab.data.router.snapshot(), "faults": vars(self.lab.faults),
                "failures": self.lab.failures[-5:]}

    def admin(self, request: Request) -> Response:
        path = request.path.removeprefix("/_lab/")
        try:
            body = request.get_json(silent=True) or {}
            if path == "status":
                return _json(self.status())
            if path == "fault" and request.method == "POST":
                names = body["names"] if isinstance(body.get("names"), list) else [body["name"]]
                self.lab.data.router.set_mode(names, body.get("mode", "refuse"), body.get("seconds"),
                                              bool(body.get("cut", False)))
                return _json({"ok": True})
            if path == "switches" and request.method == "POST":
                self.lab.faults.update(body)
                return _json({"ok": True, "faults": vars(self.lab.faults)})
            if path == "checksums":
                return _json(self.lab.run_sync(self.lab.checksums))
            if path == "iam-policy" and request.method == "POST":
                (self.lab.paths.root / "iam-policy.json").write_text(json.dumps(
                    {"allow": list(body.get("allow", ["*"])), "deny": list(body.get("deny", []))}))
                return _json({"ok": True})
            if path == "shutdown" and request.method == "POST":
                self.stop.set()
                return _json({"ok": True})
        except (KeyError, ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"error": f"unknown lab call {request.method} /_lab/{path}"}, 404)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status=status, mimetype="application/json")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="runbook-lab-daemon")
    ap.add_argument("--lab-dir", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--seed-blocker", action="store_true")
    ap.add_argument("--time-scale", type=float, default=float(os.environ.get("RUNBOOK_LAB_TIME_SCALE",
                                                                             DEFAULT_TIME_SCALE)))
    args = ap.parse_args(argv)
    paths = LabPaths(Path(args.lab_dir).resolve())
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.status_file.unlink(missing_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())

    lab = Lab(paths, load_credentials(paths), region=args.region, time_scale=args.time_scale)
    moto.rds.urls.url_paths = {"{0}/$": LabRDSResponse.bind(lab).dispatch}
    moto.iam.urls.url_paths = {"{0}/$": LabIamResponse.bind(paths).dispatch}
    app = LabApp(lab, stop)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    app.endpoint_url = f"http://127.0.0.1:{server.server_port}"
    serving = threading.Thread(target=server.serve_forever, name="lab-http", daemon=True)
    serving.start()
    try:
        lab.run_sync(lab.data.prepare)
        from . import prechecks
        lab.precheck = prechecks.lab_precheck(lab.creds)
        seed(lab, args.seed_blocker)
        paths.write_private(paths.status_file, {k: v for k, v in app.status().items()
                                                if k in ("running", "endpoint_url", "region", "pid", "lab_dir", "ca_bundle")})
        print(f"lab ready at {app.endpoint_url}", flush=True)
        while not stop.wait(0.5):
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - reported to whoever started the lab
        print(f"lab failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        paths.status_file.unlink(missing_ok=True)
        server.shutdown()
        lab.stop()
        print("lab stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
