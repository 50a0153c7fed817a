"""`runbook groups plan` and `runbook groups apply`: the 8.0 parameter and option groups made from the 5.7 ones.

Exit codes: 0 done (the plan printed; the groups created, reused or updated) · 1 refused or failed (a group of that
name exists with other contents and --update-existing was not given, or RDS refused a call; nothing was changed
before a refusal) · 2 usage (bad arguments or parameter file, a source group or instance that does not exist, a
target version RDS does not offer).

The parameter file (--params, default parameters/lab.yaml in a checkout) says how to reach RDS and supplies what
the flags leave out: the blue instance's groups as sources, green_parameter_group / green_option_group as names,
target_engine_version as the target. With an Aurora MySQL parameter file (`source_db_cluster`), or with
--from-cluster-group, the plan is the aurora-mysql8.0 DB cluster parameter group (green_cluster_parameter_group) made
from the cluster's aurora-mysql5.7 one."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from runbook_lib.errors import NotFound
from runbook_lib.run.folder import project_root, runs_root

if TYPE_CHECKING:   # loaded when a command runs: `runbook` builds this parser for every command it runs
    from runbook_lib.aws.rds import RdsFacade
    from runbook_lib.engines.mysql import parameter_groups as groups
    from runbook_lib.params import RunbookParams

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def _params(path: str | None) -> RunbookParams:
    from runbook_lib.engines.mysql import parameter_groups as groups
    from runbook_lib.params import load
    if path is None:
        root = project_root()
        default = root / "parameters" / "lab.yaml" if root else None
        if default is None or not default.is_file():
            raise groups.PlanError("--params FILE is needed: the parameter file says how to reach RDS (mode, region, "
                                   "profile) and names the blue instance and the green groups.")
        path = str(default)
    return load(path)


def build_plan(rds: RdsFacade, params: RunbookParams, args: argparse.Namespace) -> groups.Plan:
    """The plan the flags ask for, with the parameter file's values where a flag is not given."""
    from runbook_lib.engines.mysql import parameter_groups as groups
    if params.source_db_cluster or args.source_cluster_group:
        return build_cluster_plan(rds, params, args)
    version = args.target_version or params.target_engine_version
    target = rds.engine_version("mysql", version)
    if target is None:
        raise groups.PlanError(f"mysql {version} (--target-version or target_engine_version) is not offered here; "
                               "give a version from the source's ValidUpgradeTarget.")
    family = args.to_family or target["DBParameterGroupFamily"]
    if family != target["DBParameterGroupFamily"]:
        raise groups.PlanError(f"--to-family {family} does not match mysql {version}, whose family is "
                               f"{target['DBParameterGroupFamily']}; give one or the other.")
    blue = None
    if not args.source_group or (not args.no_option_group and not args.source_option_group):
        try:
            blue = rds.instance(params.source_db_instance)
        except NotFound as exc:
            raise groups.PlanError(f"{exc} Or name the source groups with --from and --from-option-group.") from None
    if blue is not None and blue["EngineVersion"].split(".")[:2] == version.split(".")[:2]:
        raise groups.PlanError(f"{params.source_db_instance} already runs {blue['EngineVersion']}, so its groups are "
                               "not 5.7 ones any more; name the 5.7 groups with --from and --from-option-group.")
    plan = groups.Plan()
    if not args.option_group_only:
        plan.parameter_group = groups.plan_parameter_group(
            rds, args.source_group or blue["DBParameterGroups"][0]["DBParameterGroupName"],  # type: ignore[index]
            args.name or params.green_parameter_group, family, version)
    target_og = args.option_group_name or params.green_option_group
    if not args.no_option_group and target_og:
        source_og = args.source_option_group or next(
            (m["OptionGroupName"] for m in (blue or {}).get("OptionGroupMemberships", [])), None)
        if source_og and not source_og.startswith("default:"):
            plan.option_group = groups.plan_option_group(rds, source_og, target_og, ".".join(version.split(".")[:2]),
                                                         version)
    return plan


def build_cluster_plan(rds: RdsFacade, params: RunbookParams, args: argparse.Namespace) -> groups.Plan:
    """Aurora MySQL: the 8.0 DB cluster parameter group from the 5.7 one (the source cluster's, or
    --from-cluster-group), named --cluster-group-name or green_cluster_parameter_group."""
    from runbook_lib.engines.mysql import parameter_groups as groups
    instance_flags = [f for f, v in (("--from", args.source_group), ("--name", args.name),
                                     ("--from-option-group", args.source_option_group),
                                     ("--option-group-name", args.option_group_name),
                                     ("--option-group-only", args.option_group_only)) if v]
    if instance_flags:
        raise groups.PlanError(f"{', '.join(instance_flags)} name DB instance groups, but this plan is an Aurora "
                               "cluster's (source_db_cluster in the parameter file, or --from-cluster-group): give "
                               "--from-cluster-group / --cluster-group-name instead, or an instance parameter file.")
    version = args.target_version or params.target_engine_version
    target = rds.engine_version("aurora-mysql", version)
    if target is None:
        raise groups.PlanError(f"aurora-mysql {version} (--target-version or target_engine_version) is not offered "
                               "here; give an Aurora MySQL 3 version from the cluster's ValidUpgradeTarget, such as "
                               "8.0.mysql_aurora.3.05.2.")
    family = args.to_family or target["DBParameterGroupFamily"]
    if family != target["DBParameterGroupFamily"]:
        raise groups.PlanError(f"--to-family {family} does not match aurora-mysql {version}, whose family is "
                               f"{target['DBParameterGroupFamily']}; give one or the other.")
    source = args.source_cluster_group
    if not source:
        try:
            cluster = rds.cluster(params.source_db_cluster or "")
        except NotFound as exc:
            raise groups.PlanError(f"{exc} Or name the 5.7 cluster parameter group with --from-cluster-group.") from None
        if cluster["EngineVersion"].split(".")[:2] == version.split(".")[:2]:
            raise groups.PlanError(f"{params.source_db_cluster} already runs {cluster['EngineVersion']}, so its "
                                   "cluster parameter group is not a 5.7 one any more; name the 5.7 group with "
                                   "--from-cluster-group.")
        source = cluster["DBClusterParameterGroup"]
    name = args.cluster_group_name or params.green_cluster_parameter_group
    if not name:
        raise groups.PlanError("The new cluster parameter group needs a name: give --cluster-group-name or set "
                               "green_cluster_parameter_group in the parameter file.")
    return groups.Plan(cluster_parameter_group=groups.plan_parameter_group(rds, source, name, family, version,
                                                                           cluster=True))


