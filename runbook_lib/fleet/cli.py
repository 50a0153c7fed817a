"""`runbook fleet …`: argument parsing and client creation only; the work is in inventory, pricing and record.

The main CLI wires it in with one line: `fleet_cli.add_parser(sub)` (runbook_lib/cli.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from runbook_lib.errors import RunbookError

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def fleet_config() -> Any:
    """The runbook's retry policy with fewer attempts: one fleet read makes many calls, and an endpoint that does
    not implement an API (DescribeDBMajorEngineVersions in moto) should cost 3 attempts, not 8."""
    from botocore.config import Config

    from runbook_lib.aws.clients import RETRY_CONFIG
    return RETRY_CONFIG.merge(Config(retries={"mode": "adaptive", "max_attempts": 3}))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `fleet` and its sub-commands to the main parser's subparsers."""
    fleet = subparsers.add_parser("fleet", help="many databases: inventory and Extended Support cost")
    fleet_sub = fleet.add_subparsers(dest="fleet_command", required=True)
    inv = fleet_sub.add_parser(
        "inventory", help="list every MySQL/Aurora MySQL (and PostgreSQL) database in the accounts and Regions given, "
                          "what must move to 8.0, and its Extended Support cost; writes a sealed record")
    where = inv.add_argument_group("where to look (accounts x Regions)")
    where.add_argument("--region", action="append", default=[], help="an AWS Region (repeat; lab: default the lab's)")
    where.add_argument("--profile", action="append", default=[],
                       help="an AWS CLI profile = one account (repeat; default: the usual AWS environment)")
    where.add_argument("--role-arn", action="append", default=[],
                       help="an IAM role to assume in another account, from each profile (repeat)")
    where.add_argument("--lab", action="store_true", help="the running local lab instead of AWS")
    where.add_argument("--endpoint-url", help="an RDS endpoint to use instead of AWS's (e.g. a moto server)")
    inv.add_argument("--as-of", help="date the cost is estimated for, YYYY-MM-DD (default: today, UTC)")
    inv.add_argument("--prices", help="a CSV or YAML file overriding shipped prices, vCPUs or lifecycles")
    inv.add_argument("--target-version", default="8.0", help="the major version databases must reach (default 8.0)")
    inv.add_argument("--workers", type=int, default=4, help="accounts x Regions read at once (default 4)")
    inv.add_argument("--format", choices=["table", "json"], default="table")
    inv.add_argument("--operator", help="who runs it (recorded)")
    inv.add_argument("--ticket", help="change ticket (recorded)")
    inv.set_defaults(func=_inventory)
    run = fleet_sub.add_parser(
        "run", help="the runbook for many databases from a plan, a few at a time, from a state file that survives a "
                    "crash; destructive steps only where the plan confirms the database by name and resource id")
    run.add_argument("--plan", required=True, help="the plan (YAML): defaults (a parameter file) and databases")
    run.add_argument("--concurrency", type=int, default=1, help="databases run at once (default 1)")
    run.add_argument("--dry-run", action="store_true", help="every database's runbook as a dry run")
    run.add_argument("--resume", action="store_true", help="continue the plan's state file: nothing finished repeats")
    run.add_argument("--operator", help="who runs it (recorded)")
    run.add_argument("--ticket", help="change ticket (recorded)")
    run.set_defaults(func=_batch)
    ready = fleet_sub.add_parser(
        "readiness", help="step 01 (preflight and upgrade prechecks) for every database of a plan, as dry runs, each "
                          "in its own record; a ranked list: ready / blocked (why) / unreachable")
    ready.add_argument("--plan", required=True, help="the plan (YAML), as for `runbook fleet run`")
    ready.add_argument("--concurrency", type=int, default=2, help="databases checked at once (default 2)")
    ready.add_argument("--operator", help="who runs it (recorded)")
    ready.add_argument("--ticket", help="change ticket (recorded)")
    ready.set_defaults(func=_readiness)
    assert isinstance(fleet, argparse.ArgumentParser)
    return fleet


def _as_of(value: str | None) -> date:
    if not value:
        return datetime.now(timezone.utc).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RunbookError(f"--as-of {value!r} is not a date. Write it as YYYY-MM-DD (e.g. 2026-12-01), or leave it "
                           "out for today. Nothing was read.") from None


