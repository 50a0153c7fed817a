"""aws-only branches, against botocore's own service model: the clients are the runbook's (make_clients, aws mode) and a
botocore Stubber answers with responses shaped as RDS/STS/IAM/Secrets Manager document them. The Stubber checks every
request's parameters against the model and the expected values, and the order of the calls. Databases, where a step
reaches one, are the lab's real MariaDB servers (over TLS with the lab's CA, verify-identity)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from runbook_lib.audit import secrets
from runbook_lib.audit.seal import seal
from runbook_lib.aws.clients import Clients, make_clients
from runbook_lib.aws.credentials import resolve_password
from runbook_lib.aws.rds import RdsFacade
from runbook_lib.checks import grants, iam_permissions
from runbook_lib.errors import RunbookError
from runbook_lib.params import validate
from runbook_lib.run.context import Step, StepContext
from runbook_lib.run.folder import RunFolder
from runbook_lib.run.step_record import StepRecord

ACCOUNT = "123456789012"
REGION = "eu-west-1"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
BLUE, DEPLOYMENT = "orders-prod", "orders-prod-mysql80"
GREEN = "orders-prod-green-abc123"


def arn(name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}"


def instance(name: str, version: str = "5.7.44", status: str = "available", group: str = "orders-mysql57",
             option_group: str = "orders-mysql57-og", pending: dict[str, str] | None = None,
             endpoint: tuple[str, int] = ("orders-prod.abc123.eu-west-1.rds.amazonaws.com", 3306)) -> dict[str, Any]:
    """A DBInstance as DescribeDBInstances returns it (the members the runbook reads)."""
    out: dict[str, Any] = {
        "DBInstanceIdentifier": name, "DBInstanceArn": arn(name), "DbiResourceId": f"db-{name.upper()[:20]}",
        "Engine": "mysql", "EngineVersion": version, "DBInstanceStatus": status, "DBInstanceClass": "db.r6g.large",
        "Endpoint": {"Address": endpoint[0], "Port": endpoint[1], "HostedZoneId": "Z29XKXDKYMONMX"},
        "BackupRetentionPeriod": 7, "MultiAZ": True, "InstanceCreateTime": T0,
        "DBParameterGroups": [{"DBParameterGroupName": group, "ParameterApplyStatus": "in-sync"}],
        "OptionGroupMemberships": [{"OptionGroupName": option_group, "Status": "in-sync"}],
        "PendingModifiedValues": pending or {},
    }
    return out


def deployment(status: str = "AVAILABLE") -> dict[str, Any]:
    return {"BlueGreenDeploymentIdentifier": "bgd-abcdefghij012345", "BlueGreenDeploymentName": DEPLOYMENT,
            "Source": arn(BLUE), "Target": arn(GREEN), "Status": status, "CreateTime": T0,
            "SwitchoverDetails": [{"SourceMember": arn(BLUE), "TargetMember": arn(GREEN), "Status": status}],
            "Tasks": [{"Name": "CREATING_READ_REPLICA_OF_SOURCE", "Status": "COMPLETED"}]}


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A factory of aws-mode steps whose clients are stubbed; every stub must be used up by the end of the test."""
    monkeypatch.setenv("RUNBOOK_RUNS_DIR", str(tmp_path / "runs"))
    made: list[Stubber] = []

    def make(number: str = "01", **values: Any) -> tuple[Step, dict[str, Stubber]]:
        params = validate({"mode": "aws", "region": REGION, "source_db_instance": BLUE, "deployment_name": DEPLOYMENT,
                           "target_engine_version": "8.0.39", "green_parameter_group": "orders-mysql80",
                           "green_option_group": "orders-mysql80-og", "tls": "off", **values})
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                                        region_name=REGION)
        clients: Clients = make_clients(params, session=session)
        stubs = {name: Stubber(getattr(clients, name)) for name in ("rds", "sts", "iam", "cloudwatch")}
        if clients.secretsmanager is not None:
            stubs["secretsmanager"] = Stubber(clients.secretsmanager)
        for stub in stubs.values():
            stub.activate()
            made.append(stub)
        run = RunFolder.create(tmp_path / "runs", f"run-{number}-{len(made)}")
        rds = RdsFacade(clients.rds, dry_run=params.dry_run)
        # the stubs answer for an RDS for MySQL instance: the engine seam's DescribeDBInstances is answered here
        step = Step(StepContext(params, clients, rds, source_engine="mysql"), StepRecord(number, run, params.redacted, rds.recorded_calls))
        return step, stubs

    yield make
    for stub in made:
        stub.assert_no_pending_responses()


