"""The lab's Aurora MySQL cluster (`runbook lab up --aurora`): a 2.11 cluster with a custom cluster parameter group
that turns binary logging on, a writer holding the sample application and one reader replicating from it, plus the
3.x groups a DBA makes for the target. Made on the lab's records, as `daemon.seed` makes the instance."""

from __future__ import annotations

import time

from runbook_lib.lab import sample
from runbook_lib.lab.control import clusters
from runbook_lib.lab.control.core import Lab

CLUSTER = "aurora-1"
WRITER, READER = f"{CLUSTER}-instance-1", f"{CLUSTER}-instance-2"
SOURCE_VERSION = "5.7.mysql_aurora.2.11.5"
TARGET_VERSION = "8.0.mysql_aurora.3.05.2"
# (cluster group, instance group, family)
GROUPS = [("aurora-mysql57-cluster", "aurora-mysql57-instance", "aurora-mysql5.7"),
          ("aurora-mysql80-cluster", "aurora-mysql80-instance", "aurora-mysql8.0")]


def seed(lab: Lab, with_blocker: bool = False, timeout: float = 180) -> None:
    """Idempotent: a lab that has the cluster keeps it."""
    b = lab.backend
    if CLUSTER in b.clusters:
        return
    clusters.ensure_default_groups(lab)
    with lab.lock:
        for cluster_group, instance_group, family in GROUPS:
            if cluster_group not in b.db_cluster_parameter_groups:
                b.create_db_cluster_parameter_group(cluster_group, family, f"{family} cluster (lab)", [])
                b.modify_db_cluster_parameter_group(cluster_group, [
                    {"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "pending-reboot"}])
            if instance_group not in b.db_parameter_groups:
                b.create_db_parameter_group({"db_parameter_group_name": instance_group,
                                             "db_parameter_group_family": family,
                                             "description": f"{family} instances (lab)"})
        cluster = b.create_db_cluster({
            "db_cluster_identifier": CLUSTER, "engine": "aurora-mysql", "engine_version": SOURCE_VERSION,
            "master_username": lab.creds.master_user, "master_user_password": "(lab-managed)", "backup_retention_period": 7,
            "db_cluster_parameter_group_name": GROUPS[0][0], "tags": [{"Key": "environment", "Value": "lab"}]})
    clusters.create(lab, cluster)
    for name in (WRITER, READER):
        with lab.lock:
            inst = b.create_db_instance({
                "db_instance_identifier": name, "db_instance_class": "db.r6g.large", "engine": "aurora-mysql",
                "engine_version": SOURCE_VERSION, "db_cluster_identifier": CLUSTER,
                "db_parameter_group_name": GROUPS[0][1], "tags": [{"Key": "environment", "Value": "lab"}]})
        # The writer holds the sample application, and binlog retention is set, as a DBA readies a cluster for
        # blue/green (Aurora's default NULL is what step 01 refuses; tests/test_aurora_readiness.py sets it back).
        clusters.create_member(lab, inst, cluster, [
            *sample.statements(lab.creds.master_user, with_blocker),
            "CALL mysql.rds_set_configuration('binlog retention hours', 24)"] if name == WRITER else None)
    deadline = time.monotonic() + timeout
    while not (cluster.status == "available" and all(i.status == "available" for i in cluster._members)):
        if lab.failures:
            raise RuntimeError("seeding the lab's Aurora cluster failed:\n" + lab.failures[-1])
        if time.monotonic() > deadline:
            raise RuntimeError("seeding the lab's Aurora cluster timed out")
        time.sleep(0.05)
