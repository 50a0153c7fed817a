"""What the probe saw, for the change record, computed from data alone (a live probe's `data()` or a journal
left by a killed run): unavailability windows per kind with a best estimate and bounds, what made each attempt
count as unavailable (refused, timed out, slow, in doubt), the moment the server changed, whether the probe
watched a span unbroken, a timeline plot, the raw attempts (CSV) and a summary (JSON); and the zero-loss proof.

How a window is measured (docs/probe.md has the reasoning):
- an attempt is *unavailable* when it failed, or when it succeeded slower than the slow threshold; it then
  counts for its whole duration, so a stalled answer closes its window at its own end;
- a window is a run of consecutive unavailable attempts of one loop;
- lower bound: first to last unavailable attempt, by their own timestamps: from the start of an attempt that
  waited (slow, timed out) or the end of one that failed (it may have been in flight when the outage began),
  to the end of the last one;
- upper bound: from the start of the last good attempt before (it was served, so the endpoint was up when it
  began) to the end of the first good attempt after (the first good answer);
- best estimate: each edge at the middle of its gap (last good answer .. first unavailable attempt; last
  unavailable answer .. next attempt), so each edge is off by at most half an interval.
"""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook_lib.probe.mysql import ATTEMPT_FIELDS, JOURNAL_FORMAT, LOOPS, Attempt, Probe, ProbeData
from runbook_lib.ui.display import in_notebook

CLASSES = ("ok", "slow", "refused", "timeout", "in-doubt")
KIND = {"connect": "read", "write": "write"}
SLOW_FLOOR_MS = 50.0          # below this a delay is jitter, not an outage
SLOW_BASELINE_FACTOR = 3.0    # ... and below this multiple of the loop's normal latency
BASELINE_ATTEMPTS = 20        # the first attempts of a loop: its normal latency before anything happened
AUTO_RULE = (f"automatic: max({SLOW_FLOOR_MS:.0f} ms, half the interval, {SLOW_BASELINE_FACTOR:.0f} x the loop's "
             f"median latency over its first {BASELINE_ATTEMPTS} attempts)")
ESTIMATE = ("best estimate: each window from the middle of the gap between the last good answer and the first "
            "unavailable attempt, to the middle of the gap between the last unavailable answer and the next "
            "attempt (each edge within half an interval); an attempt slower than the slow threshold is "
            "unavailable for its whole duration")
BOUNDS = ("lower: first to last unavailable attempt (from the start of one that waited, slow or timed out, or "
          "the end of one that failed, to the end of the last); upper: start of the last good "
          "attempt before to end of the first good attempt after; null when the window was still open at an "
          "end of the record")


# -- classes and thresholds ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    loop: str
    ms: float
    baseline_ms: float | None
    rule: str


def slow_thresholds(data: ProbeData) -> dict[str, Threshold]:
    """Per loop, the latency above which a successful attempt counts as unavailable."""
    out = {}
    for loop in LOOPS:
        first = [a.seconds * 1000 for a in data.of(loop)[:BASELINE_ATTEMPTS] if a.ok]
        baseline = statistics.median(first) if first else None
        if data.slow_ms is not None:
            out[loop] = Threshold(loop, float(data.slow_ms), baseline, "set by the caller")
        else:
            ms = max(SLOW_FLOOR_MS, data.interval_ms / 2, SLOW_BASELINE_FACTOR * (baseline or 0.0))
            out[loop] = Threshold(loop, ms, baseline, AUTO_RULE)
    return out


def availability(attempt: Attempt, slow_ms: float) -> str:
    """ok | slow | refused | timeout | in-doubt."""
    if not attempt.ok:
        if attempt.failure:
            return attempt.failure
        return "in-doubt" if attempt.outcome == "in-doubt" else "refused"  # records from before `failure`
    return "slow" if attempt.seconds * 1000 > slow_ms else "ok"