def _check(args: argparse.Namespace) -> None:
    bad = [r for r in args.region if not _REGION.match(r)]
    if bad:
        raise RunbookError(f"--region {', '.join(bad)}: not an AWS Region name. Use names such as us-east-1 or "
                           "eu-west-1, one per --region. Nothing was read.")
    roles = [r for r in args.role_arn if not _ROLE.match(r)]
    if roles:
        raise RunbookError(f"--role-arn {', '.join(roles)}: not an IAM role ARN. Use arn:aws:iam::<12-digit "
                           "account>:role/<name>. Nothing was read.")
    if args.lab and (args.profile or args.role_arn):
        raise RunbookError("--lab reads the local lab, which has no AWS accounts: drop --profile/--role-arn, or drop "
                           "--lab to read AWS. Nothing was read.")
    if not args.lab and not args.region:
        raise RunbookError("Say which Regions to read: --region us-east-1 (repeat for more). Nothing was read.")
    if not 1 <= args.workers <= 32:
        raise RunbookError(f"--workers {args.workers}: use 1 to 32. Nothing was read.")
    if not re.match(r"^\d+(\.\d+)?$", args.target_version):
        raise RunbookError(f"--target-version {args.target_version!r}: give a major version such as 8.0. Nothing "
                           "was read.")


