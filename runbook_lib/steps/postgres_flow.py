"""Steps 01–06 for PostgreSQL: an RDS for PostgreSQL instance (`source_db_instance`, Engine `postgres`) and an
Aurora PostgreSQL cluster (`source_db_cluster`, Engine `aurora-postgresql`), behind the step functions the
notebooks call (steps/flows.py picks this flow from the source's live Engine). docs/postgresql.md has the rules.

01 every PostgreSQL preflight rule (engines/postgresql/readiness.py) against the live database, in every database;
   blue's and green's groups through the API; the replication method (engines/postgresql/method.py); the target
   version in ValidUpgradeTarget; IAM as the other flows.
02 the probe's heartbeat table on blue *before* the deployment (afterwards it would be DDL on blue); the deployment
   with the target version and green's (cluster) parameter group; AVAILABLE; the guard's baselines (catalog and
   large-object fingerprints of every database) right after. A deployment RDS reports replication-degraded (or
   failed) is deleted with its green and created anew once confirm_delete names both.
03 verifies green's version (set at creation); nothing else applies. 04 reads pg_upgrade_precheck.log when the
   creation failed (RDS writes it when a major version upgrade's precheck fails), *not applicable* otherwise.
05 the guard (DDL, large objects since creation, StatusDetails) blocks before any switchover call; the psycopg probe
   on the writer endpoint (and a read watch on the reader endpoint of a cluster) through the switchover; the
   zero-loss proof; a write right after the switchover proving sequences ahead; ANALYZE / REFRESH reminders (and
   running them with post_switchover_maintenance: run).
06 is the instance flow's (step module) or the Aurora cluster flow's: both act only on recorded resource ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg

from runbook_lib.aws.types import BlueGreenDeployment
from runbook_lib.aws.waiting import wait_until
from runbook_lib.checks import iam_permissions
from runbook_lib.engines.aurora_mysql import readiness as aurora_readiness
from runbook_lib.engines.mysql.connection import TlsSettings, tls_settings
from runbook_lib.engines.postgresql import connection as pg
from runbook_lib.engines.postgresql import guard, method, readiness
from runbook_lib.engines.postgresql.probe import SCHEMA, PgProbe, zero_loss_of
from runbook_lib.engines.postgresql.records import CheckRecord, Parameters
from runbook_lib.errors import RunbookError
from runbook_lib.probe import report as probe_report
from runbook_lib.probe.mysql import Target
from runbook_lib.run import gates, history
from runbook_lib.run.context import Step
from runbook_lib.steps import cluster_flow, switchover
from runbook_lib.ui import display

FAILED_STATES = ("SWITCHOVER_FAILED", "INVALID_CONFIGURATION")
PRECHECK_LOG = "pg_upgrade_precheck.log"   # RDS user guide, "How to perform a major version upgrade for RDS for
#                                            PostgreSQL": the precheck's details, RDS appends a timestamp to the name
MARKER = f"{SCHEMA}.switchover_marker"      # a sequence of the runbook's own: advanced on blue before the switchover,
#                                            read on the new production right after it
SKIP_DATABASES = ("rdsadmin",)


# -- the two shapes -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """What differs between an RDS for PostgreSQL instance and an Aurora PostgreSQL cluster."""

    kind: str                     # instance | cluster
    name_key: str                 # DBInstanceIdentifier | DBClusterIdentifier
    arn_key: str
    rid_key: str
    ids: dict[str, str]           # role -> identifier key prefix as the other flows record them

    def source_name(self, step: Step) -> str:
        return str(step.params.source_db_cluster if self.kind == "cluster" else step.params.source_db_instance)

    def find(self, step: Step, name: str) -> dict[str, Any] | None:
        found = step.rds.find_cluster(name) if self.kind == "cluster" else step.rds.find_instance(name)
        return dict(found) if found else None

    def describe(self, step: Step, name: str, what: str = "the source") -> dict[str, Any]:
        if self.kind == "cluster":
            return step.rds.cluster(name, what if what != "the source" else "source_db_cluster")
        return dict(step.rds.instance(name, what if what != "the source" else "source_db_instance"))

    def by_resource_id(self, step: Step, resource_id: str) -> dict[str, Any] | None:
        found = (step.rds.cluster_by_resource_id(resource_id) if self.kind == "cluster"
                 else step.rds.instance_by_resource_id(resource_id))
        return dict(found) if found else None

    def writer(self, res: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "cluster":
            return {"Address": res["Endpoint"], "Port": res["Port"]}
        return dict(res["Endpoint"])

    def reader(self, res: dict[str, Any]) -> dict[str, Any] | None:
        return {"Address": res["ReaderEndpoint"], "Port": res["Port"]} if self.kind == "cluster" else None

    def record(self, step: Step, role: str, res: dict[str, Any] | None) -> None:
        """blue_instance / blue_dbi_resource_id / blue_arn (instances) or blue_cluster / blue_cluster_resource_id /
        blue_cluster_arn (clusters): the keys step 06 of the instance and cluster flows act on."""
        if res is None:
            return
        prefix, rid = self.ids["name"], self.ids["rid"]
        step.identifiers.update({f"{role}_{prefix}": res[self.name_key], f"{role}_{rid}": res[self.rid_key],
                                 f"{role}_{self.ids['arn']}": res[self.arn_key]})


INSTANCE = Shape("instance", "DBInstanceIdentifier", "DBInstanceArn", "DbiResourceId",
                 {"name": "instance", "rid": "dbi_resource_id", "arn": "arn"})
CLUSTER = Shape("cluster", "DBClusterIdentifier", "DBClusterArn", "DbClusterResourceId",
                {"name": "cluster", "rid": "cluster_resource_id", "arn": "cluster_arn"})


def shape(step: Step) -> Shape:
    return CLUSTER if step.params.source_db_cluster else INSTANCE


def _tls(step: Step) -> TlsSettings:
    return tls_settings(step.params)


def _connect(step: Step, endpoint: dict[str, Any], database: str) -> psycopg.Connection[Any]:
    return pg.connect(endpoint, step.params.db_user, step.password(), database, _tls(step))


def _databases(step: Step, endpoint: dict[str, Any]) -> list[str]:
    with _connect(step, endpoint, "postgres") as conn:
        return [d for d in readiness.databases(conn) if d not in SKIP_DATABASES]


def _green_group(step: Step) -> str:
    p = step.params
    return str(p.green_cluster_parameter_group) if shape(step).kind == "cluster" else p.green_parameter_group


def _group(step: Step, name: str) -> tuple[dict[str, Any] | None, Parameters | None]:
    """(the group, its parameters) for green's (cluster) parameter group; (None, None) when it does not exist."""
    if shape(step).kind == "cluster":
        found = step.rds.find_cluster_parameter_group(name)
        return (dict(found), step.rds.cluster_parameters(name)) if found else (None, None)
    group = step.rds.find_parameter_group(name)
    return (dict(group), {k: dict(v) for k, v in step.rds.parameters(name).items()}) if group else (None, None)


