"""The 8.0 DB parameter group and option group, made from the 5.7 ones: a plan that accounts for every
user-modified 5.7 value (carried, renamed, adjusted or dropped, each with its reason and source), the defaults that
change under it, and the options available for 8.0; then `apply`, idempotent, through the RDS facade. The same
rules and apply make an Aurora aurora-mysql8.0 DB cluster parameter group from an aurora-mysql5.7 one (`cluster=True`).

Why: a DBA making these by hand is where upgrades go wrong -- a custom value silently left behind (8.0 falls back to
its default), a removed variable carried over (the upgrade is refused), a renamed one missed, or no target group at
all (green gets the default group). Rules and sources: docs/parameter-groups.md; facts: engines/mysql/variables.py.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from runbook_lib.aws.rds import RdsFacade
from runbook_lib.engines.aurora_mysql.readiness import mysql_compatible
from runbook_lib.engines.mysql import variables
from runbook_lib.errors import GateClosed, RunbookError

if TYPE_CHECKING:
    from runbook_lib.run.context import Step

TAG_SOURCE_PARAMETER_GROUP = "bluegreen-runbook:source-parameter-group"
TAG_SOURCE_OPTION_GROUP = "bluegreen-runbook:source-option-group"
TAG_PLAN = "bluegreen-runbook:plan-sha256"
RDS_OPTIONS_PAGE = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.Options.html"
RDS_FAMILY = "DescribeEngineDefaultParameters for the target family"
GATE = "create-green-groups"
SUPPORTED = {("mysql5.7", "mysql8.0"), ("aurora-mysql5.7", "aurora-mysql8.0")}


class PlanError(RunbookError):
    """The plan cannot be made from what was given (a usage problem: nothing was changed)."""


class GroupExists(RunbookError):
    """A group of the plan's name exists with other contents; nothing was changed."""


# -- the plan ---------------------------------------------------------------------------------------------------
class ParameterEntry(BaseModel):
    """What happens to one user-modified 5.7 parameter."""

    name: str
    value: str | None
    action: Literal["carry", "rename", "adjust", "drop"]
    target_name: str | None = None
    target_value: str | None = None
    apply_method: str | None = None
    reason: str = ""
    source: str | None = None
    applies_on_80: str | None = None     # drop: what the 8.0 server does instead
    notes: list[str] = Field(default_factory=list)


class DefaultChangeEntry(BaseModel):
    """A variable not set in the 5.7 group whose default is different on 8.0."""

    name: str
    old: str
    new: str
    changed_in: str
    why: str = ""
    rds_value: str | None = None         # the target family's value when RDS sets one
    rds_source_value: str | None = None  # the source family's value when RDS sets one
    source: str


class ParameterGroupPlan(BaseModel):
    """A DB parameter group's plan, or (cluster=True) an Aurora DB cluster parameter group's: the same rules."""

    source_group: str
    source_family: str
    target_group: str
    target_family: str
    target_version: str | None
    entries: list[ParameterEntry]
    default_changes: list[DefaultChangeEntry]
    cluster: bool = False

    def desired(self) -> dict[str, str]:
        """The user values the new group holds."""
        return {e.target_name: e.target_value or "" for e in self.entries
                if e.action != "drop" and e.target_name is not None}

    def digest(self) -> str:
        data = {"family": self.target_family, "parameters": self.desired()}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class OptionEntry(BaseModel):
    name: str
    action: Literal["carry", "unavailable"]
    settings: dict[str, str] = Field(default_factory=dict)
    dropped_settings: list[str] = Field(default_factory=list)
    port: int | None = None
    security_groups: list[str] = Field(default_factory=list)
    reason: str = ""
    source: str = RDS_OPTIONS_PAGE


