"""The 8.0 parameter and option groups made from the 5.7 ones (runbook groups plan|apply, step 01's offer), against
the real lab seeded without pg-mysql-80 and mysql80-option-group; and the lab's RDS rules for groups."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from conftest import ROOT

import runbook_lib as rb
from runbook_lib import cli
from runbook_lib.aws.rds import RdsFacade
from runbook_lib.engines.mysql import parameter_groups as groups
from runbook_lib.engines.mysql import variables
from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths
from runbook_lib.run.context import Step, begin

LAB_PARAMS = ROOT / "parameters" / "lab.yaml"


@pytest.fixture
def bare(lab_paths: LabPaths) -> Any:
    """A lab seeded as `runbook lab up --without-target-groups`: the 8.0 groups are for the DBA to make."""
    state = client.reset(lab_paths, target_groups=False)
    return boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def _set(rds: Any, group: str, values: dict[str, str]) -> None:
    items = [{"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"} for k, v in values.items()]
    for start in range(0, len(items), 20):
        rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=items[start:start + 20])


def _user(rds: Any, group: str) -> dict[str, str]:
    pages = rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group, Source="user")
    return {p["ParameterName"]: p.get("ParameterValue") for page in pages for p in page["Parameters"]}


def _workshop_groups(rds: Any) -> None:
    """The issue's case: a kept value, a renamed one, a removed one, an sql_mode with a removed flag; two options."""
    _set(rds, "pg-mysql-57", {"max_connections": "500", "tx_isolation": "READ-COMMITTED",
                              "query_cache_size": "1048576", "sql_mode": "STRICT_TRANS_TABLES,NO_AUTO_CREATE_USER"})
    rds.modify_option_group(OptionGroupName="mysql57-option-group", ApplyImmediately=True, OptionsToInclude=[
        {"OptionName": "MEMCACHED", "OptionSettings": [{"Name": "CHUNK_SIZE", "Value": "32"}]},
        {"OptionName": "MARIADB_AUDIT_PLUGIN", "OptionSettings": [{"Name": "SERVER_AUDIT_EVENTS", "Value": "CONNECT"}]}])


def _step(number: str = "01", **overrides: Any) -> Step:
    values = yaml.safe_load(LAB_PARAMS.read_text())
    values.update(overrides)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(values, fh)
    return begin(number, fh.name, {})


def _params_file(tmp_path: Path, **overrides: Any) -> str:
    values = yaml.safe_load(LAB_PARAMS.read_text())
    values.update(overrides)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


# -- the plan -------------------------------------------------------------------------------------------------
def test_plan_kept_renamed_removed_adjusted_and_the_options(bare: Any) -> None:
    _workshop_groups(bare)
    plan = groups.plan_for_instance(RdsFacade(bare), bare.describe_db_instances(
        DBInstanceIdentifier="database-1")["DBInstances"][0], "8.0.39", "pg-mysql-80", "mysql80-option-group")
    pg = plan.parameter_group
    assert pg is not None and (pg.source_group, pg.source_family, pg.target_family) == ("pg-mysql-57", "mysql5.7",
                                                                                     "mysql8.0")
    by = {e.name: e for e in pg.entries}
    assert set(by) == {"binlog_format", "max_connections", "tx_isolation", "query_cache_size", "sql_mode"}
    assert (by["max_connections"].action, by["max_connections"].target_value) == ("carry", "500")
    assert (by["tx_isolation"].action, by["tx_isolation"].target_name, by["tx_isolation"].target_value) == \
        ("rename", "transaction_isolation", "READ-COMMITTED")
    dropped = by["query_cache_size"]
    assert dropped.action == "drop" and "8.0.3" in dropped.reason and "query cache" in dropped.reason
    assert dropped.applies_on_80 and dropped.source == variables.REMOVED_PAGE
    assert (by["sql_mode"].action, by["sql_mode"].target_value) == ("adjust", "STRICT_TRANS_TABLES")
    assert pg.desired() == {"binlog_format": "ROW", "max_connections": "500", "sql_mode": "STRICT_TRANS_TABLES",
                            "transaction_isolation": "READ-COMMITTED"}
    changes = {c.name: c for c in pg.default_changes}
    assert changes["character_set_server"].new == "utf8mb4" and "max_connections" not in changes
    og = plan.option_group
    assert og is not None and {o.name: (o.action, o.settings) for o in og.options} == {
        "MEMCACHED": ("carry", {"CHUNK_SIZE": "32"}), "MARIADB_AUDIT_PLUGIN": ("carry", {"SERVER_AUDIT_EVENTS": "CONNECT"})}
    text = plan.text()
    for words in ("renamed   tx_isolation -> transaction_isolation = READ-COMMITTED", "dropped   query_cache_size",
                  "adjusted  sql_mode", "carried   max_connections = 500", "carried      MEMCACHED"):
        assert words in text


