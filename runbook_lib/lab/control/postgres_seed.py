"""The lab's PostgreSQL databases (`runbook lab up --postgres`), beside MySQL's database-1: an RDS for PostgreSQL 15.7
instance `pg-1` and an Aurora PostgreSQL 15.7 cluster `apg-1` (writer + reader), each holding the shop sample in
database `shop`, with the custom groups a DBA makes for blue/green (`rds.logical_replication = 1`, in sync) and the
16 groups green will use. Made on the lab's records, as aurora_seed makes the Aurora MySQL cluster."""

from __future__ import annotations

import time
from typing import Any

from runbook_lib.lab import moto_internals, postgres_catalog
from runbook_lib.lab.control import clusters, postgres_instances
from runbook_lib.lab.control.core import Lab

INSTANCE, CLUSTER = "pg-1", "apg-1"
WRITER, READER = f"{CLUSTER}-instance-1", f"{CLUSTER}-instance-2"
SOURCE_VERSION = "15.7"
TARGET_VERSION = {postgres_catalog.POSTGRES: "16.3", postgres_catalog.AURORA_POSTGRES: "16.4"}
INSTANCE_GROUPS = [("postgres15-bluegreen", "postgres15"), ("postgres16-bluegreen", "postgres16")]
CLUSTER_GROUPS = [("aurora-postgresql15-bluegreen", "aurora-postgresql15"),
                  ("aurora-postgresql16-bluegreen", "aurora-postgresql16")]
LOGICAL_ON = [{"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}]
TAGS = [{"Key": "environment", "Value": "lab"}]


def ensure_default_groups(lab: Lab) -> None:
    """RDS's default groups of each Aurora PostgreSQL family exist in every account (moto has none): the cluster
    group and the instance group `default.aurora-postgresqlNN`."""
    b = lab.backend
    with lab.lock:
        for family in postgres_catalog.CLUSTER_FAMILIES:
            name = f"default.{family}"
            if name not in b.db_cluster_parameter_groups:
                moto_internals.new_cluster_parameter_group(b, name, family, f"Default cluster parameter group for "
                                                                            f"{family}")
            if name not in b.db_parameter_groups:
                b.create_db_parameter_group({"db_parameter_group_name": name, "db_parameter_group_family": family,
                                             "description": f"Default parameter group for {family}"})


def seed(lab: Lab, timeout: float = 180) -> None:
    """Idempotent: what the lab already has stays (a lab that has pg-1 and apg-1 is left as it is)."""
    b = lab.backend
    ensure_default_groups(lab)
    waiting: list[Any] = []
    with lab.lock:
        for name, family in INSTANCE_GROUPS:
            if name not in b.db_parameter_groups:
                b.create_db_parameter_group({"db_parameter_group_name": name, "db_parameter_group_family": family,
                                             "description": f"{family} for blue/green (lab)"})
                b.modify_db_parameter_group(name, [dict(p) for p in LOGICAL_ON])
        for name, family in CLUSTER_GROUPS:
            if name not in b.db_cluster_parameter_groups:
                b.create_db_cluster_parameter_group(name, family, f"{family} cluster for blue/green (lab)", [])
                b.modify_db_cluster_parameter_group(name, [dict(p) for p in LOGICAL_ON])
        inst = None
        if INSTANCE not in b.databases:
            inst = b.create_db_instance({
                "db_instance_identifier": INSTANCE, "db_instance_class": "db.t3.micro",
                "engine": postgres_catalog.POSTGRES, "engine_version": SOURCE_VERSION, "allocated_storage": 20,
                "master_username": lab.creds.master_user, "master_user_password": "(lab)",
                "backup_retention_period": 7, "db_parameter_group_name": INSTANCE_GROUPS[0][0],
                "storage_type": "gp3", "port": 5432, "tags": list(TAGS)})
        cluster = None
        if CLUSTER not in b.clusters:
            cluster = b.create_db_cluster({
                "db_cluster_identifier": CLUSTER, "engine": postgres_catalog.AURORA_POSTGRES,
                "engine_version": SOURCE_VERSION, "master_username": lab.creds.master_user,
                "master_user_password": "(lab-managed)", "backup_retention_period": 7, "port": 5432,
                "db_cluster_parameter_group_name": CLUSTER_GROUPS[0][0], "tags": list(TAGS)})
    if inst is not None:
        postgres_instances.create(lab, inst, seed=True)
        waiting.append(inst)
    if cluster is not None:
        clusters.create(lab, cluster)
        for name in (WRITER, READER):
            with lab.lock:
                member = b.create_db_instance({
                    "db_instance_identifier": name, "db_instance_class": "db.r6g.large",
                    "engine": postgres_catalog.AURORA_POSTGRES, "engine_version": SOURCE_VERSION,
                    "db_cluster_identifier": CLUSTER, "db_parameter_group_name": "default.aurora-postgresql15",
                    "tags": list(TAGS)})
            postgres_instances.create_member(lab, member, cluster, seed=name == WRITER)
        waiting.append(cluster)
    deadline = time.monotonic() + timeout
    while not all(_ready(r) for r in waiting):
        if lab.failures:
            raise RuntimeError("seeding the lab's PostgreSQL databases failed:\n" + lab.failures[-1])
        if time.monotonic() > deadline:
            raise RuntimeError("seeding the lab's PostgreSQL databases timed out")
        time.sleep(0.05)


def _ready(resource: Any) -> bool:
    if hasattr(resource, "db_cluster_identifier") and not hasattr(resource, "db_instance_identifier"):
        return bool(resource.status == "available" and resource._members
                    and all(i.status == "available" for i in resource._members))
    return bool(resource.status == "available")
