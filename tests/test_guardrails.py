"""Guardrails: each preflight check passes and fails; gates refuse without confirmation; widgets confirm;
a dry run changes nothing; bad parameter files stop before anything; AWS errors read as advice."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pymysql
import pytest
from botocore.exceptions import ClientError
from conftest import ROOT, create_available_deployment, instance, master_password, upgrade_green

from runbook_lib.aws.waiting import wait_until
from runbook_lib.checks import iam_permissions, source_readiness, switchover_guardrails
from runbook_lib.errors import GateClosed, NotFound, RunbookError, WaitTimeout, explain_client_error
from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths
from runbook_lib.run.context import Step, begin
from runbook_lib.steps import cleanup, switchover
from runbook_lib.steps.sides import current

LAB_PARAMS = str(ROOT / "parameters" / "lab.yaml")


def _step(number: str = "01", **overrides: Any) -> Step:
    """A step as a notebook begins it, from lab.yaml with `overrides` (None included) on top."""
    import tempfile

    import yaml
    values = yaml.safe_load(Path(LAB_PARAMS).read_text())
    values.update(overrides)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(values, fh)
    return begin(number, fh.name, {})


def _result(step: Step, check_id: str) -> str:
    return next(c["result"] for c in step.checks if c["id"] == check_id)


def _admin(paths: LabPaths, rds: Any, name: str) -> pymysql.connections.Connection:
    """The lab's own superuser on an instance's server (to break things the master user cannot)."""
    state = client.status(paths)
    password = json.loads((paths.root / "internal.json").read_text())["admin_password"]
    return pymysql.connect(host="127.0.0.1", port=state["instances"][name]["server_port"], user="root",
                           password=password, autocommit=True, ssl_disabled=True)


def test_all_source_and_target_checks_pass_on_the_seeded_lab(rds: Any) -> None:
    step = _step()
    blue = step.rds.instance("database-1")
    source_readiness.source_checks(step, blue)
    source_readiness.target_checks(step, blue)
    iam_permissions.iam_permissions(step)
    assert {c["id"]: c["result"] for c in step.checks} == {
        "automatedBackups": "pass", "binlogFormat": "pass", "masterPasswordNotManaged": "pass",
        "notExternalReplica": "pass", "tablesWithoutPrimaryKey": "pass", "targetVersion": "pass",
        "greenParameterGroupFamily": "pass", "greenParameterGroupRemovedVariables": "pass",
        "greenEventSchedulerOff": "pass", "greenOptionGroupVersion": "pass", "iamPermissions": "pass",
        "databasePrivileges": "pass", "databaseTls": "skip"}   # TLS: the lab's option is off by default


def _break(kind: str, rds: Any, paths: LabPaths) -> dict[str, Any]:
    if kind == "automatedBackups":
        rds.modify_db_instance(DBInstanceIdentifier="database-1", BackupRetentionPeriod=0, ApplyImmediately=True)
    elif kind == "masterPasswordNotManaged":
        rds.modify_db_instance(DBInstanceIdentifier="database-1", ManageMasterUserPassword=True, ApplyImmediately=True)
    elif kind == "binlogFormat":
        rds.modify_db_parameter_group(DBParameterGroupName="pg-mysql-57", Parameters=[
            {"ParameterName": "binlog_format", "ParameterValue": "STATEMENT", "ApplyMethod": "immediate"}])
    elif kind == "notExternalReplica":
        with _admin(paths, rds, "database-1") as conn, conn.cursor() as cur:
            cur.execute("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='x'")
    elif kind == "tablesWithoutPrimaryKey":
        with pymysql.connect(host="127.0.0.1", port=instance(rds, "database-1")["Endpoint"]["Port"], user="admin",
                             password=master_password(paths), database="shop", ssl_disabled=True) as conn:
            conn.cursor().execute("CREATE TABLE audit_trail (at DATETIME, what TEXT)")
    elif kind == "targetVersion":
        return {"target_engine_version": "8.0.11"}
    elif kind == "greenParameterGroupFamily":
        return {"green_parameter_group": "pg-mysql-57"}
    elif kind == "greenParameterGroupRemovedVariables":
        # RDS (and the lab) refuse a removed variable in a mysql8.0 group: only a 5.7 group named as green has one
        rds.modify_db_parameter_group(DBParameterGroupName="pg-mysql-57", Parameters=[
            {"ParameterName": "query_cache_size", "ParameterValue": "1048576", "ApplyMethod": "pending-reboot"}])
        return {"green_parameter_group": "pg-mysql-57"}
    elif kind == "greenEventSchedulerOff":
        rds.modify_db_parameter_group(DBParameterGroupName="pg-mysql-80", Parameters=[
            {"ParameterName": "event_scheduler", "ParameterValue": "ON", "ApplyMethod": "immediate"}])
    elif kind == "greenOptionGroupVersion":
        return {"green_option_group": "mysql57-option-group"}
    elif kind == "iamPermissions":
        client.set_iam_policy(paths, ["*"], ["rds:SwitchoverBlueGreenDeployment"])
    return {}


@pytest.mark.parametrize(("check", "expected"), [
    ("automatedBackups", "fail"), ("masterPasswordNotManaged", "fail"), ("binlogFormat", "warn"), ("notExternalReplica", "fail"),
    ("tablesWithoutPrimaryKey", "warn"), ("targetVersion", "fail"), ("greenParameterGroupFamily", "fail"),
    ("greenParameterGroupRemovedVariables", "fail"), ("greenEventSchedulerOff", "fail"),
    ("greenOptionGroupVersion", "fail"), ("iamPermissions", "fail")])
def test_each_source_and_target_check_fails_when_broken(rds: Any, lab_paths: LabPaths, check: str,
                                                        expected: str) -> None:
    overrides = _break(check, rds, lab_paths)
    try:
        step = _step(**overrides)
        blue = step.rds.instance("database-1")
        source_readiness.source_checks(step, blue)
        source_readiness.target_checks(step, blue)
        iam_permissions.iam_permissions(step)
        assert _result(step, check) == expected, step.checks
        entry = next(c for c in step.checks if c["id"] == check)
        assert entry["evidence"] and entry["remediation"]
    finally:
        client.set_iam_policy(lab_paths, ["*"])


def test_switchover_guardrails_pass_then_each_fails(rds: Any, lab_paths: LabPaths,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bgd = create_available_deployment(rds)
    green = bgd["Target"].split(":")[-1]
    time.sleep(2.2)  # the lab publishes ReplicaLag once a second
    step = _step("05")
    switchover_guardrails.before_switchover(step, current(step))
    assert {c["id"]: c["result"] for c in step.checks} == {
        "deploymentAvailable": "pass", "greenReplicating": "pass", "greenReadOnly": "pass", "replicaLag": "pass",
        "noLongTransactions": "pass", "dataConsistency": "pass"}

    def failing(check: str) -> None:
        attempt = _step("05")
        with pytest.raises(RunbookError, match="preflight failed"):
            switchover_guardrails.before_switchover(attempt, current(attempt))
        assert _result(attempt, check) == "fail", attempt.checks

    with _admin(lab_paths, rds, green) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO shop.products VALUES (999, 'SKU-GREEN', 1.00)")   # a write on green
        failing("dataConsistency")
        cur.execute("DELETE FROM shop.products WHERE id = 999")
        cur.execute("SET GLOBAL read_only = OFF")
        failing("greenReadOnly")
        cur.execute("SET GLOBAL read_only = ON")
        cur.execute("STOP SLAVE")
        failing("greenReplicating")
        cur.execute("START SLAVE")
    monkeypatch.setattr(switchover_guardrails, "LONG_TRANSACTION_S", 1)
    client.set_switches(lab_paths, stall_green_sql_thread=True,   # a failed switchover: no longer AVAILABLE
                        switchover_rollback_status="SWITCHOVER_FAILED")
    ident = bgd["BlueGreenDeploymentIdentifier"]
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=ident, SwitchoverTimeout=60)
    from conftest import deployment, wait_for
    wait_for(lambda: deployment(rds, ident), lambda d: d["Status"] == "SWITCHOVER_FAILED")
    client.set_switches(lab_paths, stall_green_sql_thread=False, switchover_rollback_status="AVAILABLE")
    failing("deploymentAvailable")
    blue_conn = pymysql.connect(host="127.0.0.1", port=instance(rds, "database-1")["Endpoint"]["Port"], user="admin",
                                password=master_password(lab_paths), database="shop", ssl_disabled=True)
    with blue_conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("UPDATE customers SET name = 'held' WHERE id = 1")
    time.sleep(1.5)
    failing("noLongTransactions")
    blue_conn.rollback()
    blue_conn.close()


def test_replica_lag_from_cloudwatch_fails_above_the_limit(rds: Any, lab_paths: LabPaths) -> None:
    bgd = create_available_deployment(rds)
    green = bgd["Target"].split(":")[-1]
    with _admin(lab_paths, rds, green) as conn, conn.cursor() as cur:
        cur.execute("STOP SLAVE")
        cur.execute("CHANGE MASTER TO MASTER_DELAY = 4")
        cur.execute("START SLAVE")
    stop = threading.Event()

    def writes() -> None:
        with pymysql.connect(host="127.0.0.1", port=instance(rds, "database-1")["Endpoint"]["Port"], user="admin",
                             password=master_password(lab_paths), database="shop", autocommit=True,
                             ssl_disabled=True) as conn, conn.cursor() as cur:
            n = 0
            while not stop.is_set():
                n += 1
                cur.execute("UPDATE customers SET name = %s WHERE id = 2", (f"n{n}",))
                time.sleep(0.1)
    writer = threading.Thread(target=writes)
    writer.start()
    try:
        step = _step("05", max_replica_lag_s=0.5)
        deadline = time.monotonic() + 20
        while True:
            step.checks.clear()
            switchover_guardrails.replica_lag(step, green)
            if _result(step, "replicaLag") == "fail" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        entry = next(c for c in step.checks if c["id"] == "replicaLag")
        assert entry["result"] == "fail" and entry["evidence"]["ReplicaLag_s"] > 0.5
        assert "CloudWatch" in entry["evidence"]["source"]
    finally:
        stop.set()
        writer.join()


def test_gates_refuse_without_confirmation_and_widgets_confirm(rds: Any) -> None:
    create_available_deployment(rds)
    unconfirmed = _step("05", confirm_switchover=None)
    with pytest.raises(GateClosed, match="set confirm_switchover: bg-deployment"):
        switchover.switch_over(unconfirmed)
    wrong = _step("05", confirm_switchover="other-deployment")
    with pytest.raises(GateClosed, match="it is 'other-deployment'"):
        switchover.switch_over(wrong)
    no_delete = _step("06", confirm_delete=[])
    with pytest.raises(RunbookError):  # not switched over yet: refuses before any gate or change
        cleanup.delete_deployment(no_delete)
    assert current(no_delete).deployment["Status"] == "AVAILABLE"

    from runbook_lib.ui import widgets as interactive
    step = _step("05", interactive=True, confirm_switchover=None)
    [button] = interactive.confirm(step, "switchover", "bg-deployment")
    with pytest.raises(GateClosed):
        switchover.switch_over(step)          # not clicked yet
    button.click()
    assert step.confirmations == {"switchover": ["bg-deployment"]} and button.disabled
    with pytest.raises(RunbookError, match="preflight has not passed"):
        switchover.switch_over(step)          # the gate is open now; the preflight is the next guard

    picker = interactive.target_picker(_step("03", interactive=True))
    assert "8.0.39" in picker.widget.options
    assert picker.widget.value is None        # interactive: nothing preselected, the person chooses
    with pytest.raises(GateClosed, match="Choose the target"):
        picker.value()
    picker.widget.value = "8.0.40"
    assert picker.value() == "8.0.40"
    headless = interactive.target_picker(_step("03"))
    assert headless.widget is None and headless.value() == "8.0.39"
    assert interactive.confirm(_step("06"), "delete", ["x"]) == []


def test_a_click_carried_to_a_rerun_opens_the_gate_only_for_the_deployment_it_was_made_for(rds: Any) -> None:
    from runbook_lib.ui import widgets as interactive
    first = create_available_deployment(rds)
    step = _step("05", interactive=True, confirm_switchover=None)
    with contextlib.suppress(RunbookError):
        switchover.check_guardrails(step)     # green not upgraded: a guardrail may fail; the deployment is checked
    [button] = interactive.confirm(step, "switchover", "bg-deployment")
    button.click()

    again = _step("05", interactive=True, confirm_switchover=None)   # Run All again in the same run: the click holds
    assert again.confirmations == {"switchover": ["bg-deployment"]}
    with contextlib.suppress(RunbookError):
        switchover.check_guardrails(again)
    assert again.confirmations == {"switchover": ["bg-deployment"]}

    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=first["BlueGreenDeploymentIdentifier"],
                                     DeleteTarget=True)
    from conftest import wait_for
    wait_for(lambda: rds.describe_blue_green_deployments()["BlueGreenDeployments"], lambda d: d == [])
    second = create_available_deployment(rds)  # the same name, another deployment
    assert second["BlueGreenDeploymentIdentifier"] != first["BlueGreenDeploymentIdentifier"]
    stale = _step("05", interactive=True, confirm_switchover=None)
    with contextlib.suppress(RunbookError):
        switchover.check_guardrails(stale)
    assert "switchover" not in stale.confirmations       # that click was for the deleted deployment
    [fresh] = interactive.confirm(stale, "switchover", "bg-deployment")
    assert not fresh.disabled                            # the button asks again
    with pytest.raises(GateClosed, match="Click"):
        switchover.switch_over(stale)


def test_delete_gates_name_each_target(rds: Any, lab_paths: LabPaths) -> None:
    bgd = create_available_deployment(rds)
    upgrade_green(rds, bgd["Target"].split(":")[-1])
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd["BlueGreenDeploymentIdentifier"])
    from conftest import deployment, wait_for
    wait_for(lambda: deployment(rds, bgd["BlueGreenDeploymentIdentifier"]), lambda d: d["Status"] == "SWITCHOVER_COMPLETED")
    with pytest.raises(RunbookError, match="no run in this runs folder created or reused it"):
        cleanup.delete_deployment(_step("06", confirm_delete=["bg-deployment", "database-1-old1"]))
    from runbook_lib.steps import create
    create.ensure_deployment(_step("02"))   # step 02 reuses it and records its identity
    with pytest.raises(GateClosed, match="add bg-deployment to confirm_delete"):
        cleanup.delete_deployment(_step("06", confirm_delete=[]))
    with pytest.raises(GateClosed, match="add database-1-old1 to confirm_delete"):
        cleanup.delete_old_blue(_step("06", confirm_delete=["bg-deployment"]))
    assert instance(rds, "database-1-old1")
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"]


def test_dry_run_changes_nothing_and_records_the_plan(lab: dict[str, Any], lab_paths: LabPaths) -> None:
    before = client.state_digest(lab_paths)
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "run", "--params", "parameters/lab.yaml",
                           "--dry-run"], cwd=ROOT, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert client.state_digest(lab_paths) == before
    record = json.loads((Path(done.stdout.strip().splitlines()[-1]) / "run.json").read_text())
    planned = [(c["step"], c["operation"]) for c in record["rds_calls"]]
    assert planned == [("02", "create_blue_green_deployment"), ("03", "modify_db_instance"),
                       ("05", "switchover_blue_green_deployment"), ("06", "delete_blue_green_deployment"),
                       ("06", "delete_db_instance")]
    assert not any(c["performed"] for c in record["rds_calls"]) and record["dry_run"] is True


BAD_FILES = sorted((ROOT / "tests" / "bad_params").glob("*.yaml"))


def test_the_bad_parameter_corpus_is_large_enough() -> None:
    assert len(BAD_FILES) >= 30


@pytest.fixture(scope="module")
def baseline_digest(lab_paths: LabPaths) -> str:
    client.reset(lab_paths)
    return client.state_digest(lab_paths)


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_parameter_file_stops_before_anything(path: Path, lab_paths: LabPaths, baseline_digest: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`runbook run` with the file, as the CLI runs it (in this process: the parsing and the exit code are the
    CLI's own), then the lab's whole state compared with before."""
    from runbook_lib.cli import main
    field = path.read_bytes().split(b"\n")[0].decode(errors="replace").split("expect:")[1].strip()
    code = main(["run", "--params", str(path), "--keep-lab"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"- {field}:" in err and "Traceback" not in err
    assert "hunter2" not in err
    assert client.state_digest(lab_paths) == baseline_digest


def _client_error(code: str, message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeDBInstances")


def test_aws_errors_read_as_advice_and_waits_report_the_last_state(rds: Any) -> None:
    assert "lacks this permission" in str(explain_client_error(_client_error("AccessDenied"), "Switching over"))
    assert "re-run the step" in str(explain_client_error(_client_error("Throttling"), "Describing"))
    assert isinstance(explain_client_error(_client_error("DBInstanceNotFound"), "Describing"), NotFound)
    assert "Wait until it is 'available'" in str(explain_client_error(_client_error("InvalidDBInstanceState"), "Modifying"))
    states = iter(["creating", "backing-up", "backing-up"] + ["modifying"] * 100)
    now = iter(range(0, 1000, 10))
    with pytest.raises(WaitTimeout) as err:
        wait_until(lambda: next(states), lambda s: s == "available", what="instance x", state_of=str, timeout_s=25,
                   clock=lambda: float(next(now)), sleep=lambda _: None, progress=False)
    assert "last state seen: backing-up" in str(err.value) and err.value.last_state == "backing-up"
