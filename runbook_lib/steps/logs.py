"""Step 04: find PrePatchCompatibility.log on the green instance and read it whole."""

from __future__ import annotations

from typing import Any

from .. import display
from ..step import Step
from .deployment import current

PRECHECK_LOG = "PrePatchCompatibility.log"


def read_precheck_log(step: Step) -> dict[str, Any]:
    sides = current(step)
    instance = (sides.green or sides.blue or {}).get("DBInstanceIdentifier")
    if sides.deployment["Status"] == "SWITCHOVER_COMPLETED":
        instance = step.params.source_db_instance  # green now carries the original name
    files = step.rds.log_files(instance)
    display.table([{"LogFileName": f["LogFileName"], "Size": f["Size"], "LastWritten": f["LastWritten"]}
                   for f in files], title=f"Log files of {instance}")
    found = [f for f in files if PRECHECK_LOG in f["LogFileName"]]
    if not found:
        display.note(f"{instance} has no {PRECHECK_LOG}: RDS writes it only when it runs the major-version "
                     "prechecks (step 03).", "warning")
        step.check("precheckLogPresent", "warn", {"instance": instance, "files": [f["LogFileName"] for f in files]})
        return {"instance": instance, "text": None}
    name = found[0]["LogFileName"]
    text = step.rds.download_log(instance, name)
    step.check("precheckLogPresent", "pass", {"instance": instance, "file": name, "bytes": len(text.encode()),
                                              "size_reported": found[0]["Size"]})
    step.findings["precheck_log_lines"] = len(text.splitlines())
    display.preformatted(text, title=f"{instance}: {name}")
    return {"instance": instance, "name": name, "text": text}
