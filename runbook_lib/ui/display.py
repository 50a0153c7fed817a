"""Showing results in a notebook (and so in the executed copy an auditor reads): tables and notes.
Outside IPython everything prints as plain text, so library calls work in scripts and tests too."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any


def in_notebook() -> bool:
    """True inside an IPython kernel (JupyterLab, papermill); False in scripts and tests."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def ipython_display() -> Any:
    """IPython.display (display, HTML, Markdown, SVG, Image); it ships no type information."""
    import IPython.display
    return IPython.display


def show(obj: Any) -> None:
    """Display a rich object (widget, image, SVG) in a notebook; nothing elsewhere."""
    if in_notebook():
        ipython_display().display(obj)


def widget(obj: Any, text: str, meta: dict[str, Any]) -> None:
    """Display a widget whose saved output says what it is (`text`) and carries `meta` for the HTML record, which
    shows the decision recorded for it instead of a widget repr (audit/export.py)."""
    if not in_notebook():
        return
    bundle = obj._repr_mimebundle_()
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    data["text/plain"] = text
    ipython_display().display(data, raw=True, metadata={"runbook": meta})


def table(rows: Iterable[Mapping[str, Any]], columns: list[str] | None = None, title: str | None = None) -> None:
    rows = list(rows)
    columns = columns or (list(rows[0]) if rows else [])
    if not in_notebook():
        if title:
            print(title)
        for row in rows:
            print("  " + " | ".join(f"{c}={row.get(c, '')}" for c in columns))
        return
    ipd = ipython_display()
    head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(_fmt(r.get(c)))}</td>"
                                     for c in columns) + "</tr>" for r in rows)
    caption = f"<caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>" if title else ""
    ipd.display(ipd.HTML(f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"))


def note(text: str, kind: str = "info") -> None:
    """A one-paragraph message; kind is info, ok, warning, error or wait (the reader must act)."""
    icon = {"info": "ℹ️", "ok": "✅", "warning": "⚠️", "error": "⛔", "wait": "👉"}.get(kind, "")
    if not in_notebook():
        print(f"[{kind}] {text}")
        return
    ipd = ipython_display()
    ipd.display(ipd.Markdown(f"{icon} {text}"))


def preformatted(text: str, title: str | None = None) -> None:
    if not in_notebook():
        if title:
            print(title)
        print(text)
        return
    ipd = ipython_display()
    caption = f"<b>{html.escape(title)}</b>" if title else ""
    ipd.display(ipd.HTML(f"{caption}<pre style='max-height:30em;overflow:auto'>{html.escape(text)}</pre>"))


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def events(found: Iterable[Mapping[str, Any]], title: str) -> None:
    """RDS events (DescribeEvents) as a table of date and message."""
    table([{"Date": e["Date"], "Message": e["Message"]} for e in found], title=title)
