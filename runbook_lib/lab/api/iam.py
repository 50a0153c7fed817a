"""IAM's SimulatePrincipalPolicy for the lab (moto lacks it), driven by a lab policy file, so that the
runbook's permission preflight runs the same code against the lab as against AWS."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from runbook_lib.lab.moto_internals import ActionResult, IamResponse
from runbook_lib.lab.paths import LabPaths

DEFAULT_POLICY = {"allow": ["*"], "deny": []}


def read_policy(paths: LabPaths) -> dict[str, list[str]]:
    try:
        return dict(json.loads((paths.root / "iam-policy.json").read_text()))
    except (OSError, ValueError):
        return dict(DEFAULT_POLICY)


def decide(policy: dict[str, list[str]], action: str) -> str:
    if any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in policy.get("deny", [])):
        return "explicitDeny"
    if any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in policy.get("allow", [])):
        return "allowed"
    return "implicitDeny"


class LabIamResponse(IamResponse):
    paths: LabPaths

    @classmethod
    def bind(cls, paths: LabPaths) -> type[LabIamResponse]:
        return type("BoundLabIamResponse", (cls,), {"paths": paths})

    def simulate_principal_policy(self) -> ActionResult:
        policy = read_policy(self.paths)
        actions: list[Any] = self.params.get("ActionNames") or []
        resources = self.params.get("ResourceArns") or ["*"]
        results = [{"EvalActionName": a, "EvalResourceName": resources[0], "EvalDecision": decide(policy, a),
                    "MatchedStatements": [], "MissingContextValues": []} for a in actions]
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})
