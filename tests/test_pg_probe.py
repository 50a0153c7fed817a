"""The PostgreSQL probe through a per-name endpoint during a real logical switchover: the same Attempt
records, windows, identity change and zero-loss proof as for MySQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pg_fixtures import ServerFactory, pg_base, pg_logins, pg_servers, pg_template, seeded  # noqa: F401

from runbook_lib.engines.postgresql.probe import PgProbe, target, zero_loss
from runbook_lib.lab.dataplane import postgres_replication as repl
from runbook_lib.lab.dataplane.endpoints import EndpointRouter
from runbook_lib.lab.dataplane.postgres_servers import PgLogin
from runbook_lib.lab.postgres_sample import APP_DATABASE as DB
from runbook_lib.probe import report as probe_report


def test_probe_sees_the_switchover_and_proves_zero_loss(pg_servers: ServerFactory, pg_logins: dict[str,
                                                        PgLogin], tmp_path: Path) -> None:  # noqa: F811
    master = pg_logins["master"]
    blue = pg_servers("probe-blue", engine_version="15.4")
    seeded(blue, master)
    router = EndpointRouter()
    try:
        port = router.add("database-1", blue.port)
        probe = PgProbe(target("127.0.0.1", port, master.user, master.password, DB), interval_ms=50)
        probe.prepare()  # before the deployment: afterwards it would be DDL on blue
        green = pg_servers("probe-green", engine_version="16.3")
        link = repl.build_logical_green(blue, green, DB, "bg_probe")
        with probe:
            assert probe.wait_for_baseline(successes=5, timeout_s=20)
            router.set_mode(["database-1"], "refuse", cut=True)   # the control plane's part
            repl.switch_over(blue, green, [link])
            router.route("database-1", green.port)
            router.set_mode(["database-1"], "open")
            reopened = time.time()
            deadline = time.monotonic() + 20
            while sum(1 for a in probe.snapshot() if a.loop == "write" and a.ok and a.start > reopened) < 5:
                assert time.monotonic() < deadline, "writes never resumed on green"
                time.sleep(0.05)
    finally:
        router.close()
    attempts = probe.snapshot()
    changes = probe_report.identity_changes(attempts)
    assert [(c["from_version"], c["to_version"]) for c in changes] == [("15.4", "16.3")]
    assert any(a.loop == "connect" and not a.ok for a in attempts)  # the endpoint refused during the switchover
    summary = probe_report.summary(probe)
    assert summary["write_unavailable_s"] > 0 and summary["writes"]["acknowledged"] >= 10
    with green.connect(DB, login=master) as conn:
        proof = zero_loss(probe, conn)
    assert proof["missing"] == 0 and proof["present"] == proof["acknowledged"] == len(probe.acknowledged)
    files = probe_report.write_files(probe, tmp_path, {"zero_loss": proof})
    assert json.loads(files["json"].read_text())["zero_loss"]["missing"] == 0
    assert files["png"].stat().st_size > 0
    assert files["csv"].read_text().splitlines()[0].startswith("loop,start,end,ok,outcome")
