"""Where database passwords come from: an environment variable named in the parameters, an AWS
Secrets Manager secret, or (lab mode only) the lab's credential file. Never from parameters."""

from __future__ import annotations

import json
import os
from typing import Any

from runbook_lib.errors import RunbookError
from runbook_lib.lab.paths import LabPaths
from runbook_lib.params import RunbookParams


def resolve_password(params: RunbookParams, session_client: Any | None = None,
                     lab: LabPaths | None = None) -> str:
    value = os.environ.get(params.db_password_env)
    if value:
        return value
    if params.db_password_secret_id:
        if session_client is None:
            raise RunbookError("db_password_secret_id is set but no Secrets Manager client was given.")
        secret = session_client.get_secret_value(SecretId=params.db_password_secret_id)["SecretString"]
        try:
            return str(json.loads(secret)["password"])
        except (ValueError, KeyError, TypeError):
            return str(secret)
    if params.mode == "lab":
        creds = (lab or LabPaths.default()).read_credentials()
        if creds and creds.get("master_password"):
            return str(creds["master_password"])
    raise RunbookError(
        f"No database password: the environment variable {params.db_password_env} (parameter "
        "db_password_env) is not set and db_password_secret_id is empty. Export the password, e.g. "
        f"'read -s {params.db_password_env}; export {params.db_password_env}', or name a Secrets Manager "
        "secret in db_password_secret_id.")