# -- windows ---------------------------------------------------------------------------------------------
@dataclass
class Window:
    kind: str                   # read (new connections) | write
    start: float                # best estimate of when it began
    end: float                  # ... and ended
    failed_attempts: int        # attempts that failed (refused, timed out, in doubt)
    errors: list[str]
    slow_attempts: int = 0      # attempts that succeeded, too slowly
    lower_start: float = 0.0
    lower_end: float = 0.0
    upper_start: float | None = None   # None: no good attempt before it in the record
    upper_end: float | None = None     # None: none after it (still unavailable when the record ends)
    classes: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def lower_seconds(self) -> float:
        return self.lower_end - self.lower_start

    @property
    def upper_seconds(self) -> float | None:
        if self.upper_start is None or self.upper_end is None:
            return None
        return self.upper_end - self.upper_start


def _unavailable_from(attempt: Attempt, cls: str) -> float:
    """Since when this attempt proves the endpoint unavailable: an answer that never came in time proves it
    from the attempt's start (it waited); a failure that came back proves it only when it came (the attempt
    may have started before the outage and been cut in flight)."""
    waited = cls in ("slow", "timeout") or "timed out" in (attempt.error or "")
    return attempt.start if waited else attempt.end


def windows(attempts: list[Attempt], loop: str, slow_ms: float = float("inf")) -> list[Window]:
    """Each run of consecutive unavailable attempts of `loop`, with its estimate and bounds."""
    ordered = sorted((a for a in attempts if a.loop == loop), key=lambda a: a.start)
    classes = [availability(a, slow_ms) for a in ordered]
    out: list[Window] = []
    i = 0
    while i < len(ordered):
        if classes[i] == "ok":
            i += 1
            continue
        j = i
        while j + 1 < len(ordered) and classes[j + 1] != "ok":
            j += 1
        run = ordered[i:j + 1]
        before = ordered[i - 1] if i > 0 else None
        after = ordered[j + 1] if j + 1 < len(ordered) else None
        lower_start = min(_unavailable_from(a, c) for a, c in zip(run, classes[i:j + 1], strict=True))
        lower_end = max(a.end for a in run)
        window = Window(
            KIND[loop],
            start=(min(before.end, lower_start) + lower_start) / 2 if before else lower_start,
            end=(lower_end + max(after.start, lower_end)) / 2 if after else lower_end,
            failed_attempts=sum(1 for a in run if not a.ok), errors=[],
            slow_attempts=sum(1 for c in classes[i:j + 1] if c == "slow"),
            lower_start=lower_start, lower_end=lower_end,
            upper_start=before.start if before else None, upper_end=after.end if after else None)
        for a, cls in zip(run, classes[i:j + 1], strict=True):
            window.classes[cls] = window.classes.get(cls, 0) + 1
            label = (f"{a.error_code}: {a.error}" if a.error_code else str(a.error)) if not a.ok else \
                f"slow: {a.seconds * 1000:.0f} ms"
            if label not in window.errors and len(window.errors) < 5:
                window.errors.append(label)
        out.append(window)
        i = j + 1
    return out


def _union_seconds(spans: list[tuple[float, float]]) -> float:
    total, current = 0.0, None
    for start, end in sorted(spans):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current is not None:
        total += current[1] - current[0]
    return total


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


# -- the summary -------------------------------------------------------------------------------------------
def _ms(seconds: list[float], q: float) -> float | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def all_windows(data: ProbeData) -> tuple[list[Window], dict[str, Threshold]]:
    limits = slow_thresholds(data)
    wins = [w for loop in LOOPS for w in windows(data.attempts, loop, limits[loop].ms)]
    return wins, limits


