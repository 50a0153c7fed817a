"""The workshop as a participant does it: `runbook workshop`, then JupyterLab in Debian's Chromium (Playwright, no
browser download) through steps 01-06: Run All, the target chosen in the dropdown, the switchover and the
deletions confirmed by clicking. Asserts on what the page shows: widgets live (not text), diagrams inside their
output areas, a clean stop at every gate (no traceback, no stderr), the downtime table with a non-zero write
window; then the sealed record (decisions, not reprs) and a clean `git status`. Screenshots are kept on failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from runbook_lib.lab.paths import LabPaths

pytestmark = [pytest.mark.browser, pytest.mark.full]

CHROMIUM = "/usr/bin/chromium"
VISIBLE = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# Widgets rendered as text (no widget manager) or progress bars left as their first repr.
REPRS = re.compile(r"\b(Button|Dropdown|HBox|VBox|FloatProgress|IntProgress)\(|0poll \[00:00, \?poll/s\]")


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout


@pytest.fixture
def workshop(lab_paths: LabPaths, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`runbook workshop` as typed, from the project root (working copies in its git-ignored workshop/); stopped
    with Ctrl-C (SIGINT) at the end, its working folder removed after."""
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_WORKSHOP_DIR"}
    err = (tmp_path / "workshop.err").open("w")
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "runbook_lib.cli", "workshop"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=err, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    ready_s = time.monotonic() - started
    assert url.startswith("http://127.0.0.1:"), (url, (tmp_path / "workshop.err").read_text())
    state: dict[str, Any] = {"url": url, "process": process, "ready_s": ready_s, "tmp": tmp_path,
                             "base": url.split("/lab/")[0], "token": url.split("token=")[1]}
    try:
        yield state
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                state["out"] = process.communicate(timeout=120)[0]
            except subprocess.TimeoutExpired:
                process.kill()
                state["out"] = process.communicate()[0]
        err.close()
        run_id = re.search(r"\(run (\S+),", (tmp_path / "workshop.err").read_text())
        if run_id:
            shutil.rmtree(ROOT / "workshop" / run_id.group(1), ignore_errors=True)