def _blue_parameters(step: Step, src: dict[str, Any]) -> Parameters:
    if shape(step).kind == "cluster":
        return step.rds.cluster_parameters(str(src["DBClusterParameterGroup"]))
    name = src["DBParameterGroups"][0]["DBParameterGroupName"]
    return {k: dict(v) for k, v in step.rds.parameters(name).items()}


def _major(version: str) -> str:
    return version.split(".")[0]


def _record(step: Step, records: list[CheckRecord], acknowledged: list[str] | None = None) -> None:
    """Each record as a check of the step; a failed rule listed in `acknowledged` (step 01:
    acknowledge_precheck_errors) is recorded as a warning that says it was accepted."""
    for r in records:
        if r["result"] == "fail" and r["id"] in (acknowledged or []):
            step.check(r["id"], "warn", {**r["evidence"], "acknowledged": "acknowledge_precheck_errors"},
                       r["remediation"])
            continue
        step.check(r["id"], r["result"], r["evidence"], r["remediation"])


# -- 01 -------------------------------------------------------------------------------------------------------
def check(step: Step) -> dict[str, Any]:
    """Every PostgreSQL prerequisite, against the live source (every database) and the groups; raises before any
    change on a hard failure."""
    p = step.params
    sh = shape(step)
    src = sh.describe(step, sh.source_name(step))
    engine, version = str(src["Engine"]), str(src["EngineVersion"])
    step.identifiers.update({f"source_{sh.ids['arn']}": src[sh.arn_key], f"source_{sh.ids['rid']}": src[sh.rid_key],
                             "source_engine": engine, "source_engine_version": version})
    try:
        how: method.Method = method.replication_method(engine, version, p.target_engine_version)
        step.check("replicationMethod", "pass", {"engine": engine, "source": version,
                                                 "target": p.target_engine_version, "replication": how})
    except RunbookError as exc:
        how = "logical"
        step.check("replicationMethod", "fail", {"engine": engine, "source": version,
                                                 "target": p.target_engine_version}, str(exc))
    step.identifiers["replication_method"] = how
    targets = [t["EngineVersion"] for t in step.rds.valid_upgrade_targets(engine, version)]
    ok = p.target_engine_version == version or p.target_engine_version in targets
    step.check("targetVersion", "pass" if ok else "fail",
               {"source": version, "target": p.target_engine_version, "valid_upgrade_targets": targets},
               None if ok else f"{p.target_engine_version} is not a valid upgrade target of {engine} {version}: "
               f"choose one of {', '.join(targets) or '(none)'} for target_engine_version.")
    group_name = _green_group(step)
    group, green_params = _group(step, group_name)
    family = str((group or {}).get("DBParameterGroupFamily") or "")
    want = f"{'aurora-postgresql' if engine == 'aurora-postgresql' else 'postgres'}{_major(p.target_engine_version)}"
    key = "green_cluster_parameter_group" if sh.kind == "cluster" else "green_parameter_group"
    step.check("greenParameterGroup", "pass" if group and family == want else "fail",
               {key: group_name, "exists": group is not None, "family": family or None, "needed_family": want},
               None if group and family == want else
               f"Create {'DB cluster' if sh.kind == 'cluster' else 'DB'} parameter group {group_name} of family "
               f"{want} (with rds.logical_replication = 1 when green replicates logically) or name one in {key}.")
    if sh.kind == "cluster":
        _instance_group_check(step, want)
    blue_params = _blue_parameters(step, src)
    endpoint = sh.writer(src)
    accepted = p.acknowledge_precheck_errors
    _record(step, readiness.blue_checks(lambda name: _connect(step, endpoint, name), how, engine, blue_params,
                                        green_params), accepted)
    _record(step, readiness.green_checks(green_params, None, how, engine), accepted)
    if sh.kind == "cluster":
        _record(step, [aurora_readiness.iam_permissions(step.clients.sts, step.clients.iam)])
    else:
        iam_permissions.iam_permissions(step)
    title = "Aurora PostgreSQL" if sh.kind == "cluster" else "RDS for PostgreSQL"
    display.table(step.checks, ["id", "result", "evidence", "remediation"], title=f"Prerequisites ({title})")
    hard = [c for c in step.checks if c["result"] == "fail"]
    if hard:
        raise RunbookError("Prerequisites failed: " + "; ".join(
            f"{c['id']}: {c['remediation'] or c['evidence']}" for c in hard) + ". Nothing was changed.")
    return {"source": src, "replication": how}


def _instance_group_check(step: Step, family: str) -> None:
    """Aurora: green's instances get green_parameter_group when it exists in the target's family, else the
    target family's default DB parameter group (TargetDBParameterGroupName is optional)."""
    name = step.params.green_parameter_group
    group = step.rds.find_parameter_group(name)
    used = bool(group) and str((group or {}).get("DBParameterGroupFamily")) == family
    step.check("greenInstanceParameterGroup", "pass" if used else "warn",
               {"green_parameter_group": name, "exists": group is not None, "used": used, "family": family},
               None if used else f"{name} is not a DB parameter group of family {family}: green's instances get "
               f"the default DB parameter group of {family}. Name one of that family in green_parameter_group to "
               "choose their instance-level parameters.")