def summary_of(data: ProbeData) -> dict[str, Any]:
    """The probe's figures (probe-summary.json): keys only ever get added."""
    attempts = data.attempts
    wins, limits = all_windows(data)
    first = data.started_at or min((a.start for a in attempts), default=None)
    last = data.stopped_at or max((a.end for a in attempts), default=None)
    duration = (last - first) if first is not None and last is not None else 0.0
    out: dict[str, Any] = {
        "endpoint": data.endpoint, "run_id": data.run_id,
        "interval_ms": round(data.interval_ms),
        "resolution": f"best estimate within ±{data.interval_ms / 2:.0f} ms at each edge of a window (half the "
                      f"probe interval); bounds in *_lower_s / *_upper_s",
        "estimate": ESTIMATE, "bounds": BOUNDS,
        "started": _iso(data.started_at), "stopped": _iso(data.stopped_at), "duration_s": round(duration, 3),
        "complete": data.stopped_at is not None,
        "attempts": {KIND[loop]: len(data.of(loop)) for loop in LOOPS},
        "timeout_s": data.timeout_s,
        "slow_threshold_ms": {KIND[loop]: round(limits[loop].ms, 1) for loop in LOOPS},
        "slow_threshold_rule": limits["connect"].rule,
        "baseline_latency_ms": {KIND[loop]: _round(limits[loop].baseline_ms, 2) for loop in LOOPS},
    }
    for loop in LOOPS:
        kind = KIND[loop]
        mine = [w for w in wins if w.kind == kind]
        observed = bool(data.of(loop))  # no attempt at all: not observed, never 0
        uppers = [w.upper_seconds for w in mine]
        out[f"{kind}_unavailable_s"] = round(sum(w.seconds for w in mine), 3) if observed else None
        out[f"{kind}_unavailable_lower_s"] = round(sum(w.lower_seconds for w in mine), 3) if observed else None
        out[f"{kind}_unavailable_upper_s"] = (
            None if not observed or any(u is None for u in uppers) else
            round(_union_seconds([_reach(w) for w in mine]), 3))
    out["windows"] = [_window_row(w) for w in sorted(wins, key=lambda w: w.lower_start)]
    out["by_class"] = _by_class(data, limits)
    out["latency_ms"] = {KIND[loop]: {"p50": _ms([a.seconds for a in data.of(loop) if a.ok], 0.5),
                                      "p99": _ms([a.seconds for a in data.of(loop) if a.ok], 0.99),
                                      "max": _ms([a.seconds for a in data.of(loop) if a.ok], 1.0)}
                         for loop in LOOPS}
    out["detection_limit_s"] = {KIND[loop]: _longest_gap(data.of(loop)) for loop in LOOPS}
    out["identity_changes"] = identity_changes(attempts)
    out["writes"] = {"acknowledged": len(data.acknowledged), "in_doubt": len(data.in_doubt)}
    connections = sum(1 for a in attempts if a.connected)
    queries = sum(a.queries for a in attempts)
    out["load"] = {"connections_per_s": round(connections / duration, 1) if duration else None,
                   "queries_per_s": round(queries / duration, 1) if duration else None}
    out["notes"] = list(data.notes)
    return out


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _window_row(w: Window) -> dict[str, Any]:
    row = {k: v for k, v in asdict(w).items() if k not in ("lower_start", "lower_end", "upper_start", "upper_end")}
    upper = w.upper_seconds
    row.update(start=_iso(w.start), end=_iso(w.end), seconds=round(w.seconds, 3),
               lower_start=_iso(w.lower_start), lower_end=_iso(w.lower_end), lower_s=round(w.lower_seconds, 3),
               upper_start=_iso(w.upper_start), upper_end=_iso(w.upper_end),
               upper_s=None if upper is None else round(upper, 3),
               epoch={"start": w.start, "end": w.end, "lower_start": w.lower_start, "lower_end": w.lower_end,
                      "upper_start": w.upper_start, "upper_end": w.upper_end})
    return row


