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

from .errors import RunbookError

# RDS naming rules (CreateDBInstance, CreateBlueGreenDeployment, CreateDBParameterGroup …).
_INSTANCE_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,59}(?<!-)$")
_GROUP_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")
_SNAPSHOT_ID = _GROUP_NAME
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[-.][A-Za-z0-9.]+)?$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_CHECK_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

# Keys that would carry a secret. Passwords never live in parameter files (they would end up in
# papermill's injected cell and so in every executed notebook).
_SECRET_KEYS = re.compile(r"(pass(word)?|passwd|secret(?!_id)|token|credential)", re.I)

_RULES = {
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
    "target_engine_version": (_VERSION, "an engine version such as 8.0.39"),
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
    source_db_instance: str = "database-1"
    deployment_name: str = "bg-deployment"
    target_engine_version: str = "8.0.39"
    green_parameter_group: str = "pg-mysql-80"
    green_option_group: str | None = "mysql80-option-group"
    switchover_timeout_s: int = Field(300, ge=30, le=3600)
    final_snapshot_id: str | None = None
    skip_final_snapshot: bool = False
    db_user: str = "admin"
    db_password_env: str = "RUNBOOK_DB_PASSWORD"
    db_password_secret_id: str | None = None
    interactive: bool = False
    dry_run: bool = False
    confirm_switchover: str | None = None
    confirm_delete: list[str] = Field(default_factory=list)
    acknowledge_precheck_errors: list[str] = Field(default_factory=list)
    max_replica_lag_s: float = Field(5.0, ge=0, le=3600)
    probe_interval_ms: int = Field(100, ge=10, le=1000)
    probe_database: str = "runbook_probe"
    lab_seed_blocker: bool = False
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
        if value is not None and not re.match(r"^https?://[^\s/]+(/.*)?$", value):
            raise ValueError(f"must be an http(s) URL such as http://127.0.0.1:5000; got {value!r}")
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

    @model_validator(mode="after")
    def _coherent(self) -> RunbookParams:
        if self.skip_final_snapshot and self.final_snapshot_id:
            raise ValueError("final_snapshot_id and skip_final_snapshot=true contradict each other: "
                             "remove one of them")
        return self

    def final_snapshot_for(self, instance_id: str) -> str:
        """The snapshot name used when deleting `instance_id` (unless skipped)."""
        if self.final_snapshot_id:
            return self.final_snapshot_id
        suffix = (self.run_id or "manual").lower().replace("_", "-")
        return re.sub(r"-+", "-", f"{instance_id}-final-{suffix}")[:255].rstrip("-")

    def redacted(self) -> dict[str, Any]:
        """Parameters as recorded: names of secret sources only, never values."""
        return self.model_dump(mode="json")


class ParamsError(RunbookError):
    """One or more parameters are wrong; the message has one line per key."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        self.problems = problems
        where = f" in {source}" if source else ""
        lines = [f"Parameter problem{'s' if len(problems) > 1 else ''}{where} "
                 "(nothing was changed anywhere):"]
        lines += [f"  - {key}: {msg}" for key, msg in problems]
        super().__init__("\n".join(lines))


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
    if not path.is_file():
        raise ParamsError([("params_file", f"no such file: {path}. Pass an existing YAML file, e.g. "
                                           "parameters/lab.yaml")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError([("(file)", f"is not valid YAML: {exc}")], str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError([("(file)", "must be a YAML mapping of key: value lines")], str(path))
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