def _current(rds: Stubber, green: dict[str, Any], blue: dict[str, Any] | None = None,
             status: str = "AVAILABLE") -> None:
    """What steps/sides.current asks, in its order."""
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": [deployment(status)]},
                     {"Filters": [{"Name": "blue-green-deployment-name", "Values": [DEPLOYMENT]}]})
    rds.add_response("describe_db_instances", {"DBInstances": [blue or instance(BLUE)]}, {"DBInstanceIdentifier": BLUE})
    rds.add_response("describe_db_instances", {"DBInstances": [green]}, {"DBInstanceIdentifier": GREEN})


# -- Secrets Manager ----------------------------------------------------------------------------------------------

def test_the_password_comes_from_secrets_manager_with_the_runbooks_retry_policy(aws: Any,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_DB_PASSWORD", raising=False)
    step, stubs = aws("01", db_password_secret_id="prod/orders/runbook")
    assert step.clients.secretsmanager is not None
    assert step.clients.secretsmanager.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 9}
    sm = stubs["secretsmanager"]
    secret = {"ARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/orders/runbook-AbCdEf",
              "Name": "prod/orders/runbook", "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
              "VersionStages": ["AWSCURRENT"], "CreatedDate": T0}
    sm.add_response("get_secret_value", {**secret, "SecretString": json.dumps({"username": "runbook", "password":
                                                                              "pa$$-from-SM"})},
                    {"SecretId": "prod/orders/runbook"})
    sm.add_response("get_secret_value", {**secret, "SecretString": "plain-secret-text"},
                    {"SecretId": "prod/orders/runbook"})
    assert resolve_password(step.params, step.clients.secretsmanager) == "pa$$-from-SM"
    found = secrets.resolve_run_secrets(step.params, step.clients.secretsmanager)
    assert list(found) == ["plain-secret-text"] and found.unresolved == []
    calls = step.clients.calls.counts()
    assert calls == {"secretsmanager:GetSecretValue": 2}
    assert grants.actions_of_calls(calls) <= set(grants.iam_actions(secrets_manager=True))


def test_a_secret_that_cannot_be_read_fails_the_scan_instead_of_passing_it(aws: Any, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_DB_PASSWORD", raising=False)
    monkeypatch.setenv("RUNBOOK_AUDIT_KEY", str(tmp_path / "keys" / "audit.pem"))
    step, stubs = aws("01", db_password_secret_id="prod/orders/runbook")
    stubs["secretsmanager"].add_client_error("get_secret_value", "AccessDeniedException",
                                            "User is not authorized to perform secretsmanager:GetSecretValue",
                                            expected_params={"SecretId": "prod/orders/runbook"})
    found = secrets.resolve_run_secrets(step.params, step.clients.secretsmanager)
    assert list(found) == [] and "AccessDenied" in found.unresolved[0] and "prod/orders/runbook" in found.unresolved[0]
    step.save()
    with pytest.raises(secrets.SecretScanIncomplete, match="SECRET SCAN INCOMPLETE"):
        seal(step.run.path, step.params.redacted(), {"outcome": "succeeded"}, found)
    record = json.loads((step.run.path / "run.json").read_text())
    assert record["outcome"] == "failed: secret scan incomplete"
    assert record["secret_scan"]["values_checked"] == 0 and record["secret_scan"]["unresolved"]


# -- IAM simulation for an assumed role ----------------------------------------------------------------------------

SSO_ROLE = "AWSReservedSSO_DBA_0123456789abcdef"
SSO_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO_ROLE}"