def _by_class(data: ProbeData, limits: dict[str, Threshold]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per kind and class: how many attempts, and how long they took in all."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for loop in LOOPS:
        table = {c: {"attempts": 0, "seconds": 0.0} for c in CLASSES}
        for a in data.of(loop):
            entry = table[availability(a, limits[loop].ms)]
            entry["attempts"] += 1
            entry["seconds"] += a.seconds
        for entry in table.values():
            entry["seconds"] = round(entry["seconds"], 3)
        out[KIND[loop]] = table
    return out


def _longest_gap(attempts: list[Attempt]) -> float | None:
    """The longest stretch between two consecutive attempts: an outage shorter than it could go unseen."""
    gaps = [b.start - a.end for a, b in zip(attempts, attempts[1:], strict=False)]
    return round(max(gaps), 3) if gaps else None


def summary(probe: Probe) -> dict[str, Any]:
    return summary_of(probe.data())


def during(data: ProbeData, t0: float, t1: float) -> dict[str, dict[str, Any]]:
    """The figures of the windows that touch [t0, t1] (e.g. the switchover, from the request to its completion),
    per kind, apart from any latency blip elsewhere in the record: estimate, bounds, the windows themselves, and
    how many windows lay outside."""
    wins, _ = all_windows(data)
    out: dict[str, dict[str, Any]] = {}
    for loop in LOOPS:
        kind = KIND[loop]
        mine = [w for w in wins if w.kind == kind]
        inside = [w for w in mine if _reach(w)[0] <= t1 and _reach(w)[1] >= t0]
        uppers = [w.upper_seconds for w in inside]
        observed = bool(data.of(loop))
        out[kind] = {
            "unavailable_s": round(sum(w.seconds for w in inside), 3) if observed else None,
            "lower_s": round(sum(w.lower_seconds for w in inside), 3) if observed else None,
            "upper_s": None if not observed or any(u is None for u in uppers) else round(_union_seconds(
                [_reach(w) for w in inside]), 3),
            "upper_start": min((_reach(w)[0] for w in inside), default=None),
            "upper_end": max((_reach(w)[1] for w in inside), default=None),
            "windows": [_window_row(w) for w in inside],
            "windows_elsewhere": len(mine) - len(inside)}
    return out


def _reach(w: Window) -> tuple[float, float]:
    """The widest span a window may cover: its upper bound, or its lower bound where that is open."""
    return (w.upper_start if w.upper_start is not None else w.lower_start,
            w.upper_end if w.upper_end is not None else w.lower_end)


# -- did the probe watch the whole span? --------------------------------------------------------------------
def coverage(data: ProbeData, t0: float, t1: float, max_gap_s: float | None = None) -> dict[str, Any]:
    """Whether both loops ran unbroken over [t0, t1]: an attempt starting at or before t0, one ending at or
    after t1, and between them no stretch without an attempt in flight longer than `max_gap_s` (default: five
    intervals, at least 0.5 s) — the sign of a loop that died or a process that stopped, not of an outage."""
    limit = max_gap_s if max_gap_s is not None else max(5 * data.interval, 0.5)
    loops: dict[str, Any] = {}
    reasons: list[str] = []
    for loop in LOOPS:
        kind = KIND[loop]
        mine = data.of(loop)
        before = any(a.start <= t0 for a in mine)
        after = any(a.end >= t1 for a in mine)
        holes = [{"from": _iso(a.end), "to": _iso(b.start), "seconds": round(b.start - a.end, 3)}
                 for a, b in zip(mine, mine[1:], strict=False)
                 if b.start - a.end > limit and b.start >= t0 and a.end <= t1]
        if not mine:
            reasons.append(f"{kind} loop: no attempt at all")
        else:
            if not before:
                reasons.append(f"{kind} loop: first attempt only at {_iso(mine[0].start)}, after {_iso(t0)}")
            if not after:
                reasons.append(f"{kind} loop: last attempt ended at {_iso(max(a.end for a in mine))}, "
                               f"before {_iso(t1)}")
        for hole in holes:
            reasons.append(f"{kind} loop: no attempt from {hole['from']} to {hole['to']} ({hole['seconds']} s)")
        loops[kind] = {"attempts": len(mine), "first_start": _iso(mine[0].start) if mine else None,
                       "last_end": _iso(max(a.end for a in mine)) if mine else None,
                       "starts_before": before, "ends_after": after, "holes": holes}
    return {"covered": not reasons, "t0": _iso(t0), "t1": _iso(t1), "max_gap_s": round(limit, 3),
            "loops": loops, "reasons": reasons}


# -- the journal ------------------------------------------------------------------------------------------------
def load_journals(path: Path) -> list[ProbeData]:
    """Every probe run in a journal (each begins with a header line), in order. A torn last line (the
    process was killed while writing it) is skipped and noted."""
    runs: list[ProbeData] = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if runs:
                runs[-1].notes.append(f"journal line {number} is torn (the process stopped while writing it)")
            continue
        kind = record.get("type")
        if kind == "header":
            if record.get("format") != JOURNAL_FORMAT:
                raise ValueError(f"{path}:{number}: not a probe journal header")
            runs.append(ProbeData(str(record["run_id"]), str(record["endpoint"]), str(record["database"]),
                                  float(record["interval_ms"]), float(record["timeout_s"]),
                                  None if record.get("slow_ms") is None else float(record["slow_ms"]),
                                  record.get("started_at"), None, []))
        elif not runs:
            raise ValueError(f"{path}:{number}: a {kind!r} line before any header")
        elif kind == "attempt":
            runs[-1].attempts.append(Attempt(**{k: v for k, v in record.items() if k in ATTEMPT_FIELDS}))
        elif kind == "stop":
            runs[-1].stopped_at = float(record["stopped_at"])
        elif kind == "loop-error":
            runs[-1].notes.append(f"loop error: {record.get('loop')}: {record.get('error')}")
    for run in runs:
        if run.stopped_at is None:
            run.notes.append("no stop record: the probe's process ended without stopping it (killed?)")
    return runs


def load_journal(path: Path) -> ProbeData:
    """The last probe run in a journal."""
    runs = load_journals(path)
    if not runs:
        raise ValueError(f"{path} holds no probe run")
    return runs[-1]


# -- the zero-loss proof -------------------------------------------------------------------------------------
def zero_loss_of(data: ProbeData, conn: Any) -> dict[str, Any]:
    """Look up every acknowledged sequence number on the (new) production; missing > 0 is data loss."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT seq FROM `{data.database}`.heartbeat WHERE run_id = %s", (data.run_id,))
        present = {int(r[0]) for r in cur.fetchall()}
    acked = set(data.acknowledged)
    doubt = set(data.in_doubt)
    missing = sorted(acked - present)
    return {"acknowledged": len(acked), "present": len(acked & present), "missing": len(missing),
            "missing_seqs": missing[:50], "in_doubt": len(doubt), "in_doubt_committed": len(doubt & present),
            "in_doubt_not_committed": len(doubt - present)}


def zero_loss(probe: Probe, conn: Any) -> dict[str, Any]:
    return zero_loss_of(probe.data(), conn)


# -- files ------------------------------------------------------------------------------------------------------
CSV_EXTRA = ("duration_ms", "availability")


def write_files_of(data: ProbeData, folder: Path, extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """probe-attempts.csv, probe-summary.json and probe-timeline.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    limits = slow_thresholds(data)
    paths = {"csv": folder / "probe-attempts.csv", "json": folder / "probe-summary.json",
             "png": folder / "probe-timeline.png"}
    with paths["csv"].open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*ATTEMPT_FIELDS, *CSV_EXTRA])
        writer.writeheader()
        for a in sorted(data.attempts, key=lambda a: a.start):
            writer.writerow({**asdict(a), "duration_ms": round(a.seconds * 1000, 3),
                             "availability": availability(a, limits[a.loop].ms)})
    s = summary_of(data)
    s.update(extra or {})
    paths["json"].write_text(json.dumps(s, indent=2, default=str))
    import matplotlib.pyplot as plt
    figure = timeline_of(data)
    figure.savefig(paths["png"], dpi=110, bbox_inches="tight")
    plt.close(figure)
    return paths


