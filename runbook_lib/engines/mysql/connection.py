"""Connections to the databases behind RDS instances (PyMySQL), for checks, fixes and the probe, and how they are
protected: TLS with the server certificate checked against a CA bundle and the endpoint's name checked, unless the
parameters relax it (which step 01 records as a warning)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pymysql

from runbook_lib.errors import RunbookError
from runbook_lib.lab.paths import LabPaths
from runbook_lib.params import RDS_CA_BUNDLE_URL, RunbookParams, ca_bundle_problem

MODES = ("verify-identity", "verify-ca", "required", "off")


@dataclass(frozen=True)
class TlsSettings:
    """How a connection is protected. `mode`: verify-identity (certificate chains to `ca_bundle` and names the host
    connected to), verify-ca (chains to `ca_bundle`), required (encrypted, the peer not checked), off (plain)."""

    mode: str
    ca_bundle: str | None = None
    source: str = "parameters"            # where the mode came from: parameters, aws default, the lab's setting
    _context: list[ssl.SSLContext] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RunbookError(f"tls must be one of {', '.join(MODES)}; got {self.mode!r}.")
        if self.mode in ("verify-identity", "verify-ca") and not self.ca_bundle:
            raise RunbookError(f"tls: {self.mode} needs a CA bundle (parameter ca_bundle; for RDS download "
                               f"{RDS_CA_BUNDLE_URL}).")
        problem = ca_bundle_problem(self.ca_bundle) if self.ca_bundle else None
        if problem:
            raise RunbookError(f"ca_bundle {problem} (parameter ca_bundle; nothing was changed).")

    @property
    def encrypted(self) -> bool:
        return self.mode != "off"

    @property
    def relaxed(self) -> str | None:
        """Why this is less than a verified, named peer (None when it is not)."""
        return {"verify-ca": "the certificate is checked but not the endpoint's name in it",
                "required": "the connection is encrypted but the server's certificate is not checked (anyone on "
                            "the path can pose as the database and receive the password)",
                "off": "the connection is not encrypted: the password's handshake and every query cross the network "
                       "in clear"}.get(self.mode)

    def context(self) -> ssl.SSLContext:
        """One SSL context for every connection made with these settings (the CA bundle is read once)."""
        if not self._context:
            ctx = ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else \
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.check_hostname = self.mode == "verify-identity"
            ctx.verify_mode = ssl.CERT_REQUIRED if self.mode in ("verify-identity", "verify-ca") else ssl.CERT_NONE
            self._context.append(ctx)
        return self._context[0]

    def pymysql_args(self) -> dict[str, Any]:
        """PyMySQL keyword arguments: TLS required (no silent fall-back to plain) or disabled."""
        return {"ssl": self.context()} if self.encrypted else {"ssl_disabled": True}

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "ca_bundle": self.ca_bundle, "source": self.source}


PLAIN = TlsSettings("off", source="caller")


def tls_settings(params: RunbookParams, lab: LabPaths | None = None) -> TlsSettings:
    """The TLS settings the parameters ask for. aws mode: `tls` (default verify-identity) with `ca_bundle`. Lab mode
    without `tls`: what the running lab demands (its servers' require_secure_transport, with the lab's CA)."""
    if params.mode == "aws":
        mode = params.tls_mode or "verify-identity"
        return TlsSettings(mode, params.ca_bundle, "parameters" if params.tls else "aws default")
    status = (lab or LabPaths.default()).read_status() or {}
    lab_ca = status.get("ca_bundle")
    ca = params.ca_bundle or (str(lab_ca) if lab_ca else None)
    if params.tls is not None:
        return TlsSettings(params.tls, ca if params.tls != "off" else None, "parameters")
    if status.get("require_secure_transport"):
        return TlsSettings("verify-identity", ca, "the lab's require_secure_transport")
    return TlsSettings("off", None, "the lab's default (TLS not required)")


def connect(endpoint: Mapping[str, Any], user: str, password: str, database: str | None = None,
            timeout: float = 10.0, tls: TlsSettings | bool = False) -> pymysql.connections.Connection:
    """A connection to an RDS endpoint ({'Address', 'Port'}) with autocommit on. `tls`: the settings to use (from
    `tls_settings`); a bare bool is the old form (True: encrypted, unchecked)."""
    settings = tls if isinstance(tls, TlsSettings) else TlsSettings("required", source="caller") if tls else PLAIN
    return pymysql.connect(host=endpoint["Address"], port=int(endpoint["Port"]), user=user, password=password,
                           database=database, connect_timeout=timeout, read_timeout=60, write_timeout=60,
                           autocommit=True, **settings.pymysql_args())


def session_tls(cur: Any) -> dict[str, Any]:
    """What the server says about this session's TLS (observed, not assumed): version and cipher ('' when plain),
    and whether the server refuses plain connections."""
    cur.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
    status = {str(k): str(v) for k, v in cur.fetchall()}
    try:
        cur.execute("SELECT @@GLOBAL.require_secure_transport")
        row = cur.fetchone()
    except pymysql.MySQLError:  # a server without the variable (MySQL < 5.7.8): unknown, not false
        row = None
    return {"ssl_version": status.get("Ssl_version") or None, "ssl_cipher": status.get("Ssl_cipher") or None,
            "require_secure_transport": bool(int(row[0])) if row and row[0] is not None else None}


SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")


def replica_status(cur: Any) -> dict[str, Any]:
    """SHOW SLAVE STATUS as a dict by column name ({} when the server replicates from nobody)."""
    cur.execute("SHOW SLAVE STATUS")
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else {}
