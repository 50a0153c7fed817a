"""Steps 01–06 for an Aurora MySQL cluster (`source_db_cluster`): what differs from an instance, behind the same
step functions the notebooks call (each step module hands over here when the parameters name a cluster).

01 runs the Aurora readiness rules (engines/aurora_mysql/readiness.py) and the 5.7 -> 8.0 prechecks on the writer;
02 creates the deployment with the target version and cluster parameter group (Aurora allows both at creation);
03 verifies green is on the target version; 04 has nothing to read when creation succeeded (*not applicable*);
05 probes the cluster endpoint (writes) and the reader endpoint (reads) through the switchover and proves zero loss;
06 deletes the deployment, then the old (`-oldN`) cluster's instances and the cluster with a final cluster snapshot,
acting only on the cluster whose resource id a run recorded as blue."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from runbook_lib.aws.types import BlueGreenDeployment
from runbook_lib.aws.waiting import wait_until
from runbook_lib.engines.aurora_mysql import readiness
from runbook_lib.engines.mysql import connection as db
from runbook_lib.engines.mysql import parameter_groups
from runbook_lib.engines.mysql.upgrade_checks import parse_log, render_text, run_prechecks
from runbook_lib.engines.mysql.upgrade_checks.explain import explain
from runbook_lib.errors import RunbookError
from runbook_lib.probe import report as probe_report
from runbook_lib.probe.mysql import Probe, Target
from runbook_lib.run import gates, history
from runbook_lib.run.context import Step
from runbook_lib.steps import switchover
from runbook_lib.ui import display

PROBE_FOLDER = "probe"
AURORA_PRECHECK_LOG = "upgrade-prechecks.log"   # Aurora User Guide AuroraMySQL.Upgrading.failure-events


def _endpoint(cluster: dict[str, Any], reader: bool = False) -> dict[str, Any]:
    return {"Address": cluster["ReaderEndpoint" if reader else "Endpoint"], "Port": cluster["Port"]}


def _writer_name(cluster: dict[str, Any]) -> str | None:
    return next((m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m["IsClusterWriter"]), None)


def _members(step: Step, cluster: dict[str, Any]) -> dict[str, str]:
    """Member name -> DbiResourceId."""
    out = {}
    for m in cluster.get("DBClusterMembers", []):
        inst = step.rds.find_instance(m["DBInstanceIdentifier"])
        if inst:
            out[m["DBInstanceIdentifier"]] = str(inst["DbiResourceId"])
    return out


# -- 01 ------------------------------------------------------------------------------------------------------
def check(step: Step) -> dict[str, Any]:
    p = step.params
    assert p.source_db_cluster and p.green_cluster_parameter_group
    cluster = step.rds.cluster(p.source_db_cluster)
    step.identifiers.update(source_cluster_arn=cluster["DBClusterArn"],
                            source_cluster_resource_id=cluster["DbClusterResourceId"],
                            source_engine_version=cluster["EngineVersion"], source_members=_members(step, cluster))
    params = step.rds.cluster_parameters(cluster["DBClusterParameterGroup"])
    # green's cluster group from blue's when it does not exist yet (check greenGroups); JupyterLab waits for the click
    groups = parameter_groups.offer_confirmed(step) if p.interactive else parameter_groups.offer(step)
    green_params = (step.rds.cluster_parameters(p.green_cluster_parameter_group) if groups["ready"]
                    else groups["green_parameters"])
    targets = [t["EngineVersion"] for t in step.rds.valid_upgrade_targets(cluster["Engine"], cluster["EngineVersion"])]
    with db.connect(_endpoint(cluster), p.db_user, step.password(), tls=db.tls_settings(p)) as conn:
        with conn.cursor() as cur:
            records = readiness.source_rules(cluster, params, cur)
        records += readiness.target_rules(cluster["EngineVersion"], p.target_engine_version, targets,
                                          p.green_cluster_parameter_group, green_params)
        records.append(readiness.iam_permissions(step.clients.sts, step.clients.iam))
        for r in records:
            step.check(r["id"], r["result"], r["evidence"], r["remediation"])
        _precheck(step, cluster, conn)
    display.table(step.checks, ["id", "result", "evidence", "remediation"], title="Prerequisites (Aurora MySQL)")
    hard = [c for c in step.checks if c["result"] == "fail"]
    if hard:
        raise RunbookError("Prerequisites failed: " + "; ".join(
            f"{c['id']}: {c['remediation'] or c['evidence']}" for c in hard) + ". Nothing was changed.")
    return {"cluster": cluster}


def _precheck(step: Step, cluster: dict[str, Any], conn: Any) -> None:
    """The 5.7 -> 8.0 upgrade prechecks against the writer (Aurora runs the same catalogue, logged in JSON)."""
    p = step.params
    source, target = (readiness.mysql_compatible(v) for v in (cluster["EngineVersion"], p.target_engine_version))
    if source.split(".")[:2] == target.split(".")[:2]:
        step.check("upgradePrecheck", "skip", "not a major version upgrade")
        return
    report = run_prechecks(conn, target, f"{cluster['Endpoint']}:{cluster['Port']}").to_json()
    errors = sorted({c["id"] for c in report["checksPerformed"] for pr in c["detectedProblems"]
                     if pr["level"] == "Error"})
    unacknowledged = sorted(set(errors) - set(p.acknowledge_precheck_errors))
    step.check("upgradePrecheck", "fail" if unacknowledged else "warn" if errors or report["warningCount"] else "pass",
               {"errors": report["errorCount"], "warnings": report["warningCount"], "target_mysql": target},
               f"Fix the objects reported by {', '.join(unacknowledged)} on the writer of {p.source_db_cluster}, or "
               "list those check ids in acknowledge_precheck_errors." if unacknowledged else None)
    step.findings["precheck"] = {k: report[k] for k in ("errorCount", "warningCount", "noticeCount", "summary")}


# -- 02 ------------------------------------------------------------------------------------------------------
def ensure_deployment(step: Step) -> BlueGreenDeployment | None:
    p = step.params
    assert p.source_db_cluster and p.green_cluster_parameter_group
    cluster = step.rds.cluster(p.source_db_cluster)
    existing = step.rds.find_deployment(p.deployment_name)
    if existing:
        switched = existing["Status"] == "SWITCHOVER_COMPLETED" and existing.get("Target") == cluster["DBClusterArn"]
        if existing["Source"] != cluster["DBClusterArn"] and not switched:
            raise RunbookError(f"A blue/green deployment named {p.deployment_name} already exists for another source "
                               f"({existing['Source']}). Choose another deployment_name or delete that deployment.")
        display.note(f"Deployment **{p.deployment_name}** already exists ({existing['Status']}): reusing it.")
        step.identifiers["deployment_id"] = existing["BlueGreenDeploymentIdentifier"]
        step.check("deploymentReused", "pass", {"status": existing["Status"]})
        return existing
    step.identifiers.update(blue_cluster=cluster["DBClusterIdentifier"],
                            blue_cluster_resource_id=cluster["DbClusterResourceId"],
                            blue_cluster_arn=cluster["DBClusterArn"], blue_members=_members(step, cluster))
    created = step.rds.create_cluster_deployment(
        p.deployment_name, cluster["DBClusterArn"], p.target_engine_version, p.green_cluster_parameter_group,
        p.green_parameter_group, tags=[{"Key": "created-by", "Value": "bluegreen-runbook"},
                                       {"Key": "run-id", "Value": step.run.run_id}])
    if created is None:
        display.note(f"Dry run: would create deployment {p.deployment_name} from cluster {p.source_db_cluster} "
                     f"to {p.target_engine_version} with {p.green_cluster_parameter_group}.")
        return None
    step.identifiers["deployment_id"] = created["BlueGreenDeploymentIdentifier"]
    step.changed("created blue/green deployment", deployment_id=created["BlueGreenDeploymentIdentifier"],
                 engine_version=p.target_engine_version, cluster_parameter_group=p.green_cluster_parameter_group)
    return created


def wait_available(step: Step, deployment: BlueGreenDeployment | None) -> BlueGreenDeployment | None:
    if deployment is None:
        return None
    ident = deployment["BlueGreenDeploymentIdentifier"]
    final = wait_until(lambda: step.rds.deployment(ident),
                       lambda d: d["Status"] in ("AVAILABLE", "SWITCHOVER_COMPLETED", "INVALID_CONFIGURATION"),
                       what=f"deployment {step.params.deployment_name}", state_of=lambda d: d["Status"],
                       failed=lambda d: (d.get("StatusDetails") or d["Status"])
                       if d["Status"] == "SWITCHOVER_FAILED" else None,
                       timeout_s=step.wait_s(7200))
    if final["Status"] == "INVALID_CONFIGURATION":
        return _creation_failed(step, final)
    green = step.rds.find_cluster(str(final["Target"]).split(":")[-1])
    step.identifiers.update(deployment_id=ident, green_arn=final["Target"])
    if green and final["Status"] == "AVAILABLE":
        step.identifiers.update(green_cluster=green["DBClusterIdentifier"],
                                green_cluster_resource_id=green["DbClusterResourceId"],
                                green_members=_members(step, green))
    display.table(final.get("Tasks", []), ["Name", "Status"], title="Deployment tasks")
    display.table(final.get("SwitchoverDetails", []), ["SourceMember", "TargetMember", "Status"],
                  title="Switchover details (cluster and each instance)")
    display.events(step.rds.events("blue-green-deployment", ident), "Deployment events")
    return final


def _precheck_failed(deployment: BlueGreenDeployment) -> bool:
    return any(t["Name"] == "DB_ENGINE_VERSION_UPGRADE" and t["Status"] == "FAILED"
               for t in deployment.get("Tasks", []))


def _creation_failed(step: Step, final: BlueGreenDeployment) -> BlueGreenDeployment:
    """Aurora ran its upgrade prechecks while creating green and they failed: the creation failed (the deployment is
    INVALID_CONFIGURATION, green stays on the source version, upgrade-prechecks.log on green's writer). Expected only
    when step 01's precheck errors were acknowledged on purpose (the workshop path): then steps 03 and 04 go on to
    read the log; otherwise the run stops here."""
    p = step.params
    ident = str(final["BlueGreenDeploymentIdentifier"])
    events = [e["Message"] for e in step.rds.events("blue-green-deployment", ident)]
    display.table(final.get("Tasks", []), ["Name", "Status"], title="Deployment tasks")
    display.events(step.rds.events("blue-green-deployment", ident), "Deployment events")
    expected = _precheck_failed(final) and bool(p.acknowledge_precheck_errors)
    step.check("deploymentCreation", "warn" if expected else "fail",
               {"status": final["Status"], "details": final.get("StatusDetails"), "events": events[-3:],
                "precheck_failed": _precheck_failed(final)},
               "Aurora's upgrade prechecks failed while creating green: step 04 reads and explains "
               "upgrade-prechecks.log (runbook run --params … --from 04). Fix the objects on blue's writer, delete "
               "the deployment with its green (DeleteTarget) and create it again.")
    step.findings["creation_failed"] = {"status": final["Status"], "details": final.get("StatusDetails")}
    if not expected:
        raise RunbookError(f"Creating {p.deployment_name} failed: {final.get('StatusDetails') or final['Status']}. "
                           + ("Aurora's upgrade prechecks found blockers; step 04 reads upgrade-prechecks.log "
                              "(runbook run --params … --from 04)." if _precheck_failed(final) else
                              "Read the deployment's events above."))
    return final


# -- 03 and 04 -----------------------------------------------------------------------------------------------
def upgrade_green(step: Step) -> dict[str, Any]:
    """Aurora upgrades green while creating the deployment (the version was given at creation): verify it."""
    p = step.params
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is None and p.dry_run:
        display.note("Dry run: the deployment was only planned; green's version is given at its creation.")
        return {"outcome": "dry-run"}
    if deployment is None:
        raise RunbookError(f"No blue/green deployment named {p.deployment_name} exists. Run step 02 first.")
    if deployment["Status"] == "INVALID_CONFIGURATION" and _precheck_failed(deployment):
        step.check("greenVersion", "fail", {"deployment": deployment["Status"],
                                            "details": deployment.get("StatusDetails")},
                   "Aurora cancelled green's upgrade after its prechecks: step 04 reads upgrade-prechecks.log.")
        return {"outcome": "cancelled"}
    if deployment["Status"] == "SWITCHOVER_COMPLETED":
        green = step.rds.cluster(p.source_db_cluster or "")
    else:
        green = step.rds.cluster(str(deployment["Target"]).split(":")[-1], "the deployment's target")
    ok = green["EngineVersion"] == p.target_engine_version
    step.check("greenVersion", "pass" if ok else "fail",
               {"green_cluster": green["DBClusterIdentifier"], "engine_version": green["EngineVersion"],
                "target": p.target_engine_version, "upgraded_at": "creation (TargetEngineVersion)"},
               None if ok else "Green is not on the target version: delete the deployment (step 06 before a "
               "switchover deletes green with it) and create it again with target_engine_version.")
    if not ok:
        raise RunbookError(f"Green cluster {green['DBClusterIdentifier']} runs {green['EngineVersion']}, not "
                           f"{p.target_engine_version}.")
    display.note(f"Green cluster {green['DBClusterIdentifier']} runs {green['EngineVersion']}: upgraded when the "
                 "deployment was created; nothing to do in this step.", "ok")
    return {"outcome": "upgraded", "version": green["EngineVersion"]}


def read_precheck_log(step: Step) -> dict[str, Any]:
    p = step.params
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is not None and deployment["Status"] == "INVALID_CONFIGURATION" and _precheck_failed(deployment):
        return _read_json_log(step, deployment)
    step.check("precheckLog", "skip", {"not_applicable": "the deployment was created on the target version without "
                                                         "a precheck failure; there is no log to read"})
    display.note("Not applicable for this cluster: creation succeeded, so there is no upgrade precheck log.")
    return {"not_applicable": True}


def _read_json_log(step: Step, deployment: BlueGreenDeployment) -> dict[str, Any]:
    """upgrade-prechecks.log of green's writer (Aurora writes it in JSON), read, explained and recorded."""
    green = step.rds.cluster(str(deployment["Target"]).split(":")[-1], "the deployment's target")
    writer = _writer_name(green) or ""
    files = [f for f in step.rds.log_files(writer) if AURORA_PRECHECK_LOG in f["LogFileName"]]
    if not files:
        step.check("precheckLogPresent", "fail", {"instance": writer},
                   f"{writer} has no {AURORA_PRECHECK_LOG}; read the green cluster's events.")
        raise RunbookError(f"The creation failed but {writer} has no {AURORA_PRECHECK_LOG}.")
    name = files[0]["LogFileName"]
    text = step.rds.download_log(writer, name)
    report = parse_log(text)
    blocking = sorted({c.id for c, pr in report.problems() if pr.level == "Error"})
    step.check("precheckLogPresent", "pass", {"instance": writer, "file": name, "format": getattr(report, "format",
                                                                                                   None)})
    step.findings["precheck_log"] = {"errors": report.errorCount, "warnings": report.warningCount,
                                     "notices": report.noticeCount, "blocking": blocking}
    display.preformatted(render_text(report), title=f"{writer}: {name}, explained")
    return {"instance": writer, "name": name, "text": text, "report": report, "cluster": True}


def fixes(step: Step, log: dict[str, Any]) -> dict[str, Any]:
    """The fixes for the blocking findings, to run on blue's writer (they replicate to green); the deployment must
    then be deleted with its green and created again (step 02 does not yet replace a failed cluster deployment)."""
    p = step.params
    report = log.get("report")
    if report is None or not report.errorCount:
        return {"outcome": "nothing-to-fix"}
    blue = step.rds.cluster(p.source_db_cluster or "")
    with db.connect(_endpoint(blue), p.db_user, step.password(), tls=db.tls_settings(p)) as conn:
        plan = [pr for pr in explain(report, conn)["problems"] if pr["level"] == "Error"]
    display.table([{"check": pr["check"], "object": pr["dbObject"], "fix": pr["sql"] or pr["advice"]} for pr in plan],
                  title="Fixes for the blocking findings (run them on blue's writer, through the cluster endpoint)")
    step.findings["fixes"] = [{"check": pr["check"], "object": pr["dbObject"], "sql": pr["sql"]} for pr in plan]
    raise RunbookError("Aurora's upgrade prechecks blocked the creation of green. Apply the fixes above on "
                       f"{p.source_db_cluster}'s writer, delete deployment {p.deployment_name} with its green "
                       "(DeleteTarget=true, before a switchover), and run the runbook again from step 01.")


# -- 05 ------------------------------------------------------------------------------------------------------
@dataclass
class ReadWatch:
    """Reads through the reader endpoint every interval while the switchover runs: what read-only clients see."""

    endpoint: dict[str, Any]
    user: str
    password: str
    interval_s: float
    tls: Any
    ok: int = 0
    failed: int = 0
    spans: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ReadWatch:
        self._thread = threading.Thread(target=self._loop, name="reader-watch", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        """One read on a new connection; raises (OSError or the driver's error) when it fails."""
        with db.connect(self.endpoint, self.user, self.password, timeout=2, tls=self.tls) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")

    def _loop(self) -> None:
        down: float | None = None
        while not self._stop.is_set():
            started = time.time()
            try:
                self._read()
                self.ok += 1
                if down is not None:
                    self.spans.append((down, started))
                    down = None
            except Exception:  # noqa: BLE001 - any failed read (driver error, OSError) is a failed read
                self.failed += 1
                down = down if down is not None else started
            self._stop.wait(self.interval_s)
        if down is not None:
            self.spans.append((down, time.time()))

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        return {"reads_ok": self.ok, "reads_failed": self.failed,
                "read_unavailable_s": round(sum(b - a for a, b in self.spans), 3),
                "longest_read_gap_s": round(max((b - a for a, b in self.spans), default=0.0), 3)}


def guardrails(step: Step) -> list[dict[str, Any]]:
    """Green's writer replicates from blue's writer, with little lag."""
    p = step.params
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is None and p.dry_run:
        step.check("greenWriterReplicates", "skip", {"dry_run": "no deployment exists yet"})
        return step.checks
    if deployment is None or deployment["Status"] != "AVAILABLE":
        step.check("deploymentAvailable", "fail" if deployment is None else "skip",
                   {"status": deployment and deployment["Status"]})
        return step.checks
    gates.bind_switchover_click(step, str(deployment["BlueGreenDeploymentIdentifier"]))
    green = step.rds.cluster(str(deployment["Target"]).split(":")[-1], "the deployment's target")
    writer = step.rds.instance(_writer_name(green) or "", "the green cluster's writer")
    with db.connect(writer["Endpoint"], p.db_user, step.password(), tls=db.tls_settings(p)) as conn, \
            conn.cursor() as cur:
        status = db.replica_status(cur) or {}
    lag = status.get("Seconds_Behind_Master")
    ok = status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes" and lag is not None \
        and float(lag) <= p.max_replica_lag_s
    step.check("greenWriterReplicates", "pass" if ok else "fail",
               {"green_writer": writer["DBInstanceIdentifier"], "io": status.get("Slave_IO_Running"),
                "sql": status.get("Slave_SQL_Running"), "lag_s": lag, "max_replica_lag_s": p.max_replica_lag_s},
               None if ok else "Green's writer is not replicating from blue's writer (or lags too much): read "
               "its error log; the switchover would be refused.")
    display.table(step.checks, ["id", "result", "evidence", "remediation"], title="Switchover guardrails")
    if not ok:
        raise RunbookError("Green's writer is not ready for the switchover; nothing was changed.")
    step.findings["preflight"] = "passed"
    return step.checks


def switch_over(step: Step, settle_s: float = 2.0) -> dict[str, Any]:
    """The gate, the probe on the cluster endpoint and a read watch on the reader endpoint, the switchover."""
    p = step.params
    deployment = step.rds.find_deployment(p.deployment_name)
    if deployment is None and p.dry_run:
        gates.require_switchover(p, p.deployment_name, step.confirmations)
        step.rds.plan("switchover_blue_green_deployment", BlueGreenDeploymentIdentifier=f"<{p.deployment_name}>",
                      SwitchoverTimeout=p.switchover_timeout_s)
        display.note(f"Dry run: would switch over {p.deployment_name} with a probe on the cluster endpoint.")
        return {"observation": None, "dry_run": True}
    if deployment is None:
        raise RunbookError(f"No blue/green deployment named {p.deployment_name} exists. Run step 02 first.")
    ident = str(deployment["BlueGreenDeploymentIdentifier"])
    if deployment["Status"] == "SWITCHOVER_COMPLETED":
        display.note("The switchover already completed (an earlier run): nothing to do.")
        return {"observation": None, "already": True}
    switchover.require_cleared(step)
    prod = step.rds.cluster(p.source_db_cluster or "")
    folder = step.run.path / PROBE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    probe = Probe(Target(prod["Endpoint"], int(prod["Port"]), p.db_user, step.password(), p.probe_database,
                         tls_settings=db.tls_settings(p)),
                  interval_ms=p.probe_interval_ms, run_id=step.run.run_id, slow_ms=p.probe_slow_ms,
                  journal=folder / "probe-journal.jsonl")
    probe.start()
    reads = ReadWatch(_endpoint(prod, reader=True), p.db_user, step.password(), p.probe_interval_ms / 1000,
                      db.tls_settings(p)).start()
    try:
        if not probe.wait_for_baseline():
            raise RunbookError(f"The probe could not write through the cluster endpoint {prod['Endpoint']}:"
                               f"{prod['Port']} before the switchover; nothing was changed.")
        requested = time.time()
        step.rds.switchover(ident, p.switchover_timeout_s)
        step.changed("requested switchover", deployment_id=ident)
        final = wait_until(lambda: step.rds.deployment(ident),
                           lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS", what=f"switchover of {p.deployment_name}",
                           state_of=lambda d: d["Status"], first_poll_s=0.05, max_poll_s=5,
                           timeout_s=step.wait_s(p.switchover_timeout_s + 600))
        completed = time.time()
        time.sleep(settle_s)
    finally:
        probe.stop()
        read_figures = reads.stop()
        probe_report.write_files(probe, folder)
    if final["Status"] != "SWITCHOVER_COMPLETED":
        raise RunbookError(f"The switchover of {p.deployment_name} did not complete: {final['Status']} "
                           f"({final.get('StatusDetails')}). Production is unchanged; see the deployment's events.")
    old = step.rds.cluster(str(final["Source"]).split(":")[-1], "the deployment's source")
    step.identifiers.update(deployment_id=ident, old_cluster=old["DBClusterIdentifier"],
                            old_cluster_resource_id=old["DbClusterResourceId"],
                            old_members=_members(step, old))
    return {"observation": {"requested": requested, "completed": completed}, "probe": probe, "reads": read_figures}


def report(step: Step, result: dict[str, Any]) -> dict[str, Any] | None:
    """Downtime through the cluster endpoint, reads through the reader endpoint, and the zero-loss proof."""
    p = step.params
    probe = result.get("probe")
    if probe is None:
        step.findings["downtime"] = {"observed": False, "reason": "dry run" if result.get("dry_run") else
                                     "the switchover completed in an earlier run"}
        return None
    prod = step.rds.cluster(p.source_db_cluster or "")
    with db.connect(_endpoint(prod), p.db_user, step.password(), tls=db.tls_settings(p)) as conn:
        proof = probe_report.zero_loss(probe, conn)
    summary = probe_report.summary(probe)
    step.findings["downtime"] = {"write_unavailable_s": summary.get("write_unavailable_s"),
                                 "read_unavailable_s": summary.get("read_unavailable_s"),
                                 "reader_endpoint": result["reads"], "observed": True,
                                 "switchover_s": round(result["observation"]["completed"]
                                                       - result["observation"]["requested"], 3)}
    step.findings["zero_loss"] = {**proof, "observed": True}
    step.save()
    display.table([{"measure": k, "value": v} for k, v in (
        ("writes unavailable through the cluster endpoint (s)", summary.get("write_unavailable_s")),
        ("new connections unavailable (s)", summary.get("read_unavailable_s")),
        ("reads through the reader endpoint: ok / failed", f"{result['reads']['reads_ok']} / "
                                                           f"{result['reads']['reads_failed']}"),
        ("reader endpoint unavailable (s)", result["reads"]["read_unavailable_s"]),
        ("writes acknowledged", proof["acknowledged"]), ("acknowledged but MISSING", proof["missing"]))],
        title="Measured downtime and zero-loss proof (cluster)")
    if proof["missing"]:
        raise RunbookError(f"DATA LOSS: {proof['missing']} acknowledged writes are not on the new production cluster "
                           f"(sequence numbers {proof['missing_seqs'][:10]}…). Compare with the old cluster.")
    display.note(f"Zero lost writes: all {proof['acknowledged']} acknowledged writes are on the new production.", "ok")
    return {"summary": summary, "zero_loss": proof}


# -- 06 ------------------------------------------------------------------------------------------------------
@dataclass
class ClusterTargets:
    deployment_name: str
    deployment_id: str | None
    old_cluster: str | None
    old_cluster_resource_id: str | None
    sources: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [n for n in (self.deployment_name if self.deployment_id else None, self.old_cluster) if n]


def resolve(step: Step) -> ClusterTargets:
    """The deployment and the old cluster, by the resource id a run recorded as blue (never by a name pattern)."""
    p = step.params
    deployment = step.rds.find_deployment(p.deployment_name)
    ident = deployment["BlueGreenDeploymentIdentifier"] if deployment else None
    records = history.about(ident, p.deployment_name)
    recorded = history.recorded(records, "blue_cluster_resource_id") or history.recorded(
        records, "old_cluster_resource_id")
    if recorded is None and p.dry_run and deployment is None:
        display.note("Dry run: nothing was created, so step 06 has nothing to delete.")
        return ClusterTargets(p.deployment_name, None, None, None, ["dry run"])
    if recorded is None:
        raise RunbookError(f"No run recorded the blue cluster of {p.deployment_name}: step 06 deletes only what a run "
                           "of this runbook recorded. Nothing was deleted.")
    resource_id = str(recorded[0])
    if deployment is not None and deployment["Status"] != "SWITCHOVER_COMPLETED":
        raise RunbookError(f"Deployment {p.deployment_name} is {deployment['Status']}, not switched over: step 06 "
                           "deletes the old cluster only after a switchover. Nothing was deleted.")
    old = step.rds.cluster_by_resource_id(resource_id)
    if old is not None and deployment is not None and old["DBClusterArn"] != deployment["Source"]:
        raise RunbookError(f"The deployment's source {deployment['Source']} is not the cluster recorded as blue "
                           f"({resource_id}, now {old['DBClusterIdentifier']}). Nothing was deleted.")
    if old is not None and old["DBClusterIdentifier"] == p.source_db_cluster:
        raise RunbookError(f"The recorded blue cluster {resource_id} is still named {p.source_db_cluster}, i.e. "
                           "production: nothing was deleted.")
    targets = ClusterTargets(p.deployment_name, ident, str(old["DBClusterIdentifier"]) if old else None, resource_id,
                             [f"blue cluster resource id from {recorded[1].run_id}/steps/{recorded[1].number}.json"])
    step.identifiers.update(deployment_id=ident, old_cluster=targets.old_cluster, old_cluster_resource_id=resource_id)
    display.table([{"delete": n} for n in targets.names], title="Step 06 deletes (confirm each)")
    return targets


def delete_deployment(step: Step, targets: ClusterTargets) -> str:
    if not targets.deployment_id:
        display.note("The deployment is already deleted.")
        return targets.deployment_name
    gates.require_delete(step.params, targets.deployment_name, step.confirmations)
    if step.rds.delete_deployment(targets.deployment_id) is not None:
        step.changed("deleted blue/green deployment", deployment_id=targets.deployment_id)
    return targets.deployment_name


def delete_old_cluster(step: Step, targets: ClusterTargets) -> dict[str, Any]:
    """The old cluster's instances, then the cluster with a final cluster snapshot."""
    p = step.params
    if targets.old_cluster is None or targets.old_cluster_resource_id is None:
        display.note("The old cluster is already deleted.")
        return {"deleted": None}
    gates.require_delete(p, targets.old_cluster, step.confirmations)
    old = step.rds.cluster(targets.old_cluster, "the old cluster")
    if old["DbClusterResourceId"] != targets.old_cluster_resource_id:
        raise RunbookError(f"{targets.old_cluster} now carries {old['DbClusterResourceId']}, not the recorded "
                           f"{targets.old_cluster_resource_id}. Nothing was deleted.")
    members = [m["DBInstanceIdentifier"] for m in old.get("DBClusterMembers", [])]
    for name in members:
        inst = step.rds.find_instance(name)
        if inst is not None and inst["DBInstanceStatus"] != "deleting":
            step.rds.delete_cluster_instance(name)
            step.changed("deleted old cluster instance", instance=name)
    snapshot = None if p.skip_final_snapshot else p.final_snapshot_for(targets.old_cluster)
    step.rds.delete_cluster(targets.old_cluster, snapshot)
    step.changed("deleted old cluster", cluster=targets.old_cluster, final_snapshot=snapshot)
    wait_until(lambda: step.rds.cluster_by_resource_id(targets.old_cluster_resource_id or ""),
               lambda c: c is None, what=f"deletion of {targets.old_cluster}",
               state_of=lambda c: "gone" if c is None else str(c["Status"]), timeout_s=step.wait_s(3600))
    if snapshot:
        found = step.rds.find_cluster_snapshot(snapshot)
        step.check("finalClusterSnapshot", "pass" if found else "fail", {"snapshot": snapshot,
                                                                          "status": found and found.get("Status")})
    display.note(f"Deleted {targets.old_cluster} and its instances {', '.join(members)}"
                 + (f"; final cluster snapshot {snapshot}." if snapshot else "."), "ok")
    return {"deleted": targets.old_cluster, "instances": members, "final_snapshot": snapshot}


def _no_replacement(step: Step) -> list[str]:
    return []  # step 02 does not yet replace a failed cluster deployment (fixes() says how to)


def _no_comparison(step: Step) -> None:
    return None  # the cluster's diagram (show_topology) shows both clusters, their members and endpoints


# The step functions the notebooks call, for an Aurora MySQL cluster (steps/flows.py).
STEPS = {"check": check, "replacement": _no_replacement, "ensure_deployment": ensure_deployment,
         "wait_available": wait_available, "upgrade_green": upgrade_green, "read_precheck_log": read_precheck_log,
         "fix_and_retry": fixes, "compare": _no_comparison, "check_guardrails": guardrails,
         "switch_over": switch_over, "report": report, "resolve": resolve, "delete_deployment": delete_deployment,
         "delete_old_blue": delete_old_cluster}
