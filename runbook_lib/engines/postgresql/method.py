"""Which replication RDS uses to keep green in sync (RDS user guide, "PostgreSQL replication methods for
blue/green deployments"; Aurora user guide, blue/green overview)."""

from __future__ import annotations

from typing import Literal

from runbook_lib.errors import RunbookError

Method = Literal["physical", "logical"]

# The lowest source minor per major from which RDS for PostgreSQL supports a major version upgrade in a
# blue/green deployment (and then replicates logically); 16.1 and every later major are in too.
LOGICAL_FROM = {11: (11, 21), 12: (12, 16), 13: (13, 12), 14: (14, 9), 15: (15, 4), 16: (16, 1)}


def _version(text: str) -> tuple[int, int]:
    parts = text.strip().split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise RunbookError(f"'{text}' is not a PostgreSQL engine version (expected e.g. 15.4 or 16.3); give the "
                           "EngineVersion exactly as describe-db-instances reports it.") from None


def replication_method(engine: str, source_version: str, target_version: str | None) -> Method:
    """Aurora PostgreSQL: always logical. RDS for PostgreSQL: logical only when a higher major version is
    requested at creation (and the source minor allows it), physical otherwise."""
    if engine == "aurora-postgresql":
        return "logical"
    if engine != "postgres":
        raise RunbookError(f"Engine '{engine}' is not PostgreSQL (expected 'postgres' or 'aurora-postgresql').")
    if not target_version or _version(target_version)[0] <= _version(source_version)[0]:
        return "physical"
    if not major_upgrade_supported(source_version):
        raise RunbookError(
            f"RDS does not support a major version upgrade in a blue/green deployment from PostgreSQL "
            f"{source_version}: the source must run 16.1+, 15.4+, 14.9+, 13.12+, 12.16+ or 11.21+. Upgrade blue to "
            "a supported minor version first, then create the deployment with the target major version.")
    return "logical"


def major_upgrade_supported(source_version: str) -> bool:
    major, minor = _version(source_version)
    if major > max(LOGICAL_FROM):
        return True
    floor = LOGICAL_FROM.get(major)
    return floor is not None and (major, minor) >= floor
