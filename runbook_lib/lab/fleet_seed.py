"""A fleet in the lab (`runbook lab up --fleet`), made through the lab's own RDS API as a user would: in the lab's
Region, real instances (MariaDB servers behind them) — some on 5.7 that must move, one already on 8.0, one
`-old1` left by an earlier switchover, one already in a blue/green deployment —, and in a second Region plain
records only (the lab's data plane serves one Region), so an inventory across Regions has something to find."""

from __future__ import annotations

import time
from typing import Any

import boto3

from runbook_lib.errors import RunbookError

SECOND_REGION = "eu-west-1"
# (name, engine version, parameter group, option group, class, multi-AZ)
IN_LAB_REGION = [
    ("orders-db", "5.7.44", "pg-mysql-57", "mysql57-option-group", "db.r6g.large", True),
    ("billing-db", "5.7.44", "pg-mysql-57", "mysql57-option-group", "db.m6g.large", False),
    ("inventory-db", "5.7.44", "pg-mysql-57", "mysql57-option-group", "db.t3.medium", False),
    ("reports-db", "8.0.39", "pg-mysql-80", "mysql80-option-group", "db.t3.medium", False),
    ("legacy-db-old1", "5.7.44", "pg-mysql-57", "mysql57-option-group", "db.t3.small", False),
]
IN_SECOND_REGION = [("eu-orders-db", "5.7.44", "db.r5.xlarge", True), ("eu-reports-db", "8.0.39", "db.t3.large", False)]
IN_DEPLOYMENT = "inventory-db"


def _client(endpoint_url: str, region: str) -> Any:
    return boto3.client("rds", endpoint_url=endpoint_url, region_name=region, aws_access_key_id="lab",
                        aws_secret_access_key="lab")


def _wait(check: Any, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RunbookError(f"The lab fleet did not become ready: {what} (after {timeout:.0f} s).")
        time.sleep(0.2)


def seed(endpoint_url: str, region: str, master_user: str, master_password: str) -> dict[str, Any]:
    """Create the fleet (idempotent: what exists is kept) and wait until it is available."""
    rds = _client(endpoint_url, region)
    existing = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    for name, version, group, options, klass, multi_az in IN_LAB_REGION:
        if name in existing:
            continue
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass=klass, Engine="mysql", EngineVersion=version,
                               MasterUsername=master_user, MasterUserPassword=master_password, AllocatedStorage=20,
                               BackupRetentionPeriod=7, DBParameterGroupName=group, OptionGroupName=options,
                               MultiAZ=multi_az, Tags=[{"Key": "environment", "Value": "lab-fleet"}])

    def available() -> bool:
        found = {i["DBInstanceIdentifier"]: i["DBInstanceStatus"] for i in rds.describe_db_instances()["DBInstances"]}
        return all(found.get(name) == "available" for name, *_ in IN_LAB_REGION)
    _wait(available, "the fleet's instances")
    if not rds.describe_blue_green_deployments(
            Filters=[{"Name": "blue-green-deployment-name", "Values": [f"bg-{IN_DEPLOYMENT}"]}])["BlueGreenDeployments"]:
        source = rds.describe_db_instances(DBInstanceIdentifier=IN_DEPLOYMENT)["DBInstances"][0]
        rds.create_blue_green_deployment(BlueGreenDeploymentName=f"bg-{IN_DEPLOYMENT}", Source=source["DBInstanceArn"],
                                         TargetEngineVersion=source["EngineVersion"],
                                         TargetDBParameterGroupName="pg-mysql-57")
    other = _client(endpoint_url, SECOND_REGION)
    there = {i["DBInstanceIdentifier"] for i in other.describe_db_instances()["DBInstances"]}
    for name, version, klass, multi_az in IN_SECOND_REGION:
        if name not in there:
            other.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass=klass, Engine="mysql",
                                     EngineVersion=version, MasterUsername=master_user,
                                     MasterUserPassword=master_password, AllocatedStorage=20, BackupRetentionPeriod=7,
                                     MultiAZ=multi_az)
    return {"region": region, "instances": [n for n, *_ in IN_LAB_REGION], "in_deployment": IN_DEPLOYMENT,
            "second_region": SECOND_REGION, "second_region_instances": [n for n, *_ in IN_SECOND_REGION]}
