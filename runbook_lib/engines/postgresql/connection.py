"""psycopg connections to RDS for PostgreSQL and Aurora PostgreSQL endpoints, protected as the parameters ask
(the same TlsSettings as MySQL: verify-identity → sslmode verify-full, verify-ca → verify-ca, required → require,
off → disable; TLS asked for is required, never a silent fall-back to plain)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from runbook_lib.engines.mysql.connection import TlsSettings

_SSLMODE = {"verify-identity": "verify-full", "verify-ca": "verify-ca", "required": "require", "off": "disable"}


def ssl_args(tls: TlsSettings) -> dict[str, Any]:
    """libpq's sslmode (and sslrootcert) for these settings."""
    args: dict[str, Any] = {"sslmode": _SSLMODE[tls.mode]}
    if tls.ca_bundle and tls.mode != "off":
        args["sslrootcert"] = tls.ca_bundle
    return args


def connect(endpoint: Mapping[str, Any], user: str, password: str, database: str, tls: TlsSettings,
            timeout: float = 10.0, application_name: str = "bluegreen-runbook") -> psycopg.Connection[Any]:
    """An autocommit connection to one database behind an RDS endpoint ({'Address', 'Port'})."""
    return psycopg.connect(host=str(endpoint["Address"]), port=int(endpoint["Port"]), user=user, password=password,
                           dbname=database, connect_timeout=max(2, round(timeout)), autocommit=True,
                           application_name=application_name, **ssl_args(tls))