def test_options_unavailable_for_the_target_are_listed_with_the_reason(bare: Any) -> None:
    """RDS offers MARIADB_AUDIT_PLUGIN on 8.0 from 8.0.28 only and no MEMCACHED on 8.4 (RDS's MySQL options page);
    every 5.7 option is offered on 8.0.28 and later, so the lab shows unavailability for those targets."""
    _workshop_groups(bare)
    facade = RdsFacade(bare)
    older = groups.plan_option_group(facade, "mysql57-option-group", "og80", "8.0", "8.0.26")
    assert {o.name: o.action for o in older.options} == {"MEMCACHED": "carry", "MARIADB_AUDIT_PLUGIN": "unavailable"}
    assert "8.0.28 or later" in next(o.reason for o in older.options if o.action == "unavailable")
    later = groups.plan_option_group(facade, "mysql57-option-group", "og84", "8.4")
    assert {o.name: o.action for o in later.options} == {"MEMCACHED": "unavailable", "MARIADB_AUDIT_PLUGIN": "carry"}
    assert "unavailable  MEMCACHED (RDS offers no MEMCACHED option for mysql 8.4" in groups.render_text(
        groups.Plan(option_group=later))
    groups.apply(facade, groups.Plan(option_group=older))
    made = bare.describe_option_groups(OptionGroupName="og80")["OptionGroupsList"][0]
    assert [o["OptionName"] for o in made["Options"]] == ["MEMCACHED"]  # the unavailable one is left out


def test_no_user_modified_value_disappears_unlisted(bare: Any) -> None:
    """Every modifiable 5.7 parameter set by the user is in the plan exactly once, and what the plan says is what the
    made group holds: carried and renamed values with their value, dropped ones with a reason."""
    family = {p["ParameterName"]: p for page in bare.get_paginator("describe_engine_default_parameters").paginate(
        DBParameterGroupFamily="mysql5.7") for p in page["EngineDefaults"]["Parameters"]}
    renames = variables.renamed()
    # the new names of renames stay unset (so the old value moves), except one: both names set, different values
    conflict = "innodb_stats_sample_pages"
    values = {n: (p.get("ParameterValue") or f"v-{n}")[:40] for n, p in family.items() if p["IsModifiable"]
              and (n not in renames.values() or n == renames[conflict])}
    values["sql_mode"] = "NO_AUTO_CREATE_USER,STRICT_ALL_TABLES"
    _set(bare, "pg-mysql-57", values)
    user = _user(bare, "pg-mysql-57")
    assert len(user) == len(values) > 100
    facade = RdsFacade(bare)
    pg = groups.plan_parameter_group(facade, "pg-mysql-57", "pg-everything-80", "mysql8.0", "8.0.39")
    assert sorted(e.name for e in pg.entries) == sorted(user)
    for e in pg.entries:
        if e.name in variables.REMOVED_BY_NAME:
            assert e.action == ("rename" if e.name in renames and e.name != conflict else "drop"), e
        assert e.action != "drop" or (e.reason and e.applies_on_80), e
    groups.apply(facade, groups.Plan(parameter_group=pg))
    made = _user(bare, "pg-everything-80")
    assert made == pg.desired()
    for e in pg.entries:
        if e.action in ("carry", "rename"):
            assert made[e.target_name or ""] == user[e.name], e
    assert made["transaction_isolation"] == user["tx_isolation"]
    assert made["sql_mode"] == "STRICT_ALL_TABLES"
    kept = next(e for e in pg.entries if e.name == conflict)
    assert "also set" in kept.reason and made[renames[conflict]] == user[renames[conflict]]


def test_bad_input_names_what_to_fix_and_changes_nothing(bare: Any, lab_paths: LabPaths) -> None:
    facade, before = RdsFacade(bare), client.state_digest(lab_paths)
    with pytest.raises(groups.PlanError, match="pg-nope .*does not exist.*nothing was changed"):
        groups.plan_parameter_group(facade, "pg-nope", "x", "mysql8.0")
    with pytest.raises(groups.PlanError, match="mysql5.7 -> mysql8.0"):
        groups.plan_parameter_group(facade, "pg-mysql-57", "x", "mysql5.7")
    with pytest.raises(groups.PlanError, match="og-nope"):
        groups.plan_option_group(facade, "og-nope", "x")
    assert client.state_digest(lab_paths) == before


