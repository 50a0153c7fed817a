"""docs/architecture.md stays true: every path it names exists, and every package of runbook_lib has an entry."""

from __future__ import annotations

import re

from conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"


def _named() -> set[str]:
    return set(re.findall(r"`(runbook_lib/[\w/.]*)`", DOC.read_text()))


def test_every_path_the_architecture_names_exists() -> None:
    missing = sorted(p for p in _named() if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_package_has_an_entry() -> None:
    named = {p.rstrip("/") for p in _named()}
    packages = sorted(str(init.parent.relative_to(ROOT)) for init in (ROOT / "runbook_lib").rglob("__init__.py"))
    unnamed = [p for p in packages if p not in named]
    assert not unnamed, f"packages without an entry in docs/architecture.md: {unnamed}"