def targets_from(args: argparse.Namespace) -> list[Any]:
    """One Target per (account, Region): lab, or each profile (and each role assumed from it) x each Region."""
    import boto3

    from runbook_lib.fleet.inventory import Target
    config = fleet_config()

    if args.lab:
        from runbook_lib.aws.clients import lab_endpoint
        from runbook_lib.lab.paths import LabPaths
        endpoint = args.endpoint_url or lab_endpoint()
        regions = args.region or [str((LabPaths.default().read_status() or {}).get("region") or "us-east-1")]
        session = boto3.session.Session(aws_access_key_id="lab", aws_secret_access_key="lab")
        return [Target("lab", r, session.client("rds", region_name=r, endpoint_url=endpoint, config=config),
                       _account_id(session, r, endpoint)) for r in regions]
    out = []
    for profile in args.profile or [None]:
        base = boto3.session.Session(profile_name=profile)
        sessions: list[tuple[str, Any]] = [(f"profile:{profile or 'default'}", base)]
        for role in args.role_arn:
            creds = base.client("sts", region_name=args.region[0]).assume_role(
                RoleArn=role, RoleSessionName="bluegreen-runbook-fleet")["Credentials"]
            sessions.append((f"role:{role}", boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"])))
        for label, session in sessions:
            account_id = _account_id(session, args.region[0], args.endpoint_url)
            for region in args.region:
                out.append(Target(label, region, session.client("rds", region_name=region,
                                                                endpoint_url=args.endpoint_url, config=config),
                                  account_id))
    return out


def _account_id(session: Any, region: str, endpoint: str | None) -> str | None:
    try:
        return str(session.client("sts", region_name=region, endpoint_url=endpoint).get_caller_identity()["Account"])
    except Exception:  # noqa: BLE001 - the account id is recorded when known, never needed
        return None


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_inventory(args: argparse.Namespace, log: Any = sys.stderr) -> tuple[int, Path, Any]:
    """Read the fleet, write the outputs into a fleet record folder and seal it. Returns (exit code, folder, inv)."""
    from runbook_lib.fleet import inventory, record
    from runbook_lib.fleet.pricing import PriceBook
    from runbook_lib.run.folder import runs_root

    _check(args)
    as_of = _as_of(args.as_of)
    book = PriceBook.load(args.prices)          # a bad override file stops here, before anything is read
    targets = targets_from(args)
    parameters = {"mode": "lab" if args.lab else "aws", "regions": sorted({t.region for t in targets}),
                  "accounts": sorted({t.account for t in targets}), "endpoint_url": args.endpoint_url,
                  "as_of": as_of.isoformat(), "target_version": args.target_version,
                  "prices_file": args.prices, "prices_sha256": _sha256(args.prices) if args.prices else None}
    with record.opened(runs_root(), "inventory") as (folder, _marker):
        try:
            inv = inventory.collect(targets, book, as_of, args.target_version, workers=args.workers)
        except Exception as exc:
            record.seal(folder, parameters, "failed", {"error": f"{type(exc).__name__}: {exc}"[:500]}, {},
                        args.operator, args.ticket)
            raise
        paths = inventory.write_outputs(inv, folder.path)
        summary = inv.summary()
        findings = {"inventory": summary, "targets": inv.targets,
                    "must_move": [{"account": r.account, "region": r.region, "identifier": r.identifier,
                                   "resource_id": r.resource_id, "action": r.action} for r in inv.must_move()]}
        outcome = "succeeded" if not summary["targets_with_errors"] else "partial"
        record.seal(folder, parameters, outcome, findings,
                    {p.name: what for what, p in paths.items()}, args.operator, args.ticket)
    return (0 if outcome == "succeeded" else 1), folder.path, inv


def _inventory(args: argparse.Namespace) -> int:
    code, folder, inv = run_inventory(args)
    if args.format == "json":
        print(json.dumps(inv.to_json(), indent=2, default=str))
    else:
        print(inv.table())
    print(folder)
    return code


def _readiness(args: argparse.Namespace) -> int:
    """`runbook fleet readiness`: each database's step 01 as a dry run, ranked, in a sealed summary record."""
    from runbook_lib.fleet import batch, readiness, record
    from runbook_lib.run.folder import runs_root
    plan = batch.load_plan(args.plan)
    with record.opened(runs_root(), "readiness") as (folder, _):
        found = readiness.assess(plan, plan.path.with_name(plan.path.stem + ".params"), runs_root(),
                                 args.concurrency)
        rows = readiness.as_rows(found)
        summary = folder.path / "fleet-readiness.json"
        summary.write_text(json.dumps({"plan": str(plan.path), "databases": rows}, indent=2))
        record.seal(folder, {"plan": args.plan, "concurrency": args.concurrency}, "succeeded",
                    {"ranked": [{k: r[k] for k in ("deployment", "verdict", "why")} for r in rows]},
                    {summary.name: "each database's verdict, checks and run folder"}, args.operator, args.ticket)
    for row in rows:
        print(f"{row['verdict']:<12} {row['deployment']:<24} {row['why'] or ''}")
    print(folder.path)
    return 0 if all(r["verdict"] == "ready" for r in rows) else 1


def _batch(args: argparse.Namespace) -> int:
    """`runbook fleet run`: the batch, then a sealed summary record naming every database's run folders."""
    from runbook_lib.fleet import batch, record
    from runbook_lib.run.folder import runs_root
    if args.concurrency < 1:
        raise RunbookError(f"--concurrency must be 1 or more; got {args.concurrency}.")
    with record.opened(runs_root(), "run") as (folder, _):
        states, state_file = batch.run_plan(args.plan, args.concurrency, args.dry_run, args.resume)
        rows = {name: {"status": s.status, "detail": s.detail, "runs": s.runs} for name, s in states.items()}
        failed = sorted(n for n, s in states.items() if s.status == "FAILED")
        summary = folder.path / "fleet-run.json"
        summary.write_text(json.dumps({"plan": str(Path(args.plan).resolve()), "state_file": str(state_file),
                                       "databases": rows}, indent=2))
        outcome = "succeeded" if not failed else "failed"
        record.seal(folder, {"plan": args.plan, "concurrency": args.concurrency, "dry_run": args.dry_run,
                             "resume": args.resume}, outcome,
                    {"databases": rows, **({"error": f"failed: {', '.join(failed)}"} if failed else {})},
                    {summary.name: "every database's status and run folders"}, args.operator, args.ticket)
    width = max(len(n) for n in rows)
    for name, row in rows.items():
        print(f"{name:<{width}}  {row['status']:<11}  {row['detail'] or ''}")
    print(folder.path)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m runbook_lib.fleet.cli inventory …` until runbook_lib/cli.py wires `fleet` in."""
    parser = argparse.ArgumentParser(prog="runbook")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fleet", *(argv if argv is not None else sys.argv[1:])])
    try:
        return int(args.func(args))
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
