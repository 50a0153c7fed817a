"""Connections to the databases behind RDS instances (PyMySQL), for checks and the probe."""

from __future__ import annotations

from typing import Any

import pymysql


def connect(endpoint: dict[str, Any], user: str, password: str, database: str | None = None,
            timeout: float = 10.0, tls: bool = False) -> pymysql.connections.Connection:
    """A connection to an RDS endpoint ({'Address', 'Port'}) with autocommit on."""
    return pymysql.connect(host=endpoint["Address"], port=int(endpoint["Port"]), user=user, password=password,
                           database=database, connect_timeout=timeout, read_timeout=60, write_timeout=60,
                           autocommit=True, ssl_disabled=not tls)
