"""boto3 clients for aws or lab mode, with one retry policy for the whole runbook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from .errors import RunbookError
from .lab.paths import LabPaths
from .params import RunbookParams

RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=60,
    user_agent_extra="bluegreen-runbook",
)

# moto accepts any credentials; these make sure no real ones are ever sent to the lab.
_LAB_CREDENTIALS = {"aws_access_key_id": "lab", "aws_secret_access_key": "lab"}


@dataclass(frozen=True)
class Clients:
    rds: Any
    cloudwatch: Any
    sts: Any
    iam: Any
    mode: str
    endpoint_url: str | None


def lab_endpoint(lab: LabPaths | None = None) -> str:
    """The running lab's RDS endpoint, or a clear error telling how to start it."""
    lab = lab or LabPaths.default()
    status = lab.read_status()
    if not status or not status.get("endpoint_url"):
        raise RunbookError(
            f"mode is 'lab' but no lab is running (nothing at {lab.root}). Start one with "
            "'runbook lab up' (or use 'runbook run', which starts it), or set mode: aws.")
    return str(status["endpoint_url"])


def make_clients(params: RunbookParams, lab: LabPaths | None = None) -> Clients:
    """Clients for the mode in `params`; in lab mode they point at the local control plane."""
    if params.mode == "lab":
        endpoint = params.endpoint_url or lab_endpoint(lab)
        session = boto3.session.Session(region_name=params.region, **_LAB_CREDENTIALS)
    else:
        endpoint = params.endpoint_url
        session = boto3.session.Session(profile_name=params.profile, region_name=params.region)

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=endpoint, config=RETRY_CONFIG)

    return Clients(rds=client("rds"), cloudwatch=client("cloudwatch"), sts=client("sts"),
                   iam=client("iam"), mode=params.mode, endpoint_url=endpoint)