# -- 02 -------------------------------------------------------------------------------------------------------
def degraded(deployment: BlueGreenDeployment | None) -> bool:
    return deployment is not None and guard.replication_degraded(deployment.get("StatusDetails"))["result"] == "fail"


def _green_name(deployment: BlueGreenDeployment) -> str | None:
    return str(deployment.get("Target") or "").split(":")[-1] or None


def replacement(step: Step) -> list[str]:
    """Names to confirm before step 02 may delete a deployment that cannot be switched over (replication degraded,
    or failed) with its green, and create it anew; empty when there is nothing to replace."""
    existing = step.rds.find_deployment(step.params.deployment_name)
    if existing is None or not (existing["Status"] in FAILED_STATES or
                                (existing["Status"] == "AVAILABLE" and degraded(existing))):
        return []
    green = _green_name(existing)
    return [step.params.deployment_name] + ([green] if green else [])


def ensure_deployment(step: Step) -> BlueGreenDeployment | None:
    p = step.params
    sh = shape(step)
    src = sh.describe(step, sh.source_name(step))
    existing = step.rds.find_deployment(p.deployment_name)
    if existing and (existing["Status"] in FAILED_STATES or (existing["Status"] == "AVAILABLE" and degraded(existing))):
        _replace(step, existing)
        existing = None
    if existing:
        switched = existing["Status"] == "SWITCHOVER_COMPLETED" and existing.get("Target") == src[sh.arn_key]
        if existing["Source"] != src[sh.arn_key] and not switched:
            raise RunbookError(f"A blue/green deployment named {p.deployment_name} already exists for another source "
                               f"({existing['Source']}). Choose another deployment_name or delete that deployment.")
        display.note(f"Deployment **{p.deployment_name}** already exists ({existing['Status']}): reusing it, nothing "
                     "new is created.")
        blue = src if not switched else sh.find(step, str(existing["Source"]).split(":")[-1])
        sh.record(step, "blue", blue)
        step.identifiers["deployment_id"] = existing["BlueGreenDeploymentIdentifier"]
        step.check("deploymentReused", "pass", {"status": existing["Status"],
                                                "StatusDetails": existing.get("StatusDetails")})
        return existing
    _prepare_probe(step, src)
    sh.record(step, "blue", src)
    tags = [{"Key": "created-by", "Value": "bluegreen-runbook"}, {"Key": "run-id", "Value": step.run.run_id}]
    if sh.kind == "cluster":
        instance_group = p.green_parameter_group if any(
            c["id"] == "greenInstanceParameterGroup" and c["result"] == "pass" for c in _step01_checks(step)) else None
        created = step.rds.create_cluster_deployment(p.deployment_name, src[sh.arn_key], p.target_engine_version,
                                                     _green_group(step), instance_group, tags=tags)
    else:
        created = step.rds.create_deployment(p.deployment_name, src[sh.arn_key], p.target_engine_version,
                                             _green_group(step), tags=tags)
    if created is None:
        display.note(f"Dry run: would create deployment {p.deployment_name} from {sh.source_name(step)} to "
                     f"{p.target_engine_version} with {_green_group(step)}.")
        return None
    step.identifiers["deployment_id"] = created["BlueGreenDeploymentIdentifier"]
    step.changed("created blue/green deployment", deployment_id=created["BlueGreenDeploymentIdentifier"],
                 engine_version=p.target_engine_version, parameter_group=_green_group(step))
    return created


def _step01_checks(step: Step) -> list[dict[str, Any]]:
    """Step 01's checks as this run recorded them (none: treated as not passed)."""
    data = step.run.read_step("01") or {}
    checks = data.get("checks")
    return [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []


def _prepare_probe(step: Step, src: dict[str, Any]) -> None:
    """The probe's heartbeat table and the switchover marker sequence on blue, before the deployment exists
    (created later they would be DDL on blue: RDS would degrade the replication)."""
    p = step.params
    if p.dry_run:
        display.note(f"Dry run: would create {SCHEMA}.heartbeat and {MARKER} in {p.probe_database} on blue.")
        return
    endpoint = shape(step).writer(src)
    probe = PgProbe(Target(str(endpoint["Address"]), int(endpoint["Port"]), p.db_user, step.password(),
                           p.probe_database, tls_settings=_tls(step)), run_id=step.run.run_id)
    probe.prepare()
    with _connect(step, endpoint, p.probe_database) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MARKER,)).fetchone()
        if not (exists and exists[0]):
            conn.execute(f"CREATE SEQUENCE {MARKER}")
            step.changed("created the probe's heartbeat table and switchover marker on blue",
                         database=p.probe_database, objects=[f"{SCHEMA}.heartbeat", MARKER])


