"""One model for upgrade-check results, whoever produced them: our checker, RDS's text log, Aurora's or
MySQL Shell's JSON. Its JSON form is MySQL Shell's (util.checkForServerUpgrade --output-format=JSON).

Plain dataclasses: the checker builds its own report and needs no validation, and `runbook precheck` should
not pay for importing a validation library (≈0.1 s of its start-up, measured with bench/bench_precheck.py).
What comes in from outside (a Shell or Aurora JSON log) is validated by pydantic in `PrecheckReport.from_json`.
Fields beyond the declared ones (what the checker or the log reader adds, or a newer Shell writes) ride along
as attributes and are written back out, as the Shell's JSON allows."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

Level = Literal["Error", "Warning", "Notice"]
_OPEN: dict[str, Any] = {"extra": "allow"}   # pydantic's config for shapes that keep unknown keys


def _plain(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, _Shape):
        return value.as_dict(exclude_none)
    if isinstance(value, (list, tuple)):
        return [_plain(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, exclude_none) for k, v in value.items()}
    return value


class _Shape:
    """What every shape of the Shell's JSON can do: list its extra keys, and turn into plain JSON data."""

    def extras(self) -> dict[str, Any]:
        declared = {f.name for f in fields(self)}  # type: ignore[arg-type]
        return {k: v for k, v in vars(self).items() if k not in declared}

    def as_dict(self, exclude_none: bool = False) -> dict[str, Any]:
        out = {f.name: _plain(getattr(self, f.name), exclude_none) for f in fields(self)}  # type: ignore[arg-type]
        out.update({k: _plain(v, exclude_none) for k, v in self.extras().items()})
        return {k: v for k, v in out.items() if v is not None} if exclude_none else out


@dataclass(kw_only=True)
class Problem(_Shape):
    level: Level
    dbObject: str
    description: str = ""


@dataclass(kw_only=True)
class CheckResult(_Shape):
    __pydantic_config__: ClassVar[dict[str, Any]] = _OPEN

    id: str
    title: str
    status: Literal["OK", "ERROR", "CONFIGURATION_ERROR"] = "OK"   # did the check itself run?
    description: str | None = None
    documentationLink: str | None = None
    detectedProblems: list[Problem] = field(default_factory=list)


@dataclass(kw_only=True)
class ManualCheck(_Shape):
    """A consideration with nothing to query (MySQL Shell's JSON 'manualChecks')."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _OPEN

    id: str
    title: str = ""
    description: str | None = None
    documentationLink: str | None = None
    level: Level | None = None   # not in the Shell's JSON: it counts the check at its level in the totals

    def effective_level(self) -> str:
        if self.level:
            return self.level
        word = (self.description or "").split(":", 1)[0].strip()
        return word if word in ("Error", "Warning", "Notice") else "Warning"


@dataclass(kw_only=True)
class NotRun(_Shape):
    """A check (or part of one) that did not run here, and why: neither passed nor failed."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _OPEN

    id: str
    title: str = ""
    reason: str
    part: str | None = None


@dataclass(kw_only=True)
class PrecheckReport(_Shape):
    __pydantic_config__: ClassVar[dict[str, Any]] = _OPEN

    serverAddress: str = ""
    serverVersion: str = ""
    targetVersion: str = ""
    errorCount: int = 0
    warningCount: int = 0
    noticeCount: int = 0
    summary: str = ""
    checksPerformed: list[CheckResult] = field(default_factory=list)
    manualChecks: list[ManualCheck] = field(default_factory=list)
    checksNotRun: list[NotRun] = field(default_factory=list)

    def recount(self) -> PrecheckReport:
        self.errorCount = self.count("Error")
        self.warningCount = self.count("Warning")
        self.noticeCount = self.count("Notice")
        self.summary = (f"{self.errorCount} errors were found. Please correct these issues before upgrading to avoid "
                        "compatibility issues." if self.errorCount else
                        "No fatal errors were found that would prevent an upgrade, but some potential issues were "
                        "detected. Please ensure that the reported issues are not significant before upgrading."
                        if self.warningCount or self.noticeCount else
                        "No known compatibility errors or issues were found.")
        return self

    def count(self, level: str) -> int:
        """Problems at `level`, plus manual checks of that level (MySQL Shell counts those too)."""
        return (sum(1 for c in self.checksPerformed for p in c.detectedProblems if p.level == level)
                + sum(1 for m in self.manualChecks if m.effective_level() == level))

    def not_run(self) -> list[CheckResult]:
        """Checks that were attempted but could not judge (status ERROR / CONFIGURATION_ERROR)."""
        return [c for c in self.checksPerformed if c.status != "OK"]

    def problems(self) -> list[tuple[CheckResult, Problem]]:
        return [(c, p) for c in self.checksPerformed for p in c.detectedProblems]

    def to_json(self) -> dict[str, Any]:
        return self.as_dict()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrecheckReport:
        """MySQL Shell's or Aurora's JSON (Aurora spells the summary key 'Summary'), validated: a wrong type or
        level raises pydantic's ValidationError (a ValueError) naming the field."""
        from pydantic import TypeAdapter  # only reading a log pays for the validator

        data = dict(data)
        if "Summary" in data and "summary" not in data:
            data["summary"] = data.pop("Summary")
        return TypeAdapter(cls).validate_python(data)
