"""HTML copies of the executed notebooks that render offline: no remote script or style."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

_REMOTE = re.compile(r"<(script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>(?:\s*</script>)?",
                     re.IGNORECASE)


_EMPTY_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"'][\"'][^>]*>\s*</script>", re.IGNORECASE)


_WIDGET = "application/vnd.jupyter.widget-view+json"


def to_html(notebook: Path) -> Path:
    exporter = HTMLExporter(template_name="lab")  # type: ignore[no-untyped-call]  # nbconvert ships no types
    exporter.mathjax_url = ""
    exporter.require_js_url = ""
    exporter.widget_renderer_url = ""
    node = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]  # nbformat ships no types
    settle_widgets(node, _step_record(notebook))
    body, _ = exporter.from_notebook_node(node)
    body = _EMPTY_SCRIPT.sub("", _REMOTE.sub("", body))
    out = notebook.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def remote_references(html: str) -> list[str]:
    """Any script or stylesheet the page would fetch from the network (must be none)."""
    return [m.group(0) for m in _REMOTE.finditer(html)]


def _step_record(notebook: Path) -> dict[str, Any]:
    """steps/NN.json of the step this notebook ran (its name starts with the step number)."""
    try:
        data = json.loads((notebook.parent / "steps" / f"{notebook.name[:2]}.json").read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def settle_widgets(node: Any, record: dict[str, Any]) -> None:
    """A saved notebook holds widgets as their state when first shown (a repr, or a progress bar at 0): the HTML
    shows instead what was decided, from the step record, and drops progress bars (their final line is printed
    after them)."""
    decisions = (record.get("findings") or {}).get("decisions") or []
    for cell in node.get("cells", []):
        kept = []
        for output in cell.get("outputs", []):
            if _WIDGET not in output.get("data", {}):
                kept.append(output)
                continue
            meta = (output.get("metadata") or {}).get("runbook")
            if not meta:
                continue  # a progress bar
            output["data"] = {"text/html": _decision_html(meta, decisions),
                              "text/plain": output["data"].get("text/plain", "")}
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept


def _decision_html(meta: dict[str, Any], decisions: list[dict[str, Any]]) -> str:
    def when(entry: dict[str, Any]) -> str:
        return f"by {_html(entry.get('by'))} at {datetime.fromisoformat(str(entry['at'])):%Y-%m-%d %H:%M:%S} UTC"
    if meta.get("widget") == "target":
        chosen = [d for d in decisions if d.get("what") == "chose target engine version"]
        options = ", ".join(_html(o) for o in meta.get("options", []))
        if not chosen:
            return f"<p>Upgrade to: <b>not chosen</b> (options: {options})</p>"
        return (f"<p>Upgrade to: <b>{_html(chosen[-1].get('value'))}</b> — chosen {when(chosen[-1])} "
                f"(options: {options})</p>")
    gate, target = meta.get("gate"), meta.get("target")
    clicked = [d for d in decisions if d.get("what") == f"confirmed {gate}" and d.get("target") == target]
    if not clicked:
        return f"<p>☐ {_html(gate)} of <b>{_html(target)}</b>: <b>not confirmed</b></p>"
    return f"<p>☑ {_html(gate)} of <b>{_html(target)}</b>: Confirmed {when(clicked[-1])}</p>"


def _html(value: Any) -> str:
    import html
    return html.escape(str(value))
