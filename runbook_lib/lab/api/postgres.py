"""The lab's RDS API for PostgreSQL sources of blue/green deployments (RDS for PostgreSQL instances, Aurora PostgreSQL
clusters): RDS's validation of CreateBlueGreenDeployment for them, the refusal of a switchover once green is
"Replication degraded", and the PostgreSQL side of DeleteBlueGreenDeployment, DeleteDBInstance and DeleteDBCluster.

A mixin of LabRDSResponse (lab/api/rds.py), which routes here when the resource's engine is PostgreSQL. Each rule is in
docs/lab-rules.md, "PostgreSQL"."""

from __future__ import annotations

from typing import Any

from runbook_lib.lab import postgres_catalog as catalog
from runbook_lib.lab.api.clusters import _group_not_found
from runbook_lib.lab.control import clusters, postgres_deployments, postgres_instances, postgres_switchover
from runbook_lib.lab.control.core import Lab
from runbook_lib.lab.moto_internals import (
    DBCluster,
    DBParameterGroupNotFoundError,
    InvalidParameterCombination,
    RDSClientError,
)


def is_postgres_deployment(bgd: Any) -> bool:
    return getattr(bgd, "lab_pg", None) is not None


class PostgresAPI:
    """PostgreSQL handlers; `self` is a LabRDSResponse (params, backend, lab)."""

    lab: Lab
    params: Any
    backend: Any

    def _pg_source(self, source: str) -> Any | None:
        """The PostgreSQL instance or cluster `source` names (ARN or identifier), or None when it is not one."""
        for cluster in self.backend.clusters.values():
            if source in (cluster.db_cluster_arn, cluster.db_cluster_identifier):
                return cluster if cluster.engine in catalog.ENGINES else None
        for inst in self.backend.databases.values():
            if source in (inst.db_instance_arn, inst.db_instance_identifier):
                return inst if inst.engine in catalog.ENGINES and not hasattr(inst, "lab_cluster_resource_id") \
                    else None
        return None

    def create_pg_instance(self) -> Any:
        """CreateDBInstance of RDS for PostgreSQL: a known version, a group of its family, a real server."""
        version = self.params.get("EngineVersion") or ""
        if not catalog.is_known(catalog.POSTGRES, version):
            raise InvalidParameterCombination(f"Cannot find version {version or '(none given)'} for postgres")
        group = self.params.get("DBParameterGroupName")
        if group:
            self._check_family(group, catalog.POSTGRES, version, False, "DBParameterGroupName", version)
        inst = self.backend.create_db_instance(self.params)
        postgres_instances.create(self.lab, inst)
        return inst

    def _check_target_version(self, engine: str, current: str, target: str) -> None:
        if target == current:
            return
        valid = [t["EngineVersion"] for t in catalog.upgrade_targets(engine, current)]
        if target not in valid:
            raise InvalidParameterCombination(f"Cannot upgrade {engine} from {current} to {target}. Valid upgrade "
                                              f"targets: {', '.join(valid) or 'none'}.")

    def _check_family(self, group: str | None, engine: str, target: str, cluster: bool, parameter: str,
                      source_version: str) -> None:
        wanted = catalog.family_of(engine, target)
        if not group:
            if catalog.major_of(target) != catalog.major_of(source_version):
                raise InvalidParameterCombination(
                    f"A major version upgrade needs a {'DB cluster' if cluster else 'DB'} parameter group of the new "
                    f"family ({wanted}): pass {parameter}.")
            return
        groups = self.backend.db_cluster_parameter_groups if cluster else self.backend.db_parameter_groups
        if group not in groups:
            raise _group_not_found(group) if cluster else DBParameterGroupNotFoundError(group)
        record = groups[group]
        family = str(getattr(record, "db_parameter_group_family", None) or getattr(record, "family", ""))
        if family != wanted:
            raise InvalidParameterCombination(
                f"The {parameter} {group} has DBParameterGroupFamily {family}, which can't be used with engine "
                f"version {target}. Use a parameter group with DBParameterGroupFamily {wanted}.")

    def create_pg_deployment(self, blue: Any) -> Any:
        """CreateBlueGreenDeployment of a PostgreSQL source: validate, decide the replication, build green."""
        is_cluster = isinstance(blue, DBCluster)
        name = blue.db_cluster_identifier if is_cluster else blue.db_instance_identifier
        state_fault = "InvalidDBClusterStateFault" if is_cluster else "InvalidDBInstanceState"
        if blue.status != "available":
            raise RDSClientError(state_fault, f"Source {name} is {blue.status}, not available.")
        if not is_cluster and blue.backup_retention_period in (0, "0", None):
            raise RDSClientError(state_fault, f"Automated backups must be enabled on {name} "
                                              "(BackupRetentionPeriod > 0) before creating a blue/green deployment.")
        if getattr(blue, "manage_master_user_password", False):
            raise RDSClientError("SourceClusterNotSupportedFault" if is_cluster else "SourceDatabaseNotSupportedFault",
                                 "Blue/green deployments are not supported for a source whose master password is "
                                 "managed in AWS Secrets Manager.")
        arn = blue.db_cluster_arn if is_cluster else blue.db_instance_arn
        for existing in self.backend.blue_green_deployments.values():
            if arn in (existing.source, existing.target):
                raise RDSClientError(state_fault, f"{name} is already part of blue/green deployment "
                                                  f"{existing.blue_green_deployment_identifier}.")
        engine, current = str(blue.engine), str(blue.engine_version)
        target = self.params.get("TargetEngineVersion") or current
        self._check_target_version(engine, current, target)
        try:
            method = catalog.replication_method(engine, current, target)
        except ValueError as exc:
            raise InvalidParameterCombination(str(exc)) from None
        if is_cluster:
            self._check_family(self.params.get("TargetDBClusterParameterGroupName"), engine, target, True,
                               "TargetDBClusterParameterGroupName", current)
            instance_group = self.params.get("TargetDBParameterGroupName")
            if instance_group:
                self._check_family(instance_group, engine, target, False, "TargetDBParameterGroupName", current)
            if not clusters.members(blue):
                raise RDSClientError(state_fault, f"Source cluster {name} has no DB instances.")
        else:
            self._check_family(self.params.get("TargetDBParameterGroupName"), engine, target, False,
                               "TargetDBParameterGroupName", current)
        self.params["Source"] = arn
        created = self.backend.create_blue_green_deployment(self.params)
        bgd = self.backend.blue_green_deployments[created.blue_green_deployment_identifier]
        if is_cluster:
            green = next(c for c in self.backend.clusters.values() if c.db_cluster_arn == bgd.target)
            postgres_deployments.provision_cluster(self.lab, bgd, blue, green)
        else:
            postgres_deployments.provision_instance(self.lab, bgd, blue, self.backend.find_db_from_id(bgd.target),
                                                    method)
        return bgd

    def refuse_degraded_switchover(self, bgd: Any) -> None:
        """Switching page, guardrail "Unsupported PostgreSQL changes": switchover is not available once green is
        Replication degraded (the fault is assumed: docs/lab-rules.md)."""
        reasons = postgres_deployments.check(self.lab, bgd)
        if reasons:
            raise RDSClientError(
                "InvalidBlueGreenDeploymentStateFault",
                f"The blue/green deployment {bgd.blue_green_deployment_identifier} can't be switched over: "
                f"{postgres_deployments.DEGRADED} ({'; '.join(reasons)}). Delete the blue/green deployment with its "
                "green databases (DeleteTarget) and recreate it.")

    def start_pg_switchover(self, bgd: Any, timeout: int) -> None:
        postgres_switchover.start(self.lab, bgd, timeout)

    def stop_pg_replication(self, bgd: Any, green_goes: bool) -> None:
        """DeleteBlueGreenDeployment before a switchover: replication stops (queued before green's deletion)."""
        postgres_deployments.tear_down(self.lab, bgd, green_goes)
