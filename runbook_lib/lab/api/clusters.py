"""The lab's RDS API for Aurora MySQL clusters: moto's cluster calls with RDS's validation on top, the calls moto
lacks (cluster endpoints, engine-default cluster parameters), and the cluster side of blue/green deployments.

A mixin of LabRDSResponse (lab/api/rds.py), which routes the calls that exist for both instances and clusters
(create_db_instance, create/switchover/delete_blue_green_deployment) here when a cluster is named. Each rule is in
docs/lab-rules.md, "Aurora MySQL clusters"."""

from __future__ import annotations

from typing import Any

from runbook_lib.lab import aurora_catalog as aurora
from runbook_lib.lab import postgres_catalog
from runbook_lib.lab.control import cluster_deployments, clusters, postgres_seed
from runbook_lib.lab.control.core import Lab
from runbook_lib.lab.moto_internals import (
    ActionResult,
    DBClusterNotFoundError,
    DBParameterGroupNotFoundError,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)


def _group_not_found(name: str) -> RDSClientError:
    """API reference: DBClusterParameterGroupNotFound (moto answers DBParameterGroupNotFound)."""
    return RDSClientError("DBClusterParameterGroupNotFound", f"DBClusterParameterGroup not found: {name}")


def _cluster_state_error(message: str) -> RDSClientError:
    return RDSClientError("InvalidDBClusterStateFault", message)