def _caller(sts: Stubber) -> None:
    sts.add_response("get_caller_identity", {"UserId": "AROAEXAMPLEID:dba@example.com", "Account": ACCOUNT,
                                             "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE}/dba@example.com"},
                     {})


def test_an_assumed_roles_simulation_uses_the_roles_arn_with_its_path(aws: Any) -> None:
    step, stubs = aws("01")
    _caller(stubs["sts"])
    stubs["iam"].add_response("get_role", {"Role": {"Path": "/aws-reserved/sso.amazonaws.com/eu-west-1/",
                                                    "RoleName": SSO_ROLE, "RoleId": "AROAEXAMPLEID0123456",
                                                    "Arn": SSO_ROLE_ARN, "CreateDate": T0}}, {"RoleName": SSO_ROLE})
    actions = grants.iam_actions(secrets_manager=False)
    stubs["iam"].add_response("simulate_principal_policy", {"EvaluationResults": [
        {"EvalActionName": a, "EvalResourceName": "*",
         "EvalDecision": "implicitDeny" if a == "rds:DeleteDBInstance" else "allowed"} for a in actions]},
        {"PolicySourceArn": SSO_ROLE_ARN, "ActionNames": actions})
    iam_permissions.iam_permissions(step)
    check = next(c for c in step.checks if c["id"] == "iamPermissions")
    assert check["result"] == "fail" and check["evidence"]["denied"] == ["rds:DeleteDBInstance"]
    assert check["evidence"]["principal"] == SSO_ROLE_ARN and SSO_ROLE_ARN in check["remediation"]
    assert step.clients.calls.order() == ["sts:GetCallerIdentity", "iam:GetRole", "iam:SimulatePrincipalPolicy"]


def test_without_iam_get_role_the_simulation_says_what_it_could_not_know(aws: Any) -> None:
    step, stubs = aws("01")
    _caller(stubs["sts"])
    stubs["iam"].add_client_error("get_role", "AccessDenied", "not authorized to perform: iam:GetRole",
                                  expected_params={"RoleName": SSO_ROLE})
    guessed = f"arn:aws:iam::{ACCOUNT}:role/{SSO_ROLE}"
    stubs["iam"].add_client_error("simulate_principal_policy", "NoSuchEntity", f"The role {guessed} cannot be found.",
                                  expected_params={"PolicySourceArn": guessed, "ActionNames": ANY})
    iam_permissions.iam_permissions(step)
    check = next(c for c in step.checks if c["id"] == "iamPermissions")
    assert check["result"] == "warn" and check["evidence"]["code"] == "NoSuchEntity"
    assert "iam:GetRole" in check["remediation"] and "path" in check["remediation"]


# -- step 03 in aws mode: completion from the instance's own state ---------------------------------------------------

def _modify(rds: Stubber, answer: dict[str, Any]) -> None:
    rds.add_response("modify_db_instance", {"DBInstance": answer}, {
        "DBInstanceIdentifier": GREEN, "EngineVersion": "8.0.39", "AllowMajorVersionUpgrade": True,
        "DBParameterGroupName": "orders-mysql80", "ApplyImmediately": True, "OptionGroupName": "orders-mysql80-og"})


def _poll(rds: Stubber, *states: dict[str, Any]) -> None:
    for state in states:
        rds.add_response("describe_db_instances", {"DBInstances": [state]}, {"DBInstanceIdentifier": GREEN})


def _events(rds: Stubber, *messages: str) -> None:
    rds.add_response("describe_events", {"Events": [
        {"SourceIdentifier": GREEN, "SourceType": "db-instance", "Message": m, "EventCategories": ["maintenance"],
         "Date": datetime.now(timezone.utc) + timedelta(seconds=30), "SourceArn": arn(GREEN)} for m in messages]},
        {"SourceType": "db-instance", "SourceIdentifier": GREEN, "StartTime": ANY})