class OptionGroupPlan(BaseModel):
    source_group: str
    engine: str
    source_major: str
    target_group: str
    target_major: str
    target_version: str | None
    options: list[OptionEntry]

    def desired(self) -> dict[str, dict[str, str]]:
        return {o.name: o.settings for o in self.options if o.action == "carry"}

    def digest(self) -> str:
        data = {"engine": self.engine, "major": self.target_major, "options": self.desired()}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class Plan(BaseModel):
    made: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    parameter_group: ParameterGroupPlan | None = None
    option_group: OptionGroupPlan | None = None
    cluster_parameter_group: ParameterGroupPlan | None = None

    def targets(self) -> list[str]:
        return [g.target_group for g in (self.parameter_group, self.option_group, self.cluster_parameter_group)
                if g is not None]

    def text(self) -> str:
        return render_text(self)


def _major(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _sql_mode_without_removed(value: str) -> tuple[str, list[str]]:
    flags = [f.strip() for f in value.split(",") if f.strip()]
    gone = [f for f in flags if f.upper() in variables.REMOVED_SQL_MODES]
    return ",".join(f for f in flags if f.upper() not in variables.REMOVED_SQL_MODES), gone


def _apply_method(target: dict[str, Any]) -> str:
    return "immediate" if target.get("ApplyType") == "dynamic" else "pending-reboot"


def _value(param: dict[str, Any] | None) -> str | None:
    value = (param or {}).get("ParameterValue")
    return None if value is None else str(value)


def _what_applies(replacement: str | None, defaults: dict[str, Any]) -> str:
    if not replacement:
        return "nothing: 8.0 has no equivalent"
    rds_value = (defaults.get(replacement) or {}).get("ParameterValue")
    if rds_value not in (None, ""):
        return f"{replacement} = {rds_value} (RDS's {replacement} in the target family)"
    change = variables.DEFAULT_CHANGES_BY_NAME.get(replacement)
    if change:
        return f"{replacement} = {change.new} (MySQL 8.0's default)"
    return f"{replacement} at MySQL 8.0's default (set it in the new group to choose)"


def plan_parameter_group(rds: RdsFacade, source_group: str, target_group: str, target_family: str = "mysql8.0",
                         target_version: str | None = None, cluster: bool = False) -> ParameterGroupPlan:
    """Every user-modified parameter of `source_group` (all pages, Source=user), each placed in exactly one of
    carry / rename / adjust / drop with its reason; plus the 8.0 default changes the group does not pin.
    `cluster`: the groups are Aurora DB cluster parameter groups (aurora-mysql5.7 -> aurora-mysql8.0); the MySQL facts
    then apply at the MySQL version the Aurora target is compatible with."""
    kind = "cluster parameter group" if cluster else "parameter group"
    found = rds.find_cluster_parameter_group(source_group) if cluster else rds.find_parameter_group(source_group)
    if found is None:
        where = ("--from-cluster-group, or the source cluster's group" if cluster
                 else "--from, or the blue instance's group")
        raise PlanError(f"The {kind} {source_group} ({where}) does not exist in this account and Region. Name an "
                        "existing 5.7 group; nothing was changed.")
    source_family = found["DBParameterGroupFamily"]
    if (source_family, target_family) not in SUPPORTED:
        raise PlanError(f"The plan knows {', '.join(f'{a} -> {b}' for a, b in sorted(SUPPORTED))}; {source_group} is "
                        f"{source_family} and the target family {target_family} (--to-family). Give a 5.7 group and "
                        "its 8.0 family; nothing was changed.")
    read, engine_defaults = ((rds.cluster_parameters, rds.engine_default_cluster_parameters) if cluster
                             else (rds.parameters, rds.engine_default_parameters))
    user = {n: p for n, p in read(source_group).items() if p.get("Source") == "user"}
    defaults = {n: dict(p) for n, p in engine_defaults(target_family).items()}
    source_defaults = {n: dict(p) for n, p in engine_defaults(source_family).items()}
    facts_version = mysql_compatible(target_version) if cluster and target_version else target_version
    crossed = variables.removed_for(facts_version or "8.0.999")
    entries: list[ParameterEntry] = []
    for name, param in sorted(user.items()):
        value = param.get("ParameterValue")
        removed = crossed.get(name) or (variables.REMOVED_BY_NAME.get(name) if name not in defaults else None)
        if removed and removed.rename and removed.replacement in defaults:
            new = removed.replacement
            if new in user and user[new].get("ParameterValue") != value:
                entries.append(ParameterEntry(
                    name=name, value=value, action="drop", source=removed.source,
                    reason=f"renamed to {new} in {removed.removed_in}; {new} is also set in {source_group} "
                           f"(to {user[new].get('ParameterValue')!r}) and that value is the one kept",
                    applies_on_80=f"{new} = {user[new].get('ParameterValue')}"))
                continue
            entries.append(ParameterEntry(name=name, value=value, action="rename", target_name=new, target_value=value,
                                          apply_method=_apply_method(defaults[new]), source=removed.source,
                                          reason=f"renamed to {new} in MySQL {removed.removed_in}"))
        elif removed:
            entries.append(ParameterEntry(
                name=name, value=value, action="drop", source=removed.source,
                reason=f"removed in MySQL {removed.removed_in}: {removed.why}",
                applies_on_80=_what_applies(removed.replacement, defaults)))
        elif name not in defaults:
            entries.append(ParameterEntry(
                name=name, value=value, action="drop", source=RDS_FAMILY,
                reason=f"RDS's {target_family} family has no parameter {name}", applies_on_80="nothing"))
        elif not defaults[name].get("IsModifiable", True):
            entries.append(ParameterEntry(
                name=name, value=value, action="drop", source=RDS_FAMILY,
                reason=f"RDS does not let a {target_family} group set {name}",
                applies_on_80=f"RDS's value: {defaults[name].get('ParameterValue') or 'its own'}"))
        else:
            target_value, gone = (_sql_mode_without_removed(value or "") if name == "sql_mode" else (value, []))
            notes = []
            change = variables.DEFAULT_CHANGES_BY_NAME.get(name)
            if change:
                notes.append(f"8.0's default is {change.new} (5.7: {change.old}); the explicit value is kept")
            if name in variables.DEPRECATED_ALIASES:
                new_name, since = variables.DEPRECATED_ALIASES[name]
                notes.append(f"deprecated in {since} in favour of {new_name}; still read by every 8.0 release")
            if name == "event_scheduler" and str(value).upper() in ("ON", "1"):
                notes.append("blue/green needs event_scheduler OFF on green until the switchover (step 01 checks)")
            entries.append(ParameterEntry(
                name=name, value=value, action="adjust" if gone else "carry", target_name=name,
                target_value=target_value, apply_method=_apply_method(defaults[name]), notes=notes,
                source=variables.SQL_MODE_PAGE if gone else None,
                reason=(f"sql_mode flag{'s' if len(gone) > 1 else ''} {', '.join(gone)} removed in 8.0: a server "
                        "whose configuration names one does not start" if gone else "same name and meaning on 8.0")))
    missing = set(user) - {e.name for e in entries}
    if missing:  # the plan's promise: nothing user-modified disappears unlisted
        raise RunbookError(f"Internal: the plan lost {sorted(missing)}; nothing was changed.")
    changes = [DefaultChangeEntry(name=c.name, old=c.old, new=c.new, changed_in=c.changed_in, why=c.why,
                                  rds_value=_value(defaults.get(c.name)),
                                  rds_source_value=_value(source_defaults.get(c.name)), source=c.source)
               for c in variables.DEFAULT_CHANGES if c.name not in user and c.name in defaults
               and (facts_version is None or variables.version_key(c.changed_in)
                    <= variables.version_key(facts_version))]
    return ParameterGroupPlan(source_group=source_group, source_family=source_family, target_group=target_group,
                              target_family=target_family, target_version=target_version, entries=entries,
                              default_changes=changes, cluster=cluster)


def plan_option_group(rds: RdsFacade, source_group: str, target_group: str, target_major: str = "8.0",
                      target_version: str | None = None) -> OptionGroupPlan:
    """Every option of `source_group`: carried (with the settings the target option has) or unavailable for the
    target (RDS offers no such option for that major version, or only from a later minor version)."""
    found = rds.find_option_group(source_group)
    if found is None:
        raise PlanError(f"The option group {source_group} (--from-option-group, or the blue instance's group) does not "
                        "exist in this account and Region. Name an existing group; nothing was changed.")
    engine, source_major = found.get("EngineName", "mysql"), found.get("MajorEngineVersion", "")
    if target_version and _major(target_version) != target_major:
        raise PlanError(f"The target version {target_version} is not a {target_major} version; nothing was changed.")
    offered = rds.option_group_options(engine, target_major)
    entries = []
    for option in found.get("Options", []):
        name = option["OptionName"]
        settings = {s["Name"]: s["Value"] for s in option.get("OptionSettings", [])
                    if s.get("Value") not in (None, "")}
        known = offered.get(name)
        minimum = (known or {}).get("MinimumRequiredMinorEngineVersion")
        if known is None:
            entries.append(OptionEntry(name=name, action="unavailable", settings=settings,
                                       reason=f"RDS offers no {name} option for {engine} {target_major}"))
            continue
        if minimum and target_version and variables.version_key(target_version)[2] < int(minimum):
            entries.append(OptionEntry(name=name, action="unavailable", settings=settings,
                                       reason=f"{name} needs {engine} {target_major}.{minimum} or later; the target "
                                              f"is {target_version}"))
            continue
        allowed = {s["SettingName"] for s in known.get("OptionGroupOptionSettings", [])}
        entries.append(OptionEntry(
            name=name, action="carry", settings={k: v for k, v in settings.items() if k in allowed},
            dropped_settings=sorted(set(settings) - allowed),
            port=option.get("Port") if known.get("PortRequired") else None,
            security_groups=[g["VpcSecurityGroupId"] for g in option.get("VpcSecurityGroupMemberships", [])],
            reason=(f"available for {engine} {target_major}" + (f".{minimum} and later" if minimum else ""))))
    return OptionGroupPlan(source_group=source_group, engine=engine, source_major=source_major,
                           target_group=target_group, target_major=target_major, target_version=target_version,
                           options=entries)


def plan_for_instance(rds: RdsFacade, instance: Any, target_version: str,
                      parameter_group: str | None, option_group: str | None) -> Plan:
    """The plan for green's groups from blue's: `parameter_group` / `option_group` name the groups to make (None:
    not needed). A default source option group has nothing to carry."""
    target = rds.engine_version(instance["Engine"], target_version)
    if target is None:
        raise PlanError(f"{instance['Engine']} {target_version} (target_engine_version) is not offered here; choose a "
                        "version from ValidUpgradeTarget (step 01 lists them). Nothing was changed.")
    plan = Plan()
    if parameter_group:
        plan.parameter_group = plan_parameter_group(
            rds, instance["DBParameterGroups"][0]["DBParameterGroupName"], parameter_group,
            target["DBParameterGroupFamily"], target_version)
    source_og = next((m["OptionGroupName"] for m in instance.get("OptionGroupMemberships", [])), None)
    if option_group and source_og and not source_og.startswith("default:"):
        plan.option_group = plan_option_group(rds, source_og, option_group, _major(target_version), target_version)
    return plan


def plan_for_cluster(rds: RdsFacade, cluster: Any, target_version: str, cluster_group: str) -> Plan:
    """The plan for green's Aurora DB cluster parameter group (`cluster_group`) from the source cluster's."""
    target = rds.engine_version(cluster["Engine"], target_version)
    if target is None:
        raise PlanError(f"{cluster['Engine']} {target_version} (target_engine_version) is not offered here; choose a "
                        "version from ValidUpgradeTarget (step 01 lists them). Nothing was changed.")
    return Plan(cluster_parameter_group=plan_parameter_group(
        rds, cluster["DBClusterParameterGroup"], cluster_group, target["DBParameterGroupFamily"], target_version,
        cluster=True))


# -- applying it ------------------------------------------------------------------------------------------------
class GroupAction(BaseModel):
    kind: Literal["parameter-group", "option-group", "cluster-parameter-group"]
    group: str
    action: Literal["created", "reused", "updated", "planned"]
    detail: str = ""


def _differences(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    out = [f"{k}: {current.get(k)!r} -> {v!r}" for k, v in sorted(desired.items()) if current.get(k) != v]
    return out + [f"{k}: {current[k]!r} (not in the plan)" for k in sorted(set(current) - set(desired))]


def _apply_parameter_group(rds: RdsFacade, plan: ParameterGroupPlan, update_existing: bool) -> GroupAction:
    """One DB parameter group, or (plan.cluster) one Aurora DB cluster parameter group: only the calls differ."""
    desired = plan.desired()
    methods = {e.target_name: e.apply_method or "pending-reboot" for e in plan.entries if e.target_name}
    changes = [{"ParameterName": n, "ParameterValue": v, "ApplyMethod": methods[n]} for n, v in sorted(desired.items())]
    tags = [{"Key": TAG_SOURCE_PARAMETER_GROUP, "Value": plan.source_group}, {"Key": TAG_PLAN, "Value": plan.digest()}]
    if plan.cluster:
        kind: Literal["parameter-group", "cluster-parameter-group"] = "cluster-parameter-group"
        find, create, read = (rds.find_cluster_parameter_group, rds.create_cluster_parameter_group,
                              rds.cluster_parameters)
        modify, reset = rds.modify_cluster_parameters, rds.reset_cluster_parameters
        arn_key = "DBClusterParameterGroupArn"
        flag = "--cluster-group-name / green_cluster_parameter_group"
    else:
        kind = "parameter-group"
        find, create, read = rds.find_parameter_group, rds.create_parameter_group, rds.parameters  # type: ignore[assignment]
        modify, reset, arn_key = rds.modify_parameters, rds.reset_parameters, "DBParameterGroupArn"
        flag = "--name / green_parameter_group"
    label = kind.replace("-", " ")
    existing = find(plan.target_group)
    if existing is None:
        create(plan.target_group, plan.target_family,
               f"{plan.target_family} parameters made from {plan.source_group} by bluegreen-runbook", tags)
        modify(plan.target_group, changes)
        return GroupAction(kind=kind, group=plan.target_group,
                           action="planned" if rds.dry_run else "created", detail=f"{len(changes)} values set")
    if existing["DBParameterGroupFamily"] != plan.target_family:
        raise GroupExists(f"The {label} {plan.target_group} exists with family "
                          f"{existing['DBParameterGroupFamily']}, not {plan.target_family}; a family cannot change. "
                          f"Choose another name ({flag}). Nothing was changed.")
    current = {n: p.get("ParameterValue") for n, p in read(plan.target_group).items()
               if p.get("Source") == "user"}
    differences = _differences(current, dict(desired))
    if not differences:
        return GroupAction(kind=kind, group=plan.target_group, action="reused",
                           detail="it already holds exactly the planned values")
    if not update_existing:
        raise GroupExists(f"The {label} {plan.target_group} exists with other values ({'; '.join(differences)})."
                          " Nothing was changed. Make it match the plan with --update-existing (values set, values "
                          "outside the plan reset), or choose another name.")
    modify(plan.target_group, [c for c in changes if current.get(c["ParameterName"]) != c["ParameterValue"]])
    reset(plan.target_group, sorted(set(current) - set(desired)))
    rds.add_tags(existing[arn_key], tags)
    return GroupAction(kind=kind, group=plan.target_group,
                       action="planned" if rds.dry_run else "updated", detail="; ".join(differences))


def _apply_option_group(rds: RdsFacade, plan: OptionGroupPlan, update_existing: bool) -> GroupAction:
    desired = plan.desired()
    include = []
    for o in plan.options:
        if o.action != "carry":
            continue
        entry: dict[str, Any] = {"OptionName": o.name,
                                 "OptionSettings": [{"Name": k, "Value": v} for k, v in sorted(o.settings.items())]}
        if o.port:
            entry["Port"] = o.port
        if o.security_groups:
            entry["VpcSecurityGroupMemberships"] = o.security_groups
        include.append(entry)
    tags = [{"Key": TAG_SOURCE_OPTION_GROUP, "Value": plan.source_group}, {"Key": TAG_PLAN, "Value": plan.digest()}]
    existing = rds.find_option_group(plan.target_group)
    if existing is None:
        rds.create_option_group(plan.target_group, plan.engine, plan.target_major,
                                f"{plan.engine} {plan.target_major} options made from {plan.source_group} by "
                                "bluegreen-runbook", tags)
        if include:
            rds.modify_option_group(plan.target_group, include=include)
        return GroupAction(kind="option-group", group=plan.target_group,
                           action="planned" if rds.dry_run else "created", detail=f"{len(include)} options")
    if (existing.get("EngineName"), existing.get("MajorEngineVersion")) != (plan.engine, plan.target_major):
        raise GroupExists(f"The option group {plan.target_group} exists for {existing.get('EngineName')} "
                          f"{existing.get('MajorEngineVersion')}, not {plan.engine} {plan.target_major}. Choose another "
                          "name (--option-group-name / green_option_group). Nothing was changed.")
    current = {o["OptionName"]: {s["Name"]: s["Value"] for s in o.get("OptionSettings", [])
                                 if s["Name"] in desired.get(o["OptionName"], {})}
               for o in existing.get("Options", [])}
    differences = _differences(current, dict(desired))
    if not differences:
        return GroupAction(kind="option-group", group=plan.target_group, action="reused",
                           detail="it already holds exactly the planned options")
    if not update_existing:
        raise GroupExists(f"The option group {plan.target_group} exists with other options ({'; '.join(differences)}). "
                          "Nothing was changed. Make it match the plan with --update-existing, or choose another name.")
    rds.modify_option_group(plan.target_group, include=include or None,
                            remove=sorted(set(current) - set(desired)) or None)
    rds.add_tags(existing["OptionGroupArn"], tags)
    return GroupAction(kind="option-group", group=plan.target_group,
                       action="planned" if rds.dry_run else "updated", detail="; ".join(differences))


def apply(rds: RdsFacade, plan: Plan, update_existing: bool = False) -> list[GroupAction]:
    """Make the plan's groups: a missing group is created (tagged with its source group and the plan's digest), one
    that already holds exactly the plan is reused, a different one is refused unless `update_existing`. Both groups
    are checked before either is changed. A dry-run facade records the calls and changes nothing."""
    for checking in (True, False):
        actions = []
        if plan.parameter_group:
            actions.append(_apply_parameter_group(_Reader(rds) if checking else rds, plan.parameter_group,
                                                  update_existing))
        if plan.option_group:
            actions.append(_apply_option_group(_Reader(rds) if checking else rds, plan.option_group, update_existing))
        if plan.cluster_parameter_group:
            actions.append(_apply_parameter_group(_Reader(rds) if checking else rds, plan.cluster_parameter_group,
                                                  update_existing))
    return actions


def _Reader(rds: RdsFacade) -> RdsFacade:  # noqa: N802 - reads as a type at its call sites
    """The same client in dry-run mode, to find refusals before anything is changed."""
    return RdsFacade(rds.client, dry_run=True)


def record(plan: Plan, actions: list[GroupAction] | None, folder: Path) -> Path:
    """The plan (and what apply did) as JSON in the run folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "green-groups-plan.json"
    data = {"plan": plan.model_dump(mode="json"),
            "applied": [a.model_dump(mode="json") for a in actions] if actions is not None else None}
    path.write_text(json.dumps(data, indent=2))
    return path


# -- the text a person reads -------------------------------------------------------------------------------------
_ACTION_WORD = {"carry": "carried", "rename": "renamed", "adjust": "adjusted", "drop": "dropped"}


def render_text(plan: Plan) -> str:
    lines: list[str] = []
    for heading, pg in (("Parameter group", plan.parameter_group),
                        ("Cluster parameter group", plan.cluster_parameter_group)):
        if pg is None:
            continue
        lines.append(f"{heading}: {pg.source_group} ({pg.source_family}) -> {pg.target_group} "
                     f"({pg.target_family}){f', target {pg.target_version}' if pg.target_version else ''}")
        counts = {a: sum(1 for e in pg.entries if e.action == a) for a in _ACTION_WORD}
        lines.append("  " + ", ".join(f"{counts[a]} {w}" for a, w in _ACTION_WORD.items())
                     + f" of {len(pg.entries)} user-modified values")
        for e in pg.entries:
            word = _ACTION_WORD[e.action]
            if e.action == "rename":
                lines.append(f"  {word:<9} {e.name} -> {e.target_name} = {e.target_value}")
            elif e.action == "adjust":
                lines.append(f"  {word:<9} {e.name}: {e.value!r} -> {e.target_value!r}  ({e.reason})")
            elif e.action == "drop":
                lines.append(f"  {word:<9} {e.name} = {e.value}  ({e.reason}; on 8.0: {e.applies_on_80})")
            else:
                lines.append(f"  {word:<9} {e.name} = {e.value}")
            lines += [f"            note: {n}" for n in e.notes]
        if pg.default_changes:
            lines.append(f"  Defaults that change under {pg.target_group} (not set in {pg.source_group}; set them in "
                         f"{pg.target_group} to keep the 5.7 behaviour):")
            for c in pg.default_changes:
                if c.rds_value not in (None, "") and c.rds_value == c.rds_source_value:
                    rds_note = f"; RDS sets {c.rds_value} in both families: no change on RDS"
                elif c.rds_value not in (None, ""):
                    rds_note = f"; RDS's {pg.target_family} sets {c.rds_value}"
                else:
                    rds_note = ""
                lines.append(f"    {c.name}: {c.old} -> {c.new} ({c.changed_in}{rds_note})")
    og = plan.option_group
    if og:
        lines.append(f"Option group: {og.source_group} ({og.engine} {og.source_major}) -> {og.target_group} "
                     f"({og.engine} {og.target_major})")
        if not og.options:
            lines.append("  no options to carry")
        for o in og.options:
            settings = ", ".join(f"{k}={v}" for k, v in sorted(o.settings.items())) or "no settings"
            if o.action == "carry":
                dropped = f"; settings {', '.join(o.dropped_settings)} do not exist for the target" \
                    if o.dropped_settings else ""
                lines.append(f"  carried      {o.name} ({settings}{dropped})")
            else:
                lines.append(f"  unavailable  {o.name} ({o.reason}; it is left out: {settings})")
    return "\n".join(lines) or "Nothing to plan: the groups exist."


# -- step 01's offer ---------------------------------------------------------------------------------------------
def offer(step: Step) -> dict[str, Any]:
    """Step 01: when green_parameter_group / green_option_group (for an Aurora cluster: green_cluster_parameter_group)
    do not exist, plan them from blue's groups and record the plan (check `greenGroups`). Create them when the parameter file says `create_green_groups: true` or, in
    JupyterLab, after the confirm click (gate GATE naming the groups); a dry run records the planned calls only.
    Returns status: not-needed | created | planned | waiting-for-click | not-requested, and `ready` (the groups exist
    now, so step 01 can check them)."""
    p = step.params
    rds = step.rds
    if p.source_db_cluster:
        cluster_group = p.green_cluster_parameter_group or ""
        targets = [cluster_group] if rds.find_cluster_parameter_group(cluster_group) is None else []
        exists: dict[str, Any] = {"cluster_parameter_group": cluster_group, "exist": True}
    else:
        missing_pg = rds.find_parameter_group(p.green_parameter_group) is None
        missing_og = p.green_option_group is not None and rds.find_option_group(p.green_option_group) is None
        targets = [p.green_parameter_group] * missing_pg + ([p.green_option_group]
                                                             if p.green_option_group and missing_og else [])
        exists = {"parameter_group": p.green_parameter_group, "option_group": p.green_option_group, "exist": True}
    if not targets:
        step.check("greenGroups", "pass", exists)
        return {"status": "not-needed", "ready": True, "targets": []}
    if p.source_db_cluster:
        plan = plan_for_cluster(rds, rds.cluster(p.source_db_cluster), p.target_engine_version, targets[0])
    else:
        plan = plan_for_instance(rds, rds.instance(p.source_db_instance), p.target_engine_version,
                                 p.green_parameter_group if missing_pg else None,
                                 p.green_option_group if missing_og else None)
    clicked = set(targets) <= set(step.confirmations.get(GATE, []))
    evidence: dict[str, Any] = {"missing": targets, "plan": _summary(plan)}
    if not (p.create_green_groups or clicked):
        record(plan, None, step.run.path)
        step.findings["green_groups_plan"] = plan.model_dump(mode="json")
        how = ("click the confirm button below the plan, then run the next cell" if p.interactive else
               "set create_green_groups: true in the parameter file and run step 01 again")
        step.check("greenGroups", "fail", evidence,
                   f"{', '.join(targets)} do not exist yet. To create them from this plan, {how}; or create them "
                   f"yourself (runbook groups apply --params FILE).")
        return {"status": "waiting-for-click" if p.interactive else "not-requested", "ready": False,
                "targets": targets, "plan": plan, "text": plan.text(),
                "green_parameters": _as_parameters(plan)}
    actions = apply(rds, plan)
    record(plan, actions, step.run.path)
    step.findings["green_groups_plan"] = plan.model_dump(mode="json")
    for action in actions:
        step.changed(f"{action.kind} {action.group} {action.action}", detail=action.detail,
                     how="confirmed interactively" if clicked and not p.create_green_groups else "create_green_groups")
    evidence["actions"] = [a.model_dump(mode="json") for a in actions]
    step.check("greenGroups", "skip" if rds.dry_run else "pass", evidence,
               "Dry run: the groups were planned, not created." if rds.dry_run else None)
    return {"status": "planned" if rds.dry_run else "created", "ready": not rds.dry_run, "targets": targets,
            "plan": plan, "text": plan.text(), "actions": actions, "green_parameters": _as_parameters(plan)}


def offer_confirmed(step: Step) -> dict[str, Any]:
    """The cell after the confirm button: the offer again, refusing to go on until the click (interactive)."""
    result = offer(step)
    if result["status"] == "waiting-for-click":
        raise GateClosed(f"Click the confirm button above to create {', '.join(result['targets'])} from the plan, "
                         "then run this cell again.")
    return result


def _summary(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if plan.parameter_group:
        out["parameter_group"] = {a: [e.name for e in plan.parameter_group.entries if e.action == a]
                                  for a in _ACTION_WORD}
    if plan.option_group:
        out["option_group"] = {o.name: o.action for o in plan.option_group.options}
    if plan.cluster_parameter_group:
        out["cluster_parameter_group"] = {a: [e.name for e in plan.cluster_parameter_group.entries if e.action == a]
                                          for a in _ACTION_WORD}
    return out


def _as_parameters(plan: Plan) -> dict[str, dict[str, Any]]:
    """The planned 8.0 group's user values shaped as RdsFacade.parameters returns them (for the prechecks' group
    checks while the group does not exist yet); a cluster's plan: its cluster group's."""
    pg = plan.parameter_group or plan.cluster_parameter_group
    if not pg:
        return {}
    return {n: {"ParameterName": n, "ParameterValue": v, "Source": "user"} for n, v in pg.desired().items()}
