"""`runbook …`: argument parsing only; the work is in the modules it calls."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import RunbookError
from .params import ParamsError


def _lab(args: argparse.Namespace) -> int:
    from .lab import client
    if args.action == "up":
        state = client.up(seed_blocker=args.seed_blocker)
    elif args.action == "down":
        stopped = client.down()
        state = {"running": False, "stopped": stopped}
    elif args.action == "reset":
        state = client.reset(seed_blocker=args.seed_blocker)
    else:
        state = client.status()
    if args.json:
        print(json.dumps(state, indent=2, default=str))
    elif state.get("running"):
        print(f"lab running at {state['endpoint_url']} (region {state['region']}, folder {state['lab_dir']})")
        for name, inst in state.get("instances", {}).items():
            print(f"  {name}: {inst['status']}, MySQL {inst['engine_version']}, endpoint 127.0.0.1:{inst['endpoint_port']}")
    else:
        print("lab is not running")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .runner import run
    result = run(args.params, start_from=args.start_from, keep_lab=args.keep_lab, dry_run=args.dry_run)
    print(result.run.path)
    return 0 if result.ok else 1


def _params(args: argparse.Namespace) -> int:
    from .params import load
    load(args.file)
    print(f"{args.file}: OK")
    return 0


def _probe(args: argparse.Namespace) -> int:
    from .probe_cli import run_probe
    run_probe(args.endpoint, args.user, args.password_env, args.interval_ms, args.duration_s, args.database,
              args.ca_bundle, args.verify_identity, args.tls, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="runbook", description="RDS blue/green deployment runbook")
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the notebooks headless with papermill")
    run.add_argument("--params", required=True, help="parameter file (YAML)")
    run.add_argument("--from", dest="start_from", default="01", help="start at step NN (01-06)")
    run.add_argument("--keep-lab", action="store_true", help="lab mode: keep the running lab as it is")
    run.add_argument("--dry-run", action="store_true", help="read and check only; record what would change")
    run.set_defaults(func=_run)

    lab = sub.add_parser("lab", help="the local lab (RDS control plane + MariaDB servers)")
    lab.add_argument("action", choices=["up", "down", "reset", "status"])
    lab.add_argument("--json", action="store_true")
    lab.add_argument("--seed-blocker", action="store_true", help="seed a 5.7->8.0 upgrade blocker")
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
    probe.set_defaults(func=_probe)

    params = sub.add_parser("params", help="parameter files")
    params_sub = params.add_subparsers(dest="params_command", required=True)
    check = params_sub.add_parser("check", help="validate a parameter file")
    check.add_argument("file")
    check.set_defaults(func=_params)

    args = ap.parse_args(argv)
    try:
        return int(args.func(args))
    except ParamsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