def _replace(step: Step, existing: BlueGreenDeployment) -> None:
    """A deployment whose green is replication-degraded (DDL or a large object on blue) or failed cannot be
    switched over: delete it with its green (DeleteTarget=true; blue, production, is untouched) and create it anew.
    Both deletions need a confirmation naming them; green is checked against the recorded resource id."""
    p = step.params
    sh = shape(step)
    ident = str(existing["BlueGreenDeploymentIdentifier"])
    green_name = _green_name(existing)
    green = sh.find(step, green_name) if green_name else None
    recorded = history.recorded(history.about(ident), f"green_{sh.ids['rid']}")
    if green is not None and recorded and recorded[0] != green[sh.rid_key]:
        raise RunbookError(f"Deployment {p.deployment_name} names {green_name} ({green[sh.rid_key]}) as its green, but "
                           f"{recorded[0]} was recorded ({recorded[1].run_id}). Nothing was deleted.")
    why = existing.get("StatusDetails") or existing["Status"]
    display.note(f"Deployment {p.deployment_name} cannot be switched over: {why}.", "warning")
    step.check("deploymentReplicating", "fail", {"status": existing["Status"], "StatusDetails": why},
               guard.RECREATE)
    gates.require_replacement(p, p.deployment_name, green_name if green else None, existing["Status"], why,
                              step.confirmations, green_word="green")
    step.identifiers.update({"replaced_deployment_id": ident, f"replaced_green_{sh.ids['name']}": green_name,
                             f"replaced_green_{sh.ids['rid']}": green and green[sh.rid_key]})
    if step.rds.delete_deployment(ident, delete_target=True) is None:
        display.note(f"Dry run: would delete {p.deployment_name} ({ident}) with its green, then create it anew.")
        return
    step.changed("deleted blue/green deployment with its green", deployment_id=ident, green=green_name,
                 reason=why)
    rid = green[sh.rid_key] if green else None
    wait_until(lambda: (step.rds.find_deployment(p.deployment_name), sh.by_resource_id(step, rid) if rid else None),
               lambda pair: pair[0] is None and pair[1] is None,
               what=f"deletion of {p.deployment_name} and {green_name}",
               state_of=lambda pair: f"deployment {'gone' if pair[0] is None else pair[0]['Status']}, green "
                                     f"{'gone' if pair[1] is None else 'still there'}",
               timeout_s=step.wait_s(3600))
    display.note(f"Deleted {p.deployment_name} and its green {green_name}; creating it anew.", "ok")


def wait_available(step: Step, deployment: BlueGreenDeployment | None) -> BlueGreenDeployment | None:
    if deployment is None:
        return None
    p = step.params
    sh = shape(step)
    ident = str(deployment["BlueGreenDeploymentIdentifier"])
    final = wait_until(lambda: step.rds.deployment(ident),
                       lambda d: d["Status"] in ("AVAILABLE", "SWITCHOVER_COMPLETED", "INVALID_CONFIGURATION"),
                       what=f"deployment {p.deployment_name}",
                       state_of=lambda d: f"{d['Status']} " + " ".join(
                           f"{t['Name'].split('_')[0].lower()}:{t['Status'][:4]}" for t in d.get("Tasks", [])),
                       failed=lambda d: (d.get("StatusDetails") or d["Status"])
                       if d["Status"] == "SWITCHOVER_FAILED" else None,
                       timeout_s=step.wait_s(7200))
    display.table(final.get("Tasks", []), ["Name", "Status"], title="Deployment tasks")
    display.events(step.rds.events("blue-green-deployment", ident), "Deployment events")
    step.identifiers.update(deployment_id=ident, green_arn=final.get("Target"))
    if final["Status"] == "INVALID_CONFIGURATION":
        step.check("deploymentCreation", "fail", {"status": final["Status"], "details": final.get("StatusDetails")},
                   f"Creating green failed: step 04 reads {PRECHECK_LOG} when RDS wrote one (runbook run --params … "
                   "--from 04). Fix blue, then re-run step 02: it deletes the failed deployment with its green once "
                   "confirm_delete names both, and creates it anew.")
        step.findings["creation_failed"] = {"status": final["Status"], "details": final.get("StatusDetails")}
        raise RunbookError(f"Creating {p.deployment_name} failed: {final.get('StatusDetails') or final['Status']}. "
                           f"Step 04 reads {PRECHECK_LOG} if RDS wrote one.")
    if final["Status"] == "AVAILABLE":
        green = sh.find(step, _green_name(final) or "")
        sh.record(step, "green", green)
        _baseline(step, final)
    return final


# -- the guard's baselines ------------------------------------------------------------------------------------
def _replication(step: Step, deployment: BlueGreenDeployment) -> method.Method:
    """How this deployment replicates: from blue's engine and version and green's version."""
    sh = shape(step)
    blue = sh.find(step, str(deployment["Source"]).split(":")[-1])
    green = sh.find(step, _green_name(deployment) or "")
    if blue is None:
        return "logical"
    return method.replication_method(str(blue["Engine"]), str(blue["EngineVersion"]),
                                     str((green or blue)["EngineVersion"]))


