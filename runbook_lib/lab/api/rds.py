"""The lab's RDS API: moto's RDSResponse with RDS's validation and timing on top.

Each override below closes one row of shared/docs/moto-gaps.md; everything else is moto's own.
Handlers validate first (with RDS's error codes), then change records, then hand slow work to the
lab's worker, so a refused call changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from runbook_lib.lab import aurora_catalog, option_catalog, parameter_defaults, postgres_catalog
from runbook_lib.lab import engine_versions as catalog
from runbook_lib.lab.api.clusters import ClusterAPI, is_cluster_arn
from runbook_lib.lab.api.postgres import PostgresAPI, is_postgres_deployment
from runbook_lib.lab.control import cluster_deployments, clusters, deployments, instances, switchover
from runbook_lib.lab.control.core import LOG_PORTION_LINES, Lab
from runbook_lib.lab.control.events import record_event
from runbook_lib.lab.moto_internals import (
    ActionResult,
    BlueGreenDeploymentNotFoundFault,
    DBInstanceNotFoundError,
    DBParameterGroupNotFoundError,
    DBSnapshotAlreadyExistsError,
    InvalidParameterCombination,
    InvalidParameterValue,
    OptionGroupNotFoundFaultError,
    RDSClientError,
    RDSResponse,
)

_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,59}(?<!-)$")
_GROUP_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")  # API reference CreateDBParameterGroup
_MAX_PARAMETERS_PER_CALL = 20  # API reference ModifyDBParameterGroup: up to 20 parameters in a single request


def _state_error(message: str) -> RDSClientError:
    return RDSClientError("InvalidDBInstanceState", message)


def _bool(value: Any) -> bool:
    return str(value).lower() == "true" if not isinstance(value, bool) else value


def _defaults(family: str) -> dict[str, dict[str, Any]]:
    """A DB parameter group family's engine defaults (MySQL's or PostgreSQL's catalog)."""
    if family in postgres_catalog.INSTANCE_FAMILIES:
        return postgres_catalog.default_parameters(family)
    return catalog.engine_default_parameters(family)


def _page(items: list[Any], params: Any, default: int = 100) -> tuple[list[Any], str | None]:
    size = int(params.get("MaxRecords") or default)
    if not 20 <= size <= 100:
        raise InvalidParameterValue(f"Invalid value {size} for MaxRecords. Must be between 20 and 100.")
    start = int(params.get("Marker") or 0)
    chunk = items[start:start + size]
    return chunk, (str(start + size) if start + size < len(items) else None)


