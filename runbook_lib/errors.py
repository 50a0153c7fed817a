"""Errors a person can act on: what happened, and what to do next."""

from __future__ import annotations

from typing import Any


class RunbookError(Exception):
    """A failure explained in one paragraph; raised instead of a traceback-worthy surprise."""


class NotFound(RunbookError):
    """An RDS resource the step needs does not exist."""


class WaitTimeout(RunbookError):
    """A resource did not reach the wanted state in time; carries the last state seen."""

    def __init__(self, message: str, last_state: Any = None) -> None:
        super().__init__(message)
        self.last_state = last_state


class GateClosed(RunbookError):
    """A destructive step lacks its explicit confirmation or its preflight."""


_ADVICE = {
    "AccessDenied": "The AWS identity in use lacks this permission. Grant it (see the IAM table in "
                    "README.md) or run with a profile that has it.",
    "AccessDeniedException": "The AWS identity in use lacks this permission. Grant it or use another profile.",
    "Throttling": "RDS kept throttling after the SDK's retries. Wait a minute and re-run the step; "
                  "it resumes from the live state.",
    "ThrottlingException": "RDS kept throttling after the SDK's retries. Wait and re-run the step.",
    "InvalidDBInstanceState": "The instance is busy (another change is in progress). Wait until it is "
                              "'available' and re-run the step.",
    "InvalidBlueGreenDeploymentStateFault": "The deployment is not in a state that allows this. Check its "
                                            "status (describe-blue-green-deployments) and re-run when ready.",
    "InvalidParameterCombination": "RDS refused the combination of arguments; fix the parameter named "
                                   "in the message and re-run.",
    "InvalidParameterValue": "RDS refused a value; fix the parameter named in the message and re-run.",
}


def explain_client_error(exc: Exception, doing: str) -> RunbookError:
    """Turn a botocore ClientError into a RunbookError that says what to do."""
    response = getattr(exc, "response", {}) or {}
    err = response.get("Error", {})
    code = err.get("Code", type(exc).__name__)
    message = err.get("Message", str(exc))
    advice = _ADVICE.get(code)
    cls: type[RunbookError] = RunbookError
    if code.endswith(("NotFound", "NotFoundFault")):
        cls = NotFound
        advice = advice or "Check the identifier in the parameter file (and the Region/account) and re-run."
    text = f"{doing} failed: RDS answered {code}: {message}."
    if advice:
        text += " " + advice
    return cls(text)


class ParamsError(RunbookError):
    """One or more parameters are wrong; the message has one line per key."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        self.problems = problems
        where = f" in {source}" if source else ""
        lines = [f"Parameter problem{'s' if len(problems) > 1 else ''}{where} "
                 "(nothing was changed anywhere):"]
        lines += [f"  - {key}: {msg}" for key, msg in problems]
        super().__init__("\n".join(lines))
