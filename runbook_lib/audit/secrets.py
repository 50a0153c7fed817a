"""The last check of every run: none of the secret values used appears anywhere in the run folder,
in any of the forms a leak takes (raw, JSON-escaped, URL-encoded, base64)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

from ..errors import RunbookError


def forms(secret: str) -> dict[str, bytes]:
    raw = secret.encode()
    out = {"raw": raw, "json-escaped": json.dumps(secret)[1:-1].encode(),
           "url-encoded": quote(secret, safe="").encode(), "url-encoded (+)": quote_plus(secret).encode()}
    # base64 of the secret inside a longer text depends on its offset modulo 3: keep the stable middle.
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        start = 4 if shift else 0  # the first group also holds bytes before the secret
        stable = encoded[start: len(encoded) - 4]
        if len(stable) >= 8:
            out[f"base64 (offset {shift})"] = stable
    out["base64"] = base64.b64encode(raw).rstrip(b"=")
    return {k: v for k, v in out.items() if len(v) >= 6}


def scan(run_dir: Path, secrets: list[str]) -> list[tuple[str, str]]:
    """(file, form) for every hit."""
    hits = []
    patterns = [(name, pattern) for s in secrets if s for name, pattern in forms(s).items()]
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for name, pattern in patterns:
            if pattern in data:
                hits.append((path.relative_to(run_dir).as_posix(), name))
    return hits


class SecretLeak(RunbookError):
    """A secret reached the run folder."""


def assert_clean(run_dir: Path, secrets: list[str]) -> None:
    hits = scan(run_dir, secrets)
    if hits:
        listed = "; ".join(f"{f} ({how})" for f, how in hits)
        raise SecretLeak(f"SECRET LEAK: a database password appears in the run record: {listed}. Rotate that "
                         "password now, then remove the file's copies; the run is marked failed.")
