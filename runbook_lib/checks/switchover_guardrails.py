"""The switchover guardrails, checked again from the outside right before the switchover (step 05): the deployment
is AVAILABLE, green replicates and is read-only, its ReplicaLag in CloudWatch is small, no long write transaction
runs on blue, and blue and green hold the same data (chunked comparison at matching replication points). Nothing
changes when one fails."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from runbook_lib.checks import consistency
from runbook_lib.engines.mysql import connection as db
from runbook_lib.engines.mysql.connection import replica_status
from runbook_lib.errors import RunbookError
from runbook_lib.run.context import Step

LONG_TRANSACTION_S = 60  # a write transaction older than this blocks the switchover


def before_switchover(step: Step, sides: Any) -> list[dict[str, Any]]:
    """Guardrails; raise before any change when one fails."""
    p = step.params
    d = sides.deployment
    step.check("deploymentAvailable", "pass" if d["Status"] == "AVAILABLE" else "fail",
               {"status": d["Status"], "details": d.get("StatusDetails")},
               None if d["Status"] == "AVAILABLE" else "Wait until the deployment is AVAILABLE (step 02).")
    green, blue = sides.green, sides.blue
    if green is None or blue is None:
        raise RunbookError("The deployment lacks its blue or green instance; it cannot be switched over.")
    password = step.password()
    with db.connect(green["Endpoint"], p.db_user, password, tls=db.tls_settings(p)) as conn, conn.cursor() as cur:
        row = replica_status(cur)
        cur.execute("SELECT @@read_only")
        read_only = bool((cur.fetchone() or (0,))[0])
    running = row.get("Slave_IO_Running") == "Yes" and row.get("Slave_SQL_Running") == "Yes"
    step.check("greenReplicating", "pass" if running else "fail",
               {"io": row.get("Slave_IO_Running"), "sql": row.get("Slave_SQL_Running"),
                "last_error": row.get("Last_SQL_Error") or row.get("Last_IO_Error")},
               None if running else "Replication to green is broken: fix the error shown (schema changes on green "
               "must be replication-compatible) or recreate the deployment.")
    step.check("greenReadOnly", "pass" if read_only else "fail", {"read_only": read_only},
               None if read_only else "Set read_only=1 on green (in its parameter group) so nothing writes there.")
    replica_lag(step, green["DBInstanceIdentifier"])
    with db.connect(blue["Endpoint"], p.db_user, password, tls=db.tls_settings(p)) as conn, conn.cursor() as cur:
        cur.execute("SELECT trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, trx_started, NOW()), trx_rows_modified "
                    "FROM information_schema.innodb_trx WHERE TIMESTAMPDIFF(SECOND, trx_started, NOW()) >= %s",
                    (LONG_TRANSACTION_S,))
        long_trx = [{"thread": r[0], "age_s": r[1], "rows_modified": r[2]} for r in cur.fetchall()]
    step.check("noLongTransactions", "fail" if long_trx else "pass", {f"over_{LONG_TRANSACTION_S}s": long_trx},
               "Let these transactions finish (or kill them) before switching over: RDS refuses to switch while "
               "long write transactions run." if long_trx else None)
    _consistency(step, blue, green, password)
    failed = [c for c in step.checks if c["result"] == "fail"]
    if failed:
        raise RunbookError("Switchover preflight failed (nothing was changed): " + "; ".join(
            f"{c['id']}: {c['remediation'] or c['evidence']}" for c in failed))
    return step.checks


def replica_lag(step: Step, green: str) -> None:
    p = step.params
    now = datetime.now(timezone.utc)
    try:
        data = step.clients.cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "lag", "MetricStat": {"Metric": {
                "Namespace": "AWS/RDS", "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": green}]}, "Period": 60, "Stat": "Maximum"}}],
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1))
        values = data["MetricDataResults"][0].get("Values", [])
    except Exception as exc:  # noqa: BLE001 - recorded as a warning: RDS's own guardrail still applies
        step.check("replicaLag", "warn", {"error": str(exc)[:300]}, "Check ReplicaLag of green in CloudWatch by hand.")
        return
    if not values:
        step.check("replicaLag", "warn", {"datapoints": 0}, "No ReplicaLag datapoint in the last 5 minutes yet.")
        return
    latest = float(values[0])
    ok = latest <= p.max_replica_lag_s
    step.check("replicaLag", "pass" if ok else "fail", {"ReplicaLag_s": latest, "max_replica_lag_s": p.max_replica_lag_s,
                                                        "source": "CloudWatch AWS/RDS ReplicaLag (Maximum, 1 min)"},
               None if ok else "Wait until green catches up (reduce write load), or raise max_replica_lag_s.")


def _consistency(step: Step, blue: Mapping[str, Any], green: Mapping[str, Any], password: str) -> None:
    """Blue and green compared chunk by chunk at matching replication points (docs/consistency.md)."""
    p = step.params

    tls = db.tls_settings(p)  # one SSL context for every connection of the comparison

    def connect(instance: Mapping[str, Any]) -> consistency.Connect:
        return lambda: db.connect(instance["Endpoint"], p.db_user, password, tls=tls)

    result = consistency.compare(
        connect(blue), connect(green), mode=p.consistency_check, exclude=[p.probe_database],
        chunk_rows=p.consistency_chunk_rows, max_seconds=p.consistency_max_seconds, max_rows=p.consistency_max_rows,
        sample_fraction=p.consistency_sample_fraction, statement_timeout_s=p.consistency_statement_timeout_s)
    record = result.to_record()
    step.findings["consistency"] = record
    evidence = {key: record[key] for key in ("mode", "status", "elapsed_s", "stopped_early", "first_position",
                                             "last_position")}
    evidence |= record["totals"]
    evidence["differing_ranges"] = [dict(d, table=t["table"]) for t in record["tables"] for d in t["differences"]][:20]
    evidence["not_compared_ranges"] = [dict(n, table=t["table"]) for t in record["tables"]
                                       for n in t["not_compared"]][:20]
    outcome = {"match": "pass", "differences": "fail", "incomplete": "warn", "not_run": "skip"}[result.status]
    remediation = {
        "differences": "Blue and green differ in the listed key ranges, confirmed with blue's rows share-locked after "
                       "green applied blue's binlog up to the recorded position: something wrote on green (or a "
                       "replication filter or non-deterministic statement diverged). Repair green or recreate the "
                       "deployment before switching over.",
        "incomplete": "Part of the data was not compared (see not_compared_ranges and stopped_early): raise "
                      "consistency_max_seconds, lower consistency_chunk_rows, let replica lag fall, or switch over "
                      "knowing this warning.",
        "not_run": "consistency_check is off: blue and green were not compared.",
    }.get(result.status)
    step.check("dataConsistency", outcome, evidence, remediation)
