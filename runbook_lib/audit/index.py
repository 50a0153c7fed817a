"""The list of runs: `runbook audit list` and a static runs/index.html."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any


def runs(root: Path) -> list[dict[str, Any]]:
    out = []
    for run_json in sorted(root.glob("*/run.json")):
        try:
            data = json.loads(run_json.read_text())
        except ValueError:
            continue
        downtime: dict[str, Any] = next(iter(data.get("findings", {}).get("downtime", {}).values()), {})
        loss: dict[str, Any] = next(iter(data.get("findings", {}).get("zero_loss", {}).values()), {})
        out.append({
            "run": data["run_id"], "started": data.get("started"), "operator": data["operator"].get("name")
            or data["operator"].get("os_user"), "ticket": data["operator"].get("ticket"),
            "target": data.get("parameters", {}).get("source_db_instance"), "mode": data.get("mode"),
            "outcome": data.get("outcome"),
            "write_downtime_s": downtime.get("write_unavailable_s"), "read_downtime_s": downtime.get("read_unavailable_s"),
            "downtime_observed": downtime.get("observed") if downtime else None,
            "lost_writes": loss.get("missing"), "resumed_from": data.get("resumed_from"),
            "sealed": (run_json.parent / "manifest.json").exists(),
        })
    return out


def write_index(root: Path) -> Path:
    rows = runs(root)
    cells = ["run", "started", "operator", "ticket", "target", "mode", "outcome", "write_downtime_s",
             "read_downtime_s", "lost_writes", "resumed_from", "sealed"]
    body = []
    for row in reversed(rows):
        pages = sorted((root / row["run"]).glob("*.html"))
        links = " ".join(f'<a href="{html.escape(row["run"])}/{html.escape(p.name)}">{html.escape(p.stem[:2])}</a>'
                         for p in pages)
        shown = {c: ("not observed" if row["downtime_observed"] is False and c in ("write_downtime_s", "read_downtime_s",
                                                                               "lost_writes") else row[c]) for c in cells}
        body.append("<tr>" + "".join(f"<td>{html.escape('' if shown[c] is None else str(shown[c]))}</td>" for c in cells)
                    + f"<td>{links}</td></tr>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>bluegreen-runbook runs</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}"
            "</style></head><body><h1>Runbook runs</h1><p>Verify with <code>runbook audit verify</code>.</p>"
            "<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in cells) + "<th>notebooks</th></tr></thead><tbody>"
            + "".join(body) + "</tbody></table></body></html>")
    out = root / "index.html"
    out.write_text(page, encoding="utf-8")
    return out
