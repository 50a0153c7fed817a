"""The fleet inventory against a real moto server over HTTP (two Regions), and against botocore's Stubber only for
what no moto here can produce: EngineLifecycleSupport (moto 5.2.5 drops it) and DescribeDBMajorEngineVersions
(moto answers 500, NotImplementedError)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from runbook_lib.audit import manifest
from runbook_lib.fleet import cli as fleet_cli
from runbook_lib.fleet.inventory import Inventory, Target, collect, major_of, write_outputs
from runbook_lib.fleet.pricing import HOURS_PER_MONTH, PriceBook

AS_OF = date(2026, 11, 25)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_url: str) -> str:
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    return moto_url


def rds(url: str, region: str) -> Any:
    return boto3.client("rds", endpoint_url=url, region_name=region, aws_access_key_id="fleet",
                        aws_secret_access_key="fleet", config=fleet_cli.fleet_config())


def instance(client: Any, name: str, version: str, cls: str = "db.r6g.large", multi_az: bool = False,
             engine: str = "mysql") -> dict[str, Any]:
    return client.create_db_instance(  # type: ignore[no-any-return]
        DBInstanceIdentifier=name, Engine=engine, EngineVersion=version, DBInstanceClass=cls, MasterUsername="admin",
        MasterUserPassword="not-a-real-one-1", AllocatedStorage=20, MultiAZ=multi_az)["DBInstance"]


def aurora(client: Any, name: str, version: str, classes: list[str]) -> None:
    client.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-mysql", EngineVersion=version,
                             MasterUsername="admin", MasterUserPassword="not-a-real-one-1")
    for n, cls in enumerate(classes):
        client.create_db_instance(DBInstanceIdentifier=f"{name}-{n}", DBClusterIdentifier=name, Engine="aurora-mysql",
                                  DBInstanceClass=cls)


def seed_fleet(url: str) -> None:
    """Two Regions: what must move, what is moving, what is done, an old blue by evidence and one by name only."""
    east, west = rds(url, "us-east-1"), rds(url, "eu-west-1")
    instance(east, "orders", "5.7.44", multi_az=True)
    instance(east, "billing", "5.7.44", "db.m5.xlarge")
    instance(east, "catalog", "8.0.39")
    instance(east, "legacy-old1", "5.7.44", "db.t3.medium")          # an old blue whose deployment is gone
    instance(east, "reports", "11.22", "db.r6g.large", engine="postgres")
    instance(east, "wiki", "10.11.8", "db.t3.micro", engine="mariadb")
    moving = instance(east, "payments", "5.7.44")
    east.create_blue_green_deployment(BlueGreenDeploymentName="bg-payments", Source=moving["DBInstanceArn"],
                                      TargetEngineVersion="5.7.44")
    done = instance(west, "shop", "5.7.44", "db.r5.large")
    created = west.create_blue_green_deployment(BlueGreenDeploymentName="bg-shop", Source=done["DBInstanceArn"],
                                                TargetEngineVersion="5.7.44")["BlueGreenDeployment"]
    green = created["Target"].split(":")[-1]
    west.modify_db_instance(DBInstanceIdentifier=green, EngineVersion="8.0.39", AllowMajorVersionUpgrade=True,
                            ApplyImmediately=True)
    west.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=created["BlueGreenDeploymentIdentifier"])
    aurora(west, "ledger", "5.7.mysql_aurora.2.11.2", ["db.r6g.xlarge", "db.r6g.large"])
    aurora(west, "search", "8.0.mysql_aurora.3.05.2", ["db.r6g.large"])


def by_name(inv: Inventory) -> dict[str, Any]:
    return {r.identifier: r for r in inv.rows}


def test_major_versions_as_the_runbook_compares_them() -> None:
    assert major_of("mysql", "5.7.44") == "5.7"
    assert major_of("aurora-mysql", "5.7.mysql_aurora.2.11.2") == "5.7"
    assert major_of("aurora-mysql", "8.0.mysql_aurora.3.05.2") == "8.0"
    assert major_of("postgres", "11.22") == "11"


def test_the_fleet_in_two_regions_lists_what_must_move_and_why_the_rest_is_skipped(moto: str) -> None:
    seed_fleet(moto)
    targets = [Target("lab", r, rds(moto, r)) for r in ("us-east-1", "eu-west-1")]
    inv = collect(targets, PriceBook.shipped(), AS_OF)
    rows = by_name(inv)
    assert sorted(r.identifier for r in inv.rows if r.action == "move") == ["billing", "ledger", "orders"]
    assert [r.identifier for r in inv.rows if r.action == "moving"] == ["payments"]
    assert rows["payments"].reason.startswith("source of bg-payments (AVAILABLE)")
    green = next(r for r in inv.rows if r.identifier.startswith("payments-green-"))
    assert green.action == "skip" and green.reason.startswith("green of bg-payments")
    # the switched-over blue: recognised by its deployment, not by its name
    assert rows["shop-old1"].old_blue["evidence"] == "deployment"
    assert "source of bg-shop after its switchover" in rows["shop-old1"].reason
    assert rows["legacy-old1"].old_blue["evidence"] == "name only" and rows["legacy-old1"].action == "skip"
    assert rows["shop"].action == "skip" and rows["shop"].reason == "already on 8.0 (target 8.0)"
    assert rows["catalog"].reason == "already on 8.0 (target 8.0)" and rows["search"].action == "skip"
    assert rows["reports"].action == "skip" and "does not move it" in rows["reports"].reason
    assert [i["identifier"] for i in inv.ignored] == ["wiki"]
    # sizes: Multi-AZ doubles, Aurora sums its members; MySQL 5.7 is in year 3 on 2026-11-25 (us-east-1: $0.200)
    assert rows["orders"].estimate["vcpus"] == 4 and rows["orders"].multi_az is True
    assert rows["orders"].monthly_usd == pytest.approx(4 * 0.200 * HOURS_PER_MONTH)
    assert rows["billing"].monthly_usd == pytest.approx(4 * 0.200 * HOURS_PER_MONTH)
    assert rows["ledger"].kind == "aurora-cluster" and rows["ledger"].members == ["ledger-0", "ledger-1"]
    assert rows["ledger"].estimate["vcpus"] == 6 and rows["ledger"].estimate["rate"] == pytest.approx(0.112)
    assert rows["legacy-old1"].monthly_usd == pytest.approx(2 * 0.200 * HOURS_PER_MONTH)  # old blues cost money too
    # observed or nothing: moto has neither the lifecycle API nor EngineLifecycleSupport, and the rows say so
    assert rows["orders"].lifecycle["origin"] == "table"
    assert "DescribeDBMajorEngineVersions did not answer here" in rows["orders"].lifecycle["api"]
    assert rows["orders"].engine_lifecycle_support is None
    assert rows["catalog"].monthly_usd is None and "mysql 8.0 unknown" in rows["catalog"].estimate["unknown"]
    assert all("EngineLifecycleSupport" in t["unknown"] for t in inv.targets)
    s = inv.summary()
    assert s["must_move"] == 4 and s["move"] == 3 and s["moving"] == 1 and s["targets_with_errors"] == 0


def test_outputs_table_csv_json_and_plot(moto: str, tmp_path: Path) -> None:
    seed_fleet(moto)
    inv = collect([Target("lab", r, rds(moto, r)) for r in ("us-east-1", "eu-west-1")], PriceBook.shipped(), AS_OF)
    paths = write_outputs(inv, tmp_path / "out")
    doc = json.loads(paths["json"].read_text())
    assert doc["summary"]["must_move"] == 4 and len(doc["rows"]) == len(inv.rows)
    assert any("awslabs" in s["source_url"] for s in doc["price_sources"])
    lines = paths["csv"].read_text().splitlines()
    assert lines[0].startswith("account,account_id,region,identifier") and len(lines) == len(inv.rows) + 1
    orders = next(line for line in lines if ",orders," in line)
    assert ",move," in orders and ",584.00," in orders  # 4 vCPU x $0.200 x 730 h
    table = paths["table"].read_text()
    assert "4 must move (3 to start, 1 already in a deployment)" in table
    png = paths["plot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_cli_writes_a_sealed_record_that_verifies(moto: str, lab_paths: Any, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    seed_fleet(moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fleet")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fleet")
    code = fleet_cli.main(["inventory", "--endpoint-url", moto, "--region", "us-east-1", "--region", "eu-west-1",
                           "--as-of", "2026-11-25", "--operator", "fleet-test"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, out
    folder = Path(out[-1])
    assert folder.name.startswith("fleet-inventory-") and any("must move" in line for line in out)
    assert manifest.verify_run(folder) == []
    run = json.loads((folder / "run.json").read_text())
    assert run["kind"] == "fleet-inventory" and run["outcome"] == "succeeded"
    assert run["parameters"]["regions"] == ["eu-west-1", "us-east-1"] and run["operator"]["name"] == "fleet-test"
    assert {"inventory.json", "inventory.csv", "inventory.txt", "cost_by_region_engine.png"} <= set(
        manifest.read(folder)["files"])  # type: ignore[index]
    assert not (folder / manifest.OPEN_MARKER).exists()
    # a changed output is caught
    (folder / "inventory.csv").write_text("tampered\n")
    assert [f.kind for f in manifest.verify_run(folder)] == ["modified"]


def test_an_unreachable_region_makes_a_partial_record_naming_it(moto: str, lab_paths: Any,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    seed_fleet(moto)
    dead = f"http://127.0.0.1:{_free_port()}"
    targets = [Target("lab", "us-east-1", rds(moto, "us-east-1")), Target("lab", "eu-west-1", rds(dead, "eu-west-1"))]
    inv = collect(targets, PriceBook.shipped(), AS_OF)
    failed = next(t for t in inv.targets if t["region"] == "eu-west-1")
    assert failed["errors"] and "DescribeDBInstances failed, nothing listed here" in failed["errors"][0]
    assert inv.summary()["targets_with_errors"] == 1 and "eu-west-1: DescribeDBInstances failed" in inv.table()
    assert {r.region for r in inv.rows} == {"us-east-1"}


@pytest.mark.parametrize("argv,expected", [
    (["inventory", "--region", "us-east-1", "--as-of", "25/11/2026"], "--as-of '25/11/2026' is not a date"),
    (["inventory", "--region", "useast1"], "--region useast1: not an AWS Region name"),
    (["inventory"], "Say which Regions to read"),
    (["inventory", "--region", "us-east-1", "--role-arn", "admin"], "--role-arn admin: not an IAM role ARN"),
    (["inventory", "--lab", "--profile", "prod"], "--lab reads the local lab"),
    (["inventory", "--region", "us-east-1", "--prices", "/nonexistent/p.csv"], "no such file"),
])
def test_bad_input_is_refused_before_anything_is_read(argv: list[str], expected: str, lab_paths: Any,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from runbook_lib.run.folder import runs_root
    before = sorted(runs_root().glob("fleet-*")) if runs_root().is_dir() else []
    assert fleet_cli.main(argv) == 1
    err = capsys.readouterr().err
    assert expected in err and "Nothing was" in err
    assert (sorted(runs_root().glob("fleet-*")) if runs_root().is_dir() else []) == before


def _stubbed(region: str) -> tuple[Any, Stubber]:
    client = boto3.client("rds", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_lifecycle_fields_moto_cannot_produce_are_read_when_an_endpoint_returns_them() -> None:
    """Stubber, shaped as the RDS API reference documents DescribeDBInstances (EngineLifecycleSupport) and
    DescribeDBMajorEngineVersions (SupportedEngineLifecycles): moto 5.2.5 has neither."""
    client, stub = _stubbed("us-east-1")
    arn = "arn:aws:rds:us-east-1:111122223333:db:"
    stub.add_response("describe_db_instances", {"DBInstances": [
        {"DBInstanceIdentifier": "app", "DBInstanceArn": arn + "app", "Engine": "mysql", "EngineVersion": "8.0.39",
         "DBInstanceClass": "db.r6g.large", "MultiAZ": False, "DbiResourceId": "db-APP",
         "DBInstanceStatus": "available", "EngineLifecycleSupport": "open-source-rds-extended-support"},
        {"DBInstanceIdentifier": "old", "DBInstanceArn": arn + "old", "Engine": "mysql", "EngineVersion": "5.7.44",
         "DBInstanceClass": "db.r6g.large", "MultiAZ": True, "DbiResourceId": "db-OLD",
         "DBInstanceStatus": "available",
         "EngineLifecycleSupport": "open-source-rds-extended-support-disabled"}]})
    stub.add_response("describe_db_clusters", {"DBClusters": []})
    stub.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []})
    stub.add_response("describe_db_major_engine_versions", {"DBMajorEngineVersions": [
        {"Engine": "mysql", "MajorEngineVersion": "8.0", "SupportedEngineLifecycles": [
            {"LifecycleSupportName": "open-source-rds-standard-support",
             "LifecycleSupportStartDate": datetime(2018, 10, 23, tzinfo=timezone.utc),
             "LifecycleSupportEndDate": datetime(2026, 7, 31, tzinfo=timezone.utc)},
            {"LifecycleSupportName": "open-source-rds-extended-support",
             "LifecycleSupportStartDate": datetime(2026, 8, 1, tzinfo=timezone.utc),
             "LifecycleSupportEndDate": datetime(2029, 7, 31, tzinfo=timezone.utc)}]},
        {"Engine": "mysql", "MajorEngineVersion": "5.7", "SupportedEngineLifecycles": [
            {"LifecycleSupportName": "open-source-rds-standard-support",
             "LifecycleSupportStartDate": datetime(2015, 10, 21, tzinfo=timezone.utc),
             "LifecycleSupportEndDate": datetime(2024, 2, 29, tzinfo=timezone.utc)},
            {"LifecycleSupportName": "open-source-rds-extended-support",
             "LifecycleSupportStartDate": datetime(2024, 3, 1, tzinfo=timezone.utc),
             "LifecycleSupportEndDate": datetime(2027, 2, 28, tzinfo=timezone.utc)}]}]},
        {"Engine": "mysql"})
    with stub:
        inv = collect([Target("prod", "us-east-1", client, "111122223333")], PriceBook.shipped(), AS_OF)
        stub.assert_no_pending_responses()
    rows = by_name(inv)
    assert rows["app"].lifecycle["origin"] == "api" and rows["app"].lifecycle["standard_end"] == "2026-07-31"
    assert rows["app"].estimate["year"] == 1 and rows["app"].monthly_usd == pytest.approx(2 * 0.1 * HOURS_PER_MONTH)
    assert rows["app"].action == "skip"           # 8.0 is the target: its own Extended Support is a later upgrade
    # the API's 5.7 dates agree with the shipped table, whose year-3 date fills what the API does not give
    assert rows["old"].lifecycle["origin"] == "api" and rows["old"].action == "move"
    assert rows["old"].monthly_usd == 0.0 and "not enrolled" in rows["old"].estimate["basis"]
    assert rows["old"].account_id == "111122223333" and "EngineLifecycleSupport" not in inv.targets[0]["unknown"]


def test_a_botocore_without_the_lifecycle_api_says_so() -> None:
    client, stub = _stubbed("eu-west-1")
    stub.add_response("describe_db_instances", {"DBInstances": [
        {"DBInstanceIdentifier": "a", "DBInstanceArn": "arn:aws:rds:eu-west-1:111122223333:db:a", "Engine": "mysql",
         "EngineVersion": "5.7.44", "DBInstanceClass": "db.t3.small", "MultiAZ": False}]})
    stub.add_response("describe_db_clusters", {"DBClusters": []})
    stub.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []})

    class OldBotocore:
        """The client as an older botocore builds it: the same calls, without DescribeDBMajorEngineVersions."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            if name == "describe_db_major_engine_versions":
                raise AttributeError(name)
            return getattr(self._inner, name)

    with stub:
        inv = collect([Target("prod", "eu-west-1", OldBotocore(client))], PriceBook.shipped(), AS_OF)
    row = inv.rows[0]
    assert "has no DescribeDBMajorEngineVersions" in row.lifecycle["api"] and row.lifecycle["origin"] == "table"
    assert row.monthly_usd == pytest.approx(2 * 0.224 * HOURS_PER_MONTH)


def test_inventory_of_the_real_lab(lab: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """`runbook fleet inventory --lab` against the running lab (moto + the lab's RDS layer): its 5.7 source must move."""
    code = fleet_cli.main(["inventory", "--lab", "--as-of", "2026-11-25", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    doc = json.loads(out[:out.rindex("}") + 1])
    rows = {r["identifier"]: r for r in doc["rows"]}
    blue = rows["database-1"]
    assert blue["action"] == "move" and blue["engine"] == "mysql" and blue["major"] == "5.7"
    assert blue["estimate"]["monthly_usd"] is not None and blue["estimate"]["year"] == 3
    assert doc["targets"][0]["account"] == "lab" and doc["targets"][0]["errors"] == []
    folder = Path(out.strip().splitlines()[-1])
    assert manifest.verify_run(folder) == []