# -- apply --------------------------------------------------------------------------------------------------------
def test_apply_creates_tags_reuses_refuses_and_updates(bare: Any, lab_paths: LabPaths, tmp_path: Path) -> None:
    _workshop_groups(bare)
    facade = RdsFacade(bare)
    blue = facade.instance("database-1")
    plan = groups.plan_for_instance(facade, blue, "8.0.39", "pg-mysql-80", "mysql80-option-group")
    actions = groups.apply(facade, plan)
    assert [(a.group, a.action) for a in actions] == [("pg-mysql-80", "created"), ("mysql80-option-group", "created")]
    pg = bare.describe_db_parameter_groups(DBParameterGroupName="pg-mysql-80")["DBParameterGroups"][0]
    og = bare.describe_option_groups(OptionGroupName="mysql80-option-group")["OptionGroupsList"][0]
    assert (pg["DBParameterGroupFamily"], og["MajorEngineVersion"]) == ("mysql8.0", "8.0")
    assert facade.tags(pg["DBParameterGroupArn"])[groups.TAG_SOURCE_PARAMETER_GROUP] == "pg-mysql-57"
    assert facade.tags(og["OptionGroupArn"])[groups.TAG_SOURCE_OPTION_GROUP] == \
        "mysql57-option-group"
    assert _user(bare, "pg-mysql-80") == plan.parameter_group.desired()  # type: ignore[union-attr]
    recorded = json.loads(groups.record(plan, actions, tmp_path).read_text())
    assert recorded["plan"]["parameter_group"]["target_group"] == "pg-mysql-80" and len(recorded["applied"]) == 2

    before, again = client.state_digest(lab_paths), RdsFacade(bare)
    assert [a.action for a in groups.apply(again, plan)] == ["reused", "reused"]
    assert again.recorded_calls() == [] and client.state_digest(lab_paths) == before

    _set(bare, "pg-mysql-80", {"max_connections": "77"})
    changed = client.state_digest(lab_paths)
    with pytest.raises(groups.GroupExists, match=r"max_connections: '77' -> '500'.*Nothing was changed"):
        groups.apply(RdsFacade(bare), plan)
    assert client.state_digest(lab_paths) == changed
    _set(bare, "pg-mysql-80", {"wait_timeout": "60"})
    assert [a.action for a in groups.apply(RdsFacade(bare), plan, update_existing=True)] == ["updated", "reused"]
    assert _user(bare, "pg-mysql-80") == plan.parameter_group.desired()  # type: ignore[union-attr]


