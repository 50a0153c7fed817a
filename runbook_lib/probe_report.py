"""What the probe saw, for the change record: unavailability windows per kind, the moment the server
changed, a timeline plot, the raw attempts (CSV) and a summary (JSON); and the zero-loss proof."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .display import in_notebook
from .probe import Attempt, Probe


@dataclass
class Window:
    kind: str            # read (new connections) | write
    start: float
    end: float
    failed_attempts: int
    errors: list[str]

    @property
    def seconds(self) -> float:
        return self.end - self.start


def windows(attempts: list[Attempt], loop: str) -> list[Window]:
    """Each run of failed attempts, from the start of its first failure to the start of the next success
    (error bounded by one interval at each end). A run still failing at the end is closed at its last try."""
    kind = "read" if loop == "connect" else "write"
    out: list[Window] = []
    current: Window | None = None
    for a in sorted((a for a in attempts if a.loop == loop), key=lambda a: a.start):
        if not a.ok:
            if current is None:
                current = Window(kind, a.start, a.end, 0, [])
            current.failed_attempts += 1
            current.end = a.end
            label = f"{a.error_code}: {a.error}" if a.error_code else str(a.error)
            if label not in current.errors and len(current.errors) < 5:
                current.errors.append(label)
        elif current is not None:
            current.end = a.start
            out.append(current)
            current = None
    if current is not None:
        out.append(current)
    return out


def identity_changes(attempts: list[Attempt]) -> list[dict[str, Any]]:
    """Moments the endpoint started answering from another server (or another version)."""
    changes, last = [], None
    for a in sorted((a for a in attempts if a.ok and a.loop == "connect"), key=lambda a: a.start):
        ident = (a.server_id, a.version)
        if last is not None and ident != last:
            changes.append({"at": _iso(a.start), "epoch": a.start, "from_server_id": last[0], "from_version": last[1],
                            "to_server_id": a.server_id, "to_version": a.version})
        last = ident
    return changes


def summary(probe: Probe) -> dict[str, Any]:
    attempts = probe.snapshot()
    wins = windows(attempts, "connect") + windows(attempts, "write")
    duration = (probe.stopped_at or max((a.end for a in attempts), default=0)) - (probe.started_at or 0)
    by_kind = {k: [w for w in wins if w.kind == k] for k in ("read", "write")}
    return {
        "endpoint": f"{probe.target.host}:{probe.target.port}",
        "interval_ms": round(probe.interval * 1000),
        "resolution": f"±{round(probe.interval * 1000)} ms at each edge of a window (probe interval)",
        "started": _iso(probe.started_at), "stopped": _iso(probe.stopped_at), "duration_s": round(duration, 3),
        "attempts": {"read": sum(1 for a in attempts if a.loop == "connect"),
                     "write": sum(1 for a in attempts if a.loop == "write")},
        "read_unavailable_s": round(sum(w.seconds for w in by_kind["read"]), 3),
        "write_unavailable_s": round(sum(w.seconds for w in by_kind["write"]), 3),
        "windows": [{**asdict(w), "start": _iso(w.start), "end": _iso(w.end), "seconds": round(w.seconds, 3)}
                    for w in wins],
        "identity_changes": identity_changes(attempts),
        "writes": {"acknowledged": len(probe.acknowledged), "in_doubt": len(probe.in_doubt)},
        "load": {"connections_per_s": round(probe.connections / duration, 1) if duration else None,
                 "queries_per_s": round(probe.queries / duration, 1) if duration else None},
    }


def zero_loss(probe: Probe, conn: Any) -> dict[str, Any]:
    """Look up every acknowledged sequence number on the (new) production; missing > 0 is data loss."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT seq FROM `{probe.target.database}`.heartbeat WHERE run_id = %s", (probe.run_id,))
        present = {int(r[0]) for r in cur.fetchall()}
    acked = set(probe.acknowledged)
    doubt = set(probe.in_doubt)
    missing = sorted(acked - present)
    return {"acknowledged": len(acked), "present": len(acked & present), "missing": len(missing),
            "missing_seqs": missing[:50], "in_doubt": len(doubt), "in_doubt_committed": len(doubt & present),
            "in_doubt_not_committed": len(doubt - present)}


def write_files(probe: Probe, folder: Path, extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """probe-attempts.csv, probe-summary.json and probe-timeline.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    attempts = probe.snapshot()
    paths = {"csv": folder / "probe-attempts.csv", "json": folder / "probe-summary.json",
             "png": folder / "probe-timeline.png"}
    with paths["csv"].open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(Attempt)])
        writer.writeheader()
        for a in sorted(attempts, key=lambda a: a.start):
            writer.writerow(asdict(a))
    data = summary(probe)
    data.update(extra or {})
    paths["json"].write_text(json.dumps(data, indent=2, default=str))
    import matplotlib.pyplot as plt
    figure = timeline(probe)
    figure.savefig(paths["png"], dpi=110, bbox_inches="tight")
    plt.close(figure)
    return paths


def timeline(probe: Probe) -> Any:
    """Per-attempt timeline: each attempt a bar on its loop's lane, green ok, red failed, orange in doubt."""
    import matplotlib
    if not in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attempts = probe.snapshot()
    t0 = probe.started_at or min((a.start for a in attempts), default=0)
    fig, ax = plt.subplots(figsize=(10, 2.6))
    colours = {"ok": "#198754", "failed": "#dc3545", "refused": "#dc3545", "in-doubt": "#fd7e14"}
    for lane, loop in enumerate(("write", "connect")):
        for outcome, colour in colours.items():
            # at least 60 % of an interval wide, so that every attempt stays visible at any zoom
            spans = [(a.start - t0, max(a.end - a.start, probe.interval * 0.6)) for a in attempts
                     if a.loop == loop and a.outcome == outcome]
            if spans:
                ax.broken_barh(spans, (lane - 0.35, 0.7), facecolors=colour)
    for change in identity_changes(attempts):
        ax.axvline(change["epoch"] - t0, color="#0d6efd", linestyle="--", linewidth=1)
        ax.text(change["epoch"] - t0, 1.45, f" now {change['to_version']} (server {change['to_server_id']})",
                color="#0d6efd", fontsize=8, va="bottom")
    s = summary(probe)
    ax.set_yticks([0, 1], ["writes\n(long-lived)", "reads\n(new connection)"])
    ax.set_ylim(-0.6, 1.9)
    ax.set_xlabel("seconds since the probe started")
    ax.set_title(f"{s['endpoint']}: writes unavailable {s['write_unavailable_s'] * 1000:.0f} ms, "
                 f"reads unavailable {s['read_unavailable_s'] * 1000:.0f} ms (interval {s['interval_ms']} ms)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")
