"""The last check of every run: none of the secret values used appears anywhere in the run folder,
in any of the forms a leak takes (raw, JSON-escaped, URL-encoded, base64)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from runbook_lib.errors import RunbookError


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


class SecretScanIncomplete(SecretLeak):
    """A secret the run used could not be resolved again, so the scan could not look for it: the run fails rather
    than pass a scan that checked nothing."""


class SecretValues(list[str]):
    """The secret values a run used, and for each source that could not be resolved, why (`unresolved`)."""

    def __init__(self, values: list[str] | None = None, unresolved: list[str] | None = None) -> None:
        super().__init__(v for v in values or [] if v)
        self.unresolved = list(unresolved or [])


def resolve_run_secrets(params: Any, secrets_client: Any | None = None, lab: Any | None = None) -> SecretValues:
    """Every secret value a run with these parameters used (today: the database password, from the environment,
    Secrets Manager or the lab), resolved the way the steps resolved it. A source named but not resolvable is
    listed in `unresolved`: a scan that does not know the value cannot say it is absent."""
    from runbook_lib.aws.clients import secrets_manager
    from runbook_lib.aws.credentials import resolve_password
    try:
        if params.db_password_secret_id and secrets_client is None and not os.environ.get(params.db_password_env):
            secrets_client = secrets_manager(params)
        return SecretValues([resolve_password(params, secrets_client, lab)])
    except Exception as exc:  # noqa: BLE001 - reported as an incomplete scan, never swallowed
        source = (f"Secrets Manager secret {params.db_password_secret_id}" if params.db_password_secret_id
                  else f"environment variable {params.db_password_env}")
        return SecretValues([], [f"the database password ({source}): {type(exc).__name__}: {str(exc)[:200]}"])


def assert_clean(run_dir: Path, secrets: list[str]) -> None:
    hits = scan(run_dir, secrets)
    if hits:
        listed = "; ".join(f"{f} ({how})" for f, how in hits)
        raise SecretLeak(f"SECRET LEAK: a database password appears in the run record: {listed}. Rotate that "
                         "password now, then remove the file's copies; the run is marked failed.")