class ClusterAPI:
    """Cluster handlers; `self` is a LabRDSResponse (params, backend, lab)."""

    lab: Lab
    params: Any
    backend: Any

    # -- helpers -------------------------------------------------------------------------------------
    def _cluster(self, name: str | None) -> Any:
        if name and name.startswith("arn:"):
            for cluster in self.backend.clusters.values():
                if cluster.db_cluster_arn == name:
                    return cluster
            raise DBClusterNotFoundError(name)
        if not name or name not in self.backend.clusters:
            raise DBClusterNotFoundError(name or "")
        return self.backend.clusters[name]

    def _cluster_group_family(self, group: str) -> str:
        clusters.ensure_default_groups(self.lab)
        postgres_seed.ensure_default_groups(self.lab)
        if group not in self.backend.db_cluster_parameter_groups:
            raise _group_not_found(group)
        return str(self.backend.db_cluster_parameter_groups[group].db_parameter_group_family)

    def _check_cluster_group_for(self, group: str, version: str, parameter: str) -> None:
        family, wanted = self._cluster_group_family(group), aurora.family_of(version)
        if wanted and family != wanted:
            raise InvalidParameterCombination(
                f"The {parameter} {group} has DBParameterGroupFamily {family}, which can't be used with engine "
                f"version {version}. Use a DB cluster parameter group with DBParameterGroupFamily {wanted}.")

    def _check_instance_group_for(self, group: str, version: str) -> None:
        if group not in self.backend.db_parameter_groups:
            raise DBParameterGroupNotFoundError(group)
        family, wanted = self.backend.db_parameter_groups[group].family, aurora.family_of(version)
        if wanted and family != wanted:
            raise InvalidParameterCombination(
                f"The DB parameter group {group} with DBParameterGroupFamily {family} can't be used with engine "
                f"version {version}. Use a DB parameter group with DBParameterGroupFamily {wanted}.")

    # -- clusters (moto: any version, `default.aurora8.0` for every engine) --------------------------------
    def create_db_cluster(self) -> ActionResult:
        if self.params.get("Engine") != aurora.ENGINE:
            return super().create_db_cluster()  # type: ignore[misc, no-any-return]
        version = self.params.get("EngineVersion") or ""
        if not aurora.is_aurora_mysql(version):
            raise InvalidParameterCombination(f"Cannot find version {version or '(none given)'} for aurora-mysql")
        group = self.params.get("DBClusterParameterGroupName")
        if group:
            self._check_cluster_group_for(group, version, "DB cluster parameter group")
        else:
            clusters.ensure_default_groups(self.lab)
            self.params["DBClusterParameterGroupName"] = aurora.DEFAULT_GROUP[aurora.family_of(version) or ""]
        if int(self.params.get("BacktrackWindow") or 0) and aurora.major_of(version) not in ("2", "3"):
            raise InvalidParameterValue("Backtrack is not supported for this engine version.")
        cluster = self.backend.create_db_cluster(self.params)
        clusters.create(self.lab, cluster)
        return ActionResult({"DBCluster": cluster})

    def create_cluster_instance(self) -> ActionResult:
        """CreateDBInstance with DBClusterIdentifier: an Aurora instance (writer if first, else a reader)."""
        cluster = self._cluster(self.params.get("DBClusterIdentifier"))
        if self.params.get("Engine") != cluster.engine:
            raise InvalidParameterCombination(
                f"The engine name requested for your DB instance ({self.params.get('Engine')}) doesn't match the "
                f"engine name of your DB cluster ({cluster.engine}).")
        if cluster.status != "available":
            raise _cluster_state_error(f"DB cluster {cluster.db_cluster_identifier} is {cluster.status}, not "
                                       "available.")
        group = self.params.get("DBParameterGroupName")
        if group:
            self._check_instance_group_for(group, cluster.engine_version)
        self.params["EngineVersion"] = cluster.engine_version
        inst = self.backend.create_db_instance(self.params)
        clusters.create_member(self.lab, inst, cluster)
        return ActionResult({"DBInstance": inst})

    def delete_cluster_instance(self, inst: Any) -> ActionResult:
        """DeleteDBInstance of an Aurora instance: no snapshot of its own (the cluster's data outlives it)."""
        if self.params.get("FinalDBSnapshotIdentifier"):
            raise InvalidParameterCombination(
                "FinalDBSnapshotIdentifier can't be specified for a DB instance in a DB cluster; take a DB cluster "
                "snapshot (DeleteDBCluster's FinalDBSnapshotIdentifier) instead.")
        if inst.status == "deleting":
            raise RDSClientError("InvalidDBInstanceState",
                                 f"Instance {inst.db_instance_identifier} is already being deleted.")
        cluster = inst.cluster
        bgd = clusters.in_deployment(self.lab, cluster)
        if bgd is not None and bgd.status != "SWITCHOVER_COMPLETED":
            raise RDSClientError("InvalidDBInstanceState",
                                 f"{inst.db_instance_identifier} belongs to blue/green deployment "
                                 f"{bgd.blue_green_deployment_name}; delete the deployment first.")
        clusters.delete_member(self.lab, inst)
        return ActionResult({"DBInstance": inst})

    def delete_db_cluster(self) -> ActionResult:
        cluster = self._cluster(self.params.get("DBClusterIdentifier"))
        final = self.params.get("FinalDBSnapshotIdentifier")
        skip = str(self.params.get("SkipFinalSnapshot", False)).lower() == "true"
        if not final and not skip:
            raise InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        if final and skip:
            raise InvalidParameterCombination("Cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot.")
        if cluster.deletion_protection:
            raise InvalidParameterCombination(
                "Cannot delete protected Cluster, please disable deletion protection and try again.")
        if any(i.status != "deleting" for i in cluster._members):
            raise _cluster_state_error("Cluster cannot be deleted, it still contains DB instances in non-deleting "
                                       "state.")
        bgd = clusters.in_deployment(self.lab, cluster)
        if bgd is not None and bgd.status != "SWITCHOVER_COMPLETED":
            raise _cluster_state_error(f"DB cluster {cluster.db_cluster_identifier} belongs to blue/green deployment "
                                       f"{bgd.blue_green_deployment_name}; delete the deployment first.")
        if final and final in self.backend.cluster_snapshots:
            raise RDSClientError("DBClusterSnapshotAlreadyExistsFault",
                                 f"Cannot create the cluster snapshot because one with the identifier {final} "
                                 "already exists.")
        clusters.delete(self.lab, cluster, None if skip else final)
        return ActionResult({"DBCluster": cluster})

    def stop_db_cluster(self) -> ActionResult:
        self._refuse_in_deployment("stopped")
        return super().stop_db_cluster()  # type: ignore[misc, no-any-return]

    def start_db_cluster(self) -> ActionResult:
        self._refuse_in_deployment("started")
        return super().start_db_cluster()  # type: ignore[misc, no-any-return]

    def _refuse_in_deployment(self, verb: str) -> None:
        """Aurora overview, limitations: a cluster in a blue/green deployment can't be stopped or started."""
        cluster = self._cluster(self.params.get("DBClusterIdentifier"))
        bgd = clusters.in_deployment(self.lab, cluster)
        if bgd is not None:
            raise _cluster_state_error(
                f"DB cluster {cluster.db_cluster_identifier} is part of blue/green deployment "
                f"{bgd.blue_green_deployment_identifier} and can't be {verb}.")

    # -- cluster endpoints (moto: NotImplementedError) ------------------------------------------------------
    def describe_db_cluster_endpoints(self) -> ActionResult:
        name = self.params.get("DBClusterIdentifier")
        wanted = self.params.get("DBClusterEndpointIdentifier")
        found = [self._cluster(name)] if name else list(self.backend.clusters.values())
        rows = []
        for cluster in found:
            for kind, host in (("WRITER", cluster.endpoint), ("READER", cluster.reader_endpoint)):
                rows.append({"DBClusterEndpointIdentifier": f"{cluster.db_cluster_identifier}-{kind.lower()}",
                             "DBClusterIdentifier": cluster.db_cluster_identifier,
                             "DBClusterEndpointResourceIdentifier": f"{cluster.db_cluster_resource_id}-{kind}",
                             "Endpoint": host, "Status": "available", "EndpointType": kind})
        rows = [r for r in rows if not wanted or r["DBClusterEndpointIdentifier"] == wanted]
        return ActionResult({"DBClusterEndpoints": rows})

    # -- cluster parameter groups (moto: only what was set, no default groups, any family) -------------------
    def create_db_cluster_parameter_group(self) -> ActionResult:
        family = self.params.get("DBParameterGroupFamily") or ""
        if family.startswith("aurora-mysql") and family not in aurora.FAMILIES:
            raise InvalidParameterValue(f"Invalid DB parameter group family: {family}.")
        return super().create_db_cluster_parameter_group()  # type: ignore[misc, no-any-return]

    def describe_db_cluster_parameter_groups(self) -> ActionResult:
        clusters.ensure_default_groups(self.lab)
        name = self.params.get("DBClusterParameterGroupName")
        if name and name not in self.backend.db_cluster_parameter_groups:
            raise _group_not_found(name)
        return super().describe_db_cluster_parameter_groups()  # type: ignore[misc, no-any-return]

    def modify_db_cluster_parameter_group(self) -> ActionResult:
        group = self.params.get("DBClusterParameterGroupName") or ""
        family = self._cluster_group_family(group)
        if group.startswith("default."):
            raise InvalidParameterValue("Cannot modify a default parameter group.")
        if family in aurora.FAMILIES or family in postgres_catalog.CLUSTER_FAMILIES:
            known = _cluster_defaults(family)
            for param in self.params.get("Parameters") or []:
                if param.get("ParameterName") not in known:
                    raise InvalidParameterValue(f"Could not find parameter with name: {param.get('ParameterName')}")
            if any(known[p.get("ParameterName")]["ApplyType"] == "static" for p in self.params.get("Parameters") or []):
                clusters.mark_pending_reboot(self.lab, group)
        return super().modify_db_cluster_parameter_group()  # type: ignore[misc, no-any-return]

    def reset_db_cluster_parameter_group(self) -> ActionResult:
        """moto: NotImplemented. The user value goes (back to the family's default); names the family lacks are
        refused like ModifyDBClusterParameterGroup's."""
        group = self.params.get("DBClusterParameterGroupName") or ""
        family = self._cluster_group_family(group)
        if group.startswith("default."):
            raise InvalidParameterValue("Cannot modify a default parameter group.")
        reset_all = str(self.params.get("ResetAllParameters", False)).lower() == "true"
        names = [p.get("ParameterName") for p in self.params.get("Parameters") or []]
        if reset_all == bool(names):
            raise InvalidParameterCombination("Specify either ResetAllParameters or Parameters, not both (and not "
                                              "neither).")
        known = _cluster_defaults(family) if family in aurora.FAMILIES + postgres_catalog.CLUSTER_FAMILIES else None
        for name in names:
            if known is not None and name not in known:
                raise InvalidParameterValue(f"Could not find parameter with name: {name}")
        parameters = self.backend.db_cluster_parameter_groups[group].parameters
        for name in list(parameters) if reset_all else names:
            parameters.pop(name, None)
        return ActionResult({"DBClusterParameterGroupName": group})

    def reboot_db_instance(self) -> ActionResult:
        """A reboot brings an Aurora instance in sync with its cluster parameter group."""
        name = self.params.get("DBInstanceIdentifier") or ""
        inst = self.backend.databases.get(name)
        if inst is not None and hasattr(inst, "lab_cluster_group_status"):
            inst.lab_cluster_group_status = "in-sync"
        return super().reboot_db_instance()  # type: ignore[misc, no-any-return]

    def describe_db_cluster_parameters(self) -> ActionResult:
        group = self.params.get("DBClusterParameterGroupName") or ""
        family = self._cluster_group_family(group)
        if family not in aurora.FAMILIES and family not in postgres_catalog.CLUSTER_FAMILIES:
            return super().describe_db_cluster_parameters()  # type: ignore[misc, no-any-return]
        merged = _cluster_defaults(family)
        for name, param in self.backend.db_cluster_parameter_groups[group].parameters.items():
            record = dict(merged.get(name, {"ParameterName": name}))
            if param.get("ParameterValue") is not None:
                record["ParameterValue"] = param["ParameterValue"]
            record["Source"] = "user"
            record["ApplyMethod"] = param.get("ApplyMethod", "immediate")
            merged[name] = record
        source = self.params.get("Source")
        return ActionResult({"Parameters": [p for p in merged.values() if not source or p["Source"] == source]})

    def describe_engine_default_cluster_parameters(self) -> ActionResult:
        family = self.params.get("DBParameterGroupFamily") or ""
        if family not in aurora.FAMILIES and family not in postgres_catalog.CLUSTER_FAMILIES:
            raise InvalidParameterValue(f"Invalid DB parameter group family: {family}.")
        return ActionResult({"EngineDefaults": {"DBParameterGroupFamily": family,
                                                "Parameters": list(_cluster_defaults(family).values())}})

    # -- blue/green for a cluster (moto: no validation, one detail row, instance task names) -------------------
    def create_cluster_deployment(self, name: str, source: str) -> ActionResult:
        blue = self._cluster(source)
        if blue.status != "available":
            raise _cluster_state_error(f"Source cluster {blue.db_cluster_identifier} is {blue.status}, not available.")
        if getattr(blue, "manage_master_user_password", False) or hasattr(blue, "master_user_secret"):
            raise RDSClientError("SourceClusterNotSupportedFault",
                                 "Blue/green deployments are not supported for a source cluster whose master password "
                                 "is managed in AWS Secrets Manager.")
        if not aurora.blue_green_supported(blue.engine_version):
            raise RDSClientError("SourceClusterNotSupportedFault",
                                 f"Aurora MySQL {aurora.aurora_version(blue.engine_version)} is not supported as a "
                                 "blue/green source (versions 2.08 and 2.09 are not).")
        existing = clusters.in_deployment(self.lab, blue)
        if existing is not None:
            raise _cluster_state_error(
                f"DB cluster {blue.db_cluster_identifier} is already part of blue/green deployment "
                f"{existing.blue_green_deployment_identifier}.")
        target = self.params.get("TargetEngineVersion") or blue.engine_version
        if target != blue.engine_version:
            valid = [t["EngineVersion"] for t in aurora.upgrade_targets(blue.engine_version)]
            if target not in valid:
                raise InvalidParameterCombination(
                    f"Cannot upgrade aurora-mysql from {blue.engine_version} to {target}. Valid upgrade targets: "
                    f"{', '.join(valid) or 'none'}.")
            if not aurora.blue_green_supported(target):
                raise InvalidParameterCombination(
                    f"Aurora MySQL {aurora.aurora_version(target)} is not supported as a blue/green target.")
        cluster_group = self.params.get("TargetDBClusterParameterGroupName")
        if cluster_group:
            self._check_cluster_group_for(cluster_group, target, "TargetDBClusterParameterGroupName")
        elif aurora.family_of(target) != aurora.family_of(blue.engine_version):
            raise InvalidParameterCombination(
                "A major version upgrade needs a DB cluster parameter group of the new family: pass "
                "TargetDBClusterParameterGroupName.")
        instance_group = self.params.get("TargetDBParameterGroupName")
        if instance_group:
            self._check_instance_group_for(instance_group, target)
        if not clusters.members(blue):
            raise _cluster_state_error(f"Source cluster {blue.db_cluster_identifier} has no DB instances.")
        self.params["Source"] = blue.db_cluster_arn
        created = self.backend.create_blue_green_deployment(self.params)
        bgd = self.backend.blue_green_deployments[created.blue_green_deployment_identifier]
        cluster_deployments.provision_green(self.lab, bgd, blue, self._cluster(bgd.target))
        return ActionResult({"BlueGreenDeployment": bgd})


def _cluster_defaults(family: str) -> dict[str, dict[str, Any]]:
    """A cluster parameter group family's engine defaults (Aurora MySQL's or Aurora PostgreSQL's catalog)."""
    if family in postgres_catalog.CLUSTER_FAMILIES:
        return postgres_catalog.default_parameters(family, cluster=True)
    return aurora.cluster_default_parameters(family)


def is_cluster_arn(arn: str | None) -> bool:
    return bool(arn) and ":cluster:" in str(arn)