def _fingerprints(step: Step, endpoint: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in _databases(step, endpoint):
        with _connect(step, endpoint, name) as conn:
            out[name] = {"catalog": guard.catalog_fingerprint(conn),
                         "large_objects": guard.large_object_fingerprint(conn)}
    return out


def _baseline(step: Step, deployment: BlueGreenDeployment) -> None:
    """Blue's catalog and large-object fingerprints of every database, right after the deployment became available
    (logical replication only); kept once per deployment (a re-run keeps the first, so nothing done since hides)."""
    ident = str(deployment["BlueGreenDeploymentIdentifier"])
    how = _replication(step, deployment)
    step.identifiers["replication_method"] = how
    if how != "logical":
        step.findings["guard_baseline"] = {"deployment_id": ident, "not_applicable": f"{how} replication carries "
                                           "DDL and large objects to green"}
        return
    earlier = _recorded_baseline(ident)
    if earlier is not None:
        display.note(f"The guard's baseline of {ident} was recorded by run {earlier[1]} ({earlier[0]['taken_at']}): "
                     "kept, so that changes since then stay visible.")
        return
    sh = shape(step)
    blue = sh.describe(step, str(deployment["Source"]).split(":")[-1], "the deployment's source")
    prints = _fingerprints(step, sh.writer(blue))
    step.findings["guard_baseline"] = {"deployment_id": ident, "taken_at": datetime.now(timezone.utc).isoformat(
        timespec="seconds"), "databases": prints}
    step.check("guardBaseline", "pass", {"databases": {d: {"objects": len(v["catalog"]),
                                                           "large_objects": len(v["large_objects"])}
                                                       for d, v in prints.items()}})
    display.note(f"Recorded blue's schema and large objects ({', '.join(prints)}) for the guard: step 05 blocks the "
                 "switchover if either changes before it.", "ok")


def _recorded_baseline(deployment_id: str) -> tuple[dict[str, Any], str] | None:
    for rec in history.about(deployment_id):
        found = (rec.data.get("findings") or {}).get("guard_baseline")
        if isinstance(found, dict) and found.get("deployment_id") == deployment_id and found.get("databases"):
            return found, rec.run_id
    return None


# -- 03 and 04 ------------------------------------------------------------------------------------------------
def upgrade_green(step: Step) -> dict[str, Any]:
    """The version is set when the deployment is created: verify green runs it; nothing else applies."""
    p = step.params
    sh = shape(step)
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is None and p.dry_run:
        display.note("Dry run: the deployment was only planned; green's version is given at its creation.")
        return {"outcome": "dry-run"}
    if deployment is None:
        raise RunbookError(f"No blue/green deployment named {p.deployment_name} exists. Run step 02 first.")
    if deployment["Status"] == "INVALID_CONFIGURATION":
        step.check("greenVersion", "fail", {"deployment": deployment["Status"],
                                            "details": deployment.get("StatusDetails")},
                   f"Creating green failed: step 04 reads {PRECHECK_LOG} when RDS wrote one.")
        return {"outcome": "cancelled"}
    name = sh.source_name(step) if deployment["Status"] == "SWITCHOVER_COMPLETED" else _green_name(deployment) or ""
    green = sh.describe(step, name, "the deployment's target")
    ok = green["EngineVersion"] == p.target_engine_version
    step.check("greenVersion", "pass" if ok else "fail",
               {"green": green[sh.name_key], "engine_version": green["EngineVersion"],
                "target": p.target_engine_version, "upgraded_at": "creation (TargetEngineVersion)"},
               None if ok else "Green is not on the target version: delete the deployment with its green and create "
               "it again with target_engine_version.")
    step.check("greenUpgrade", "skip", {"not_applicable": "PostgreSQL: the target version is given when the "
                                                          "deployment is created; there is no upgrade of green to run"})
    if not ok:
        raise RunbookError(f"Green {green[sh.name_key]} runs {green['EngineVersion']}, not {p.target_engine_version}.")
    display.note(f"Green {green[sh.name_key]} runs {green['EngineVersion']}: set when the deployment was created; "
                 "nothing to do in this step.", "ok")
    return {"outcome": "upgraded", "version": green["EngineVersion"]}


def read_precheck_log(step: Step) -> dict[str, Any]:
    """pg_upgrade_precheck.log of green when the creation failed; otherwise not applicable (PostgreSQL writes no
    PrePatchCompatibility.log)."""
    p = step.params
    sh = shape(step)
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is None or deployment["Status"] != "INVALID_CONFIGURATION":
        step.check("precheckLog", "skip", {"not_applicable": "PostgreSQL has no PrePatchCompatibility.log; RDS "
                                                             f"writes {PRECHECK_LOG} only when a major version "
                                                             "upgrade's precheck fails, and the deployment was not "
                                                             "refused"})
        display.note("Not applicable for PostgreSQL: the deployment was created on the target version, so there is no "
                     "upgrade precheck log to read.")
        return {"not_applicable": True}
    green = sh.find(step, _green_name(deployment) or "")
    if green is None:
        raise RunbookError(f"Deployment {p.deployment_name} failed and has no green to read {PRECHECK_LOG} from; "
                           "read its events.")
    instance = (cluster_flow._writer_name(green) or "") if sh.kind == "cluster" else str(green[sh.name_key])
    files = [f for f in step.rds.log_files(instance) if PRECHECK_LOG in f["LogFileName"]]
    if not files:
        step.check("precheckLogPresent", "fail", {"instance": instance},
                   f"{instance} has no {PRECHECK_LOG}: read the deployment's and green's events.")
        raise RunbookError(f"Creating {p.deployment_name} failed but {instance} has no {PRECHECK_LOG}.")
    name = files[-1]["LogFileName"]
    text = step.rds.download_log(instance, name)
    problems = [line.strip() for line in text.splitlines()
                if any(w in line.lower() for w in ("fail", "error", "fatal"))]
    step.check("precheckLogPresent", "pass", {"instance": instance, "file": name, "bytes": len(text.encode())})
    step.findings["precheck_log"] = {"file": name, "lines": len(text.splitlines()), "problems": problems[:50]}
    display.preformatted(text, title=f"{instance}: {name} (as RDS wrote it)")
    return {"instance": instance, "name": name, "text": text, "postgresql": True}


def fixes(step: Step, log: dict[str, Any]) -> dict[str, Any]:
    if not log.get("text"):
        return {"outcome": "nothing-to-fix"}
    raise RunbookError(f"RDS refused green's major version upgrade: fix on {shape(step).source_name(step)} what "
                       f"{log.get('name')} names, then re-run step 02 (it deletes the failed deployment with its "
                       "green once confirm_delete names both, and creates it anew).")


# -- 05 -------------------------------------------------------------------------------------------------------
def guardrails(step: Step) -> list[dict[str, Any]]:
    """Blocks with the reason, before any switchover call: RDS's StatusDetails, DDL and large-object changes on
    blue since creation (logical replication), green available."""
    p = step.params
    sh = shape(step)
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is None and p.dry_run:
        step.check("pgGuard", "skip", {"dry_run": "no deployment exists yet"})
        return step.checks
    if deployment is None:
        raise RunbookError(f"No blue/green deployment named {p.deployment_name} exists. Run step 02 first.")
    if deployment["Status"] in ("SWITCHOVER_COMPLETED", "SWITCHOVER_IN_PROGRESS"):
        display.note(f"The switchover is already {deployment['Status'].split('_', 1)[1].lower().replace('_', ' ')} "
                     "(a re-run): no guardrail to check.")
        step.findings["preflight"] = "not needed"
        return []
    ident = str(deployment["BlueGreenDeploymentIdentifier"])
    gates.bind_switchover_click(step, ident)
    records = [guard.replication_degraded(deployment.get("StatusDetails"))]
    available = deployment["Status"] == "AVAILABLE"
    records.append({"id": "deploymentAvailable", "result": "pass" if available else "fail",
                    "evidence": {"status": deployment["Status"]},
                    "remediation": None if available else "Wait until the deployment is AVAILABLE (step 02)."})
    green = sh.find(step, _green_name(deployment) or "")
    green_ok = green is not None and str(green.get("Status") or green.get("DBInstanceStatus")) == "available"
    records.append({"id": "greenAvailable", "result": "pass" if green_ok else "fail",
                    "evidence": {"green": green and green[sh.name_key],
                                 "status": green and (green.get("Status") or green.get("DBInstanceStatus"))},
                    "remediation": None if green_ok else "Green is not available: read its events."})
    how = _replication(step, deployment)
    if how == "logical":
        records += _since_creation(step, deployment, ident)
    else:
        step.check("pgNoDdlOnBlue", "skip", {"not_applicable": f"{how} replication carries DDL and large objects to "
                                                               "green"})
    _record(step, records)
    display.table(step.checks, ["id", "result", "evidence", "remediation"], title="Switchover guard (PostgreSQL)")
    hard = [c for c in step.checks if c["result"] == "fail"]
    if hard:
        step.findings["preflight"] = "blocked"
        raise RunbookError("Switchover blocked: " + "; ".join(
            f"{c['id']}: {c['remediation'] or c['evidence']}" for c in hard) + ". Nothing was changed.")
    step.findings["preflight"] = "passed"
    return step.checks


def _since_creation(step: Step, deployment: BlueGreenDeployment, ident: str) -> list[CheckRecord]:
    found = _recorded_baseline(ident)
    if found is None:
        return [{"id": "pgNoDdlOnBlue", "result": "fail", "evidence": {"deployment_id": ident, "baseline": None},
                 "remediation": "No run recorded the guard's baseline for this deployment, so DDL on blue since its "
                                "creation cannot be ruled out. Re-run step 02 (it records one), or delete the "
                                "deployment with its green and recreate it."}]
    baseline, _run = found
    sh = shape(step)
    blue = sh.describe(step, str(deployment["Source"]).split(":")[-1], "the deployment's source")
    endpoint = sh.writer(blue)
    before: dict[str, Any] = baseline["databases"]
    now = _fingerprints(step, endpoint)
    out: list[CheckRecord] = []
    for name in sorted(set(before) | set(now)):
        if name not in before or name not in now:
            out.append({"id": "pgNoDdlOnBlue", "result": "fail",
                        "evidence": {"database": name, "created" if name in now else "dropped": name},
                        "remediation": f"Database {name} was {'created' if name in now else 'dropped'} on blue after "
                                       f"the deployment was created. {guard.RECREATE}"})
            continue
        out.append(guard.ddl_since_creation(before[name]["catalog"], now[name]["catalog"], name))
        out.append(guard.large_objects_since_creation(before[name]["large_objects"], now[name]["large_objects"],
                                                      name))
    return readiness.merge(out)


class PgReadWatch(cluster_flow.ReadWatch):
    """Reads through the reader endpoint (a new psycopg connection each time) while the switchover runs."""

    def _read(self) -> None:
        with pg.connect(self.endpoint, self.user, self.password, "postgres", self.tls, timeout=2) as conn:
            conn.execute("SELECT 1")


def switch_over(step: Step) -> dict[str, Any]:
    """The gate, the probe on the writer endpoint (and a read watch on a cluster's reader endpoint), the switchover,
    and right after it a write on the new production proving its sequences are ahead."""
    p = step.params
    sh = shape(step)
    timeout = step.wait_s(p.switchover_timeout_s + 3600)
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is None and p.dry_run:
        gates.require_switchover(p, p.deployment_name, step.confirmations)
        step.rds.plan("switchover_blue_green_deployment", BlueGreenDeploymentIdentifier=f"<id of {p.deployment_name}>",
                      SwitchoverTimeout=p.switchover_timeout_s)
        display.note("Dry run: would switch over (planned call recorded).")
        return {"outcome": "dry-run", "observation": switchover._not_observed("dry run: no switchover was made")}
    if deployment is None:
        raise RunbookError(f"No blue/green deployment named {p.deployment_name} exists. Run step 02 first.")
    ident = str(deployment["BlueGreenDeploymentIdentifier"])
    if deployment["Status"] == "SWITCHOVER_COMPLETED":
        result = _conclude(step, deployment, None, None)
        result["outcome"] = "already-switched"
        return result
    if deployment["Status"] == "SWITCHOVER_IN_PROGRESS":
        display.note(f"A switchover of {p.deployment_name} is already under way (an earlier run): waiting for it. This "
                     "run's probe did not watch it from the start.", "warning")
        return _conclude(step, switchover._wait(step, ident, None, timeout), None, None)
    if deployment["Status"] != "AVAILABLE":
        raise RunbookError(switchover._failed_message(p.deployment_name, deployment))
    switchover.require_cleared(step)
    if p.dry_run:
        step.rds.switchover(ident, p.switchover_timeout_s)
        display.note(f"Dry run: would switch over {p.deployment_name}.")
        return {"outcome": "dry-run", "observation": switchover._not_observed("dry run: no switchover was made")}
    prod = sh.describe(step, sh.source_name(step))
    writer = sh.writer(prod)
    folder = step.run.path / switchover.PROBE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    probe = PgProbe(Target(str(writer["Address"]), int(writer["Port"]), p.db_user, step.password(), p.probe_database,
                           tls_settings=_tls(step)),
                    interval_ms=p.probe_interval_ms, run_id=step.run.run_id, slow_ms=p.probe_slow_ms,
                    journal=folder / switchover.JOURNAL)
    reader = sh.reader(prod)
    reads = PgReadWatch(reader, p.db_user, step.password(), p.probe_interval_ms / 1000, _tls(step)) if reader else None
    probe.start()
    step.on_failure.append(lambda: switchover._stop_and_save(step, probe))
    if reads:
        reads.start()
    sequences: dict[str, Any] = {}
    try:
        if not probe.wait_for_baseline():
            raise RunbookError(f"The probe could not read and write through {writer['Address']}:{writer['Port']} before "
                               f"the switchover: {probe.snapshot()[-1].error}. Nothing was changed.")
        step.findings["probe"] = {"state": "running", "started": switchover._iso(probe.started_at),
                                  "journal": f"{switchover.PROBE_FOLDER}/{switchover.JOURNAL}",
                                  "endpoint": f"{writer['Address']}:{writer['Port']}", "interval_ms": p.probe_interval_ms}
        marker = _advance_marker(step, writer)
        step.crash_point("before-switchover")
        requested = datetime.now(timezone.utc)
        step.rds.switchover(ident, p.switchover_timeout_s)
        step.changed("requested switchover", deployment_id=ident, timeout_s=p.switchover_timeout_s,
                     probe_journal=f"{switchover.PROBE_FOLDER}/{switchover.JOURNAL}")
        final = switchover._wait(step, ident, requested, timeout)
        completed_seen = time.time()
        if final["Status"] == "SWITCHOVER_COMPLETED":
            sequences = _write_after_switchover(step, writer, marker)
            switchover._settle(probe, completed_seen, 2.0)
    finally:
        step.on_failure.clear()
        switchover._stop_and_save(step, probe)
        read_figures = reads.stop() if reads else None
    result = _conclude(step, final, requested, completed_seen)
    result.update(reads=read_figures, sequences=sequences)
    return result


def _advance_marker(step: Step, endpoint: dict[str, Any]) -> int | None:
    """nextval of the runbook's marker sequence on blue, right before the switchover (a write on blue's data)."""
    with _connect(step, endpoint, step.params.probe_database) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MARKER,)).fetchone()
        if not (exists and exists[0]):
            return None
        value = None
        for _ in range(3):
            row = conn.execute("SELECT nextval(%s)", (MARKER,)).fetchone()
            value = int(row[0]) if row else None
    return value