class Notebook:
    """The open notebook in JupyterLab, driven through its menus and read from its DOM."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base

    def open(self, name: str) -> None:
        self.page.goto(f"{self.base}/lab/tree/{name}.ipynb?reset")
        self.page.wait_for_selector(f"{VISIBLE} .jp-CodeCell", timeout=120_000)
        self.page.wait_for_function("() => /\\| Idle/.test(document.body.innerText)", timeout=120_000)

    def menu(self, top: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()

    def wait_idle(self, timeout_s: float = 900) -> None:
        self.page.wait_for_timeout(500)
        self.page.wait_for_function(
            """(sel) => { const p = [...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputPrompt')]
                                  .map(e => e.textContent);
                           return p.length > 0 && !p.some(t => t.includes('*')) && /\\| Idle/.test(document.body.innerText); }""",
            arg=VISIBLE, timeout=timeout_s * 1000)

    def run_all(self) -> None:
        self.menu("Run", "Run All Cells")
        self.wait_idle()

    def run_from(self, source_fragment: str) -> None:
        """Select the code cell containing `source_fragment` and run it and all below (after a click)."""
        cell = self.cell(source_fragment)
        cell.locator(".jp-InputPrompt").first.click()
        self.menu("Run", "Run Selected Cell and All Below")
        self.wait_idle()

    def cell(self, source_fragment: str) -> Any:
        return self.page.locator(f"{VISIBLE} .jp-CodeCell", has_text=source_fragment).first

    def text(self) -> str:
        return str(self.page.locator(VISIBLE).inner_text())

    def save(self) -> None:
        self.page.locator(f"{VISIBLE} .jp-Notebook").click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)

    def problems(self) -> list[str]:
        """What must never be on the page: error output, a traceback, a widget shown as its repr, a diagram
        wider than its output area (or the area scrolling sideways)."""
        found = []
        for el in self.page.locator(f"{VISIBLE} .jp-OutputArea-output[data-mime-type*='stderr'], "
                                    f"{VISIBLE} .jp-OutputArea-output[data-mime-type*='error']").all():
            found.append("error output: " + el.inner_text()[:300])
        for text in self.page.locator(f"{VISIBLE} .jp-OutputArea-output").all_inner_texts():
            if "Traceback" in text or REPRS.search(text):
                found.append("as text: " + text[:300])
        found += self.page.evaluate(
            """(sel) => {
                 const bad = [];
                 for (const area of document.querySelectorAll(sel + ' .jp-OutputArea-output')) {
                   const box = area.getBoundingClientRect();
                   for (const pic of area.querySelectorAll('img, svg')) {
                     if (pic.closest('.widget-button, button')) continue;
                     const r = pic.getBoundingClientRect();
                     if (r.width > 1000 || r.right > box.right + 1 || r.left < box.left - 1)
                       bad.push(`diagram ${Math.round(r.width)} px outside its ${Math.round(box.width)} px area`);
                   }
                   if (area.scrollWidth > area.clientWidth + 1)
                     bad.push(`output area scrolls sideways: ${area.scrollWidth} > ${area.clientWidth}`);
                 }
                 return bad; }""", VISIBLE)
        return found

    def diagrams(self) -> int:
        return int(self.page.locator(f"{VISIBLE} .jp-OutputArea-output").locator("img, svg").count())

    def finished(self, number: str, title: str) -> None:
        expected = f"Step {number} ({title}): succeeded"
        assert expected in self.text(), self.text()[-2000:]


def _waiting(nb: Notebook, fragment: str, click: str) -> None:
    """The cell needing the choice says what to do, and nothing after it ran."""
    cell_text = str(nb.cell(fragment).inner_text())
    assert "Waiting for you" in cell_text and click in cell_text, cell_text
    assert nb.problems() == [], nb.problems()


def _current_run() -> Path:
    return Path((Path(os.environ["RUNBOOK_RUNS_DIR"]) / "CURRENT").read_text().strip())


def test_workshop_clicked_through_in_chromium(workshop: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright
    before = _git_status()
    timings: dict[str, float] = {"workshop_to_jupyterlab_ready_s": round(workshop["ready_s"], 1)}
    shots = workshop["tmp"] / "screenshots"
    shots.mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        nb = Notebook(page, workshop["base"])
        started = time.monotonic()
        try:
            page.goto(workshop["url"])
            page.wait_for_selector(f"{VISIBLE} .jp-CodeCell", timeout=120_000)
            timings["first_page_s"] = round(time.monotonic() - started, 1)
            files = page.locator(".jp-DirListing-itemText").all_inner_texts()
            assert "parameters" in files and "05_switchover.ipynb" in files, files

            clock = time.monotonic()
            nb.open("01_prerequisites")
            nb.run_all()
            assert nb.problems() == [], nb.problems()
            assert nb.diagrams() >= 2
            nb.finished("01", "Check prerequisites")
            nb.save()
            timings["01"] = round(time.monotonic() - clock, 1)

            clock = time.monotonic()
            nb.open("02_create_blue_green")
            nb.run_all()
            assert nb.problems() == [], nb.problems()
            nb.finished("02", "Create the blue/green deployment")
            nb.save()
            timings["02"] = round(time.monotonic() - clock, 1)

            clock = time.monotonic()
            nb.open("03_upgrade_green")
            nb.run_all()                                                   # stops at the choice
            _waiting(nb, "picker.value()", "Upgrade to")
            assert "target_engine_version: 8.0.39" in nb.text()              # the file's value is not preselected
            select = page.locator(f"{VISIBLE} .widget-dropdown select")
            options = select.locator("option").all_inner_texts()
            assert "8.0.39" in options and not any(o.startswith("5.") for o in options), options
            select.select_option("8.0.39")
            page.wait_for_timeout(500)
            nb.run_all()                                                   # Run All again carries on
            assert nb.problems() == [], nb.problems()
            assert page.locator(f"{VISIBLE} .widget-dropdown select").input_value() == "8.0.39"
            nb.finished("03", "Upgrade the green instance")
            nb.save()
            timings["03"] = round(time.monotonic() - clock, 1)

            clock = time.monotonic()
            nb.open("04_upgrade_logs")
            nb.run_all()
            assert nb.problems() == [], nb.problems()
            assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", nb.text())  # LastWritten as a time
            nb.finished("04", "Read the upgrade logs")
            nb.save()
            timings["04"] = round(time.monotonic() - clock, 1)

            clock = time.monotonic()
            nb.open("05_switchover")
            nb.run_all()                                                   # stops at the switchover gate
            _waiting(nb, "switchover.switch_over(step)", "Confirm switchover of bg-deployment")
            assert "Ignored from the parameters" not in nb.text()          # lab-interactive.yaml pre-fills nothing
            assert not (_current_run() / "probe").exists()                 # the probe waits for the click too
            button = page.locator(f"{VISIBLE} button", has_text="Confirm switchover of bg-deployment")
            assert button.count() == 1
            button.click()
            page.wait_for_function("(sel) => [...document.querySelectorAll(sel + ' button')].some("
                                   "b => /Confirmed switchover of bg-deployment by .+ at \\d\\d:\\d\\d:\\d\\d UTC/"
                                   ".test(b.textContent) && b.disabled)", arg=VISIBLE, timeout=10_000)
            nb.run_from("switchover.switch_over(step)")                    # the next cell, after the click
            assert nb.problems() == [], nb.problems()
            table = page.locator(f"{VISIBLE} table", has_text="Measured downtime and zero-loss proof")
            row = table.locator("tr", has_text="writes unavailable (s)").locator("td").all_inner_texts()
            assert float(row[1]) > 0, row
            lost = table.locator("tr", has_text="acknowledged but MISSING").locator("td").all_inner_texts()
            assert lost[1] == "0", lost
            nb.finished("05", "Switch over")
            table.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(shots / "step05.png"))                # (docs/workshop-step05.png)
            nb.save()
            timings["05"] = round(time.monotonic() - clock, 1)

            clock = time.monotonic()
            nb.open("06_cleanup")
            nb.run_all()                                                   # stops: both deletions need a click
            _waiting(nb, "cleanup.delete_deployment", "Confirm delete of bg-deployment")
            buttons = page.locator(f"{VISIBLE} button", has_text="Confirm delete of")
            assert sorted(buttons.all_inner_texts()) == ["Confirm delete of bg-deployment",
                                                         "Confirm delete of database-1-old1"]
            for name in ("bg-deployment", "database-1-old1"):
                page.locator(f"{VISIBLE} button", has_text=f"Confirm delete of {name}").click()
                page.locator(f"{VISIBLE} button", has_text=f"Confirmed delete of {name} by").wait_for(timeout=10_000)
            nb.run_from("cleanup.delete_deployment")
            assert nb.problems() == [], nb.problems()
            nb.finished("06", "Clean up")
            nb.save()
            timings["06"] = round(time.monotonic() - clock, 1)
        except BaseException:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            (shots / "failure.txt").write_text(nb.text() if page.locator(VISIBLE).count() else page.content())
            raise
        finally:
            timings["browser_total_s"] = round(time.monotonic() - started, 1)
            (workshop["tmp"] / "timings.json").write_text(json.dumps(timings, indent=2))
            print(f"\nworkshop timings: {json.dumps(timings)}; screenshots in {shots}")
            browser.close()

    run = _current_run()
    process = workshop["process"]
    process.send_signal(signal.SIGINT)                                       # Ctrl-C: seal the run
    out = process.communicate(timeout=300)[0]
    assert process.returncode == 0, ((workshop["tmp"] / "workshop.err").read_text()[-3000:])
    assert str(run) in out
    assert (run / "manifest.json").is_file()
    assert sorted(p.name for p in run.glob("*.ipynb")) == [f"{n}.ipynb" for n in (
        "01_prerequisites", "02_create_blue_green", "03_upgrade_green", "04_upgrade_logs", "05_switchover",
        "06_cleanup")]
    html = {p.stem: p.read_text() for p in run.glob("*.html")}
    for name, body in html.items():
        assert not REPRS.search(body), (name, REPRS.search(body))
    assert re.search(r"Confirmed by .+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", html["05_switchover"])
    assert "Upgrade to: <b>8.0.39</b>" in html["03_upgrade_green"]
    record = json.loads((run / "steps" / "05.json").read_text())
    decision = [d for d in record["findings"]["decisions"] if d["what"] == "confirmed switchover"][0]
    assert decision["target"] == "bg-deployment" and decision["by"] and decision["at"]
    choice = json.loads((run / "steps" / "03.json").read_text())["findings"]["decisions"]
    assert choice[-1]["value"] == "8.0.39"
    with sync_playwright() as pw:                                            # the HTML record fits a page too
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        for name in sorted(html):
            page.goto((run / f"{name}.html").as_uri())
            widths = page.evaluate("() => [...document.querySelectorAll('img, svg')]"
                                   ".map(e => e.getBoundingClientRect().width)")
            assert widths and max(widths) <= 1000, (name, widths)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 1100, name
        browser.close()
    assert (ROOT / "workshop" / run.name / "05_switchover.ipynb").is_file()    # the working copy that ran ...
    assert _git_status() == before                           # ... is git-ignored; committed notebooks untouched