def test_cli_plan_and_apply_with_exit_codes(bare: Any, lab_paths: LabPaths, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _workshop_groups(bare)
    params = _params_file(tmp_path)
    assert cli.main(["groups", "plan", "--params", params, "--from", "pg-mysql-57", "--to-family", "mysql8.0",
                     "--name", "pg-mysql-80"]) == 0
    text = capsys.readouterr().out
    assert "renamed   tx_isolation -> transaction_isolation" in text and "carried      MEMCACHED" in text
    before = client.state_digest(lab_paths)
    assert cli.main(["groups", "plan", "--params", params, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameter_group"]["target_group"] == "pg-mysql-80"
    assert cli.main(["groups", "apply", "--params", params, "--dry-run", "--format", "json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert {c["operation"] for c in dry["calls"]} == {"create_db_parameter_group", "modify_db_parameter_group",
                                                      "create_option_group", "modify_option_group"}
    assert not any(c["performed"] for c in dry["calls"]) and client.state_digest(lab_paths) == before

    run_dir = tmp_path / "run"
    assert cli.main(["groups", "apply", "--params", params, "--run-dir", str(run_dir)]) == 0
    assert "pg-mysql-80: created" in capsys.readouterr().out
    assert (run_dir / "green-groups-plan.json").is_file()
    assert cli.main(["groups", "apply", "--params", params, "--run-dir", str(run_dir)]) == 0
    assert "pg-mysql-80: reused" in capsys.readouterr().out

    assert cli.main(["groups", "plan", "--params", params, "--from", "pg-nope"]) == 2
    assert "pg-nope" in capsys.readouterr().err
    assert cli.main(["groups", "plan", "--params", params, "--to-family", "mysql5.7"]) == 2
    assert cli.main(["groups", "apply", "--params", params, "--name", "pg-mysql-57", "--no-option-group"]) == 1
    assert "family cannot change" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["groups", "apply", "--no-option-group", "--option-group-only"])
    assert usage.value.code == 2


# -- step 01's offer --------------------------------------------------------------------------------------------
def _check(step: Step, check_id: str) -> dict[str, Any]:
    return next(c for c in step.checks if c["id"] == check_id)


def test_offer_reports_the_plan_and_what_to_set_when_not_asked(bare: Any, lab_paths: LabPaths) -> None:
    _workshop_groups(bare)
    before = client.state_digest(lab_paths)
    step = _step()
    result = groups.offer(step)
    assert (result["status"], result["ready"], result["targets"]) == ("not-requested", False,
                                                                      ["pg-mysql-80", "mysql80-option-group"])
    check = _check(step, "greenGroups")
    assert check["result"] == "fail" and "create_green_groups: true" in check["remediation"]
    assert check["evidence"]["plan"]["parameter_group"]["rename"] == ["tx_isolation"]
    assert (step.run.path / "green-groups-plan.json").is_file() and step.rds.recorded_calls() == []
    assert result["green_parameters"]["transaction_isolation"]["ParameterValue"] == "READ-COMMITTED"
    assert client.state_digest(lab_paths) == before


def test_offer_in_a_dry_run_records_the_calls_and_changes_nothing(bare: Any, lab_paths: LabPaths) -> None:
    _workshop_groups(bare)
    before = client.state_digest(lab_paths)
    step = _step(dry_run=True, create_green_groups=True)
    result = groups.offer(step)
    assert (result["status"], result["ready"]) == ("planned", False)
    calls = step.rds.recorded_calls()
    assert [c["operation"] for c in calls] == ["create_db_parameter_group", "modify_db_parameter_group",
                                               "create_option_group", "modify_option_group"]
    assert not any(c["performed"] for c in calls) and _check(step, "greenGroups")["result"] == "skip"
    assert client.state_digest(lab_paths) == before


def test_offer_creates_headless_when_asked_and_then_is_not_needed(bare: Any) -> None:
    _workshop_groups(bare)
    step = _step(create_green_groups=True)
    result = groups.offer(step)
    assert (result["status"], result["ready"]) == ("created", True)
    assert [c["what"] for c in step.changes] == ["parameter-group pg-mysql-80 created",
                                                 "option-group mysql80-option-group created"]
    assert _user(bare, "pg-mysql-80")["transaction_isolation"] == "READ-COMMITTED"
    again = _step(create_green_groups=True)
    assert groups.offer(again)["status"] == "not-needed" and again.rds.recorded_calls() == []


def test_offer_in_jupyterlab_waits_for_the_click_then_creates(bare: Any) -> None:
    _workshop_groups(bare)
    step = _step(interactive=True)
    result = groups.offer(step)
    assert result["status"] == "waiting-for-click"
    with pytest.raises(rb.GateClosed, match="Click the confirm button"):
        groups.offer_confirmed(step)
    assert step.rds.recorded_calls() == []
    buttons = rb.confirm(step, groups.GATE, result["targets"])
    assert len(buttons) == 2
    for button in buttons:
        button.click()
    done = groups.offer_confirmed(step)
    assert done["status"] == "created"
    assert {c["how"] for c in step.changes if "created" in c["what"]} == {"confirmed interactively"}
    assert bare.describe_db_parameter_groups(DBParameterGroupName="pg-mysql-80")["DBParameterGroups"]


def test_notebook_01_shows_the_plan_and_its_checks_cell_waits_for_the_click(bare: Any, lab_paths: LabPaths) -> None:
    """Notebook 01's groups cell, then its checks cell, as JupyterLab runs them: the checks stop (no change made)
    until both confirm buttons were clicked, then create the groups and check them."""
    from runbook_lib.steps import prerequisites
    _workshop_groups(bare)
    before = client.state_digest(lab_paths)
    step = _step(interactive=True, create_green_groups=True)   # in JupyterLab the buttons decide, not the file
    assert step.findings["ignored_in_interactive_mode"]["create_green_groups"] is True
    shown = prerequisites.green_groups(step)
    assert shown["status"] == "waiting-for-click" and len(shown["buttons"]) == 2
    assert "rename" in shown["text"] and "tx_isolation" in shown["text"]
    with pytest.raises(rb.GateClosed, match="Click the confirm button"):
        prerequisites.check(step)
    assert client.state_digest(lab_paths) == before and step.rds.recorded_calls() == []
    shown["buttons"][0].click()
    with pytest.raises(rb.GateClosed):   # one of two groups confirmed is not enough
        prerequisites.check(step)
    shown["buttons"][1].click()
    try:
        prerequisites.check(step)
    except rb.RunbookError as failed:   # other prerequisites may fail on this bare source; the groups must not
        assert "greenGroups" not in str(failed)
    assert _check(step, "greenGroups")["result"] == "pass"
    assert bare.describe_db_parameter_groups(DBParameterGroupName="pg-mysql-80")["DBParameterGroups"]


# -- the lab's rules for groups ---------------------------------------------------------------------------------
def test_lab_refuses_what_rds_refuses_for_groups(bare: Any) -> None:
    bare.create_db_parameter_group(DBParameterGroupName="pg-x-80", DBParameterGroupFamily="mysql8.0", Description="x")

    def refused(code: str, words: str, call: Any, **kwargs: Any) -> None:
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        assert err.value.response["Error"]["Code"] == code and words in err.value.response["Error"]["Message"]

    one = lambda n, v="1": [{"ParameterName": n, "ParameterValue": v, "ApplyMethod": "pending-reboot"}]  # noqa: E731
    refused("InvalidParameterValue", "Could not find parameter with name: tx_isolation",
            bare.modify_db_parameter_group, DBParameterGroupName="pg-x-80", Parameters=one("tx_isolation"))
    refused("InvalidParameterValue", "Could not find parameter with name: query_cache_size",
            bare.modify_db_parameter_group, DBParameterGroupName="pg-x-80", Parameters=one("query_cache_size"))
    refused("InvalidParameterValue", "server_id cannot be modified",
            bare.modify_db_parameter_group, DBParameterGroupName="pg-x-80", Parameters=one("server_id"))
    refused("InvalidParameterValue", "up to 20 parameters", bare.modify_db_parameter_group,
            DBParameterGroupName="pg-x-80", Parameters=one("wait_timeout") * 21)
    refused("InvalidParameterValue", "Invalid DB parameter group family", bare.create_db_parameter_group,
            DBParameterGroupName="pg-y", DBParameterGroupFamily="mysql9.9", Description="x")
    refused("DBParameterGroupNotFound", "pg-nope", bare.describe_db_parameter_groups, DBParameterGroupName="pg-nope")
    bare.create_option_group(OptionGroupName="og-x-84", EngineName="mysql", MajorEngineVersion="8.0",
                             OptionGroupDescription="x")
    refused("InvalidParameterValue", "We do not support setting: NOPE for MEMCACHED", bare.modify_option_group,
            OptionGroupName="og-x-84", OptionsToInclude=[{"OptionName": "MEMCACHED", "OptionSettings": [
                {"Name": "NOPE", "Value": "1"}]}])
    refused("InvalidParameterValue", "Option NOPE is not available for mysql 8.0", bare.modify_option_group,
            OptionGroupName="og-x-84", OptionsToInclude=[{"OptionName": "NOPE"}])
    eighty = bare.describe_option_group_options(EngineName="mysql", MajorEngineVersion="8.0")["OptionGroupOptions"]
    assert {o["Name"]: o.get("MinimumRequiredMinorEngineVersion") for o in eighty} == {
        "MARIADB_AUDIT_PLUGIN": "28", "MEMCACHED": None}


def test_lab_families_cover_the_manuals_lists(bare: Any) -> None:
    def family(name: str) -> dict[str, Any]:
        return {p["ParameterName"]: p for page in bare.get_paginator("describe_engine_default_parameters").paginate(
            DBParameterGroupFamily=name) for p in page["EngineDefaults"]["Parameters"]}
    five, eight = family("mysql5.7"), family("mysql8.0")
    assert all(p["Source"] in ("engine-default", "system") for p in [*five.values(), *eight.values()])
    for r in variables.REMOVED:
        assert r.name not in eight, r.name
        assert (r.name in five) == (r.in_57 and not r.name.startswith("ndb_")), r.name
        if r.rename:
            assert r.replacement in eight and r.replacement in five, r.name
    for c in variables.DEFAULT_CHANGES:
        assert c.name in eight and c.name in five, c.name
    for old, (new, _) in variables.DEPRECATED_ALIASES.items():
        assert old in five and old in eight and new in eight, old


def test_default_lab_still_seeds_the_target_groups(rds: Any) -> None:
    assert rds.describe_db_parameter_groups(DBParameterGroupName="pg-mysql-80")["DBParameterGroups"]
    assert rds.describe_option_groups(OptionGroupName="mysql80-option-group")["OptionGroupsList"]