def test_step_03_waits_through_events_that_come_before_the_status(aws: Any) -> None:
    """RDS's order: the modify answer shows the version pending, the status is still `available` while the upgrade
    events arrive, `upgrading` comes later. Read as finished-or-cancelled (the old heuristic), this was 'cancelled'."""
    from runbook_lib.steps.upgrade import upgrade_green
    step, stubs = aws("03")
    rds = stubs["rds"]
    pending = {"EngineVersion": "8.0.39"}
    _current(rds, instance(GREEN))
    _modify(rds, instance(GREEN, pending=pending))
    _poll(rds, instance(GREEN, pending=pending), instance(GREEN, pending=pending),
          instance(GREEN, status="upgrading", pending=pending),
          instance(GREEN, version="8.0.39", status="upgrading", group="orders-mysql80",
                   option_group="orders-mysql80-og", pending=pending),
          instance(GREEN, version="8.0.39", group="orders-mysql80", option_group="orders-mysql80-og"))
    _events(rds, "Upgrade preparation in progress: Starting online pre-upgrade checks.",
            "Upgrade in progress: Upgrading to 8.0.39.",
            "Database instance upgraded from engine version 5.7.44 to 8.0.39.")
    result = upgrade_green(step, timeout_s=60)
    assert result["outcome"] == "upgraded"
    assert step.findings["upgrade_state"]["seen_in_progress"] is True
    assert [c["operation"] for c in step.rds.recorded_calls()] == ["modify_db_instance"]


def test_step_03_reports_a_cancelled_upgrade_only_once_nothing_is_pending(aws: Any) -> None:
    from runbook_lib.steps.upgrade import upgrade_green
    step, stubs = aws("03")
    rds = stubs["rds"]
    pending = {"EngineVersion": "8.0.39"}
    _current(rds, instance(GREEN))
    _modify(rds, instance(GREEN, pending=pending))
    _poll(rds, instance(GREEN, pending=pending), instance(GREEN, pending=pending), instance(GREEN))
    _events(rds, "Upgrade preparation in progress: Starting online pre-upgrade checks.",
            "Database instance is in a state that cannot be upgraded: PreUpgrade checks failed: More details can be "
            "found in the PrePatchCompatibility.log file.")
    result = upgrade_green(step, timeout_s=60)
    assert result["outcome"] == "cancelled"
    assert step.findings["upgrade_state"]["pending_engine_version"] is None
    assert "PreUpgrade checks failed" in step.findings["upgrade_cancelled"][1]


def test_step_03_joins_an_upgrade_already_pending_instead_of_requesting_another(aws: Any) -> None:
    from runbook_lib.steps.upgrade import upgrade_green
    step, stubs = aws("03")
    rds = stubs["rds"]
    pending = {"EngineVersion": "8.0.39"}
    _current(rds, instance(GREEN, pending=pending))          # a crashed run's request, not yet started
    _poll(rds, instance(GREEN, status="upgrading", pending=pending),
          instance(GREEN, version="8.0.39", group="orders-mysql80", option_group="orders-mysql80-og"))
    _events(rds, "Database instance upgraded from engine version 5.7.44 to 8.0.39.")
    assert upgrade_green(step, timeout_s=60)["outcome"] == "upgraded"
    assert step.rds.recorded_calls() == []                   # no second ModifyDBInstance


# -- step 04 in aws mode: the fixes are shown, never applied ------------------------------------------------------------