class LabRDSResponse(PostgresAPI, ClusterAPI, RDSResponse):
    """Bound to one Lab by `bind`; moto creates one instance per request."""

    lab: Lab

    @classmethod
    def bind(cls, lab: Lab) -> type[LabRDSResponse]:
        return type("BoundLabRDSResponse", (cls,), {"lab": lab})

    # -- helpers -------------------------------------------------------------------------------------
    def _instance(self, name: str | None) -> Any:
        if not name or name.lower() not in self.backend.databases:
            raise DBInstanceNotFoundError(name or "")
        return self.backend.databases[name.lower()]

    def _group_family(self, group: str) -> str | None:
        if group not in self.backend.db_parameter_groups:
            raise DBParameterGroupNotFoundError(group)
        family = self.backend.db_parameter_groups[group].family
        return str(family) if family else None

    def _check_version(self, current: str, target: str, allow_major: bool | None) -> None:
        if target == current:
            return
        valid = {t["EngineVersion"]: t for t in catalog.upgrade_targets(current)}
        if target not in valid:
            raise InvalidParameterCombination(
                f"Cannot upgrade mysql from {current} to {target}. Valid upgrade targets: "
                f"{', '.join(valid) or 'none'}.")
        if valid[target]["IsMajorVersionUpgrade"] and allow_major is False:
            raise InvalidParameterCombination(
                "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.")

    def _check_group_for(self, group: str, version: str) -> None:
        family = self._group_family(group)
        wanted = catalog.family_of(version)
        if family and wanted and family != wanted:
            raise InvalidParameterCombination(
                f"The parameter group {group} with DBParameterGroupFamily {family} can't be used for this "
                f"instance. Use a parameter group with DBParameterGroupFamily {wanted}.")

    def _check_option_group_for(self, group: str, version: str) -> None:
        if group not in self.backend.option_groups:
            raise OptionGroupNotFoundFaultError(group)
        major = self.backend.option_groups[group].major_engine_version
        if major and major != catalog.major_of(version):
            raise InvalidParameterCombination(
                f"The option group {group} is for major engine version {major}; it cannot be used with "
                f"engine version {version}.")

    # -- instances (moto: available at once, one DbiResourceId for all) ------------------------------------
    def create_db_instance(self) -> ActionResult:
        if self.params.get("DBClusterIdentifier"):
            return self.create_cluster_instance()
        version = self.params.get("EngineVersion")
        if self.params.get("Engine") == postgres_catalog.POSTGRES:
            return ActionResult({"DBInstance": self.create_pg_instance()})
        if self.params.get("Engine") == "mysql" and version and not catalog.family_of(version):
            raise InvalidParameterCombination(f"Cannot find version {version} for mysql")
        if self.params.get("DBParameterGroupName") and version:
            self._check_group_for(self.params["DBParameterGroupName"], version)
        inst = self.backend.create_db_instance(self.params)
        instances.create(self.lab, inst)
        return ActionResult({"DBInstance": inst})

    def modify_db_instance(self) -> ActionResult:
        inst = self._instance(self.params.get("DBInstanceIdentifier"))
        version = self.params.pop("EngineVersion", None)
        group = self.params.pop("DBParameterGroupName", None)
        option_group = self.params.pop("OptionGroupName", None)
        allow_major = _bool(self.params.pop("AllowMajorVersionUpgrade", False))
        apply_now = _bool(self.params.get("ApplyImmediately", False))
        engine = self.params.pop("Engine", None)
        if engine is not None and engine != inst.engine:
            raise InvalidParameterValue(f"Invalid DB engine: {engine}. The engine of {inst.db_instance_identifier} "
                                        f"is {inst.engine}; it cannot be changed.")
        if inst.status != "available" and (version or group or option_group):
            raise _state_error(f"Database instance is not in available state (it is {inst.status}).")
        target = version or inst.engine_version
        if version:
            self._check_version(inst.engine_version, version, allow_major)
        if group:
            self._check_group_for(group, target)
        elif version and catalog.family_of(version) != catalog.family_of(inst.engine_version):
            raise InvalidParameterCombination(
                "A major version upgrade needs a DB parameter group of the new family: pass DBParameterGroupName.")
        if option_group:
            self._check_option_group_for(option_group, target)
        elif version and catalog.major_of(version) != catalog.major_of(inst.engine_version) \
                and not inst.option_group_name.startswith("default:"):
            raise InvalidParameterCombination(
                f"The current option group {inst.option_group_name} is for {catalog.major_of(inst.engine_version)}; "
                "pass an OptionGroupName for the new major version.")
        new_name = self.params.get("NewDBInstanceIdentifier")
        old_name = inst.db_instance_identifier
        rest = {k: v for k, v in self.params.items() if k not in ("db_instance_identifier", "apply_immediately")}
        if rest:
            super().modify_db_instance()
            if new_name:
                self.lab.data.router.rename(old_name, new_name.lower())
        if version or group or option_group:
            if apply_now:
                instances.upgrade(self.lab, inst, version, group, option_group)
            else:
                inst.pending_modified_values = {"EngineVersion": version} if version else {}
        return ActionResult({"DBInstance": inst})

    def delete_db_instance(self) -> ActionResult:
        inst = self._instance(self.params.get("DBInstanceIdentifier"))
        if hasattr(inst, "lab_cluster_resource_id"):
            return self.delete_cluster_instance(inst)
        final = self.params.get("FinalDBSnapshotIdentifier")
        skip = _bool(self.params.get("SkipFinalSnapshot", False))
        if not final and not skip:
            raise InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        if final and skip:
            raise InvalidParameterCombination(
                "Cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot.")
        if inst.deletion_protection:
            raise InvalidParameterCombination(
                "Cannot delete protected DB Instance, please disable deletion protection and try again.")
        if inst.status == "deleting":
            raise _state_error(f"Instance {inst.db_instance_identifier} is already being deleted.")
        if final:
            self.backend.validate_db_snapshot_identifier(final, parameter_name="FinalDBSnapshotIdentifier")
            if final in self.backend.database_snapshots:
                raise DBSnapshotAlreadyExistsError(final)
        for bgd in self.backend.blue_green_deployments.values():
            if bgd.status != "SWITCHOVER_COMPLETED" and inst.db_instance_arn in (bgd.source, bgd.target):
                raise _state_error(
                    f"{inst.db_instance_identifier} belongs to blue/green deployment "
                    f"{bgd.blue_green_deployment_name}; delete the deployment first.")
        instances.delete(self.lab, inst, None if skip else final)
        return ActionResult({"DBInstance": inst})

    # -- parameters (moto: user-set values only, no Source) -------------------------------------------------
    def describe_db_parameters(self) -> ActionResult:
        group = self.params.get("DBParameterGroupName")
        family = self._group_family(group) or "mysql5.7"
        merged = _defaults(family)
        for name, param in self.backend.db_parameter_groups[group].parameters.items():
            record = dict(merged.get(name, {"ParameterName": name, "ApplyType": "dynamic",
                                            "DataType": "string", "IsModifiable": True}))
            if param.get("ParameterValue") is not None:
                record["ParameterValue"] = param["ParameterValue"]
            record["Source"] = "user"
            record["ApplyMethod"] = param.get("ApplyMethod", "immediate")
            merged[name] = record
        source = self.params.get("Source")
        items = [p for p in merged.values() if not source or p["Source"] == source]
        chunk, marker = _page(items, self.params)
        result: dict[str, Any] = {"Parameters": chunk}
        if marker:
            result["Marker"] = marker
        return ActionResult(result)

    # -- parameter groups (moto: any family, any parameter name, any number at once) ---------------------------
    def create_db_parameter_group(self) -> ActionResult:
        name = self.params.get("DBParameterGroupName") or ""
        family = self.params.get("DBParameterGroupFamily") or ""
        if not _GROUP_NAME.match(name):
            raise InvalidParameterValue(
                f"The parameter DBParameterGroupName is not a valid identifier: {name!r}. It must be 1 to 255 letters, "
                "digits or hyphens, start with a letter, and not end with a hyphen or contain two consecutive hyphens.")
        if family.startswith("mysql") and family not in parameter_defaults.FAMILIES:
            raise InvalidParameterValue(f"Invalid DB parameter group family: {family}.")
        return super().create_db_parameter_group()

    def describe_db_parameter_groups(self) -> ActionResult:
        name = self.params.get("DBParameterGroupName")
        if name and name not in self.backend.db_parameter_groups:
            raise DBParameterGroupNotFoundError(name)  # moto answers an empty list
        return super().describe_db_parameter_groups()

    def _known_parameters(self, group: str) -> dict[str, dict[str, Any]] | None:
        """The family's parameters when the lab knows the family (else None: moto's own behaviour)."""
        family = self._group_family(group) or ""
        known = family in parameter_defaults.FAMILIES or family in postgres_catalog.INSTANCE_FAMILIES
        return _defaults(family) if known else None

    def _check_parameter_names(self, group: str, names: list[str], changing: bool) -> None:
        if group.startswith("default."):
            raise InvalidParameterValue("Cannot modify a default parameter group.")
        if len(names) > _MAX_PARAMETERS_PER_CALL:
            raise InvalidParameterValue(f"You can modify up to {_MAX_PARAMETERS_PER_CALL} parameters in a single "
                                        f"request; this one names {len(names)}.")
        known = self._known_parameters(group)
        if known is None:
            return
        for name in names:
            if name not in known:
                raise InvalidParameterValue(f"Could not find parameter with name: {name}")
            if changing and not known[name]["IsModifiable"]:
                raise InvalidParameterValue(f"The parameter {name} cannot be modified.")

    def modify_db_parameter_group(self) -> ActionResult:
        group = self.params.get("DBParameterGroupName") or ""
        self._check_parameter_names(group, [p.get("ParameterName") for p in self.params.get("Parameters") or []], True)
        return super().modify_db_parameter_group()

    def reset_db_parameter_group(self) -> ActionResult:
        group = self.params.get("DBParameterGroupName") or ""
        reset_all = _bool(self.params.get("ResetAllParameters", False))
        names = [p.get("ParameterName") for p in self.params.get("Parameters") or []]
        if reset_all == bool(names):
            raise InvalidParameterCombination("Specify either ResetAllParameters or Parameters, not both (and not "
                                              "neither).")
        self._check_parameter_names(group, names, False)
        parameters = self.backend.db_parameter_groups[group].parameters
        for name in list(parameters) if reset_all else names:
            parameters.pop(name, None)
        return ActionResult({"DBParameterGroupName": group})

    def describe_engine_default_parameters(self) -> ActionResult:
        family = self.params.get("DBParameterGroupFamily") or ""
        if family not in parameter_defaults.FAMILIES and family not in postgres_catalog.INSTANCE_FAMILIES:
            raise InvalidParameterValue(f"Invalid DB parameter group family: {family}.")
        chunk, marker = _page(list(_defaults(family).values()), self.params)
        defaults: dict[str, Any] = {"DBParameterGroupFamily": family, "Parameters": chunk}
        if marker:
            defaults["Marker"] = marker
        return ActionResult({"EngineDefaults": defaults})

    # -- option groups (moto: any option name and setting for mysql; no listing without a name) ---------------
    def describe_option_group_options(self) -> ActionResult:
        if self.params.get("EngineName") != "mysql":
            return super().describe_option_group_options()
        major = self.params.get("MajorEngineVersion")
        if major and major not in option_catalog.MAJORS:
            raise InvalidParameterCombination(f"Cannot find major version {major} for mysql")
        chunk, marker = _page(option_catalog.options_for(major), self.params)
        result: dict[str, Any] = {"OptionGroupOptions": chunk}
        if marker:
            result["Marker"] = marker
        return ActionResult(result)

    def describe_option_groups(self) -> ActionResult:
        name = self.params.get("OptionGroupName")
        if name and name not in self.backend.option_groups:
            raise OptionGroupNotFoundFaultError(name)
        engine, major = self.params.get("EngineName"), self.params.get("MajorEngineVersion")
        found = [g for key, g in sorted(self.backend.option_groups.items()) if (not name or key == name)
                 and (not engine or g.engine_name == engine) and (not major or g.major_engine_version == major)]
        chunk, marker = _page(found, self.params)
        result: dict[str, Any] = {"OptionGroupsList": chunk}
        if marker:
            result["Marker"] = marker
        return ActionResult(result)

    def modify_option_group(self) -> ActionResult:
        name = self.params.get("OptionGroupName") or ""
        if name not in self.backend.option_groups:
            raise OptionGroupNotFoundFaultError(name)
        group = self.backend.option_groups[name]
        for included in self.params.get("OptionsToInclude") or [] if group.engine_name == "mysql" else []:
            option = included.get("OptionName")
            known = option_catalog.option(option, group.major_engine_version)
            if known is None:
                raise InvalidParameterValue(f"Option {option} is not available for mysql "
                                            f"{group.major_engine_version}.")
            settings = {s["SettingName"] for s in known["OptionGroupOptionSettings"]}
            for setting in included.get("OptionSettings") or []:
                if setting.get("Name") not in settings:
                    raise InvalidParameterValue(f"We do not support setting: {setting.get('Name')} for {option}")
        return super().modify_option_group()

    # -- engine versions (moto: not implemented) --------------------------------------------------------------
    def describe_db_engine_versions(self) -> ActionResult:
        engine = self.params.get("Engine")
        version = self.params.get("EngineVersion")
        family = self.params.get("DBParameterGroupFamily")
        records = [catalog.engine_version_record(v) for v in sorted(catalog.MYSQL_VERSIONS, key=lambda v: tuple(map(int, v.split("."))))]
        records += [aurora_catalog.engine_version_record(v) for v in aurora_catalog.sorted_versions()]
        records += postgres_catalog.engine_version_records()
        records = [r for r in records if (not engine or r["Engine"] == engine)
                   and (not version or r["EngineVersion"] == version or r["EngineVersion"].startswith(version + "."))
                   and (not family or r["DBParameterGroupFamily"] == family)]
        chunk, marker = _page(records, self.params)
        result: dict[str, Any] = {"DBEngineVersions": chunk}
        if marker:
            result["Marker"] = marker
        return ActionResult(result)

    # -- blue/green (moto: instant, trusting) ---------------------------------------------------------------
    def create_blue_green_deployment(self) -> ActionResult:
        name = self.params.get("BlueGreenDeploymentName") or ""
        if not _DEPLOYMENT_NAME.match(name):
            raise InvalidParameterValue(
                f"The parameter BlueGreenDeploymentName is not a valid identifier: {name!r}. It must be 1 to 60 "
                "letters, digits or hyphens, start with a letter, and not end with a hyphen or contain two "
                "consecutive hyphens.")
        source = self.params.get("Source") or ""
        for existing in self.backend.blue_green_deployments.values():
            if existing.blue_green_deployment_name == name:
                raise RDSClientError("BlueGreenDeploymentAlreadyExistsFault",
                                     f"A blue/green deployment with the name {name} already exists.")
        postgres_source = self._pg_source(source)
        if postgres_source is not None:
            return ActionResult({"BlueGreenDeployment": self.create_pg_deployment(postgres_source)})
        if is_cluster_arn(source):
            return self.create_cluster_deployment(name, source)
        blue = self.backend.find_db_from_id(source) if source.startswith("arn:") else self._instance(source)
        if blue.backup_retention_period in (0, "0", None):
            raise _state_error(f"Automated backups must be enabled on {blue.db_instance_identifier} "
                               "(BackupRetentionPeriod > 0) before creating a blue/green deployment.")
        if blue.status != "available":
            raise _state_error(f"Source {blue.db_instance_identifier} is {blue.status}, not available.")
        if getattr(blue, "manage_master_user_password", False):
            raise RDSClientError("SourceDatabaseNotSupportedFault",
                                 "Blue/green deployments are not supported for a source whose master "
                                 "password is managed in AWS Secrets Manager.")
        target_version = self.params.get("TargetEngineVersion") or blue.engine_version
        if target_version != blue.engine_version:
            self._check_version(blue.engine_version, target_version, allow_major=None)
            if catalog.major_of(target_version) != catalog.major_of(blue.engine_version) \
                    and not blue.option_group_name.startswith("default:"):
                raise InvalidParameterCombination(
                    "You can't specify a major engine version upgrade when the source uses a custom option "
                    "group. Create the deployment on the same version, then upgrade the green instance.")
        group = self.params.get("TargetDBParameterGroupName")
        if group:
            self._check_group_for(group, target_version)
        for existing in self.backend.blue_green_deployments.values():
            if existing.blue_green_deployment_name == name:
                raise RDSClientError("BlueGreenDeploymentAlreadyExistsFault",
                                     f"A blue/green deployment with the name {name} already exists.")
        self.params["Source"] = blue.db_instance_arn
        created = self.backend.create_blue_green_deployment(self.params)
        bgd = self.backend.blue_green_deployments[created.blue_green_deployment_identifier]
        green = self.backend.find_db_from_id(bgd.target)
        deployments.provision_green(self.lab, bgd, blue, green)
        return ActionResult({"BlueGreenDeployment": bgd})

    def _deployment(self) -> Any:
        identifier = self.params.get("BlueGreenDeploymentIdentifier")
        if identifier not in self.backend.blue_green_deployments:
            raise BlueGreenDeploymentNotFoundFault(identifier or "")
        return self.backend.blue_green_deployments[identifier]

    def switchover_blue_green_deployment(self) -> ActionResult:
        bgd = self._deployment()
        timeout = int(self.params.get("SwitchoverTimeout") or 300)
        if not 30 <= timeout <= 3600:
            raise InvalidParameterValue(f"SwitchoverTimeout must be between 30 and 3600 seconds; got {timeout}.")
        if bgd.status != "AVAILABLE":
            raise RDSClientError("InvalidBlueGreenDeploymentStateFault",
                                 f"The blue/green deployment {bgd.blue_green_deployment_identifier} is "
                                 f"{bgd.status}; only an AVAILABLE deployment can be switched over.")
        if is_postgres_deployment(bgd):
            self.refuse_degraded_switchover(bgd)
            self.start_pg_switchover(bgd, timeout)
        elif hasattr(bgd, "lab_clusters"):
            cluster_deployments.start(self.lab, bgd, timeout)
        else:
            switchover.start(self.lab, bgd, timeout)
        return ActionResult({"BlueGreenDeployment": bgd})

    def delete_blue_green_deployment(self) -> ActionResult:
        bgd = self._deployment()
        given = self.params.get("DeleteTarget")
        delete_target = _bool(given) if given is not None else False
        if given is not None and bgd.status == "SWITCHOVER_COMPLETED":
            # API reference, DeleteBlueGreenDeployment: "You can't specify this option if the blue/green
            # deployment status is SWITCHOVER_COMPLETED" -- neither true nor false.
            raise InvalidParameterCombination(
                "You can't specify DeleteTarget when the blue/green deployment status is SWITCHOVER_COMPLETED: "
                "the target (green) resources are now production. Delete the deployment without DeleteTarget.")
        if bgd.status in ("PROVISIONING", "SWITCHOVER_IN_PROGRESS"):
            raise RDSClientError("InvalidBlueGreenDeploymentStateFault",
                                 f"The blue/green deployment is {bgd.status} and can't be deleted now.")
        if hasattr(bgd, "lab_clusters"):
            writers = [(b, g) for b, g in bgd.lab_pairs if (self.lab.by_dbi(g) or self.lab.by_dbi(b)) is not None]
            clear_on = [b for b, _g in writers] + ([g for _b, g in writers] if bgd.status == "SWITCHOVER_COMPLETED"
                                                   else [])
            target = self._cluster(bgd.target)
        else:
            source = self.backend.find_db_from_id(bgd.source)
            target = self.backend.find_db_from_id(bgd.target)
            clear_on = [source.dbi_resource_id] + ([target.dbi_resource_id] if bgd.status == "SWITCHOVER_COMPLETED"
                                                   else [])
        switched = bgd.status == "SWITCHOVER_COMPLETED"
        self.backend.blue_green_deployments.pop(bgd.blue_green_deployment_identifier)
        bgd.status = "DELETING"
        record_event(self.backend, "blue-green-deployment", bgd.blue_green_deployment_identifier,
                     "Blue/green deployment deleted.")
        def clear_topology() -> None:
            for dbi in clear_on:
                if dbi in self.lab.data.servers:
                    self.lab.data.write_topology(dbi, [])
        self.lab.submit("clear topology", clear_topology)
        if is_postgres_deployment(bgd) and not switched:
            self.stop_pg_replication(bgd, delete_target)
        if delete_target and hasattr(bgd, "lab_clusters"):
            clusters.delete_with_members(self.lab, target)
        elif delete_target:
            instances.delete(self.lab, target, None)
        return ActionResult({"BlueGreenDeployment": bgd})

    # -- logs (moto: one fake file, no download) -------------------------------------------------------------
    def describe_db_log_files(self) -> ActionResult:
        inst = self._instance(self.params.get("DBInstanceIdentifier"))
        contains = self.params.get("FilenameContains")
        since = int(self.params.get("FileLastWritten") or 0)
        files = [{"LogFileName": n, "LastWritten": int(f.written * 1000), "Size": len(f.text.encode())}
                 for n, f in sorted(self.lab.log_files(inst.dbi_resource_id).items())
                 if (not contains or contains in n) and int(f.written * 1000) >= since]
        chunk, marker = _page(files, self.params)
        result: dict[str, Any] = {"DescribeDBLogFiles": chunk}
        if marker:
            result["Marker"] = marker
        return ActionResult(result)

    def download_db_log_file_portion(self) -> ActionResult:
        inst = self._instance(self.params.get("DBInstanceIdentifier"))
        name = self.params.get("LogFileName")
        files = self.lab.log_files(inst.dbi_resource_id)
        if name not in files:
            raise RDSClientError("DBLogFileNotFoundFault", f"DBLogFile {name} not found.")
        lines = files[name].text.splitlines(keepends=True)
        start = int(self.params.get("Marker") or 0)
        count = int(self.params.get("NumberOfLines") or LOG_PORTION_LINES)
        end = min(start + count, len(lines))
        return ActionResult({"LogFileData": "".join(lines[start:end]), "Marker": str(end),
                             "AdditionalDataPending": end < len(lines)})
