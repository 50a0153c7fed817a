"""`runbook run` on the lab's PostgreSQL sources, as a user runs it (issue 16's 'done when'): each parameter file end
to end twice in a row on a fresh lab folder, ending clean (no deployment, nothing `-green-` or `-old`, final
snapshots taken), zero lost writes, sequences on the new production ahead (a write right after the switchover, and
one by the test after the run); DDL on blue during the deployment blocks step 05 with the reason, and recreating the
deployment (step 02, confirmed) lets it pass; a large-object change blocks it too."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import ROOT, lab_rds, master_password, runbook_cli

from runbook_lib.lab.paths import LabPaths

pytestmark = [pytest.mark.e2e, pytest.mark.full]


def _reachable(paths: LabPaths) -> None:
    """The lab's PostgreSQL servers run as the postgres system user when tests run as root: it must pass through
    the lab folder's parents (pytest makes them 0700)."""
    if os.geteuid() != 0:
        return
    folder = Path(paths.root).resolve()
    for part in [folder, *folder.parents]:
        if part == Path("/tmp") or part == Path("/"):
            break
        part.chmod(part.stat().st_mode | 0o011)


def _params(tmp_path: Path, base: str, name: str, **changes: Any) -> str:
    values = yaml.safe_load((ROOT / "parameters" / base).read_text())
    values.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def _run(*args: str) -> tuple[Any, Path | None]:
    done = runbook_cli("run", *args)
    lines = done.stdout.strip().splitlines()
    return done, Path(lines[-1]) if lines else None


def _step(run_dir: Path, number: str) -> dict[str, Any]:
    return dict(json.loads((run_dir / "steps" / f"{number}.json").read_text()))


def _names(rds: Any) -> list[str]:
    return ([i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
            + [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]])


def _endpoint(rds: Any, params: dict[str, Any]) -> tuple[str, int]:
    if params.get("source_db_cluster"):
        c = rds.describe_db_clusters(DBClusterIdentifier=params["source_db_cluster"])["DBClusters"][0]
        return str(c["Endpoint"]), int(c["Port"])
    i = rds.describe_db_instances(DBInstanceIdentifier=params["source_db_instance"])["DBInstances"][0]
    return str(i["Endpoint"]["Address"]), int(i["Endpoint"]["Port"])


def _connect(paths: LabPaths, rds: Any, params: dict[str, Any]) -> psycopg.Connection[Any]:
    host, port = _endpoint(rds, params)
    return psycopg.connect(host=host, port=port, user="admin", password=master_password(paths), dbname="shop",
                           autocommit=True, sslmode="prefer", connect_timeout=10)


def _assert_clean_end(paths: LabPaths, run_dir: Path, base: str) -> dict[str, Any]:
    params = yaml.safe_load((ROOT / "parameters" / base).read_text())
    source = params.get("source_db_cluster") or params["source_db_instance"]
    rds = lab_rds(paths)
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    names = _names(rds)
    assert source in names
    assert not any("-green-" in n or "-old" in n for n in names), names
    if params.get("source_db_cluster"):
        prod = rds.describe_db_clusters(DBClusterIdentifier=source)["DBClusters"][0]
        snaps = [s for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
                 if s["DBClusterIdentifier"] == f"{source}-old1"]
    else:
        prod = rds.describe_db_instances(DBInstanceIdentifier=source)["DBInstances"][0]
        snaps = [s for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
                 if s["DBInstanceIdentifier"] == f"{source}-old1"]
    assert prod["EngineVersion"] == params["target_engine_version"]
    assert snaps and all(s["Status"] == "available" for s in snaps), snaps
    switch = _step(run_dir, "05")["findings"]
    assert switch["downtime"]["observed"] is True
    assert switch["zero_loss"]["missing"] == 0 and switch["zero_loss"]["acknowledged"] > 0
    write = switch["sequences"]["write_after_switchover"]
    assert write["ahead"] is True and write["new_production_nextval"] > write["blue_last_value"], write
    assert switch["sequences"]["behind"] == [] and switch["sequences"]["compared"] > 0
    assert switch["after_switchover"]["ran"]["shop"]["refreshed"], switch["after_switchover"]
    # the application's own write on the new production: its sequences are past every id blue handed out
    with _connect(paths, rds, params) as conn:
        row = conn.execute("INSERT INTO public.customers (name, email, created_at) VALUES ('after', "
                           "'after@example.com', now()) RETURNING id, (SELECT max(id) FROM public.customers)"
                           ).fetchone()
        assert row is not None and row[0] > row[1]
    return switch


@pytest.mark.parametrize("base", ["lab-postgresql.yaml", "lab-aurora-postgresql.yaml"])
def test_the_parameter_file_runs_end_to_end_twice_in_a_row(lab_paths: LabPaths, base: str) -> None:
    _reachable(lab_paths)
    figures = []
    for attempt in (1, 2):
        started = time.monotonic()
        done, run_dir = _run("--params", f"parameters/{base}")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
        assert run_dir is not None and (run_dir / "steps" / "06.json").exists()
        switch = _assert_clean_end(lab_paths, run_dir, base)
        green = [line for line in done.stderr.splitlines() if line.startswith("step 02 done")]
        figures.append(f"run {attempt}: {time.monotonic() - started:.1f} s, {green[0] if green else ''}, writes "
                       f"unavailable {switch['downtime']['write_unavailable_s']} s, "
                       f"{switch['zero_loss']['acknowledged']} acknowledged, {switch['zero_loss']['missing']} missing")
    print(f"\n{base}: " + "; ".join(figures))


