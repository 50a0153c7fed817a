"""The caller's IAM permissions for every action of the flow, simulated with iam:SimulatePrincipalPolicy (the lab
answers it too), so a missing permission stops step 01 instead of a destructive step half-way."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from runbook_lib.checks.grants import iam_actions
from runbook_lib.run.context import Step

# The flow's actions (checks/grants.py says why each); kept under this name for callers and tests.
IAM_ACTIONS = iam_actions(secrets_manager=True)

_ASSUMED = re.compile(r"^arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/")


def principal_arn(iam: Any, caller_arn: str) -> tuple[str, str | None]:
    """The IAM ARN to simulate for a caller: a user's own ARN, or for an assumed-role session the role's ARN as IAM
    knows it (iam:GetRole), path included — SSO roles live under /aws-reserved/sso.amazonaws.com/…, and a role ARN
    rebuilt without its path names no entity. Also returns why the path is unknown, when it is."""
    match = _ASSUMED.match(caller_arn)
    if not match:
        return caller_arn, None
    partition, account, role = match.groups()
    try:
        return str(iam.get_role(RoleName=role)["Role"]["Arn"]), None
    except ClientError as exc:
        guess = f"arn:{partition}:iam::{account}:role/{role}"
        return guess, (f"iam:GetRole on {role} failed ({exc.response['Error']['Code']}): the role's path is unknown, "
                       f"so {guess} is simulated, which is right only for a role without a path")


def iam_permissions(step: Step) -> None:
    """Simulate the caller's permissions for every action of the flow."""
    clients = step.clients
    actions = iam_actions(secrets_manager=bool(step.params.db_password_secret_id))
    principal, caveat = None, None
    try:
        arn = clients.sts.get_caller_identity()["Arn"]
        principal, caveat = principal_arn(clients.iam, arn)
        results = clients.iam.simulate_principal_policy(PolicySourceArn=principal, ActionNames=actions)
    except Exception as exc:  # noqa: BLE001 - cannot simulate: say so instead of passing
        code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
        step.check("iamPermissions", "warn", {"principal": principal, "error": str(exc)[:300], "code": code,
                                              "path_caveat": caveat},
                   ("The simulated principal does not exist as written (" + str(caveat) + "); grant iam:GetRole on "
                    "the role, or check the IAM list in README.md by hand." if code == "NoSuchEntity" and caveat else
                    "Could not simulate permissions (iam:SimulatePrincipalPolicy denied?); the actions needed are "
                    "printed by 'runbook grants': check them by hand."))
        return
    denied = sorted(r["EvalActionName"] for r in results["EvaluationResults"] if r["EvalDecision"] != "allowed")
    step.check("iamPermissions", "fail" if denied else "warn" if caveat else "pass",
               {"principal": principal, "denied": denied, "checked": len(actions), "path_caveat": caveat},
               f"Grant {', '.join(denied)} to {principal} (green instance names are generated: use '*' or tag "
               "conditions, not name patterns; 'runbook grants' prints the policy)." if denied else caveat)
