"""The groups path end to end, headless: a lab without the 8.0 groups, `runbook groups apply` makes them from the
5.7 ones, the whole runbook then upgrades green with them, and the new production runs the renamed setting."""

from __future__ import annotations

import json

import pymysql
import pytest
from conftest import ROOT, lab_rds, runbook_cli

from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths

pytestmark = pytest.mark.e2e


def test_groups_made_by_apply_are_the_ones_the_runbook_upgrades_green_with(lab_paths: LabPaths) -> None:
    client.reset(lab_paths, target_groups=False)
    rds = lab_rds(lab_paths)
    rds.modify_db_parameter_group(DBParameterGroupName="pg-mysql-57", Parameters=[
        {"ParameterName": "tx_isolation", "ParameterValue": "READ-COMMITTED", "ApplyMethod": "immediate"},
        {"ParameterName": "query_cache_size", "ParameterValue": "1048576", "ApplyMethod": "immediate"}])
    rds.modify_option_group(OptionGroupName="mysql57-option-group", ApplyImmediately=True, OptionsToInclude=[
        {"OptionName": "MEMCACHED", "OptionSettings": [{"Name": "CHUNK_SIZE", "Value": "32"}]}])
    params = str(ROOT / "parameters" / "lab.yaml")

    made = runbook_cli("groups", "apply", "--params", params)
    assert made.returncode == 0, made.stderr
    assert "pg-mysql-80: created" in made.stdout and "mysql80-option-group: created" in made.stdout
    before = client.state_digest(lab_paths)
    again = runbook_cli("groups", "apply", "--params", params, "--format", "json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert [a["action"] for a in result["actions"]] == ["reused", "reused"] and result["calls"] == []
    assert client.state_digest(lab_paths) == before

    done = runbook_cli("run", "--params", params, "--keep-lab")
    assert done.returncode == 0, done.stderr[-3000:]
    production = rds.describe_db_instances(DBInstanceIdentifier="database-1")["DBInstances"][0]
    assert production["EngineVersion"] == "8.0.39"
    assert production["DBParameterGroups"][0]["DBParameterGroupName"] == "pg-mysql-80"
    assert production["OptionGroupMemberships"][0]["OptionGroupName"] == "mysql80-option-group"
    password = lab_paths.read_credentials()["master_password"]  # type: ignore[index]
    with pymysql.connect(host="127.0.0.1", port=production["Endpoint"]["Port"], user="admin", password=password,
                         ssl_disabled=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@tx_isolation")  # the lab's MariaDB servers know the setting by its 5.7 name
        assert cur.fetchone()[0] == "READ-COMMITTED"  # type: ignore[index]

    upgraded = runbook_cli("groups", "plan", "--params", params)  # database-1 is the 8.0 instance now
    assert upgraded.returncode == 2 and "--from" in upgraded.stderr
    named = runbook_cli("groups", "apply", "--params", params, "--from", "pg-mysql-57", "--from-option-group",
                     "mysql57-option-group")
    assert named.returncode == 0 and "pg-mysql-80: reused" in named.stdout, named.stderr
