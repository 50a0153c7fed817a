"""`runbook …`: argument parsing only; the work is in the modules it calls."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runbook_lib.errors import ParamsError, RunbookError
from runbook_lib.run.lock import Locked


def _lab(args: argparse.Namespace) -> int:
    from runbook_lib.lab import client
    if args.action == "up":
        state = client.up(seed_blocker=args.seed_blocker, require_secure_transport=args.require_secure_transport,
                          target_groups=not args.without_target_groups)
    elif args.action == "down":
        stopped = client.down()
        state = {"running": False, "stopped": stopped}
    elif args.action == "reset":
        state = client.reset(seed_blocker=args.seed_blocker, require_secure_transport=args.require_secure_transport,
                             target_groups=not args.without_target_groups)
    else:
        state = client.status()
    if args.fleet and args.action in ("up", "reset"):
        state = client.seed_fleet()
    if args.aurora and args.action in ("up", "reset"):
        state = client.seed_aurora(seed_blocker=args.seed_blocker)
    if args.postgres and args.action in ("up", "reset"):
        state = client.seed_postgres()
    if args.json:
        print(json.dumps(state, indent=2, default=str))
    elif state.get("running"):
        print(f"lab running at {state['endpoint_url']} (region {state['region']}, folder {state['lab_dir']}"
              f"{', TLS required (CA ' + str(state.get('ca_bundle')) + ')' if state.get('require_secure_transport') else ''})")
        for name, inst in state.get("instances", {}).items():
            engine = {"postgres": "PostgreSQL", "aurora-postgresql": "Aurora PostgreSQL"}.get(inst.get("engine", ""),
                                                                                               "MySQL")
            print(f"  {name}: {inst['status']}, {engine} {inst['engine_version']}, endpoint "
                  f"127.0.0.1:{inst['endpoint_port']}")
        for cluster in state.get("clusters", []):
            ends = cluster["endpoints"]
            print(f"  cluster {cluster['identifier']}: {cluster['status']}, {cluster['engine_version']}, "
                  f"writer {ends['cluster']['host']}:{ends['cluster']['port']}, reader "
                  f"{ends['reader']['host']}:{ends['reader']['port']}, members "
                  + ", ".join(m['identifier'] + (' (writer)' if m['writer'] else '') for m in cluster['members']))
    elif state.get("stopped"):
        print("lab stopped: every process it started has ended")
    else:
        print("lab is not running")
    return 0


def _run(args: argparse.Namespace) -> int:
    from runbook_lib.run.runner import run
    result = run(args.params, start_from=args.start_from, keep_lab=args.keep_lab, dry_run=args.dry_run,
                 operator=args.operator, ticket=args.ticket)
    print(result.run.path)
    return 0 if result.ok else 1


def _workshop(args: argparse.Namespace) -> int:
    from runbook_lib.run.workshop import serve
    return serve(args.params, keep_lab=args.keep_lab)


def _params(args: argparse.Namespace) -> int:
    from runbook_lib.params import load
    problems = load(args.file).file_problems()
    if problems:
        raise ParamsError(problems, args.file)
    print(f"{args.file}: OK")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from runbook_lib.audit import manifest
    from runbook_lib.audit.index import runs, write_index
    from runbook_lib.run.folder import runs_root
    root = runs_root()
    from runbook_lib.audit.seal import seal_abandoned
    for done in seal_abandoned(root):  # a killed run's folder becomes part of the record before anything is read
        print(f"sealed {done['run']} as interrupted: the run that filled it died without sealing it", file=sys.stderr)
    if args.action == "seal":
        if not args.run_dir:
            raise RunbookError("runbook audit seal needs the run folder: runbook audit seal runs/<run id>")
        from runbook_lib.audit.seal import seal_folder
        doc = seal_folder(Path(args.run_dir), args.operator, args.ticket,
                          Path(args.notebooks) if args.notebooks else None)
        print(f"sealed {args.run_dir} ({doc['outcome']})")
        return 0
    if args.action == "verify":
        trusted = args.public_key
        if trusted and Path(trusted).is_file():
            trusted = Path(trusted).read_text().strip()
        findings = (manifest.verify_run(Path(args.run_dir), trusted) if args.run_dir
                    else manifest.verify_all(root, trusted))
        for finding in findings:
            print(finding)
        checked = args.run_dir or (f"{len(manifest.sealed_runs(root))} sealed and "
                                   f"{len(manifest.unsealed_runs(root))} unsealed runs in {root}")
        print(f"{'FAILED' if findings else 'OK'}: {len(findings)} finding(s); checked {checked}")
        return 1 if findings else 0
    rows = runs(root)
    write_index(root) if root.is_dir() else None
    print(f"{'run':<30} {'operator':<12} {'target':<16} {'outcome':<12} {'writes down':>12} {'lost':>5}")
    for row in rows:
        observed = row["downtime_observed"] is not False
        down = (f"{row['write_downtime_s']:.3f} s" if row["write_downtime_s"] is not None
                else "not observed" if not observed else "-")
        lost = row["lost_writes"] if row["lost_writes"] is not None else ("?" if not observed else "-")
        print(f"{row['run']:<30} {str(row['operator'])[:12]:<12} {str(row['target'])[:16]:<16} "
              f"{str(row['outcome'])[:12]:<12} {down:>12} {str(lost):>5}")
    return 0


def _report(produce: Any) -> int:
    """Print what a checking command produced; exit 0 clean, 2 cannot judge (usage, input, connection,
    privileges, incomplete log), 3 blocking findings."""
    from runbook_lib.engines.mysql.upgrade_checks.commands import EXIT_CANNOT_JUDGE, UsageError
    try:
        code, text = produce()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_JUDGE
    print(text)
    return int(code)


def _precheck(args: argparse.Namespace) -> int:
    from runbook_lib.engines.mysql.upgrade_checks.commands import precheck
    return _report(lambda: precheck(args.host, args.port, args.user, args.password_env, args.target_version,
                                    args.parameter_group, args.params, args.format, args.check_table, args.workers))


def _log(args: argparse.Namespace) -> int:
    from runbook_lib.engines.mysql.upgrade_checks.commands import log_explain
    return _report(lambda: log_explain(args.file, args.format))


def _groups(args: argparse.Namespace) -> int:
    """`runbook groups plan|apply`: exit 0 done, 1 refused or failed, 2 usage (engines/mysql/group_commands.py)."""
    from runbook_lib.engines.mysql.group_commands import EXIT_USAGE
    from runbook_lib.engines.mysql.parameter_groups import PlanError
    try:
        code, text = args.groups_func(args)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(text)
    return int(code)


def _probe(args: argparse.Namespace) -> int:
    from runbook_lib.probe.command import run_probe
    run_probe(args.endpoint, args.user, args.password_env, args.interval_ms, args.duration_s, args.database,
              args.ca_bundle, args.verify_identity, args.tls, args.out, slow_ms=args.slow_ms, journal=args.journal)
    return 0


def _grants(args: argparse.Namespace) -> int:
    from runbook_lib.checks.grants import render
    user, database, secret = args.db_user, args.probe_database, True
    if args.params:
        from runbook_lib.params import load
        p = load(args.params)
        user, database, secret = args.db_user or p.db_user, args.probe_database or p.probe_database, \
            bool(p.db_password_secret_id)
    print(render(user or "runbook_checks", database or "runbook_probe", args.db_host, secret, args.format))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="runbook", description="RDS blue/green deployment runbook")
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the notebooks headless with papermill")
    run.add_argument("--params", required=True, help="parameter file (YAML)")
    run.add_argument("--from", dest="start_from", default="01", help="start at step NN (01-06)")
    run.add_argument("--keep-lab", action="store_true", help="lab mode: keep the running lab as it is")
    run.add_argument("--dry-run", action="store_true", help="read and check only; record what would change")
    run.add_argument("--operator", help="who runs it (recorded in run.json; the OS user is always recorded)")
    run.add_argument("--ticket", help="change ticket (recorded in run.json)")
    run.set_defaults(func=_run)

    workshop = sub.add_parser("workshop", help="the workshop in JupyterLab: lab up, working copies of the notebooks "
                              "for a new run, JupyterLab on loopback; Ctrl-C seals the run")
    workshop.add_argument("--params", help="parameter file (default parameters/lab-interactive.yaml)")
    workshop.add_argument("--keep-lab", action="store_true",
                          help="lab mode: keep the running lab as it is (not reset before, not stopped after)")
    workshop.set_defaults(func=_workshop)

    lab = sub.add_parser("lab", help="the local lab (RDS control plane + MariaDB servers)")
    lab.add_argument("action", choices=["up", "down", "reset", "status"])
    lab.add_argument("--json", action="store_true")
    lab.add_argument("--seed-blocker", action="store_true", help="seed a 5.7->8.0 upgrade blocker")
    lab.add_argument("--aurora", action="store_true",
                     help="also seed an Aurora MySQL 2.11 cluster (writer and reader) with its 3.x target groups")
    lab.add_argument("--postgres", action="store_true",
                     help="also seed an RDS for PostgreSQL 15.7 instance (pg-1) and an Aurora PostgreSQL 15.7 cluster "
                          "(apg-1, writer and reader) with their 16 target groups")
    lab.add_argument("--fleet", action="store_true",
                     help="also seed a fleet: more instances (5.7, 8.0, -old1, one in a deployment) and a second Region")
    lab.add_argument("--require-secure-transport", action=argparse.BooleanOptionalAction, default=None,
                     help="up/reset: the lab's servers refuse plain connections (require_secure_transport=1 in its "
                          "parameter groups, TLS with the lab CA); kept by the lab folder until changed")
    lab.add_argument("--without-target-groups", action="store_true",
                     help="seed without pg-mysql-80 and mysql80-option-group (make them with 'runbook groups apply')")
    lab.set_defaults(func=_lab)

    probe = sub.add_parser("probe", help="measure an endpoint's downtime (reads, writes, lost writes)")
    probe.add_argument("--endpoint", required=True, help="HOST:PORT")
    probe.add_argument("--user", required=True)
    probe.add_argument("--password-env", required=True, help="NAME of the environment variable with the password")
    probe.add_argument("--interval-ms", type=int, default=100)
    probe.add_argument("--duration-s", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    probe.add_argument("--database", default="runbook_probe", help="where the heartbeat table is created")
    probe.add_argument("--ca-bundle", help="CA bundle for TLS (for RDS, the Region's RDS bundle)")
    probe.add_argument("--verify-identity", action="store_true", help="check the server certificate's host name")
    probe.add_argument("--tls", action="store_true", help="require TLS (implied by --ca-bundle)")
    probe.add_argument("--out", help="report folder (default runs/probe-<time>)")
    probe.add_argument("--slow-ms", type=float, default=None,
                       help="an answer slower than this counts as unavailable (default: automatic, see docs/probe.md)")
    probe.add_argument("--journal", help="append every attempt here as it happens (default: <out>/probe-journal.jsonl)")
    probe.set_defaults(func=_probe)

    pre = sub.add_parser("precheck", help="5.7 -> 8.0 upgrade checks against a live server (exit 0 clean, 2 cannot "
                         "judge, 3 blocking errors)")
    pre.add_argument("--host", required=True)
    pre.add_argument("--port", type=int, default=3306)
    pre.add_argument("--user", required=True)
    pre.add_argument("--password-env", required=True, help="NAME of the environment variable with the password")
    pre.add_argument("--target-version", required=True)
    pre.add_argument("--parameter-group", help="also check this (target) DB parameter group through the RDS API")
    pre.add_argument("--params", help="parameter file saying how to reach RDS (with --parameter-group)")
    pre.add_argument("--format", choices=["text", "json"], default="text")
    pre.add_argument("--check-table", action="store_true", help="also run CHECK TABLE … FOR UPGRADE on every table "
                     "(slow; its time is reported separately)")
    pre.add_argument("--workers", type=int, default=2, help="connections for per-schema queries (default 2)")
    pre.set_defaults(func=_precheck)

    log = sub.add_parser("log", help="upgrade logs")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    log_explain = log_sub.add_parser("explain", help="explain PrePatchCompatibility.log (RDS text, MySQL Shell text or "
                                     "JSON, Aurora JSON); exit 0 clean, 2 cannot judge, 3 blocking errors")
    log_explain.add_argument("file")
    log_explain.add_argument("--format", choices=["text", "json"], default="text")
    log_explain.set_defaults(func=_log)

    audit = sub.add_parser("audit", help="the audit record of runs")
    audit.add_argument("action", choices=["seal", "verify", "list"])
    audit.add_argument("run_dir", nargs="?", help="a run folder (verify: default every run, and the chain)")
    audit.add_argument("--public-key", help="trusted public key (base64 or a file); default: the local signing key's")
    audit.add_argument("--notebooks", help="seal: where the notebooks were executed by hand (default notebooks/)")
    audit.add_argument("--operator")
    audit.add_argument("--ticket")
    audit.set_defaults(func=_audit)

    params = sub.add_parser("params", help="parameter files")
    params_sub = params.add_subparsers(dest="params_command", required=True)
    check = params_sub.add_parser("check", help="validate a parameter file")
    check.add_argument("file")
    check.set_defaults(func=_params)

    grants = sub.add_parser("grants", help="print the DB user's SQL grants and the IAM policy the runbook needs")
    grants.add_argument("--params", help="take db_user, probe_database and the password source from this file")
    grants.add_argument("--db-user", help="database user to create (default: db_user, else runbook_checks)")
    grants.add_argument("--db-host", default="%", help="host part of the user (default %%)")
    grants.add_argument("--probe-database", help="the probe's database (default: probe_database, else runbook_probe)")
    grants.add_argument("--format", choices=["text", "json"], default="text")
    grants.set_defaults(func=_grants)

    from runbook_lib.engines.mysql import group_commands
    group_commands.add_parser(sub)
    sub.choices["groups"].set_defaults(func=_groups)

    from runbook_lib.fleet import cli as fleet_cli
    fleet_cli.add_parser(sub)

    args = ap.parse_args(argv)
    try:
        return int(args.func(args))
    except ParamsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Locked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
