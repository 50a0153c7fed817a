"""The RDS facade: every RDS call the runbook makes, with pagination and errors a person can act on.

It takes a boto3 RDS client, so it works the same against AWS and against the lab. Mutating calls
go through one place that can record them (and, in a dry run, only record them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .errors import NotFound, RunbookError, explain_client_error


@dataclass
class CallRecord:
    """One mutating call: what the runbook did (or, in a dry run, would have done)."""

    operation: str
    arguments: dict[str, Any]
    performed: bool


@dataclass
class RdsFacade:
    client: Any
    dry_run: bool = False
    calls: list[CallRecord] = field(default_factory=list)
    # Called after each performed mutating call: first to record it (the step's result file), then the
    # crash-point hook of the re-run tests.
    on_record: Callable[[], None] | None = None
    after_mutation: Callable[[str], None] | None = None

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, operation: str, doing: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            raise explain_client_error(exc, doing) from None

    def _pages(self, operation: str, key: str, doing: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client.get_paginator(operation).paginate(**kwargs):
                yield from page.get(key, [])
        except ClientError as exc:
            raise explain_client_error(exc, doing) from None

    def _mutate(self, operation: str, doing: str, **kwargs: Any) -> dict[str, Any] | None:
        self.calls.append(CallRecord(operation, dict(kwargs), performed=not self.dry_run))
        if self.dry_run:
            return None
        result = self._call(operation, doing, **kwargs)
        if self.on_record:
            self.on_record()
        if self.after_mutation:
            self.after_mutation(operation)
        return result

    def plan(self, operation: str, **arguments: Any) -> None:
        """Record a call a dry run would make but cannot even try (its target does not exist yet)."""
        self.calls.append(CallRecord(operation, arguments, performed=False))

    # -- instances -------------------------------------------------------------------------------
    def _find(self, operation: str, key: str, missing_code: str, doing: str, **kwargs: Any) -> dict[str, Any] | None:
        """The one resource a describe call names, or None when RDS says it does not exist."""
        try:
            return getattr(self.client, operation)(**kwargs)[key][0]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == missing_code:
                return None
            raise explain_client_error(exc, doing) from None

    def find_instance(self, identifier: str) -> dict[str, Any] | None:
        return self._find("describe_db_instances", "DBInstances", "DBInstanceNotFound",
                          f"Describing DB instance {identifier}", DBInstanceIdentifier=identifier)

    def instance(self, identifier: str, parameter: str = "source_db_instance") -> dict[str, Any]:
        found = self.find_instance(identifier)
        if found is None:
            raise NotFound(f"DB instance '{identifier}' does not exist in this account and Region "
                           f"(parameter {parameter}). Check the name with 'aws rds describe-db-instances' "
                           "or fix the parameter file; nothing was changed.")
        return found

    def instances(self) -> list[dict[str, Any]]:
        return list(self._pages("describe_db_instances", "DBInstances", "Listing DB instances"))

    def modify_instance(self, identifier: str, **changes: Any) -> dict[str, Any] | None:
        return self._mutate("modify_db_instance", f"Modifying {identifier}",
                            DBInstanceIdentifier=identifier, **changes)

    def delete_instance(self, identifier: str, final_snapshot_id: str | None) -> dict[str, Any] | None:
        args: dict[str, Any] = {"DBInstanceIdentifier": identifier}
        if final_snapshot_id:
            args["FinalDBSnapshotIdentifier"] = final_snapshot_id
        else:
            args["SkipFinalSnapshot"] = True
        return self._mutate("delete_db_instance", f"Deleting DB instance {identifier}", **args)

    def find_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        return self._find("describe_db_snapshots", "DBSnapshots", "DBSnapshotNotFound",
                          f"Describing snapshot {snapshot_id}", DBSnapshotIdentifier=snapshot_id)

    # -- parameter and option groups, versions ---------------------------------------------------
    def parameters(self, group: str) -> dict[str, dict[str, Any]]:
        """Every parameter of a DB parameter group (all pages), by name."""
        return {p["ParameterName"]: p for p in self._pages(
            "describe_db_parameters", "Parameters", f"Reading parameter group {group}",
            DBParameterGroupName=group)}

    def parameter_group(self, group: str) -> dict[str, Any]:
        return self._call("describe_db_parameter_groups", f"Describing parameter group {group}",
                          DBParameterGroupName=group)["DBParameterGroups"][0]

    def option_group(self, group: str) -> dict[str, Any]:
        return self._call("describe_option_groups", f"Describing option group {group}",
                          OptionGroupName=group)["OptionGroupsList"][0]

    def engine_version(self, engine: str, version: str) -> dict[str, Any] | None:
        found = list(self._pages("describe_db_engine_versions", "DBEngineVersions",
                                 f"Describing {engine} {version}", Engine=engine, EngineVersion=version))
        return found[0] if found else None

    def valid_upgrade_targets(self, engine: str, version: str) -> list[dict[str, Any]]:
        current = self.engine_version(engine, version)
        return list(current.get("ValidUpgradeTarget", [])) if current else []

    # -- blue/green deployments ------------------------------------------------------------------
    def find_deployment(self, name: str) -> dict[str, Any] | None:
        """The deployment with this name (names are unique per account and Region), if any."""
        found = list(self._pages(
            "describe_blue_green_deployments", "BlueGreenDeployments", f"Looking up deployment {name}",
            Filters=[{"Name": "blue-green-deployment-name", "Values": [name]}]))
        live = [d for d in found if d.get("BlueGreenDeploymentName") == name]
        return live[0] if live else None

    def deployment(self, identifier: str) -> dict[str, Any]:
        return self._call("describe_blue_green_deployments", f"Describing deployment {identifier}",
                          BlueGreenDeploymentIdentifier=identifier)["BlueGreenDeployments"][0]

    def create_deployment(self, name: str, source_arn: str, engine_version: str,
                          parameter_group: str, tags: list[dict[str, str]] | None = None
                          ) -> dict[str, Any] | None:
        result = self._mutate(
            "create_blue_green_deployment", f"Creating blue/green deployment {name}",
            BlueGreenDeploymentName=name, Source=source_arn, TargetEngineVersion=engine_version,
            TargetDBParameterGroupName=parameter_group, Tags=tags or [])
        return result["BlueGreenDeployment"] if result else None

    def switchover(self, identifier: str, timeout_s: int) -> dict[str, Any] | None:
        result = self._mutate("switchover_blue_green_deployment", f"Switching over {identifier}",
                              BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=timeout_s)
        return result["BlueGreenDeployment"] if result else None

    def delete_deployment(self, identifier: str, delete_target: bool = False) -> dict[str, Any] | None:
        result = self._mutate("delete_blue_green_deployment", f"Deleting deployment {identifier}",
                              BlueGreenDeploymentIdentifier=identifier, DeleteTarget=delete_target)
        return result["BlueGreenDeployment"] if result else None

    # -- logs and events -------------------------------------------------------------------------
    def log_files(self, identifier: str, contains: str | None = None) -> list[dict[str, Any]]:
        args: dict[str, Any] = {"DBInstanceIdentifier": identifier}
        if contains:
            args["FilenameContains"] = contains
        return list(self._pages("describe_db_log_files", "DescribeDBLogFiles",
                                f"Listing log files of {identifier}", **args))

    def download_log(self, identifier: str, name: str) -> str:
        """A whole log file, following Marker until AdditionalDataPending is false."""
        marker, parts = "0", []
        while True:
            page = self._call("download_db_log_file_portion", f"Downloading {name} from {identifier}",
                              DBInstanceIdentifier=identifier, LogFileName=name, Marker=marker)
            parts.append(page.get("LogFileData") or "")
            if not page.get("AdditionalDataPending"):
                return "".join(parts)
            if page.get("Marker") in (None, marker):
                raise RunbookError(f"Downloading {name}: RDS reported more data but did not advance "
                                   "the marker; download it from the console instead.")
            marker = page["Marker"]

    def events(self, source_type: str, source_identifier: str | None = None,
               start_time: datetime | None = None) -> list[dict[str, Any]]:
        args: dict[str, Any] = {"SourceType": source_type}
        if source_identifier:
            args["SourceIdentifier"] = source_identifier
        if start_time:
            args["StartTime"] = start_time
        events = list(self._pages("describe_events", "Events", f"Reading {source_type} events", **args))
        if start_time:  # RDS filters on StartTime itself; be exact about it for every backend
            events = [e for e in events if e["Date"] >= start_time]
        return events
