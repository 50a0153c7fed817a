"""PrePatchCompatibility.log in RDS for MySQL's numbered text shape."""

from __future__ import annotations

from .checker import PrecheckReport


def render_rds_text(report: PrecheckReport) -> str:
    source = report.serverVersion.split("-")[0]
    lines = [f"Executing Compatibility Checks for the MySQL server at {report.serverAddress}.",
             f"Source Version: {source}, Target Version: {report.targetVersion}.", ""]
    affected = 0
    for n, check in enumerate(report.checksPerformed, 1):
        lines.append(f"{n}) {check.title}")
        if check.status != "OK":
            lines.append(f"  Check failed to run: {check.description}")
        elif not check.detectedProblems:
            lines.append("  No issues found")
        else:
            lines.append(f"  {check.description}")
            for p in check.detectedProblems:
                lines.append(f"  {p.dbObject} - {p.description}")
                affected += 1
        lines.append("")
    lines += [f"Errors:   {report.count('Error')}", f"Warnings: {report.count('Warning')}",
              f"Notices:  {report.count('Notice')}", f"Database Objects Affected: {affected}", "",
              "----------------------- END OF LOG ----------------------", ""]
    return "\n".join(lines)
