"""Blue/green more than once on one lab, as real users do (5.7 -> 8.0, then 8.0 -> a later 8.0): the
RDS-managed tables that the new production holds after a switchover must come along to the next green."""

from __future__ import annotations

from typing import Any

import pymysql
from conftest import deployment, instance, master_password, wait_for

from runbook_lib.lab.paths import LabPaths


def _cycle(rds: Any, name: str, from_version: str, to_version: str, from_group: str) -> str:
    """create -> upgrade green -> switchover -> cleanup; returns the old blue's name (deleted at the end)."""
    blue = instance(rds, "database-1")
    assert blue["EngineVersion"] == from_version
    created = rds.create_blue_green_deployment(
        BlueGreenDeploymentName=name, Source=blue["DBInstanceArn"], TargetEngineVersion=from_version,
        TargetDBParameterGroupName=from_group)["BlueGreenDeployment"]
    ident = created["BlueGreenDeploymentIdentifier"]
    bgd = wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] in ("AVAILABLE", "INVALID_CONFIGURATION"))
    assert bgd["Status"] == "AVAILABLE", bgd.get("StatusDetails")
    green = bgd["Target"].split(":")[-1]
    rds.modify_db_instance(DBInstanceIdentifier=green, EngineVersion=to_version, AllowMajorVersionUpgrade=True,
                           DBParameterGroupName="pg-mysql-80", OptionGroupName="mysql80-option-group",
                           ApplyImmediately=True)
    wait_for(lambda: instance(rds, green), lambda i: i["DBInstanceStatus"] == "available"
             and i["EngineVersion"] == to_version)
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    final = wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] != "SWITCHOVER_IN_PROGRESS")
    assert final["Status"] == "SWITCHOVER_COMPLETED", final.get("StatusDetails")
    old = final["Source"].split(":")[-1]
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)
    rds.delete_db_instance(DBInstanceIdentifier=old, SkipFinalSnapshot=True)
    wait_for(lambda: sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]),
             lambda names: names == ["database-1"])
    return str(old)


def test_two_blue_green_cycles_in_a_row_on_one_lab(rds: Any, lab_paths: LabPaths) -> None:
    password = master_password(lab_paths)
    endpoint = instance(rds, "database-1")["Endpoint"]
    _cycle(rds, "bg-first", "5.7.44", "8.0.39", "pg-mysql-57")
    with pymysql.connect(host=endpoint["Address"], port=endpoint["Port"], user="admin", password=password,
                         database="shop", autocommit=True, ssl_disabled=True) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO customers VALUES (900101, 'between', 'between@example.com', NOW())")
    _cycle(rds, "bg-second", "8.0.39", "8.0.41", "pg-mysql-80")
    with pymysql.connect(host=endpoint["Address"], port=endpoint["Port"], user="admin", password=password,
                         database="shop", autocommit=True, ssl_disabled=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@version, @@read_only, (SELECT COUNT(*) FROM customers WHERE id = 900101), "
                    "(SELECT COUNT(*) FROM orders)")
        version, read_only, between, orders = cur.fetchone()
    assert version.startswith("8.0.41") and read_only == 0 and between == 1 and orders == 6000
