"""Opening an exported notebook in a real browser (Debian's headless Chromium) and reading back what it
rendered: headings, and how many diagrams (images) actually decoded and have a size."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_PROBE_PAGE = """<!doctype html><html><body><iframe id="f" src="{src}" style="width:1200px;height:900px"></iframe>
<pre id="result">pending</pre><script>
document.getElementById('f').onload = function () {{
  var d = this.contentDocument;
  var imgs = Array.prototype.slice.call(d.images);
  var svg = imgs.filter(function (i) {{ return i.src.indexOf('data:image/svg+xml') === 0; }});
  document.getElementById('result').textContent = JSON.stringify({{
    headings: Array.prototype.map.call(d.querySelectorAll('h1'), function (h) {{ return h.textContent; }}),
    svg_images: svg.length,
    svg_rendered: svg.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }}).length
  }});
}};
</script></body></html>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise AssertionError("Chromium is needed for this test: apt-get install chromium (scripts/setup.sh does)")
    return found


def render(html: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "probe.html"
        page.write_text(_PROBE_PAGE.format(src=html.resolve().as_uri()))
        done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={tmp}/profile", "--allow-file-access-from-files",
                               "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    if not match or match.group(1) == "pending":
        raise AssertionError(f"Chromium did not render {html}: {done.stderr[-1500:]}")
    return dict(json.loads(match.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")))
