"""The aurora-mysql8.0 DB cluster parameter group made from an aurora-mysql5.7 one (runbook groups plan|apply with an
Aurora parameter file), on the real lab seeded with its Aurora cluster (`runbook lab up --aurora`): the instance
planner's rules (kept / renamed / removed / adjusted) applied to cluster groups, and apply's idempotence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from conftest import ROOT

from runbook_lib import cli
from runbook_lib.aws.rds import RdsFacade
from runbook_lib.engines.mysql import parameter_groups as groups
from runbook_lib.engines.mysql import variables
from runbook_lib.errors import RunbookError
from runbook_lib.lab import client
from runbook_lib.lab.control import aurora_seed
from runbook_lib.lab.paths import LabPaths
from runbook_lib.run.context import Step, begin
from runbook_lib.steps import prerequisites

AURORA_PARAMS = ROOT / "parameters" / "lab-aurora-mysql.yaml"
SOURCE_GROUP = aurora_seed.GROUPS[0][0]      # aurora-1's cluster group (binlog_format=ROW)
NEW_GROUP = "aurora-mysql80-planned"         # not seeded: apply makes it
TARGET = aurora_seed.TARGET_VERSION


@pytest.fixture
def aurora(lab: dict[str, Any], lab_paths: LabPaths, rds: Any) -> Any:
    """A fresh lab with the Aurora cluster seeded beside the instance; the boto3 RDS client on it."""
    client.seed_aurora(lab_paths)
    return rds


def _set(rds: Any, group: str, values: dict[str, str]) -> None:
    items = [{"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"} for k, v in values.items()]
    for start in range(0, len(items), 20):
        rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=items[start:start + 20])


def _user(rds: Any, group: str) -> dict[str, str]:
    pages = rds.get_paginator("describe_db_cluster_parameters").paginate(DBClusterParameterGroupName=group,
                                                                          Source="user")
    return {p["ParameterName"]: p.get("ParameterValue") for page in pages for p in page["Parameters"]}


def _params_file(tmp_path: Path, **overrides: Any) -> str:
    values = yaml.safe_load(AURORA_PARAMS.read_text())
    values.update({"green_cluster_parameter_group": NEW_GROUP, **overrides})
    path = tmp_path / "aurora-params.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def _workshop(rds: Any) -> None:
    """The issue's case on the cluster's group: a kept value (binlog_format, seeded), a renamed one, a removed one."""
    _set(rds, SOURCE_GROUP, {"tx_isolation": "READ-COMMITTED", "query_cache_size": "1048576",
                             "character_set_server": "utf8mb4"})


def test_plan_kept_renamed_removed_for_a_cluster_group(aurora: Any) -> None:
    _workshop(aurora)
    pg = groups.plan_parameter_group(RdsFacade(aurora), SOURCE_GROUP, NEW_GROUP, "aurora-mysql8.0", TARGET,
                                     cluster=True)
    by_name = {e.name: e for e in pg.entries}
    assert sorted(by_name) == ["binlog_format", "character_set_server", "query_cache_size", "tx_isolation"]
    assert by_name["binlog_format"].action == "carry" and by_name["binlog_format"].target_value == "ROW"
    assert by_name["character_set_server"].action == "carry"
    renamed = by_name["tx_isolation"]
    assert (renamed.action, renamed.target_name, renamed.target_value) == ("rename", "transaction_isolation",
                                                                           "READ-COMMITTED")
    dropped = by_name["query_cache_size"]
    assert dropped.action == "drop" and "removed in MySQL 8.0" in dropped.reason and dropped.applies_on_80
    assert pg.cluster and pg.source_family == "aurora-mysql5.7" and pg.target_family == "aurora-mysql8.0"
    assert pg.desired() == {"binlog_format": "ROW", "character_set_server": "utf8mb4",
                            "transaction_isolation": "READ-COMMITTED"}
    text = groups.Plan(cluster_parameter_group=pg).text()
    assert text.startswith(f"Cluster parameter group: {SOURCE_GROUP} (aurora-mysql5.7) -> {NEW_GROUP}")
    assert "renamed   tx_isolation -> transaction_isolation = READ-COMMITTED" in text
    assert "dropped   query_cache_size = 1048576" in text


def test_cli_apply_creates_the_cluster_group_then_reuses_it(aurora: Any, lab_paths: LabPaths, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    _workshop(aurora)
    params = _params_file(tmp_path)
    assert cli.main(["groups", "plan", "--params", params]) == 0
    assert "renamed   tx_isolation -> transaction_isolation" in capsys.readouterr().out
    before = client.state_digest(lab_paths)
    assert cli.main(["groups", "apply", "--params", params, "--dry-run", "--format", "json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert [c["operation"] for c in dry["calls"]] == ["create_db_cluster_parameter_group",
                                                      "modify_db_cluster_parameter_group"]
    assert client.state_digest(lab_paths) == before

    run_dir = tmp_path / "run"
    assert cli.main(["groups", "apply", "--params", params, "--run-dir", str(run_dir)]) == 0
    assert f"cluster-parameter-group {NEW_GROUP}: created" in capsys.readouterr().out
    made = aurora.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=NEW_GROUP)[
        "DBClusterParameterGroups"][0]
    assert made["DBParameterGroupFamily"] == "aurora-mysql8.0"
    assert _user(aurora, NEW_GROUP) == {"binlog_format": "ROW", "character_set_server": "utf8mb4",
                                        "transaction_isolation": "READ-COMMITTED"}
    recorded = json.loads((run_dir / "green-groups-plan.json").read_text())
    assert recorded["plan"]["cluster_parameter_group"]["target_group"] == NEW_GROUP

    after_first = client.state_digest(lab_paths)
    assert cli.main(["groups", "apply", "--params", params, "--run-dir", str(run_dir), "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [a["action"] for a in again["actions"]] == ["reused"] and again["calls"] == []
    assert client.state_digest(lab_paths) == after_first

    # a different group of that name is refused (exit 1, nothing changed), then made to match when told
    _set(aurora, NEW_GROUP, {"time_zone": "UTC"})
    assert cli.main(["groups", "apply", "--params", params, "--run-dir", str(run_dir)]) == 1
    assert "time_zone" in capsys.readouterr().err and _user(aurora, NEW_GROUP)["time_zone"] == "UTC"
    assert cli.main(["groups", "apply", "--params", params, "--run-dir", str(run_dir), "--update-existing"]) == 0
    assert "time_zone" not in _user(aurora, NEW_GROUP)


def test_cli_bad_input_names_the_flag_and_changes_nothing(aurora: Any, lab_paths: LabPaths, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    params = _params_file(tmp_path)
    before = client.state_digest(lab_paths)
    assert cli.main(["groups", "plan", "--params", params, "--from-cluster-group", "nope-57"]) == 2
    assert "nope-57" in capsys.readouterr().err
    assert cli.main(["groups", "plan", "--params", params, "--from", "pg-mysql-57"]) == 2
    assert "--from-cluster-group" in capsys.readouterr().err
    assert cli.main(["groups", "plan", "--params", params, "--target-version", "8.0.39"]) == 2
    assert "target_engine_version" in capsys.readouterr().err
    assert cli.main(["groups", "apply", "--params", params, "--cluster-group-name", SOURCE_GROUP]) == 1
    assert "family cannot change" in capsys.readouterr().err
    assert client.state_digest(lab_paths) == before


def test_no_user_modified_cluster_value_disappears_unlisted(aurora: Any) -> None:
    """Every modifiable aurora-mysql5.7 cluster parameter set by the user is in the plan exactly once, and the made
    group holds what the plan says: carried and renamed values with their value, dropped ones with a reason."""
    family = aurora.describe_engine_default_cluster_parameters(
        DBParameterGroupFamily="aurora-mysql5.7")["EngineDefaults"]["Parameters"]
    values = {p["ParameterName"]: (p.get("ParameterValue") or f"v-{p['ParameterName']}")[:40]
              for p in family if p["IsModifiable"]}
    _set(aurora, SOURCE_GROUP, values)
    user = _user(aurora, SOURCE_GROUP)
    assert user == values and {"tx_isolation", "query_cache_size", "query_cache_type"} <= set(user)
    facade = RdsFacade(aurora)
    pg = groups.plan_parameter_group(facade, SOURCE_GROUP, NEW_GROUP, "aurora-mysql8.0", TARGET, cluster=True)
    assert sorted(e.name for e in pg.entries) == sorted(user)
    for e in pg.entries:
        if e.name in variables.REMOVED_BY_NAME:
            assert e.action in ("rename", "drop"), e
        assert e.action != "drop" or (e.reason and e.applies_on_80), e
    groups.apply(facade, groups.Plan(cluster_parameter_group=pg))
    made = _user(aurora, NEW_GROUP)
    assert made == pg.desired()
    for e in pg.entries:
        if e.action in ("carry", "rename"):
            assert made[e.target_name or ""] == user[e.name], e


def test_lab_refuses_cluster_parameters_the_family_lacks(aurora: Any) -> None:
    """RDS: ModifyDBClusterParameterGroup / ResetDBClusterParameterGroup with a name the family lacks is
    InvalidParameterValue (moto: accepted; reset NotImplemented)."""
    aurora.create_db_cluster_parameter_group(DBClusterParameterGroupName="c80", DBParameterGroupFamily="aurora-mysql8.0",
                                             Description="t")
    for call in (aurora.modify_db_cluster_parameter_group, aurora.reset_db_cluster_parameter_group):
        with pytest.raises(ClientError) as refused:
            call(DBClusterParameterGroupName="c80", Parameters=[
                {"ParameterName": "query_cache_size", "ParameterValue": "0", "ApplyMethod": "immediate"}])
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    _set(aurora, "c80", {"time_zone": "UTC"})
    aurora.reset_db_cluster_parameter_group(DBClusterParameterGroupName="c80", Parameters=[
        {"ParameterName": "time_zone", "ApplyMethod": "immediate"}])
    assert _user(aurora, "c80") == {}


# -- step 01 for a cluster ----------------------------------------------------------------------------------------
def _step(tmp_path: Path, **overrides: Any) -> Step:
    return begin("01", _params_file(tmp_path, **overrides), {})


def test_step01_offers_the_cluster_group_then_creates_it_when_asked(aurora: Any, lab_paths: LabPaths,
                                                                    tmp_path: Path) -> None:
    """green_cluster_parameter_group missing: step 01 records the plan and fails greenGroups naming the key (nothing
    changed); with create_green_groups: true it creates the group and every prerequisite passes."""
    _workshop(aurora)
    before = client.state_digest(lab_paths)
    step = _step(tmp_path)
    with pytest.raises(RunbookError, match="create_green_groups: true") as refused:
        prerequisites.check(step)
    step.fail(refused.value)
    step.finish("failed")   # releases the deployment lock a notebook step holds
    check = next(c for c in step.checks if c["id"] == "greenGroups")
    assert check["result"] == "fail" and check["evidence"]["missing"] == [NEW_GROUP]
    assert check["evidence"]["plan"]["cluster_parameter_group"]["rename"] == ["tx_isolation"]
    assert (step.run.path / "green-groups-plan.json").is_file() and step.rds.recorded_calls() == []
    assert client.state_digest(lab_paths) == before

    asked = _step(tmp_path, create_green_groups=True)
    prerequisites.check(asked)
    assert [c["what"] for c in asked.changes] == [f"cluster-parameter-group {NEW_GROUP} created"]
    assert _user(aurora, NEW_GROUP)["transaction_isolation"] == "READ-COMMITTED"
    assert {c["id"]: c["result"] for c in asked.checks}["greenGroups"] == "pass"
    asked.finish()
    again = _step(tmp_path, create_green_groups=True)
    assert groups.offer(again)["status"] == "not-needed" and again.rds.recorded_calls() == []