def write_files(probe: Probe, folder: Path, extra: dict[str, Any] | None = None) -> dict[str, Path]:
    return write_files_of(probe.data(), folder, extra)


_COLOURS = {"ok": "#198754", "slow": "#ffc107", "refused": "#dc3545", "timeout": "#6f42c1", "in-doubt": "#fd7e14"}


def timeline_of(data: ProbeData, focus: tuple[float, float] | None = None) -> Any:
    """Per-attempt timeline: each attempt a bar on its loop's lane, coloured by class; each window's upper bound
    shaded behind it. The large panel zooms on `focus` (epoch seconds; default: the unavailability windows with a
    margin), so a 200 ms outage is visible in a long probe; the small panel below shows the whole probe. Times are
    clock times (UTC); the figure is under 1,000 px wide at the dpi it is saved with."""
    import matplotlib
    if not in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    attempts = data.attempts
    t0 = data.started_at or min((a.start for a in attempts), default=0)
    wins, _ = all_windows(data)
    end = max((a.end for a in attempts), default=t0 + 1) - t0
    lo, hi = _focus(wins, t0, end) if focus is None else (focus[0] - t0, focus[1] - t0)
    fig, (ax, whole) = plt.subplots(2, 1, figsize=(8.4, 4.2), gridspec_kw={"height_ratios": [3, 1]})
    for axis in (ax, whole):
        _lanes(axis, data, wins, t0)
        axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _clock(t0 + x, fine=hi - lo < 20)))
        axis.xaxis.set_major_locator(MaxNLocator(7))
    for change in identity_changes(attempts):
        ax.axvline(change["epoch"] - t0, color="#0d6efd", linestyle="--", linewidth=1)
        ax.text(change["epoch"] - t0, 1.45, f" now {change['to_version']} (server {change['to_server_id']})",
                color="#0d6efd", fontsize=8, va="bottom", clip_on=True)
    ax.set_xlim(lo, hi)
    whole.set_xlim(0, max(end, hi))
    whole.axvspan(lo, hi, color="#0d6efd", alpha=0.12, zorder=0)
    whole.set_yticks([])
    whole.set_xlabel(f"the whole probe (UTC; shaded: the zoomed part above), {end:.0f} s", fontsize=8)
    whole.tick_params(labelsize=7)
    s = summary_of(data)
    ax.set_yticks([0, 1], ["writes\n(long-lived)", "reads\n(new connection)"])
    ax.set_ylim(-0.6, 1.9)
    ax.set_xlabel("time (UTC), zoomed on the switchover", fontsize=8)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=False))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", ncol=len(unique))
    ax.set_title(f"{s['endpoint']}: writes unavailable {_figure(s, 'write')}, reads unavailable "
                 f"{_figure(s, 'read')}\n(interval {s['interval_ms']} ms, slow > "
                 f"{s['slow_threshold_ms']['read']:.0f}/{s['slow_threshold_ms']['write']:.0f} ms)", fontsize=9)
    fig.tight_layout()
    return fig


