"""`runbook probe`: the downtime probe against any MySQL endpoint, one live line per second."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from runbook_lib.errors import RunbookError
from runbook_lib.probe import report as probe_report
from runbook_lib.probe.mysql import Probe, Target
from runbook_lib.run.folder import new_run_id, runs_root


def parse_endpoint(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RunbookError(f"--endpoint must be HOST:PORT (for example mydb.abc123.eu-west-1.rds.amazonaws.com:3306); "
                           f"got {text!r}.")
    return host, int(port)


def _seconds(value: float | None) -> str:
    return "not observed" if value is None else f"{value:.3f} s"


def run_probe(endpoint: str, user: str, password_env: str, interval_ms: int = 100, duration_s: float | None = None,
              database: str = "runbook_probe", ca_bundle: str | None = None, verify_identity: bool = False,
              tls: bool = False, out: str | None = None, stream: TextIO | None = None,
              slow_ms: float | None = None, journal: str | None = None) -> Path:
    """Probe until `duration_s` or Ctrl-C; every attempt also goes to a journal (default: in the report folder)
    as it happens, so a killed run leaves its data."""
    if not 10 <= interval_ms <= 1000:
        raise RunbookError(f"--interval-ms must be between 10 and 1000; got {interval_ms}.")
    if slow_ms is not None and not 1 <= slow_ms <= 60_000:
        raise RunbookError(f"--slow-ms must be between 1 and 60000 (or left out for the automatic threshold); "
                           f"got {slow_ms}.")
    password = os.environ.get(password_env)
    if not password:
        raise RunbookError(f"The environment variable {password_env} (--password-env) is not set: export the "
                           "database password in it; it is never taken on the command line.")
    if ca_bundle and not Path(ca_bundle).is_file():
        raise RunbookError(f"--ca-bundle {ca_bundle} does not exist (for RDS: the Region's bundle from "
                           "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem).")
    host, port = parse_endpoint(endpoint)
    folder = Path(out) if out else runs_root() / f"probe-{new_run_id()}"
    probe = Probe(Target(host, port, user, password, database, ca_bundle, verify_identity, tls),
                  interval_ms=interval_ms, run_id=folder.name, slow_ms=slow_ms,
                  journal=Path(journal) if journal else folder / "probe-journal.jsonl")
    stream = stream or sys.stdout
    try:
        probe.start()
    except Exception as exc:  # noqa: BLE001 - the first contact failing is a usage problem
        raise RunbookError(f"Cannot prepare the probe on {endpoint}: {exc}") from None
    started = time.monotonic()
    try:
        while duration_s is None or time.monotonic() - started < duration_s:
            time.sleep(1)
            attempts = probe.snapshot()
            last = {loop: next((a for a in reversed(attempts) if a.loop == loop), None) for loop in ("connect", "write")}
            s = probe_report.summary(probe)
            read, write = last["connect"], last["write"]
            stream.write(
                f"{datetime.now():%H:%M:%S} "
                f"read {'ok' if read and read.ok else 'DOWN'}"
                f"{f' server {read.server_id} {read.version}' if read and read.ok else f' ({read.error_code})' if read else ''}"
                f" | write {'ok' if write and write.ok else 'DOWN'} | down so far: read {_seconds(s['read_unavailable_s'])}, "
                f"write {_seconds(s['write_unavailable_s'])} | acked {len(probe.acknowledged)}, in doubt {len(probe.in_doubt)}\n")
            stream.flush()
    except KeyboardInterrupt:
        pass
    finally:
        probe.stop()
    paths = probe_report.write_files(probe, folder)
    s = probe_report.summary(probe)
    stream.write(f"writes unavailable {_seconds(s['write_unavailable_s'])} "
                 f"(between {_seconds(s['write_unavailable_lower_s'])} and {_seconds(s['write_unavailable_upper_s'])}), "
                 f"reads unavailable {_seconds(s['read_unavailable_s'])} "
                 f"(between {_seconds(s['read_unavailable_lower_s'])} and {_seconds(s['read_unavailable_upper_s'])}); "
                 f"slow above {s['slow_threshold_ms']['read']:.0f} ms (reads) / {s['slow_threshold_ms']['write']:.0f} ms "
                 f"(writes); {s['resolution']}; report in {paths['json'].parent}\n")
    return paths["json"].parent
