"""HTML copies of the executed notebooks that render offline: no remote script or style."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

_REMOTE = re.compile(r"<(script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>(?:\s*</script>)?",
                     re.IGNORECASE)


_EMPTY_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"'][\"'][^>]*>\s*</script>", re.IGNORECASE)


def to_html(notebook: Path) -> Path:
    exporter = HTMLExporter(template_name="lab")  # type: ignore[no-untyped-call]  # nbconvert ships no types
    exporter.mathjax_url = ""
    exporter.require_js_url = ""
    exporter.widget_renderer_url = ""
    node = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]  # nbformat ships no types
    body, _ = exporter.from_notebook_node(node)
    body = _EMPTY_SCRIPT.sub("", _REMOTE.sub("", body))
    out = notebook.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def remote_references(html: str) -> list[str]:
    """Any script or stylesheet the page would fetch from the network (must be none)."""
    return [m.group(0) for m in _REMOTE.finditer(html)]
