"""One model for upgrade-check results, whoever produced them: our checker, RDS's text log, Aurora's or
MySQL Shell's JSON. Its JSON form is MySQL Shell's (util.checkForServerUpgrade --output-format=JSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["Error", "Warning", "Notice"]


class Problem(BaseModel):
    level: Level
    dbObject: str
    description: str = ""


class CheckResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    status: Literal["OK", "ERROR", "CONFIGURATION_ERROR"] = "OK"   # did the check itself run?
    description: str | None = None
    documentationLink: str | None = None
    detectedProblems: list[Problem] = Field(default_factory=list)


class ManualCheck(BaseModel):
    """A consideration with nothing to query (MySQL Shell's JSON 'manualChecks')."""

    model_config = ConfigDict(extra="allow")

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


class NotRun(BaseModel):
    """A check (or part of one) that did not run here, and why: neither passed nor failed."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str = ""
    reason: str
    part: str | None = None


class PrecheckReport(BaseModel):
    model_config = ConfigDict(extra="allow")

    serverAddress: str = ""
    serverVersion: str = ""
    targetVersion: str = ""
    errorCount: int = 0
    warningCount: int = 0
    noticeCount: int = 0
    summary: str = ""
    checksPerformed: list[CheckResult] = Field(default_factory=list)
    manualChecks: list[ManualCheck] = Field(default_factory=list)
    checksNotRun: list[NotRun] = Field(default_factory=list)

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
        return self.model_dump(mode="json", exclude_none=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrecheckReport:
        """MySQL Shell's or Aurora's JSON (Aurora spells the summary key 'Summary')."""
        data = dict(data)
        if "Summary" in data and "summary" not in data:
            data["summary"] = data.pop("Summary")
        return cls.model_validate(data)
