"""The RDS facade: every RDS call the runbook makes, with pagination and errors a person can act on.

It takes a boto3 RDS client, so it works the same against AWS and against the lab. Mutating calls
go through one place that can record them (and, in a dry run, only record them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from botocore.exceptions import ClientError

from runbook_lib.aws.clients import call_log_of
from runbook_lib.aws.types import (
    BlueGreenDeployment,
    DBInstance,
    DBSnapshot,
    EngineVersion,
    Event,
    LogFile,
    OptionGroup,
    Parameter,
    ParameterGroup,
    RDSClient,
    UpgradeTarget,
)
from runbook_lib.errors import NotFound, RunbookError, explain_client_error


@dataclass
class CallRecord:
    """One mutating call: what the runbook did (or, in a dry run, would have done)."""

    operation: str
    arguments: dict[str, Any]
    performed: bool


@dataclass
class RdsFacade:
    client: RDSClient
    dry_run: bool = False
    calls: list[CallRecord] = field(default_factory=list)
    # Called after each performed mutating call: first to record it (the step's result file), then the
    # crash-point hook of the re-run tests.
    on_record: Callable[[], object] | None = None
    after_mutation: Callable[[str], None] | None = None

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, operation: str, doing: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], getattr(self.client, operation)(**kwargs))
        except ClientError as exc:
            raise explain_client_error(exc, doing) from None

    def _pages(self, operation: str, key: str, doing: str, **kwargs: Any) -> Iterator[Any]:
        try:
            for page in getattr(self.client, "get_paginator")(operation).paginate(**kwargs):
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

    def recorded_calls(self) -> list[dict[str, Any]]:
        """Every mutating call so far, as the step record keeps them."""
        return [{"operation": c.operation, "arguments": c.arguments, "performed": c.performed} for c in self.calls]

    def api_calls(self) -> dict[str, int] | None:
        """Every AWS call (service:Operation -> count) made through the clients made with this facade's client, or
        None when that client was made without a call log."""
        log = call_log_of(self.client)
        return log.counts() if log is not None else None

    def plan(self, operation: str, **arguments: Any) -> None:
        """Record a call a dry run would make but cannot even try (its target does not exist yet)."""
        self.calls.append(CallRecord(operation, arguments, performed=False))

    # -- instances -------------------------------------------------------------------------------
    def _find(self, operation: str, key: str, missing_code: str, doing: str, **kwargs: Any) -> Any:
        """The one resource a describe call names, or None when RDS says it does not exist."""
        try:
            return getattr(self.client, operation)(**kwargs)[key][0]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == missing_code:
                return None
            raise explain_client_error(exc, doing) from None

    def find_instance(self, identifier: str) -> DBInstance | None:
        return cast("DBInstance | None", self._find("describe_db_instances", "DBInstances", "DBInstanceNotFound",
                                                    f"Describing DB instance {identifier}",
                                                    DBInstanceIdentifier=identifier))

    def instance(self, identifier: str, parameter: str = "source_db_instance") -> DBInstance:
        found = self.find_instance(identifier)
        if found is None:
            raise NotFound(f"DB instance '{identifier}' does not exist in this account and Region "
                           f"(parameter {parameter}). Check the name with 'aws rds describe-db-instances' "
                           "or fix the parameter file; nothing was changed.")
        return found

    def instance_by_resource_id(self, dbi_resource_id: str) -> DBInstance | None:
        """The instance that carries this DbiResourceId now, whatever its name (names move; ids do not)."""
        found = list(self._pages("describe_db_instances", "DBInstances", f"Looking up {dbi_resource_id}",
                                 Filters=[{"Name": "dbi-resource-id", "Values": [dbi_resource_id]}]))
        return next((i for i in found if i.get("DbiResourceId") == dbi_resource_id), None)

    def instances(self) -> list[DBInstance]:
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

    def find_snapshot(self, snapshot_id: str) -> DBSnapshot | None:
        return cast("DBSnapshot | None", self._find("describe_db_snapshots", "DBSnapshots", "DBSnapshotNotFound",
                                                    f"Describing snapshot {snapshot_id}",
                                                    DBSnapshotIdentifier=snapshot_id))

    def manual_snapshots_of(self, dbi_resource_id: str) -> list[DBSnapshot]:
        """Manual snapshots taken of the instance with this DbiResourceId (final snapshots included)."""
        found = self._pages("describe_db_snapshots", "DBSnapshots", f"Listing snapshots of {dbi_resource_id}",
                            SnapshotType="manual", Filters=[{"Name": "dbi-resource-id", "Values": [dbi_resource_id]}])
        return [s for s in found if s.get("DbiResourceId") == dbi_resource_id]

    # -- parameter and option groups, versions ---------------------------------------------------
    def parameters(self, group: str) -> dict[str, Parameter]:
        """Every parameter of a DB parameter group (all pages), by name."""
        return {p["ParameterName"]: p for p in self._pages(
            "describe_db_parameters", "Parameters", f"Reading parameter group {group}",
            DBParameterGroupName=group)}

    def parameter_group(self, group: str) -> ParameterGroup:
        return cast("ParameterGroup", self._call("describe_db_parameter_groups", f"Describing parameter group {group}",
                                                 DBParameterGroupName=group)["DBParameterGroups"][0])

    def option_group(self, group: str) -> OptionGroup:
        return cast("OptionGroup", self._call("describe_option_groups", f"Describing option group {group}",
                                              OptionGroupName=group)["OptionGroupsList"][0])

    def engine_version(self, engine: str, version: str) -> EngineVersion | None:
        found = list(self._pages("describe_db_engine_versions", "DBEngineVersions",
                                 f"Describing {engine} {version}", Engine=engine, EngineVersion=version))
        return found[0] if found else None

    def valid_upgrade_targets(self, engine: str, version: str) -> list[UpgradeTarget]:
        current = self.engine_version(engine, version)
        return list(current.get("ValidUpgradeTarget", [])) if current else []

    # -- blue/green deployments ------------------------------------------------------------------
    def find_deployment(self, name: str) -> BlueGreenDeployment | None:
        """The deployment with this name (names are unique per account and Region), if any."""
        found = list(self._pages(
            "describe_blue_green_deployments", "BlueGreenDeployments", f"Looking up deployment {name}",
            Filters=[{"Name": "blue-green-deployment-name", "Values": [name]}]))
        live = [d for d in found if d.get("BlueGreenDeploymentName") == name]
        return live[0] if live else None

    def deployment(self, identifier: str) -> BlueGreenDeployment:
        return cast("BlueGreenDeployment", self._call(
            "describe_blue_green_deployments", f"Describing deployment {identifier}",
            BlueGreenDeploymentIdentifier=identifier)["BlueGreenDeployments"][0])

    def create_deployment(self, name: str, source_arn: str, engine_version: str,
                          parameter_group: str, tags: list[dict[str, str]] | None = None
                          ) -> BlueGreenDeployment | None:
        result = self._mutate(
            "create_blue_green_deployment", f"Creating blue/green deployment {name}",
            BlueGreenDeploymentName=name, Source=source_arn, TargetEngineVersion=engine_version,
            TargetDBParameterGroupName=parameter_group, Tags=tags or [])
        return cast("BlueGreenDeployment", result["BlueGreenDeployment"]) if result else None

    def switchover(self, identifier: str, timeout_s: int) -> BlueGreenDeployment | None:
        result = self._mutate("switchover_blue_green_deployment", f"Switching over {identifier}",
                              BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=timeout_s)
        return cast("BlueGreenDeployment", result["BlueGreenDeployment"]) if result else None

    def delete_deployment(self, identifier: str, delete_target: bool | None = None) -> BlueGreenDeployment | None:
        """`delete_target` None sends no DeleteTarget at all: after SWITCHOVER_COMPLETED the API refuses it,
        true or false (API reference, DeleteBlueGreenDeployment)."""
        extra: dict[str, Any] = {} if delete_target is None else {"DeleteTarget": delete_target}
        result = self._mutate("delete_blue_green_deployment", f"Deleting deployment {identifier}",
                              BlueGreenDeploymentIdentifier=identifier, **extra)
        return cast("BlueGreenDeployment", result["BlueGreenDeployment"]) if result else None

    # -- Aurora clusters (untyped: the runbook reads few of their fields) ------------------------
    def find_cluster(self, identifier: str) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self._find(
            "describe_db_clusters", "DBClusters", "DBClusterNotFoundFault", f"Describing DB cluster {identifier}",
            DBClusterIdentifier=identifier))

    def cluster(self, identifier: str, parameter: str = "source_db_cluster") -> dict[str, Any]:
        found = self.find_cluster(identifier)
        if found is None:
            raise NotFound(f"DB cluster '{identifier}' does not exist in this account and Region (parameter "
                           f"{parameter}). Check the name with 'aws rds describe-db-clusters' or fix the parameter "
                           "file; nothing was changed.")
        return found

    def clusters(self) -> list[dict[str, Any]]:
        return list(self._pages("describe_db_clusters", "DBClusters", "Listing DB clusters"))

    def cluster_by_resource_id(self, resource_id: str) -> dict[str, Any] | None:
        """The cluster that carries this DbClusterResourceId now, whatever its name."""
        found = self._pages("describe_db_clusters", "DBClusters", f"Looking up {resource_id}")
        return next((c for c in found if c.get("DbClusterResourceId") == resource_id), None)

    def cluster_parameters(self, group: str) -> dict[str, dict[str, Any]]:
        return {p["ParameterName"]: p for p in self._pages(
            "describe_db_cluster_parameters", "Parameters", f"Reading cluster parameter group {group}",
            DBClusterParameterGroupName=group)}

    def create_cluster_deployment(self, name: str, source_arn: str, engine_version: str, cluster_group: str,
                                  instance_group: str | None, tags: list[dict[str, str]] | None = None
                                  ) -> BlueGreenDeployment | None:
        """Aurora allows the target version and cluster parameter group at creation (the Aurora overview)."""
        extra = {"TargetDBParameterGroupName": instance_group} if instance_group else {}
        result = self._mutate(
            "create_blue_green_deployment", f"Creating blue/green deployment {name}",
            BlueGreenDeploymentName=name, Source=source_arn, TargetEngineVersion=engine_version,
            TargetDBClusterParameterGroupName=cluster_group, Tags=tags or [], **extra)
        return cast("BlueGreenDeployment", result["BlueGreenDeployment"]) if result else None

    def delete_cluster(self, identifier: str, final_snapshot_id: str | None) -> dict[str, Any] | None:
        args: dict[str, Any] = {"DBClusterIdentifier": identifier}
        if final_snapshot_id:
            args["FinalDBSnapshotIdentifier"] = final_snapshot_id
        else:
            args["SkipFinalSnapshot"] = True
        return self._mutate("delete_db_cluster", f"Deleting DB cluster {identifier}", **args)

    def delete_cluster_instance(self, identifier: str) -> dict[str, Any] | None:
        """An Aurora instance: no snapshot of its own (the cluster's final snapshot holds the data)."""
        return self._mutate("delete_db_instance", f"Deleting DB instance {identifier}",
                            DBInstanceIdentifier=identifier)

    def find_cluster_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self._find(
            "describe_db_cluster_snapshots", "DBClusterSnapshots", "DBClusterSnapshotNotFoundFault",
            f"Describing cluster snapshot {snapshot_id}", DBClusterSnapshotIdentifier=snapshot_id))

    # -- logs and events -------------------------------------------------------------------------
    def log_files(self, identifier: str, contains: str | None = None) -> list[LogFile]:
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
               start_time: datetime | None = None) -> list[Event]:
        args: dict[str, Any] = {"SourceType": source_type}
        if source_identifier:
            args["SourceIdentifier"] = source_identifier
        if start_time:
            args["StartTime"] = start_time
        events = list(self._pages("describe_events", "Events", f"Reading {source_type} events", **args))
        if start_time:  # RDS filters on StartTime itself; be exact about it for every backend
            events = [e for e in events if e["Date"] >= start_time]
        return events

    # -- parameter and option groups: finding, making, changing (runbook groups, step 01's offer) -----------------
    # RDS's limit per ModifyDBParameterGroup / ResetDBParameterGroup request (API reference).
    PARAMETERS_PER_CALL = 20

    def find_parameter_group(self, group: str) -> ParameterGroup | None:
        """The DB parameter group with this name, or None when RDS says there is none."""
        try:
            found = self._call("describe_db_parameter_groups", f"Describing parameter group {group}",
                               DBParameterGroupName=group)["DBParameterGroups"]
        except NotFound:
            return None
        return cast("ParameterGroup", found[0]) if found else None

    def engine_default_parameters(self, family: str) -> dict[str, Parameter]:
        """Every parameter of a family as RDS defines it (all pages; the shape nests under EngineDefaults)."""
        out: dict[str, Parameter] = {}
        marker: str | None = None
        while True:
            args: dict[str, Any] = {"DBParameterGroupFamily": family, **({"Marker": marker} if marker else {})}
            page = self._call("describe_engine_default_parameters", f"Reading the {family} engine defaults",
                              **args)["EngineDefaults"]
            out.update({p["ParameterName"]: p for p in page.get("Parameters", [])})
            marker = page.get("Marker")
            if not marker:
                return out

    def create_parameter_group(self, group: str, family: str, description: str,
                               tags: list[dict[str, str]]) -> dict[str, Any] | None:
        return self._mutate("create_db_parameter_group", f"Creating parameter group {group}",
                            DBParameterGroupName=group, DBParameterGroupFamily=family, Description=description,
                            Tags=tags)

    def modify_parameters(self, group: str, parameters: list[dict[str, Any]]) -> None:
        """Set parameters, at most PARAMETERS_PER_CALL per request (each request is one recorded call)."""
        for start in range(0, len(parameters), self.PARAMETERS_PER_CALL):
            self._mutate("modify_db_parameter_group", f"Setting parameters in {group}", DBParameterGroupName=group,
                         Parameters=parameters[start:start + self.PARAMETERS_PER_CALL])

    def reset_parameters(self, group: str, names: list[str]) -> None:
        """Back to the engine default (the user value goes), at most PARAMETERS_PER_CALL per request."""
        for start in range(0, len(names), self.PARAMETERS_PER_CALL):
            self._mutate("reset_db_parameter_group", f"Resetting parameters in {group}", DBParameterGroupName=group,
                         Parameters=[{"ParameterName": n, "ApplyMethod": "pending-reboot"}
                                     for n in names[start:start + self.PARAMETERS_PER_CALL]])

    # Aurora: the same, for DB cluster parameter groups (same family names and 20-per-request limit).
    def find_cluster_parameter_group(self, group: str) -> dict[str, Any] | None:
        """The DB cluster parameter group with this name, or None when RDS says there is none."""
        return cast("dict[str, Any] | None", self._find(
            "describe_db_cluster_parameter_groups", "DBClusterParameterGroups", "DBClusterParameterGroupNotFound",
            f"Describing cluster parameter group {group}", DBClusterParameterGroupName=group))

    def engine_default_cluster_parameters(self, family: str) -> dict[str, Parameter]:
        """Every cluster parameter of a family as RDS defines it (all pages; nested under EngineDefaults)."""
        out: dict[str, Parameter] = {}
        marker: str | None = None
        while True:
            args: dict[str, Any] = {"DBParameterGroupFamily": family, **({"Marker": marker} if marker else {})}
            page = self._call("describe_engine_default_cluster_parameters",
                              f"Reading the {family} engine-default cluster parameters", **args)["EngineDefaults"]
            out.update({p["ParameterName"]: p for p in page.get("Parameters", [])})
            marker = page.get("Marker")
            if not marker:
                return out

    def create_cluster_parameter_group(self, group: str, family: str, description: str,
                                       tags: list[dict[str, str]]) -> dict[str, Any] | None:
        return self._mutate("create_db_cluster_parameter_group", f"Creating cluster parameter group {group}",
                            DBClusterParameterGroupName=group, DBParameterGroupFamily=family,
                            Description=description, Tags=tags)

    def modify_cluster_parameters(self, group: str, parameters: list[dict[str, Any]]) -> None:
        for start in range(0, len(parameters), self.PARAMETERS_PER_CALL):
            self._mutate("modify_db_cluster_parameter_group", f"Setting parameters in {group}",
                         DBClusterParameterGroupName=group,
                         Parameters=parameters[start:start + self.PARAMETERS_PER_CALL])

    def reset_cluster_parameters(self, group: str, names: list[str]) -> None:
        for start in range(0, len(names), self.PARAMETERS_PER_CALL):
            self._mutate("reset_db_cluster_parameter_group", f"Resetting parameters in {group}",
                         DBClusterParameterGroupName=group,
                         Parameters=[{"ParameterName": n, "ApplyMethod": "pending-reboot"}
                                     for n in names[start:start + self.PARAMETERS_PER_CALL]])

    def find_option_group(self, group: str) -> OptionGroup | None:
        """The option group with this name, or None when RDS says there is none."""
        try:
            found = self._call("describe_option_groups", f"Describing option group {group}",
                               OptionGroupName=group)["OptionGroupsList"]
        except NotFound:
            return None
        return cast("OptionGroup", found[0]) if found else None

    def option_group_options(self, engine: str, major_version: str) -> dict[str, dict[str, Any]]:
        """The options RDS offers for an engine's major version (DescribeOptionGroupOptions, all pages), by name."""
        return {o["Name"]: dict(o) for o in self._pages(
            "describe_option_group_options", "OptionGroupOptions", f"Reading the options of {engine} {major_version}",
            EngineName=engine, MajorEngineVersion=major_version)}

    def create_option_group(self, group: str, engine: str, major_version: str, description: str,
                            tags: list[dict[str, str]]) -> dict[str, Any] | None:
        return self._mutate("create_option_group", f"Creating option group {group}", OptionGroupName=group,
                            EngineName=engine, MajorEngineVersion=major_version, OptionGroupDescription=description,
                            Tags=tags)

    def modify_option_group(self, group: str, include: list[dict[str, Any]] | None = None,
                            remove: list[str] | None = None) -> dict[str, Any] | None:
        args: dict[str, Any] = {"OptionGroupName": group, "ApplyImmediately": True}
        if include:
            args["OptionsToInclude"] = include
        if remove:
            args["OptionsToRemove"] = remove
        return self._mutate("modify_option_group", f"Changing option group {group}", **args)

    def tags(self, arn: str) -> dict[str, str]:
        found = self._call("list_tags_for_resource", f"Reading the tags of {arn}", ResourceName=arn)
        return {t["Key"]: t["Value"] for t in found.get("TagList", [])}

    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> dict[str, Any] | None:
        return self._mutate("add_tags_to_resource", f"Tagging {arn}", ResourceName=arn, Tags=tags)