def _write_after_switchover(step: Step, endpoint: dict[str, Any], marker: int | None) -> dict[str, Any]:
    """Right after SWITCHOVER_COMPLETED: nextval of the marker on the new production must be past the value blue
    handed out last (RDS synced the sequences), and a row written with it must commit."""
    at = time.time()
    deadline = at + 30
    while True:
        try:
            with _connect(step, endpoint, step.params.probe_database) as conn:
                row = conn.execute("SELECT nextval(%s), pg_is_in_recovery()", (MARKER,)).fetchone()
            break
        except psycopg.Error as exc:
            if time.time() > deadline:
                return {"observed": False, "reason": f"no write succeeded on the new production within 30 s: {exc}"}
            time.sleep(0.1)
    value = int(row[0]) if row else None
    ahead = marker is not None and value is not None and value > marker
    return {"observed": marker is not None, "blue_last_value": marker, "new_production_nextval": value,
            "ahead": ahead if marker is not None else None, "seconds_after_completed": round(time.time() - at, 3),
            "reason": None if marker is not None else f"{MARKER} does not exist on blue (created by step 02)"}


def _conclude(step: Step, final: BlueGreenDeployment, requested: datetime | None,
              completed_seen: float | None) -> dict[str, Any]:
    p = step.params
    sh = shape(step)
    ident = str(final["BlueGreenDeploymentIdentifier"])
    display.events(step.rds.events("blue-green-deployment", ident, requested), "Switchover events")
    if final["Status"] != "SWITCHOVER_COMPLETED":
        step.findings["switchover"] = {"status": final["Status"], "details": final.get("StatusDetails"),
                                       "requested": switchover._iso(requested)}
        step.findings["downtime"] = switchover._not_observed_figures(switchover.FIGURES,
                                                                     "the switchover did not complete")
        step.save()
        raise RunbookError(f"The switchover of {p.deployment_name} did not complete: {final['Status']} "
                           f"({final.get('StatusDetails')}). Blue is still production; see the events above.")
    new_prod = sh.describe(step, sh.source_name(step))
    old = sh.find(step, str(final["Source"]).split(":")[-1])
    completed_event = switchover._completion_event(step, ident)
    sh.record(step, "old", old)
    step.identifiers.update({"deployment_id": ident, f"new_production_{sh.ids['rid']}": new_prod[sh.rid_key],
                             "switchover_completed_at": switchover._iso(completed_event or completed_seen)})
    step.findings["switchover"] = {"status": final["Status"], "new_production_version": new_prod["EngineVersion"],
                                   "requested": switchover._iso(requested),
                                   "completed_event": switchover._iso(completed_event),
                                   "completed_seen": switchover._iso(completed_seen)}
    step.save()
    if requested is None:
        observation = switchover._observation_of_earlier_run(step, ident, completed_event)
    else:
        journal = step.run.path / switchover.PROBE_FOLDER / switchover.JOURNAL
        observation = switchover._observation(journal, step.run.run_id, requested, completed_seen, completed_event)
    return {"outcome": "switched", "deployment": final, "observation": observation, "old": old}


