"""The runbook's parameters: the one place that knows every key, its default and its rules.

Parameter files are YAML; papermill may also inject the same keys one by one. Every value is checked
before any step talks to RDS or a database, and every problem is reported at once, one line per key,
naming the key and saying what to do about it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runbook_lib.errors import ParamsError as ParamsError  # (defined there so the CLI need not load pydantic)

# RDS naming rules (CreateDBInstance, CreateBlueGreenDeployment, CreateDBParameterGroup …).
_INSTANCE_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,59}(?<!-)$")
_GROUP_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")
_SNAPSHOT_ID = _GROUP_NAME
# MySQL x.y.z (Aurora MySQL x.y.mysql_aurora.a.b.c); PostgreSQL (major 10 and later) major.minor such as 16.3.
_VERSION = re.compile(r"^(?:\d+\.\d+(?:\.\d+(?:[-.][A-Za-z0-9.]+)?|\.mysql_aurora\.\d+\.\d+\.\d+)|[1-9]\d+\.\d+)$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_CHECK_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_URL = re.compile(r"^https?://[^\s/]+(/.*)?$")

# Where the RDS certificate authorities are published (RDS User Guide, "Using SSL/TLS to encrypt a connection to a
# DB instance": certificate bundles for all AWS Regions, or one Region's bundle under /<region>/<region>-bundle.pem).
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
# The services the runbook calls, each of which may need its own endpoint (a VPC endpoint serves one service).
SERVICES = ("rds", "sts", "iam", "cloudwatch", "secretsmanager")
# How database connections are protected: certificate checked against ca_bundle and the endpoint's name checked
# (verify-identity), certificate checked only (verify-ca), encrypted without checking whom to (required), or plain.
TlsMode = Literal["verify-identity", "verify-ca", "required", "off"]

# Keys that would carry a secret. Passwords never live in parameter files (they would end up in
# papermill's injected cell and so in every executed notebook).
_SECRET_KEYS = re.compile(r"(pass(word)?|passwd|secret(?!_id)|token|credential)", re.I)

_RULES = {
    "source_db_cluster": (_INSTANCE_ID, "an Aurora DB cluster identifier: 1-63 letters, digits or hyphens, starting "
                          "with a letter, no trailing or double hyphen"),
    "green_cluster_parameter_group": (_GROUP_NAME, "a DB cluster parameter group name: letters, digits and hyphens, "
                                      "starting with a letter, no trailing or double hyphen"),
    "source_db_instance": (_INSTANCE_ID, "an RDS DB instance identifier: 1-63 letters, digits or hyphens, "
                           "starting with a letter, no trailing or double hyphen"),
    "deployment_name": (_DEPLOYMENT_NAME, "a blue/green deployment name: 1-60 letters, digits or hyphens, "
                        "starting with a letter, no trailing or double hyphen"),
    "green_parameter_group": (_GROUP_NAME, "a DB parameter group name: letters, digits and hyphens, "
                              "starting with a letter, no trailing or double hyphen"),
    "green_option_group": (_GROUP_NAME, "an option group name: letters, digits and hyphens, starting "
                           "with a letter, no trailing or double hyphen"),
    "final_snapshot_id": (_SNAPSHOT_ID, "a DB snapshot identifier: letters, digits and hyphens, starting "
                          "with a letter, no trailing or double hyphen"),
    "target_engine_version": (_VERSION, "an engine version such as 8.0.39 (Aurora MySQL: 8.0.mysql_aurora.3.05.2; PostgreSQL: "
                              "16.3)"),
    "region": (_REGION, "an AWS Region name such as us-east-1"),
    "db_password_env": (_ENV_VAR, "the NAME of an environment variable (letters, digits, underscore), "
                        "not the password itself"),
    "probe_database": (_SQL_NAME, "a database name: letters, digits and underscore, at most 64 characters"),
    "db_user": (_SQL_NAME, "a MySQL user name: letters, digits and underscore"),
}


class RunbookParams(BaseModel):
    """Every key a parameter file or papermill may set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    mode: Literal["lab", "aws"] = "lab"
    region: str = "us-east-1"
    profile: str | None = None
    endpoint_url: str | None = None
    endpoint_urls: dict[str, str] = Field(default_factory=dict)  # per service (aws mode): rds, sts, iam, ...
    source_db_instance: str = "database-1"
    # An Aurora MySQL cluster instead of an instance (docs/aurora-mysql.md): the steps walk the cluster, its writer
    # and readers; green_parameter_group then names green's DB (instance) parameter group, and
    # green_cluster_parameter_group green's DB cluster parameter group.
    source_db_cluster: str | None = None
    green_cluster_parameter_group: str | None = None
    deployment_name: str = "bg-deployment"
    target_engine_version: str = "8.0.39"
    green_parameter_group: str = "pg-mysql-80"
    green_option_group: str | None = "mysql80-option-group"
    # Step 01 creates green_parameter_group / green_option_group from blue's groups when they do not exist (the plan
    # of `runbook groups plan`); false: it reports the plan and stops. Interactive runs confirm with a click instead.
    create_green_groups: bool = False
    switchover_timeout_s: int = Field(300, ge=30, le=3600)
    final_snapshot_id: str | None = None
    skip_final_snapshot: bool = False
    keep_old_blue_hours: float = Field(24.0, ge=0, le=24 * 365)
    db_user: str = "admin"
    db_password_env: str = "RUNBOOK_DB_PASSWORD"
    db_password_secret_id: str | None = None
    tls: TlsMode | None = None          # None: verify-identity in aws mode; in the lab, what the lab requires
    ca_bundle: str | None = None        # PEM file of trusted CAs (aws: the RDS bundle; lab: the lab's CA by default)
    interactive: bool = False
    dry_run: bool = False
    confirm_switchover: str | None = None
    confirm_delete: list[str] = Field(default_factory=list)
    acknowledge_precheck_errors: list[str] = Field(default_factory=list)
    max_replica_lag_s: float = Field(5.0, ge=0, le=3600)
    consistency_check: Literal["full", "sampled", "off"] = "full"
    consistency_max_seconds: float = Field(120.0, gt=0, le=86400)
    consistency_chunk_rows: int = Field(1000, ge=10, le=1_000_000)
    consistency_sample_fraction: float = Field(0.05, gt=0, le=1)
    consistency_statement_timeout_s: float = Field(5.0, gt=0, le=50)
    consistency_max_rows: int | None = Field(None, ge=1)
    probe_interval_ms: int = Field(100, ge=10, le=1000)
    probe_slow_ms: float | None = Field(None, gt=0, le=60000)   # None: from the interval and baseline latency
    probe_database: str = "runbook_probe"
    lab_seed_blocker: bool = False
    # PostgreSQL, step 05 after the switchover: statistics are not carried across a major version and materialized
    # views are not refreshed on green. remind: list the databases to ANALYZE and the views to REFRESH; run: run both
    # on the new production (every database) and record it.
    post_switchover_maintenance: Literal["remind", "run"] = "remind"
    # Injected by the runner, never written by hand.
    run_dir: str | None = None
    run_id: str | None = None

    @field_validator(*_RULES, mode="after")
    @classmethod
    def _named_rule(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return value
        pattern, meaning = _RULES[info.field_name]
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"must be {meaning}; got {value!r}")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError(f"must be an http(s) URL such as http://127.0.0.1:5000; got {value!r}")
        return value

    @field_validator("endpoint_urls", mode="before")
    @classmethod
    def _service_urls(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping of service to URL, e.g. {{rds: https://vpce-...}}; got {value!r}")
        unknown = sorted(str(k) for k in value if k not in SERVICES)
        if unknown:
            raise ValueError(f"names unknown service(s) {', '.join(unknown)}; use only {', '.join(SERVICES)}")
        bad = {k: v for k, v in value.items() if not isinstance(v, str) or not _URL.match(v)}
        if bad:
            raise ValueError(f"must map each service to an http(s) URL such as https://rds.eu-west-1.amazonaws.com; "
                             f"got {bad!r}")
        return value

    @field_validator("confirm_delete", "acknowledge_precheck_errors", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("acknowledge_precheck_errors")
    @classmethod
    def _check_ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _CHECK_ID.match(v)]
        if bad:
            raise ValueError(f"must list precheck ids such as removedFunctionsCheck; got {bad!r}")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: str | None) -> str | None:
        """An absolute path (papermill runs the notebooks in another folder); whether the file is there is checked
        where it is used (`file_problems`, `runbook params check`, the first connection), before any change."""
        if value is None:
            return value
        path = Path(value).expanduser()
        if not path.is_absolute():
            raise ValueError(f"must be an absolute path to a PEM file (papermill runs the notebooks in another "
                             f"folder); got {value!r}")
        return str(path)

    @model_validator(mode="after")
    def _coherent(self) -> RunbookParams:
        if self.skip_final_snapshot and self.final_snapshot_id:
            raise ValueError("final_snapshot_id and skip_final_snapshot=true contradict each other: "
                             "remove one of them")
        if self.mode == "aws" and self.tls_mode in ("verify-identity", "verify-ca") and not self.ca_bundle:
            raise ValueError(f"ca_bundle is needed: in aws mode database connections use TLS with the server "
                             f"certificate verified (tls: {self.tls_mode}). Download the RDS bundle from "
                             f"{RDS_CA_BUNDLE_URL} and set ca_bundle to its absolute path (or, knowingly, set tls: "
                             "required or off, which step 01 records as a warning)")
        if self.source_db_cluster and not self.green_cluster_parameter_group:
            raise ValueError("green_cluster_parameter_group is needed with source_db_cluster: name the DB cluster "
                             "parameter group of the target version's family that green's cluster gets (with "
                             "binlog_format on), e.g. aurora-mysql80-cluster")
        if self.mode == "lab" and self.endpoint_urls:
            raise ValueError("endpoint_urls is for aws mode (the lab serves every service at one endpoint): remove it "
                             "or use endpoint_url")
        return self

    @property
    def tls_mode(self) -> str | None:
        """The TLS mode in force: the parameter, else verify-identity in aws mode; None in the lab means 'as the lab
        requires' (its servers may or may not demand TLS)."""
        if self.tls is not None:
            return self.tls
        return "verify-identity" if self.mode == "aws" else None

    def file_problems(self) -> list[tuple[str, str]]:
        """Problems with files the parameters name (read now, unlike the rest of validation, which needs no file)."""
        if not self.ca_bundle:
            return []
        problem = ca_bundle_problem(self.ca_bundle)
        return [("ca_bundle", problem)] if problem else []

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint URL of one service in aws mode: endpoint_urls[service], and endpoint_url for RDS only (an RDS
        VPC endpoint serves nothing else)."""
        if service in self.endpoint_urls:
            return self.endpoint_urls[service]
        return self.endpoint_url if service == "rds" else None

    def final_snapshot_for(self, instance_id: str) -> str:
        """The snapshot name used when deleting `instance_id` (unless skipped and unless a run already requested
        one: step 06 then waits for that one)."""
        if self.final_snapshot_id:
            return self.final_snapshot_id
        suffix = (self.run_id or "manual").lower().replace("_", "-")
        return re.sub(r"-+", "-", f"{instance_id}-final-{suffix}")[:255].rstrip("-")

    def redacted(self) -> dict[str, Any]:
        """Parameters as recorded: names of secret sources only, never values."""
        return self.model_dump(mode="json")


def ca_bundle_problem(path_text: str) -> str | None:
    """Why this file cannot serve as a CA bundle, or None."""
    path = Path(path_text).expanduser()
    try:
        text = path.read_bytes()[:2_000_000]
    except OSError as exc:
        return (f"cannot be read ({exc.strerror}): {path}. For RDS download the bundle from {RDS_CA_BUNDLE_URL} "
                "and name that file")
    if b"-----BEGIN CERTIFICATE-----" not in text:
        return (f"is not a PEM certificate bundle (no BEGIN CERTIFICATE line): {path}. For RDS download the bundle "
                f"from {RDS_CA_BUNDLE_URL}")
    return None


def _problems_from(exc: ValidationError) -> list[tuple[str, str]]:
    known = set(RunbookParams.model_fields)
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(file)"
        msg = err["msg"].removeprefix("Value error, ")
        if key == "(file)":  # a rule across keys: name the first key it is about
            key = next((k for k in msg.replace("=", " ").split() if k in known), key)
        if err["type"] == "extra_forbidden":
            close = [k for k in known if k.split("_")[0] == key.split("_")[0]]
            hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
            msg = f"unknown key{hint}; remove it or fix its spelling (see parameters/lab.yaml for every key)"
        elif err["type"] in ("greater_than_equal", "less_than_equal") and key == "switchover_timeout_s":
            msg = f"must be between 30 and 3600 seconds (RDS's SwitchoverTimeout range); got {err['input']!r}"
        elif "input" in err and err["type"] not in ("value_error",):
            msg = f"{msg}; got {err['input']!r}"
        out.append((key, msg))
    return out


def validate(values: dict[str, Any], source: str | None = None) -> RunbookParams:
    """Check `values` against the model; raise ParamsError listing every problem."""
    secret_keys = [k for k in values if isinstance(k, str) and _SECRET_KEYS.search(k)
                   and k not in ("db_password_env", "db_password_secret_id")]
    problems = [(k, "passwords and other secrets are never read from parameter files (they would be "
                    "copied into every executed notebook). Remove this key and put the password in the "
                    "environment variable named by db_password_env, or name an AWS Secrets Manager secret "
                    "in db_password_secret_id") for k in secret_keys]
    clean = {k: v for k, v in values.items() if k not in secret_keys}
    try:
        params = RunbookParams.model_validate(clean)
    except ValidationError as exc:
        problems += _problems_from(exc)
        params = None
    if problems:
        raise ParamsError(problems, source)
    assert params is not None
    return params


def read_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a YAML parameter file (no validation)."""
    path = Path(path)
    data = yaml_mapping(path, _read_text(path))
    if not isinstance(data, dict):
        raise ParamsError([("(file)", f"must be a YAML mapping of key: value lines, not a {type(data).__name__}; "
                                      "see parameters/lab.yaml for every key")], str(path))
    return data


def _read_text(path: Path) -> str:
    """The file's text, or one error that says what the file is instead of a parameter file and what to pass."""
    example = "Pass a YAML parameter file, e.g. parameters/lab.yaml"
    if path.is_dir():
        raise ParamsError([("params_file", f"{path} is a directory, not a parameter file. {example}")])
    if not path.exists():
        raise ParamsError([("params_file", f"no such file: {path}. {example}")])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParamsError([("params_file", f"cannot read {path} ({exc.strerror}). Check its permissions, "
                                           f"or pass another file. {example}")]) from None
    try:
        if b"\0" in raw:
            raise UnicodeDecodeError("utf-8", raw, raw.index(b"\0"), raw.index(b"\0") + 1, "NUL byte")
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError([("params_file", f"{path} is not a text file (byte {exc.start} is not UTF-8 text: a binary "
                                           f"or otherwise encoded file). {example}, saved as UTF-8")]) from None


def yaml_mapping(path: Path, text: str) -> Any:
    """The YAML document in `text`; an empty document (nothing but blanks and comments) is an error, not defaults."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError([("(file)", f"is not valid YAML: {exc}")], str(path)) from None
    if data is None:
        raise ParamsError([("(file)", "is empty (no key: value line): a parameter file names at least the mode and "
                                      "the instance. Copy parameters/lab.yaml or parameters/production.example.yaml "
                                      "and fill it in")], str(path))
    return data


def load(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> RunbookParams:
    """Parameters from a file (if any) with `overrides` on top, validated."""
    values: dict[str, Any] = dict(read_file(path)) if path else {}
    values.update(overrides or {})
    return validate(values, str(path) if path else None)


def injected(namespace: dict[str, Any]) -> dict[str, Any]:
    """The parameter keys papermill injected into a notebook's namespace."""
    return {k: v for k, v in namespace.items()
            if (k in RunbookParams.model_fields and v is not None)  # None: the notebook's "not given"
            or (_SECRET_KEYS.search(k) and not k.startswith("_"))}
