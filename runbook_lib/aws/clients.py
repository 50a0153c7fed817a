"""boto3 clients for aws or lab mode, with one retry policy for the whole runbook, each service at its own endpoint,
and every call counted (service:operation) so the step record says which IAM actions a run really used."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
from botocore.config import Config

from runbook_lib.aws.types import CloudWatchClient, IAMClient, RDSClient, SecretsManagerClient, STSClient
from runbook_lib.errors import RunbookError
from runbook_lib.lab.paths import LabPaths
from runbook_lib.params import RunbookParams

RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=60,
    user_agent_extra="bluegreen-runbook",
)

# The attribute a client carries its call log under, so a facade built on one client finds the log of all.
LOG_ATTRIBUTE = "runbook_api_calls"


class ApiCallLog:
    """Every AWS API call made through the clients it is attached to, as `service:Operation` -> count. A retried
    call counts once (the hook runs before botocore's retries), a paginated call once per page."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._order: list[str] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name   # boto3's name = the IAM prefix for these services

        def record(model: Any, **_: Any) -> None:
            with self._lock:
                key = f"{service}:{model.name}"
                self._counts[key] += 1
                self._order.append(key)

        # before-parameter-build: emitted for every call, before a Stubber's (or any) before-call answer
        client.meta.events.register(f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}",
                                    record)
        setattr(client, LOG_ATTRIBUTE, self)
        return client

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def order(self) -> list[str]:
        with self._lock:
            return list(self._order)


def call_log_of(client: Any) -> ApiCallLog | None:
    """The call log a client was made with (None for a client made elsewhere)."""
    log = getattr(client, LOG_ATTRIBUTE, None)
    return log if isinstance(log, ApiCallLog) else None


@dataclass(frozen=True)
class Clients:
    rds: RDSClient
    cloudwatch: CloudWatchClient
    sts: STSClient
    iam: IAMClient
    mode: str
    endpoint_url: str | None
    time_scale: float = 1.0      # lab: RDS's waits x this (the lab's RUNBOOK_LAB_TIME_SCALE)
    secretsmanager: SecretsManagerClient | None = None
    calls: ApiCallLog = field(default_factory=ApiCallLog)
    endpoints: dict[str, str | None] = field(default_factory=dict)   # per service, as used


def lab_endpoint(lab: LabPaths | None = None) -> str:
    """The running lab's RDS endpoint, or a clear error telling how to start it."""
    lab = lab or LabPaths.default()
    status = lab.read_status()
    if not status or not status.get("endpoint_url"):
        raise RunbookError(
            f"mode is 'lab' but no lab is running (nothing at {lab.root}). Start one with "
            "'runbook lab up' (or use 'runbook run', which starts it), or set mode: aws.")
    return str(status["endpoint_url"])


def session_for(params: RunbookParams) -> boto3.session.Session:
    """The boto3 session the parameters name (lab: fixed dummy keys; moto takes any, no real ones are sent)."""
    if params.mode == "lab":
        return boto3.session.Session(region_name=params.region, aws_access_key_id="lab", aws_secret_access_key="lab")
    return boto3.session.Session(profile_name=params.profile, region_name=params.region)


def endpoints_for(params: RunbookParams, lab: LabPaths | None = None) -> dict[str, str | None]:
    """Each service's endpoint URL: the lab serves them all at one; in aws mode each has its own (None: AWS's
    regional endpoint), and endpoint_url applies to RDS only."""
    from runbook_lib.params import SERVICES
    if params.mode == "lab":
        one = params.endpoint_url or lab_endpoint(lab)
        return {service: one for service in SERVICES}
    return {service: params.endpoint_for(service) for service in SERVICES}


def make_clients(params: RunbookParams, lab: LabPaths | None = None,
                 session: boto3.session.Session | None = None) -> Clients:
    """Clients for the mode in `params`; in lab mode they point at the local control plane. `session` (tests): make
    the clients from this session instead."""
    time_scale = 1.0
    if params.mode == "lab":
        time_scale = float(((lab or LabPaths.default()).read_status() or {}).get("time_scale") or 1.0)
    endpoints = endpoints_for(params, lab)
    session = session or session_for(params)
    log = ApiCallLog()

    def client(service: str) -> Any:
        return log.attach(session.client(service, endpoint_url=endpoints[service],  # type: ignore[call-overload]
                                         config=RETRY_CONFIG))

    secrets = client("secretsmanager") if params.db_password_secret_id else None
    return Clients(rds=cast(RDSClient, client("rds")), cloudwatch=cast(CloudWatchClient, client("cloudwatch")),
                   sts=cast(STSClient, client("sts")), iam=cast(IAMClient, client("iam")), mode=params.mode,
                   endpoint_url=endpoints["rds"], time_scale=time_scale,
                   secretsmanager=cast("SecretsManagerClient | None", secrets), calls=log, endpoints=endpoints)


def secrets_manager(params: RunbookParams, calls: ApiCallLog | None = None) -> SecretsManagerClient:
    """A Secrets Manager client for the parameters' profile and Region, at its own endpoint, with the runbook's retry
    policy; its calls go to `calls` when given."""
    endpoint = endpoints_for(params)["secretsmanager"]
    client = session_for(params).client("secretsmanager", endpoint_url=endpoint, config=RETRY_CONFIG)
    if calls is not None:
        calls.attach(client)
    return client