def report(step: Step, result: dict[str, Any]) -> dict[str, Any] | None:
    """Downtime, zero-loss proof, sequences ahead, then the ANALYZE / REFRESH reminders (and running them)."""
    p = step.params
    sh = shape(step)
    observation = result.get("observation") or switchover._not_observed("no switchover result")
    step.findings["observation"] = observation
    out: dict[str, Any] | None = None
    if not observation.get("observed"):
        reason = str(observation.get("reason"))
        step.findings["downtime"] = switchover._not_observed_figures(switchover.FIGURES, reason)
        step.findings["zero_loss"] = switchover._not_observed_figures(switchover.LOSS_FIGURES, reason)
        step.save()
        display.table([{"measure": "writes unavailable", "value": "not observed"},
                       {"measure": "lost writes", "value": "not observed"}, {"measure": "why", "value": reason}],
                      title="Downtime and zero-loss proof: NOT OBSERVED")
        display.note(f"No downtime or zero-loss figure is recorded for this switchover: {reason}.", "warning")
    else:
        out = _measured(step, observation, result.get("reads"))
    if result.get("outcome") in ("dry-run",) or p.dry_run:
        return out
    prod = sh.describe(step, sh.source_name(step))
    _sequences(step, result, prod)
    _maintenance(step, sh.writer(prod))
    return out