@pytest.fixture
def blocked_lab(lab_paths: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A lab whose database-1 holds a real 5.7 -> 8.0 blocker: the database behind the stubbed API."""
    from runbook_lib.lab import client
    state = client.reset(lab_paths, seed_blocker=True)
    creds = lab_paths.read_credentials() or {}
    monkeypatch.setenv("RUNBOOK_DB_PASSWORD", creds["master_password"])
    yield {**state, "user": creds["master_user"]}


def test_step_04_in_aws_mode_explains_the_log_and_changes_nothing(aws: Any, blocked_lab: dict[str, Any]) -> None:
    from runbook_lib.engines.mysql import connection as db
    from runbook_lib.engines.mysql.upgrade_checks import render_rds_text, run_prechecks
    from runbook_lib.steps import logs
    port = blocked_lab["instances"]["database-1"]["endpoint_port"]
    blue = instance(BLUE, endpoint=("127.0.0.1", port))     # the lab's server, reached over verified TLS
    step, stubs = aws("04", db_user=blocked_lab["user"], tls="verify-identity", ca_bundle=blocked_lab["ca_bundle"])
    with db.connect(blue["Endpoint"], blocked_lab["user"], step.password(), tls=db.tls_settings(step.params)) as conn:
        text = render_rds_text(run_prechecks(conn, "8.0.39"))   # the log RDS would have written for this data
    lines = text.splitlines(keepends=True)
    rds = stubs["rds"]
    _current(rds, instance(GREEN), blue)
    rds.add_response("describe_db_log_files", {"DescribeDBLogFiles": [
        {"LogFileName": "error/mysql-error-running.log", "LastWritten": 1772366400000, "Size": 2048},
        {"LogFileName": "PrePatchCompatibility.log", "LastWritten": 1772366460000, "Size": len(text.encode())}]},
        {"DBInstanceIdentifier": GREEN})
    half = len(lines) // 2
    rds.add_response("download_db_log_file_portion", {"LogFileData": "".join(lines[:half]), "Marker": "1:4096",
                                                      "AdditionalDataPending": True},
                     {"DBInstanceIdentifier": GREEN, "LogFileName": "PrePatchCompatibility.log", "Marker": "0"})
    rds.add_response("download_db_log_file_portion", {"LogFileData": "".join(lines[half:]), "Marker": "1:8192",
                                                      "AdditionalDataPending": False},
                     {"DBInstanceIdentifier": GREEN, "LogFileName": "PrePatchCompatibility.log", "Marker": "1:4096"})
    log = logs.read_precheck_log(step)
    assert log["text"] == text and log["report"].errorCount >= 1
    _current(rds, instance(GREEN), blue)
    with pytest.raises(RunbookError, match=f"Apply the fixes on blue \\({BLUE}\\).*only in lab mode"):
        logs.fix_and_retry(step, log)
    assert step.rds.recorded_calls() == [] and step.changes == []       # nothing modified, nothing applied
    with db.connect(blue["Endpoint"], blocked_lab["user"], step.password(), tls=db.tls_settings(step.params)) as conn:
        assert run_prechecks(conn, "8.0.39").errorCount == log["report"].errorCount   # blue untouched
    assert step.clients.calls.order() == [
        "rds:DescribeBlueGreenDeployments", "rds:DescribeDBInstances", "rds:DescribeDBInstances",
        "rds:DescribeDBLogFiles", "rds:DownloadDBLogFilePortion", "rds:DownloadDBLogFilePortion",
        "rds:DescribeBlueGreenDeployments", "rds:DescribeDBInstances", "rds:DescribeDBInstances"]


# -- throttling and per-service endpoints, through botocore's real HTTP and retry layers -----------------------------

def test_throttled_calls_are_retried_and_each_service_keeps_its_own_endpoint(aws: Any, tmp_path: Path) -> None:
    """A Stubber answers before botocore's retry layer, so a throttling RDS is played by a loopback HTTP server."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    seen: list[str] = []
    ok = ("<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBInstancesResult>"
          "<DBInstances><DBInstance><DBInstanceIdentifier>orders-prod</DBInstanceIdentifier><EngineVersion>5.7.44"
          "</EngineVersion><DBInstanceStatus>available</DBInstanceStatus></DBInstance></DBInstances>"
          "</DescribeDBInstancesResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata>"
          "</DescribeDBInstancesResponse>")
    throttled = ("<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type>"
                 "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId>"
                 "</ErrorResponse>")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.append(body)
            status, text = (400, throttled) if len(seen) <= 2 else (200, ok)
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        step, stubs = aws("01", endpoint_urls={"rds": url})
        for stub in stubs.values():
            stub.deactivate()
        assert step.clients.rds.meta.endpoint_url == url
        assert step.clients.sts.meta.endpoint_url == f"https://sts.{REGION}.amazonaws.com"   # not RDS's endpoint
        assert step.clients.iam.meta.endpoint_url == "https://iam.amazonaws.com"
        found = step.rds.find_instance(BLUE)
        assert found is not None and found["DBInstanceStatus"] == "available"
        assert len(seen) == 3 and all("Action=DescribeDBInstances" in b for b in seen)   # two throttled, retried
        assert step.clients.calls.counts() == {"rds:DescribeDBInstances": 1}               # one call, retried
    finally:
        server.shutdown()


# -- step 02 in aws mode: the calls a real create makes, in order, with their parameters --------------------------------

def test_step_02_creates_the_deployment_with_blues_version_and_group_and_waits(aws: Any) -> None:
    from runbook_lib.steps import create
    step, stubs = aws("02")
    rds = stubs["rds"]
    by_name = {"Filters": [{"Name": "blue-green-deployment-name", "Values": [DEPLOYMENT]}]}
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []}, by_name)     # replacement()
    rds.add_response("describe_db_instances", {"DBInstances": [instance(BLUE)]}, {"DBInstanceIdentifier": BLUE})
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []}, by_name)     # none yet
    provisioning = {**deployment("PROVISIONING"), "Tasks": [
        {"Name": "CREATING_READ_REPLICA_OF_SOURCE", "Status": "IN_PROGRESS"},
        {"Name": "CONFIGURE_BACKUPS", "Status": "PENDING"}]}
    del provisioning["Target"]                    # right after create, TargetMember can be absent (facts file)
    provisioning["SwitchoverDetails"] = [{"SourceMember": arn(BLUE), "Status": "PROVISIONING"}]
    rds.add_response("create_blue_green_deployment", {"BlueGreenDeployment": provisioning}, {
        "BlueGreenDeploymentName": DEPLOYMENT, "Source": arn(BLUE), "TargetEngineVersion": "5.7.44",
        "TargetDBParameterGroupName": "orders-mysql57",
        "Tags": [{"Key": "created-by", "Value": "bluegreen-runbook"}, {"Key": "run-id", "Value": step.run.run_id}]})
    by_id = {"BlueGreenDeploymentIdentifier": "bgd-abcdefghij012345"}
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": [provisioning]}, by_id)
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": [deployment()]}, by_id)
    rds.add_response("describe_db_instances", {"DBInstances": [instance(GREEN)]}, {"DBInstanceIdentifier": GREEN})
    rds.add_response("describe_events", {"Events": [
        {"SourceIdentifier": "bgd-abcdefghij012345", "SourceType": "blue-green-deployment", "Date": T0,
         "Message": "Blue/green deployment tasks completed. You can make more modifications to the green "
                    "environment databases or switch over the deployment.", "EventCategories": ["creation"]}]},
        {"SourceType": "blue-green-deployment", "SourceIdentifier": "bgd-abcdefghij012345"})
    assert create.replacement(step) == []
    created = create.ensure_deployment(step)
    final = create.wait_available(step, created)
    assert final is not None and final["Status"] == "AVAILABLE"
    assert step.identifiers["green_instance"] == GREEN and step.identifiers["blue_dbi_resource_id"] == "db-ORDERS-PROD"
    assert [(c["operation"], c["performed"]) for c in step.rds.recorded_calls()] == [
        ("create_blue_green_deployment", True)]
    assert step.clients.calls.order() == [
        "rds:DescribeBlueGreenDeployments", "rds:DescribeDBInstances", "rds:DescribeBlueGreenDeployments",
        "rds:CreateBlueGreenDeployment", "rds:DescribeBlueGreenDeployments", "rds:DescribeBlueGreenDeployments",
        "rds:DescribeDBInstances", "rds:DescribeEvents"]
