"""The data-consistency guardrail on the real lab: green (upgraded to 8.0) really replicates blue, blue takes
writes from the probe and from a separate writer (>= 500 writes/s, measured), and differences are planted on
green's server by the lab's admin with sql_log_bin=0, exactly where a write on green would leave them."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pymysql
import pytest
from conftest import create_available_deployment, instance, master_password, upgrade_green

from runbook_lib.checks import consistency
from runbook_lib.checks.consistency import BinlogPosition, ConsistencyInputError, ConsistencyResult, compare
from runbook_lib.lab import client
from runbook_lib.lab.paths import LabPaths
from runbook_lib.probe.mysql import Probe, Target

ROWS = 100_000
WRITER_IDS = (2, 89_999)          # the writer touches these ids (and id 1, a hot row) and inserts above 10^9
PLANTED = (95_000, 99_999)        # planted differences live here: the writer never touches them


@dataclass
class Lab:
    blue_endpoint: dict[str, Any]
    green_endpoint: dict[str, Any]
    password: str
    admin_password: str
    green_server_port: int
    blue_server_port: int

    def connect(self, endpoint: dict[str, Any], **kwargs: Any) -> pymysql.connections.Connection[Any]:
        options: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 60, "write_timeout": 60, **kwargs}
        return pymysql.connect(host=endpoint["Address"], port=endpoint["Port"], user="admin", password=self.password,
                               autocommit=True, ssl_disabled=True, **options)

    def blue(self) -> pymysql.connections.Connection[Any]:
        return self.connect(self.blue_endpoint)

    def green(self) -> pymysql.connections.Connection[Any]:
        return self.connect(self.green_endpoint)

    def admin(self, port: int) -> pymysql.connections.Connection[Any]:
        """The lab's own superuser on a server (what the master user cannot do: write on green)."""
        return pymysql.connect(host="127.0.0.1", port=port, user="root", password=self.admin_password,
                               autocommit=True, ssl_disabled=True)

    def on_green_only(self, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
        """Write on green's server without replicating anything: a planted difference (or its repair)."""
        with self.admin(self.green_server_port) as conn, conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            for statement in statements:
                sql, args = (statement, None) if isinstance(statement, str) else statement
                cur.execute(sql, args)

    def caught_up(self) -> None:
        with self.admin(self.blue_server_port) as b, b.cursor() as bc, self.admin(self.green_server_port) as g, \
                g.cursor() as gc:
            bc.execute("SHOW MASTER STATUS")
            file, pos = bc.fetchone()[:2]
            gc.execute("SELECT MASTER_POS_WAIT(%s, %s, 120)", (file, pos))
            assert gc.fetchone()[0] is not None


@pytest.fixture(scope="module")
def lab(lab_paths: LabPaths) -> Iterator[Lab]:
    """A deployment whose green was upgraded to 8.0, with a 100k-row table (and a composite-key table) written
    on blue after green started replicating, so green got every row through replication."""
    state = client.reset(lab_paths)
    rds = boto3.client("rds", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    green_name = create_available_deployment(rds)["Target"].split(":")[-1]
    upgrade_green(rds, green_name)
    servers = client.status(lab_paths)["instances"]
    env = Lab(instance(rds, "database-1")["Endpoint"], instance(rds, green_name)["Endpoint"],
              master_password(lab_paths), json.loads((lab_paths.root / "internal.json").read_text())["admin_password"],
              servers[green_name]["server_port"], servers["database-1"]["server_port"])
    # Green applies in parallel, as RDS for MySQL 8.0 replicas do (replica_parallel_workers=4 since 8.0.27): the
    # lab's serial applier falls ever further behind ~500+ writes/s on a busy 2-core machine, and no comparison
    # at a common replication point can finish while the replica never reaches one.
    with env.admin(env.green_server_port) as conn, conn.cursor() as cur:
        for sql in ("STOP SLAVE", "SET GLOBAL slave_parallel_threads = 4", "START SLAVE"):
            cur.execute(sql)
    with env.blue() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE app")
        cur.execute("USE app")
        cur.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INT NOT NULL, "
                    "price DECIMAL(10,2), note TEXT, updated DATETIME(6) NOT NULL, flags BIT(8), doc LONGTEXT)")
        cur.execute(f"INSERT INTO items SELECT seq, CONCAT('item ', seq), seq % 1000, seq / 100, "
                    f"IF(seq % 7 = 0, NULL, REPEAT('n', seq % 40)), '2024-01-01' + INTERVAL seq SECOND, seq % 256, "
                    f"IF(seq % 5 = 0, CONCAT('{{\"k\": ', seq, '}}'), NULL) FROM seq_1_to_{ROWS}")
        cur.execute("CREATE TABLE pairs (region VARCHAR(8) NOT NULL, n INT NOT NULL, qty INT, "
                    "PRIMARY KEY (region, n))")
        cur.execute("INSERT INTO pairs SELECT ELT(1 + seq % 4, 'ap', 'eu', 'sa', 'us'), seq, seq % 13 "
                    "FROM seq_1_to_20000")
    env.caught_up()
    with env.green() as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION(), COUNT(*) FROM app.items")
        version, rows = cur.fetchone()
    assert version.startswith("8.0") and rows == ROWS
    yield env


class Writer:
    """Autocommit writes on blue from several connections: updates of random rows, a hot row updated all the
    time, inserts at the end of the key, deletes. Each acknowledged write is counted with its time."""

    def __init__(self, lab: Lab, threads: int = 6) -> None:
        self.lab = lab
        self.acks: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> Writer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def rate(self, start: float, end: float) -> float:
        return sum(1 for t in list(self.acks) if start <= t <= end) / (end - start)

    def _run(self, n: int) -> None:
        rnd = random.Random(n)
        next_id = 10**9 + n * 10**8 + int(time.time() * 1000) % 10**7 * 10
        try:
            with self.lab.blue() as conn, conn.cursor() as cur:
                while not self._stop.is_set():
                    dice = rnd.random()
                    if dice < 0.15:
                        cur.execute("UPDATE app.items SET qty = qty + 1, updated = NOW(6) WHERE id = 1")
                    elif dice < 0.65:
                        cur.execute("UPDATE app.items SET qty = qty + 1, name = %s, updated = NOW(6) WHERE id = %s",
                                    (f"w{rnd.randint(0, 99)}", rnd.randint(*WRITER_IDS)))
                    elif dice < 0.75:
                        cur.execute("UPDATE app.pairs SET qty = qty + 1 WHERE region = 'eu' AND n = %s",
                                    (rnd.randint(1, 4999) * 4 + 1,))
                    elif dice < 0.93:
                        next_id += 1
                        cur.execute("INSERT INTO app.items VALUES (%s, 'new', 1, 1.50, NULL, NOW(6), NULL, NULL)",
                                    (next_id,))
                    else:
                        cur.execute("DELETE FROM app.items WHERE id = %s", (rnd.randint(*WRITER_IDS),))
                    self.acks.append(time.time())
        except pymysql.MySQLError as exc:
            self.errors.append(str(exc))


def _record(result: ConsistencyResult) -> dict[str, Any]:
    """What the step record keeps: it must survive JSON."""
    record = json.loads(json.dumps(result.to_record()))
    assert record["status"] == result.status and record["totals"] == result.totals()
    return record


def _table(result: ConsistencyResult, name: str) -> consistency.TableResult:
    return next(t for t in result.tables if t.table == name)


def _assert_fully_matching(result: ConsistencyResult) -> None:
    assert result.status == "match" and result.passed, result.summary()
    assert result.stopped_early is None
    for table in result.tables:
        assert table.status == "match" and not table.not_compared and table.chunks_compared >= 1, table


def test_full_compare_passes_under_the_probe_write_load(lab: Lab) -> None:
    target = Target(lab.blue_endpoint["Address"], lab.blue_endpoint["Port"], "admin", lab.password)
    with Probe(target, interval_ms=10) as probe:
        assert probe.wait_for_baseline(successes=20)
        acked_before = len(probe.acknowledged)
        result = compare(lab.blue, lab.green, mode="full")     # every schema, the probe's included
        acked_during = len(probe.acknowledged) - acked_before
    _record(result)
    _assert_fully_matching(result)
    assert acked_during >= 20, "the probe did not write during the comparison"
    heartbeat = _table(result, "runbook_probe.heartbeat")
    assert heartbeat.key == "PRIMARY" and heartbeat.key_columns == ["run_id", "seq"]
    assert _table(result, "app.items").rows_covered >= ROWS
    assert {t.table for t in result.tables} >= {"app.items", "app.pairs", "shop.orders", "runbook_probe.heartbeat"}
    assert result.green_server and result.green_server.startswith("8.0")
    assert result.blue_server and result.blue_server.startswith("5.7")


def test_full_compare_passes_under_a_separate_writer_at_500_writes_per_second(lab: Lab) -> None:
    target = Target(lab.blue_endpoint["Address"], lab.blue_endpoint["Port"], "admin", lab.password)
    with Probe(target, interval_ms=50), Writer(lab) as writer:
        time.sleep(1.0)
        start = time.time()
        result = compare(lab.blue, lab.green, mode="full", schemas=["app", "runbook_probe"])
        end = time.time()
        rate = writer.rate(start, end)
    assert not writer.errors, writer.errors
    print(f"\n{result.summary()}; writer: {rate:.0f} acknowledged writes/s during the comparison")
    assert rate >= 500, f"the writer reached only {rate:.0f} writes/s: the test did not test what it claims"
    record = _record(result)
    _assert_fully_matching(result)
    items = _table(result, "app.items")
    assert items.rows_covered >= ROWS * 0.9 and items.chunks_compared >= 90
    assert result.first_position != result.last_position       # blue's binlog moved while it compared
    assert record["totals"]["chunks_retried"] == sum(t.chunks_retried for t in result.tables)


def test_planted_differences_on_green_are_found_with_their_key_range_under_load(lab: Lab) -> None:
    with lab.blue() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM app.items WHERE id = 97002")
        deleted_row = cur.fetchone()
    lab.on_green_only("UPDATE app.items SET qty = qty + 1 WHERE id = 95001",
                      "DELETE FROM app.items WHERE id = 97002",
                      "INSERT INTO app.items VALUES (99999999999, 'only on green', 1, 1, NULL, NOW(6), NULL, NULL)",
                      "UPDATE app.pairs SET qty = 99 WHERE region = 'us' AND n = 15003")
    try:
        with Writer(lab) as writer:
            time.sleep(0.5)
            start = time.time()
            result = compare(lab.blue, lab.green, mode="full", schemas=["app"])
            rate = writer.rate(start, time.time())
        assert not writer.errors, writer.errors
        assert rate >= 500, f"the writer reached only {rate:.0f} writes/s"
    finally:
        lab.on_green_only("UPDATE app.items SET qty = qty - 1 WHERE id = 95001",
                          (f"INSERT INTO app.items VALUES ({', '.join(['%s'] * len(deleted_row))})", deleted_row),
                          "DELETE FROM app.items WHERE id = 99999999999",
                          "UPDATE app.pairs SET qty = 15003 % 13 WHERE region = 'us' AND n = 15003")
    _record(result)
    assert result.status == "differences" and not result.passed
    items, pairs = _table(result, "app.items"), _table(result, "app.pairs")
    found = {}
    for diff in items.differences:
        assert diff.kind == "rows" and diff.position
        for key in diff.keys_changed + diff.keys_only_on_blue + diff.keys_only_on_green:
            low = diff.lower[0] if diff.lower else float("-inf")
            high = diff.upper[0] if diff.upper else float("inf")
            assert low < key[0] <= high, diff            # the reported range holds the row
            found[key[0]] = diff
    assert set(found) == {95001, 97002, 99999999999}, items.differences
    assert found[95001].keys_changed == [[95001]] and found[95001].changed == 1
    assert found[97002].keys_only_on_blue == [[97002]] and found[97002].green_rows == found[97002].blue_rows - 1
    assert found[99999999999].keys_only_on_green == [[99999999999]] and found[99999999999].upper is None
    assert items.differences_total == 3
    [pair_diff] = pairs.differences
    assert pair_diff.keys_changed == [["us", 15003]] and pairs.key_columns == ["region", "n"]
    assert pair_diff.lower is None or tuple(pair_diff.lower) < ("us", 15003) <= tuple(pair_diff.upper or ("zz", 0))
    lab.caught_up()   # repaired above: the other tests see identical data again
    assert compare(lab.blue, lab.green, mode="full", schemas=["app"]).status == "match"


def test_sampled_mode_compares_a_stated_deterministic_sample(lab: Lab) -> None:
    first = compare(lab.blue, lab.green, mode="sampled", schemas=["app"], exclude=["app.pairs"],
                    sample_fraction=0.2, sample_seed=7)
    again = compare(lab.blue, lab.green, mode="sampled", schemas=["app"], exclude=["app.pairs"],
                    sample_fraction=0.2, sample_seed=7)
    record = _record(first)
    assert record["settings"]["sample_fraction"] == 0.2 and record["settings"]["sample_seed"] == 7
    items, items_again = _table(first, "app.items"), _table(again, "app.items")
    assert [t.table for t in first.tables] == ["app.items"]
    assert first.status == "match", first.summary()
    walked = items.chunks_compared + items.chunks_not_sampled
    assert walked >= 100 and items.chunks_not_sampled > 0
    assert 0.1 <= (items.chunks_compared - 2) / (walked - 2) <= 0.3   # the first and last chunk always count
    assert items.rows_covered < ROWS / 2
    assert (items_again.chunks_compared, items_again.rows_covered) == (items.chunks_compared, items.rows_covered)
    full = compare(lab.blue, lab.green, mode="full", schemas=["app"], exclude=["app.pairs"])
    assert "sample_fraction" not in full.settings and _table(full, "app.items").chunks_not_sampled == 0


def test_tables_without_a_primary_key_are_compared_by_a_stated_fallback_or_not_at_all(lab: Lab) -> None:
    with lab.blue() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE nokey")
        cur.execute("USE nokey")
        cur.execute("CREATE TABLE by_unique (code VARCHAR(16) NOT NULL, qty INT, UNIQUE KEY uq_code (code))")
        cur.execute("INSERT INTO by_unique SELECT CONCAT('c', seq), seq FROM seq_1_to_5000")
        cur.execute("CREATE TABLE small (at DATETIME, what VARCHAR(20))")
        cur.execute("INSERT INTO small SELECT '2024-01-01' + INTERVAL seq DAY, 'same' FROM seq_1_to_50")
        cur.execute("CREATE TABLE big (at DATETIME, what VARCHAR(20))")
        cur.execute("INSERT INTO big SELECT '2024-01-01' + INTERVAL seq MINUTE, 'x' FROM seq_1_to_5000")
    lab.caught_up()
    try:
        clean = compare(lab.blue, lab.green, mode="full", schemas=["nokey"], chunk_rows=1000)
        lab.on_green_only("UPDATE nokey.by_unique SET qty = -1 WHERE code = 'c4242'",
                          "INSERT INTO nokey.small VALUES ('2024-01-02', 'same')")   # a duplicate row, only on green
        planted = compare(lab.blue, lab.green, mode="full", schemas=["nokey"], chunk_rows=1000)
    finally:
        with lab.blue() as conn, conn.cursor() as cur:
            cur.execute("DROP DATABASE nokey")
    _record(clean)
    by_unique, small, big = (_table(clean, f"nokey.{n}") for n in ("by_unique", "small", "big"))
    assert by_unique.key == "uq_code" and by_unique.status == "match" and by_unique.rows_covered == 5000
    assert small.key is None and "whole table" in small.method and small.status == "match" and small.rows_covered == 50
    assert big.status == "not_compared" and big.chunks_compared == 0 and big.rows_covered == 0
    assert "no primary key" in big.not_compared[0].reason and "chunk_rows=1000" in big.not_compared[0].reason
    assert clean.status == "incomplete" and not clean.passed           # never 'match' with a table left out
    unique_diff = _table(planted, "nokey.by_unique").differences
    assert [d.keys_changed for d in unique_diff] == [[["c4242"]]]
    [small_diff] = _table(planted, "nokey.small").differences
    assert (small_diff.only_on_green, small_diff.only_on_blue, small_diff.blue_rows, small_diff.green_rows) == (1, 0, 50, 51)
    assert planted.status == "differences"


def test_off_is_recorded_as_not_run_and_touches_nothing() -> None:
    def refuse() -> Any:
        raise AssertionError("mode 'off' must not connect")
    result = compare(refuse, refuse, mode="off")
    record = _record(result)
    assert result.status == "not_run" and not result.passed and record["tables"] == []
    assert "not run" in result.summary() and result.notes


def test_a_tiny_time_budget_stops_early_and_names_what_was_not_compared(lab: Lab) -> None:
    result = compare(lab.blue, lab.green, mode="full", max_seconds=0.5)
    _record(result)
    assert result.status == "incomplete" and not result.passed
    assert result.stopped_early and "max_seconds=0.5" in result.stopped_early
    assert result.elapsed_s < 0.5 + 2.0   # the budget bounds every wait and statement (+ connecting)
    with lab.blue() as conn, conn.cursor() as cur:
        cur.execute("SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables WHERE table_type = "
                    "'BASE TABLE' AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')")
        in_scope = {r[0] for r in cur.fetchall()}
    assert {t.table for t in result.tables} == in_scope          # every table accounted for, none silently left out
    items = _table(result, "app.items")
    assert items.status in ("incomplete", "not_compared")
    assert items.not_compared[-1].upper is None and "max_seconds" in items.not_compared[-1].reason
    assert items.rows_covered < ROWS
    assert all(t.not_compared for t in result.tables if t.status != "match")


def test_statement_bound_and_client_read_timeout_are_reported_not_raised(lab: Lab) -> None:
    bounded = compare(lab.blue, lab.green, mode="full", schemas=["app"], exclude=["app.pairs"],
                      chunk_rows=1_000_000, statement_timeout_s=0.005)
    _record(bounded)
    [reason] = _table(bounded, "app.items").not_compared
    assert "time bound" in reason.reason or "statement_timeout_s" in reason.reason.lower(), reason
    assert bounded.status == "incomplete"

    def short_read_timeout() -> pymysql.connections.Connection[Any]:
        return lab.connect(lab.blue_endpoint, read_timeout=0.05)
    cut = compare(short_read_timeout, lab.green, mode="full", schemas=["app"], exclude=["app.pairs"],
                  chunk_rows=1_000_000, statement_timeout_s=30)
    _record(cut)
    assert cut.status == "incomplete" and not cut.passed
    reasons = " ".join([n.reason for t in cut.tables for n in t.not_compared] + [cut.stopped_early or ""])
    assert "read_timeout" in reasons and "timed out" in reasons, reasons


def test_stopped_replication_is_not_compared_and_says_why(lab: Lab) -> None:
    with lab.admin(lab.green_server_port) as conn, conn.cursor() as cur:
        cur.execute("STOP SLAVE SQL_THREAD")
    try:
        with lab.blue() as conn, conn.cursor() as cur:
            cur.execute("UPDATE app.items SET qty = qty + 1 WHERE id = 2")
        result = compare(lab.blue, lab.green, mode="full", schemas=["app"], max_catch_up_s=0.5)
    finally:
        with lab.admin(lab.green_server_port) as conn, conn.cursor() as cur:
            cur.execute("START SLAVE SQL_THREAD")
    _record(result)
    assert result.status == "incomplete" and not result.passed
    assert result.stopped_early and "SQL thread is not running" in result.stopped_early
    assert all(t.status == "not_compared" for t in result.tables) and result.tables


def test_a_caller_catch_up_is_used_and_its_failure_recorded(lab: Lab) -> None:
    seen: list[BinlogPosition] = []

    def never(position: BinlogPosition, timeout: float) -> bool:
        seen.append(position)
        return False
    result = compare(lab.blue, lab.green, mode="full", schemas=["app"], replica_catch_up=never)
    assert seen and seen[0].file.startswith("binlog.") and seen[0].pos > 0
    assert result.status == "incomplete" and "caller's replica_catch_up" in result.settings["catch_up"]
    assert result.stopped_early and "did not reach" in result.stopped_early


@pytest.mark.parametrize(("arguments", "named"), [
    ({"mode": "fast"}, "mode="), ({"chunk_rows": 5}, "chunk_rows="), ({"chunk_rows": 10.5}, "chunk_rows="),
    ({"max_seconds": 0}, "max_seconds="), ({"max_seconds": float("nan")}, "max_seconds="),
    ({"sample_fraction": 0}, "sample_fraction="), ({"sample_fraction": 1.5}, "sample_fraction="),
    ({"statement_timeout_s": -1}, "statement_timeout_s="), ({"schemas": "shop"}, "schemas="),
    ({"schemas": ["mysql"]}, "system schemas"), ({"schemas": []}, "schemas="), ({"exclude": ["a.b.c"]}, "exclude="),
    ({"max_rows": 0}, "max_rows="), ({"lock_wait_s": 0}, "lock_wait_s="), ({"retries": True}, "retries="),
])
def test_bad_arguments_name_the_parameter_and_the_fix(arguments: dict[str, Any], named: str) -> None:
    def refuse() -> Any:
        raise AssertionError("bad arguments must be refused before connecting")
    options: dict[str, Any] = {"mode": "full", **arguments}
    with pytest.raises(ConsistencyInputError) as err:
        compare(refuse, refuse, **options)
    message = str(err.value)
    assert named in message and ("use " in message or "name " in message or "give " in message), message
    assert "\n" not in message