def _run_folder(run_dir: str | None) -> Path:
    """Where apply records the plan: --run-dir, else the open run (runs/CURRENT, not yet sealed), else a folder of
    its own under the runs root (not a run: it has no steps/)."""
    if run_dir:
        return Path(run_dir)
    pointer = runs_root() / "CURRENT"
    if pointer.is_file():
        current = Path(pointer.read_text().strip())
        if current.is_dir() and not (current / "manifest.json").exists():
            return current
    return runs_root() / f"groups-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"


def plan_command(args: argparse.Namespace) -> tuple[int, str]:
    from runbook_lib.aws.clients import make_clients
    from runbook_lib.aws.rds import RdsFacade
    params = _params(args.params)
    rds = RdsFacade(make_clients(params).rds, dry_run=True)
    plan = build_plan(rds, params, args)
    return EXIT_OK, plan.model_dump_json(indent=2) if args.format == "json" else plan.text()


def apply_command(args: argparse.Namespace) -> tuple[int, str]:
    from runbook_lib.aws.clients import make_clients
    from runbook_lib.aws.rds import RdsFacade
    from runbook_lib.engines.mysql import parameter_groups as groups
    params = _params(args.params)
    rds = RdsFacade(make_clients(params).rds, dry_run=params.dry_run or args.dry_run)
    plan = build_plan(rds, params, args)
    actions = groups.apply(rds, plan, update_existing=args.update_existing)
    path = groups.record(plan, actions, _run_folder(args.run_dir))
    if args.format == "json":
        return EXIT_OK, json.dumps({"plan": plan.model_dump(mode="json"), "recorded": str(path),
                                    "actions": [a.model_dump(mode="json") for a in actions],
                                    "calls": rds.recorded_calls()}, indent=2)
    lines = [plan.text(), ""] + [f"{a.kind} {a.group}: {a.action} ({a.detail})" for a in actions]
    return EXIT_OK, "\n".join(lines + [f"plan recorded in {path}"])


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`runbook groups plan|apply` (cli.py calls this)."""
    top = sub.add_parser("groups", help="plan and make the 8.0 parameter and option groups from the 5.7 ones "
                         "(exit 0 done, 1 refused or failed, 2 usage)")
    actions = top.add_subparsers(dest="groups_command", required=True)
    for name, helptext in (("plan", "print the plan: every user-modified 5.7 value carried, renamed, adjusted or "
                                    "dropped, the defaults that change, the options available for 8.0"),
                           ("apply", "create the groups from the plan (an identical existing group is reused, a "
                                     "different one refused) and record the plan in the run folder")):
        cmd = actions.add_parser(name, help=helptext)
        cmd.add_argument("--params", help="parameter file: how to reach RDS, blue instance, green group names "
                         "(default parameters/lab.yaml)")
        cmd.add_argument("--from", dest="source_group", help="5.7 DB parameter group (default: the blue instance's)")
        cmd.add_argument("--to-family", help="target family, e.g. mysql8.0 (default: the target version's)")
        cmd.add_argument("--name", help="the new parameter group (default: green_parameter_group)")
        cmd.add_argument("--from-option-group", dest="source_option_group",
                         help="5.7 option group (default: the blue instance's)")
        cmd.add_argument("--option-group-name", help="the new option group (default: green_option_group)")
        cmd.add_argument("--target-version", help="target engine version (default: target_engine_version)")
        only = cmd.add_mutually_exclusive_group()
        only.add_argument("--no-option-group", action="store_true", help="the parameter group only")
        only.add_argument("--option-group-only", action="store_true", help="the option group only")
        cmd.add_argument("--from-cluster-group", dest="source_cluster_group",
                         help="Aurora: aurora-mysql5.7 DB cluster parameter group (default: source_db_cluster's); "
                         "plans the cluster group instead of the instance groups")
        cmd.add_argument("--cluster-group-name", help="Aurora: the new DB cluster parameter group (default: "
                         "green_cluster_parameter_group)")
        cmd.add_argument("--format", choices=["text", "json"], default="text")
        if name == "apply":
            cmd.add_argument("--update-existing", action="store_true",
                             help="make an existing group of that name match the plan instead of refusing")
            cmd.add_argument("--dry-run", action="store_true", help="record the calls it would make; change nothing")
            cmd.add_argument("--run-dir", help="where to record the plan (default: the open run, else "
                             "runs/groups-<time>)")
        cmd.set_defaults(groups_func=plan_command if name == "plan" else apply_command)