def _until_step_05(tmp_path: Path, lab_paths: LabPaths, name: str) -> tuple[str, Path]:
    """01-04 through runbook run, and 05 refused at its gate (confirm_switchover unset): the deployment is AVAILABLE
    and the guard's baseline recorded."""
    _reachable(lab_paths)
    unconfirmed = _params(tmp_path, "lab-postgresql.yaml", f"{name}-a", confirm_switchover=None)
    done, run_dir = _run("--params", unconfirmed)
    assert done.returncode != 0 and "confirm_switchover" in done.stdout + done.stderr, done.stderr[-3000:]
    assert run_dir is not None
    assert _step(run_dir, "05")["findings"]["preflight"] == "passed"
    return _params(tmp_path, "lab-postgresql.yaml", f"{name}-b"), run_dir


def _deployment(paths: LabPaths) -> dict[str, Any]:
    found = lab_rds(paths).describe_blue_green_deployments()["BlueGreenDeployments"]
    assert len(found) == 1
    return dict(found[0])


def test_ddl_on_blue_blocks_the_switchover_until_the_deployment_is_recreated(lab_paths: LabPaths,
                                                                             tmp_path: Path) -> None:
    confirmed, _ = _until_step_05(tmp_path, lab_paths, "ddl")
    params = yaml.safe_load(Path(confirmed).read_text())
    with _connect(lab_paths, lab_rds(lab_paths), params) as conn:
        conn.execute("ALTER TABLE public.orders ADD COLUMN note text")
    blocked, run_dir = _run("--params", confirmed, "--from", "05", "--keep-lab")
    assert blocked.returncode != 0 and run_dir is not None
    record = _step(run_dir, "05")
    checks = {c["id"]: c for c in record["checks"]}
    assert checks["pgNoDdlOnBlue"]["result"] == "fail"
    assert "orders" in json.dumps(checks["pgNoDdlOnBlue"]["evidence"])
    assert "Switchover blocked" in blocked.stdout + blocked.stderr
    assert not any(c["what"] == "requested switchover" for c in record["changes"])
    first = _deployment(lab_paths)
    assert first["Status"] == "AVAILABLE"
    green = first["Target"].split(":")[-1]
    # step 02 deletes the degraded deployment with its green only when confirm_delete names both
    refused, _ = _run("--params", confirmed, "--from", "02", "--keep-lab")
    assert refused.returncode != 0 and green in refused.stdout + refused.stderr
    recreate = _params(tmp_path, "lab-postgresql.yaml", "ddl-c",
                       confirm_delete=["bg-postgres", green, "pg-1-old1"])
    passed, run_dir = _run("--params", recreate, "--from", "02", "--keep-lab")
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-5000:]
    assert run_dir is not None
    assert any(c["what"] == "deleted blue/green deployment with its green" for c in _step(run_dir, "02")["changes"])
    findings = _step(run_dir, "05")["findings"]
    assert findings["zero_loss"]["missing"] == 0 and findings["sequences"]["write_after_switchover"]["ahead"]


def test_a_large_object_change_on_blue_blocks_the_switchover(lab_paths: LabPaths, tmp_path: Path) -> None:
    confirmed, _ = _until_step_05(tmp_path, lab_paths, "lo")
    params = yaml.safe_load(Path(confirmed).read_text())
    with _connect(lab_paths, lab_rds(lab_paths), params) as conn:
        conn.execute("SELECT lo_from_bytea(0, 'a new large object'::bytea)")
    blocked, run_dir = _run("--params", confirmed, "--from", "05", "--keep-lab")
    assert blocked.returncode != 0 and run_dir is not None
    checks = {c["id"]: c for c in _step(run_dir, "05")["checks"]}
    assert checks["pgNoLargeObjectChangesOnBlue"]["result"] == "fail"
    assert "Switchover blocked" in blocked.stdout + blocked.stderr
    assert _deployment(lab_paths)["Status"] == "AVAILABLE"


def test_a_table_without_a_primary_key_stops_step_01_with_the_fix(lab: dict[str, Any], lab_paths: LabPaths,
                                                                   tmp_path: Path) -> None:
    """The sample's variant (a table without a key) on pg-1, then `runbook run --keep-lab`: step 01 fails on
    pgTablesWithoutPrimaryKey with REPLICA IDENTITY / add-a-key as the fix, before anything is created."""
    from runbook_lib.lab import client, postgres_sample
    _reachable(lab_paths)
    client.seed_postgres(lab_paths)
    params = yaml.safe_load((ROOT / "parameters" / "lab-postgresql.yaml").read_text())
    with _connect(lab_paths, lab_rds(lab_paths), params) as conn:
        for statement in postgres_sample.NO_PK_SQL:
            conn.execute(statement)
    done, run_dir = _run("--params", "parameters/lab-postgresql.yaml", "--keep-lab")
    assert done.returncode != 0 and run_dir is not None
    checks = {c["id"]: c for c in _step(run_dir, "01")["checks"]}
    assert checks["pgTablesWithoutPrimaryKey"]["result"] == "fail"
    assert postgres_sample.NO_PK_TABLE in json.dumps(checks["pgTablesWithoutPrimaryKey"]["evidence"])
    assert "REPLICA IDENTITY" in str(checks["pgTablesWithoutPrimaryKey"]["remediation"])
    assert "pgTablesWithoutPrimaryKey" in done.stdout + done.stderr
    assert not (run_dir / "steps" / "02.json").exists()
    assert lab_rds(lab_paths).describe_blue_green_deployments()["BlueGreenDeployments"] == []