def _measured(step: Step, observation: dict[str, Any], reads: dict[str, Any] | None) -> dict[str, Any]:
    """The zero-loss proof on the new production (psycopg), recorded and shown as for MySQL."""
    sh = shape(step)
    data = probe_report.load_journal(step.run.path.parent / str(observation["journal"]))
    prod = sh.describe(step, sh.source_name(step))
    with _connect(step, sh.writer(prod), step.params.probe_database) as conn:
        proof = zero_loss_of(data, conn)
    return switchover.record_measured(step, observation, data, proof, reads)


def _last_values(conn: psycopg.Connection[Any]) -> dict[str, int | None]:
    return {str(r[0]): (None if r[1] is None else int(r[1])) for r in conn.execute(
        "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences").fetchall()}


def _sequences(step: Step, result: dict[str, Any], prod: dict[str, Any]) -> None:
    """The write right after the switchover (marker), and every sequence of the new production compared with the
    old blue's (read-only now, still there until step 06): never behind."""
    sh = shape(step)
    write = result.get("sequences") or {"observed": False, "reason": "this run did not make the switchover"}
    old = result.get("old")
    behind: list[dict[str, Any]] = []
    missing: list[str] = []
    compared = 0
    if old is not None:
        for name in _databases(step, sh.writer(prod)):
            try:
                with _connect(step, sh.writer(old), name) as conn:
                    before = _last_values(conn)
            except psycopg.Error:
                continue  # not on the old blue (created since): nothing to compare
            with _connect(step, sh.writer(prod), name) as conn:
                now = _last_values(conn)
            for seq, value in before.items():
                if seq not in now:
                    missing.append(f"{name}: {seq}")  # not on the new production (e.g. a service's own schema)
                    continue
                compared += 1
                if value is not None and (now[seq] is None or int(now[seq] or 0) < value):
                    behind.append({"database": name, "sequence": seq, "old_blue": value, "new_production": now[seq]})
    step.findings["sequences"] = {"write_after_switchover": write, "compared": compared, "behind": behind[:50],
                                  "only_on_old_blue": missing[:50]}
    ok = not behind and write.get("ahead") is not False
    step.check("pgSequencesAhead", "pass" if ok else "fail",
               {"write_after_switchover": write, "compared_with_old_blue": compared, "behind": behind[:20],
                "only_on_old_blue": missing[:20]},
               None if ok else "Sequences on the new production are behind the old blue's: setval each listed "
               "sequence past the old blue's last_value before the application writes again.")
    display.note(f"Sequences: the write right after the switchover took {write.get('new_production_nextval')} (blue's "
                 f"last {write.get('blue_last_value')}); {compared} sequence(s) compared with the old blue, "
                 f"{len(behind)} behind.", "ok" if ok else "error")
    if not ok:
        raise RunbookError(f"Sequences behind on the new production: {behind[:5]}; a write would collide.")


def _maintenance(step: Step, endpoint: dict[str, Any]) -> None:
    """ANALYZE every database and REFRESH materialized views on the new production: reminded, and run when
    post_switchover_maintenance is 'run'."""
    p = step.params
    run = p.post_switchover_maintenance == "run"
    records: list[CheckRecord] = []
    done: dict[str, Any] = {}
    for name in _databases(step, endpoint):
        with _connect(step, endpoint, name) as conn:
            if run:
                refreshed = guard.refresh_materialized_views(conn)   # first: a refresh leaves a view without statistics
                guard.run_analyze(conn)
                done[name] = {"analyzed": True, "refreshed": refreshed}
                step.changed("ran ANALYZE and REFRESH MATERIALIZED VIEW on the new production", database=name,
                             refreshed=refreshed)
            records += [guard.statistics_missing(conn), _refresh_reminder(conn, done.get(name))]
    merged = readiness.merge(records)
    _record(step, merged)
    step.findings["after_switchover"] = {"mode": p.post_switchover_maintenance, "ran": done}
    display.table(merged, ["id", "result", "evidence", "remediation"], title="After the switchover (PostgreSQL)")
    if not run:
        display.note("Run ANALYZE in every database and REFRESH each materialized view on the new production, or set "
                     "post_switchover_maintenance: run and re-run this step.", "warning")


def _refresh_reminder(conn: psycopg.Connection[Any], done: dict[str, Any] | None) -> CheckRecord:
    if done is not None:
        views = [{"view": v, "refreshed": True} for v in done["refreshed"]]
        return {"id": "pgRefreshMaterializedViews", "result": "pass",
                "evidence": {"database": conn.info.dbname, "materialized_views": views}, "remediation": None}
    return guard.materialized_views_to_refresh(conn)


def green_groups(step: Step) -> dict[str, Any]:
    """Step 01's first cell: the MySQL flows plan green's 8.0 groups from blue's here; for PostgreSQL green's
    (cluster) parameter group is a rule of the checks (greenParameterGroup), with what to create when it is missing."""
    display.note(f"Green's parameter group {_green_group(step)} is checked with the prerequisites below "
                 "(greenParameterGroup: it must exist in the target version's family).")
    return {"status": "not-needed", "ready": True}


# The step functions the notebooks call (steps/flows.py). Step 05's side-by-side table (compare) and step 06 are
# the instance code of the step modules for an instance, the Aurora cluster flow's for a cluster.
_COMMON = {"green_groups": green_groups, "check": check, "replacement": replacement, "ensure_deployment": ensure_deployment,
           "wait_available": wait_available, "upgrade_green": upgrade_green, "read_precheck_log": read_precheck_log,
           "fix_and_retry": fixes, "check_guardrails": guardrails, "switch_over": switch_over, "report": report}
INSTANCE_STEPS = dict(_COMMON)
CLUSTER_STEPS = {**_COMMON, "compare": cluster_flow.STEPS["compare"], "resolve": cluster_flow.resolve,
                 "delete_deployment": cluster_flow.delete_deployment, "delete_old_blue": cluster_flow.delete_old_cluster}
