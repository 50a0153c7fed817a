"""The RDS facade against the lab over HTTP: paging, lookups, errors a person can act on, dry run."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import create_available_deployment, upgrade_green

from runbook_lib.aws.rds import RdsFacade
from runbook_lib.errors import NotFound, RunbookError


def test_facade_reads_and_pages(rds: Any) -> None:
    facade = RdsFacade(rds)
    assert facade.instance("database-1")["EngineVersion"] == "5.7.44"
    with pytest.raises(NotFound, match="no-such-db"):
        facade.instance("no-such-db")
    params = facade.parameters("pg-mysql-57")
    assert params["binlog_format"]["ParameterValue"] == "ROW" and len(params) > 30
    assert "8.0.39" in [t["EngineVersion"] for t in facade.valid_upgrade_targets("mysql", "5.7.44")]
    assert facade.find_deployment("bg-deployment") is None
    with pytest.raises(RunbookError, match="DBParameterGroupNotFound"):
        facade.parameters("nope")


def test_facade_downloads_a_whole_log_and_dry_run_changes_nothing(rds: Any) -> None:
    bgd = create_available_deployment(rds)
    green = bgd["Target"].split(":")[-1]
    upgrade_green(rds, green)
    facade = RdsFacade(rds)
    text = facade.download_log(green, "error/mysql-error-running.log")
    size = {f["LogFileName"]: f["Size"] for f in facade.log_files(green)}["error/mysql-error-running.log"]
    assert len(text.encode()) == size
    assert facade.find_deployment("bg-deployment")["Status"] == "AVAILABLE"

    dry = RdsFacade(rds, dry_run=True)
    assert dry.switchover(bgd["BlueGreenDeploymentIdentifier"], 300) is None
    assert dry.delete_instance("database-1", None) is None
    assert [c.operation for c in dry.calls] == ["switchover_blue_green_deployment", "delete_db_instance"]
    assert not any(c.performed for c in dry.calls)
    assert facade.find_deployment("bg-deployment")["Status"] == "AVAILABLE"
    assert facade.instance("database-1")["DBInstanceStatus"] == "available"
