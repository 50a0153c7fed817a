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

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from runbook_lib.lab import moto_internals
from runbook_lib.lab.api.iam import LabIamResponse
from runbook_lib.lab.api.rds import LabRDSResponse
from runbook_lib.lab.control import aurora_seed, clusters, instances, postgres_seed
from runbook_lib.lab.control.core import DEFAULT_TIME_SCALE, Lab
from runbook_lib.lab.dataplane.mariadb_servers import Admin
from runbook_lib.lab.dataplane.mysql import Credentials
from runbook_lib.lab.paths import LabPaths

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


def seed(lab: Lab, with_blocker: bool, require_secure_transport: bool = False, target_groups: bool = True) -> None:
    """The lab's starting point: one MySQL 5.7.44 instance with automated backups and its 5.7 groups, and -- unless
    `target_groups` is False (`runbook lab up --without-target-groups`: a DBA has yet to make them, which
    `runbook groups` or step 01 then does) -- the 8.0 groups step 03 names. With `require_secure_transport`, the
    groups set it, as an RDS user enforces TLS (a DB parameter group parameter)."""
    b = lab.backend
    # RDS's default groups exist in every account from the start: made here, so no later call (a read or a refused
    # request) is the one that brings them into being
    clusters.ensure_default_groups(lab)
    postgres_seed.ensure_default_groups(lab)
    settings = [{"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "immediate"}]
    if require_secure_transport:
        settings.append({"ParameterName": "require_secure_transport", "ParameterValue": "1",
                         "ApplyMethod": "immediate"})
    groups = [("pg-mysql-57", "mysql5.7", "5.7")] + ([("pg-mysql-80", "mysql8.0", "8.0")] if target_groups else [])
    with lab.lock:
        for group, family, major in groups:
            b.create_db_parameter_group({"db_parameter_group_name": group, "db_parameter_group_family": family,
                                         "description": f"MySQL {major} (lab)"})
            b.modify_db_parameter_group(group, [dict(s) for s in settings])
        option_groups = [("mysql57-option-group", "5.7")] + ([("mysql80-option-group", "8.0")] if target_groups else [])
        for name, major in option_groups:
            b.create_option_group({"option_group_name": name, "engine_name": "mysql",
                                   "major_engine_version": major, "option_group_description": f"MySQL {major} (lab)"})
        inst = b.create_db_instance({
            "db_instance_identifier": SEED_INSTANCE, "db_instance_class": "db.t3.micro", "engine": "mysql",
            "engine_version": SEED_VERSION, "allocated_storage": 20, "master_username": lab.creds.master_user,
            "master_user_password": "(lab)", "backup_retention_period": 7,
            "db_parameter_group_name": "pg-mysql-57", "option_group_name": "mysql57-option-group",
            "storage_type": "gp3", "tags": [{"Key": "environment", "Value": "lab"}]})
    instances.create(lab, inst, seed=True, seed_blocker=with_blocker)
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

    def __init__(self, lab: Lab, stop: threading.Event, moto: Any, require_secure_transport: bool = False) -> None:
        self.lab = lab
        self.require_secure_transport = require_secure_transport
        self.stop = stop
        self.moto = moto
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
                    "endpoint_port": i.port, "engine": i.engine,
                    "server_port": self.lab.server_port(i.dbi_resource_id),
                    "server_pid": self._server_pid(i.dbi_resource_id)}
                for i in self.lab.backend.databases.values()}
            cluster_rows = clusters.status(self.lab)
        return {"running": True, "endpoint_url": self.endpoint_url, "region": self.lab.region, "pid": os.getpid(),
                "ca_bundle": str(self.lab.data.tls["ca"]) if self.lab.data.tls else None,
                "require_secure_transport": self.require_secure_transport,
                "lab_dir": str(self.lab.paths.root), "time_scale": self.lab.time_scale, "instances": instances,
                "clusters": cluster_rows,
                "endpoints": self.lab.data.router.snapshot(), "faults": vars(self.lab.faults),
                "failures": self.lab.failures[-5:]}

    def _server_pid(self, dbi: str) -> int | None:
        server = self.lab.data.servers.get(dbi) or self.lab.pg.servers.get(dbi)
        proc = server.proc if server is not None else None
        return proc.pid if proc is not None else None

    def admin(self, request: Request) -> Response:
        path = request.path.removeprefix("/_lab/")
        try:
            body = request.get_json(silent=True) or {}
            if path == "status":
                return _json(self.status())
            if path == "fault" and request.method == "POST":
                names = body["names"] if isinstance(body.get("names"), list) else [body["name"]]
                applied = self.lab.data.router.set_mode(names, body.get("mode", "refuse"), body.get("seconds"),
                                                        bool(body.get("cut", False)))
                return _json({"ok": True, "applied": applied})  # per name: when the endpoint really changed
            if path == "switches" and request.method == "POST":
                self.lab.faults.update(body)
                return _json({"ok": True, "faults": vars(self.lab.faults)})
            if path == "reset" and request.method == "POST":
                self.lab.clear()
                seed(self.lab, bool(body.get("seed_blocker", False)), self.require_secure_transport,
                     not body.get("without_target_groups", False))
                if body.get("aurora"):
                    aurora_seed.seed(self.lab, bool(body.get("seed_blocker", False)))
                if body.get("postgres"):
                    postgres_seed.seed(self.lab)
                return _json(self.status())
            if path == "aurora" and request.method == "POST":
                aurora_seed.seed(self.lab, bool(body.get("seed_blocker", False)))
                return _json(self.status())
            if path == "postgres" and request.method == "POST":
                postgres_seed.seed(self.lab)
                return _json(self.status())
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
    ap.add_argument("--require-secure-transport", action="store_true",
                    help="the servers refuse plain connections (require_secure_transport=1 in the lab's groups)")
    ap.add_argument("--without-target-groups", action="store_true")
    ap.add_argument("--aurora", action="store_true", help="also seed the Aurora MySQL cluster (lab/control/aurora_seed.py)")
    ap.add_argument("--postgres", action="store_true",
                    help="also seed pg-1 and apg-1 (lab/control/postgres_seed.py)")
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
    app = LabApp(lab, stop, moto_internals.moto_app(LabRDSResponse.bind(lab).dispatch,
                                                    LabIamResponse.bind(paths).dispatch, lab.region),
                 args.require_secure_transport)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=moto_internals.MotoRequestHandler)
    app.endpoint_url = f"http://127.0.0.1:{server.server_port}"
    serving = threading.Thread(target=server.serve_forever, name="lab-http", daemon=True)
    serving.start()
    try:
        lab.run_sync(lab.data.prepare)
        from runbook_lib.lab import upgrade_precheck as prechecks
        lab.precheck = prechecks.lab_precheck(lab.creds)
        seed(lab, args.seed_blocker, args.require_secure_transport, not args.without_target_groups)
        if args.aurora:
            aurora_seed.seed(lab, args.seed_blocker)
        if args.postgres:
            postgres_seed.seed(lab)
        paths.write_private(paths.status_file, {k: v for k, v in app.status().items()
                                                if k in ("running", "endpoint_url", "region", "pid", "lab_dir", "ca_bundle",
                                                         "time_scale", "require_secure_transport")})
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