def _lanes(ax: Any, data: ProbeData, wins: list[Window], t0: float) -> None:
    limits = slow_thresholds(data)
    for lane, loop in enumerate(("write", "connect")):
        kind = KIND[loop]
        for w in (w for w in wins if w.kind == kind):
            lo = (w.upper_start if w.upper_start is not None else w.lower_start) - t0
            hi = (w.upper_end if w.upper_end is not None else w.lower_end) - t0
            ax.broken_barh([(lo, hi - lo)], (lane - 0.45, 0.9), facecolors="#f8d7da", zorder=0)
        for cls, colour in _COLOURS.items():
            # at least 60 % of an interval wide, so that every attempt stays visible at any zoom
            spans = [(a.start - t0, max(a.seconds, data.interval * 0.6)) for a in data.attempts
                     if a.loop == loop and availability(a, limits[loop].ms) == cls]
            if spans:
                ax.broken_barh(spans, (lane - 0.35, 0.7), facecolors=colour, label=cls, zorder=1)


def _focus(wins: list[Window], t0: float, end: float) -> tuple[float, float]:
    """The part worth seeing: the unavailability windows, with 1 s either side and at least 4 s wide."""
    if not wins:
        return 0.0, max(end, 1.0)
    lo = min((w.upper_start if w.upper_start is not None else w.lower_start) for w in wins) - t0 - 1.0
    hi = max((w.upper_end if w.upper_end is not None else w.lower_end) for w in wins) - t0 + 1.0
    if hi - lo < 4.0:
        middle = (lo + hi) / 2
        lo, hi = middle - 2.0, middle + 2.0
    return max(lo, 0.0), min(hi, max(end, 4.0))


def _clock(epoch: float, fine: bool) -> str:
    at = datetime.fromtimestamp(epoch, timezone.utc)
    return at.strftime("%H:%M:%S.%f")[:-4] if fine else at.strftime("%H:%M:%S")


def timeline(probe: Probe) -> Any:
    return timeline_of(probe.data())


def _figure(s: dict[str, Any], kind: str) -> str:
    """'123 ms [80–190]' or 'not observed'."""
    est = s[f"{kind}_unavailable_s"]
    if est is None:
        return "not observed"
    lo, hi = s[f"{kind}_unavailable_lower_s"], s[f"{kind}_unavailable_upper_s"]
    return f"{est * 1000:.0f} ms [{lo * 1000:.0f}–{'?' if hi is None else f'{hi * 1000:.0f}'}]"


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")
