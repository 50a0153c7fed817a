"""Everything the lab takes from moto beyond its public server: the RDS and CloudWatch backends (the records the
lab moves through RDS's states), moto's model classes for blue/green tasks and switchover details, and the one
class swap that gives a DB instance the lab's loopback endpoint.

moto documents none of this as API; it is kept here, in one module, so that a moto release that changes it
breaks one place, and tests/test_moto_internals.py fails loudly naming what changed. The lab extra pins moto
to the series these were checked against.
"""

from __future__ import annotations

from typing import Any

import moto.iam.urls
import moto.rds.urls
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.responses import IamResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.rds.exceptions import (
    BlueGreenDeploymentNotFoundFault,
    DBClusterNotFoundError,
    DBClusterParameterGroupNotFoundError,
    DBInstanceNotFoundError,
    DBParameterGroupNotFoundError,
    DBSnapshotAlreadyExistsError,
    InvalidParameterCombination,
    InvalidParameterValue,
    OptionGroupNotFoundFaultError,
    RDSClientError,
)
from moto.rds.models import (
    BlueGreenDeployment,
    BlueGreenDeploymentTask,
    DBCluster,
    DBInstance,
    DBInstanceClustered,
    SwitchoverDetails,
    rds_backends,
)
from moto.rds.responses import RDSResponse

__all__ = ["DEFAULT_ACCOUNT_ID", "ActionResult", "BlueGreenDeployment", "BlueGreenDeploymentNotFoundFault",
           "DBCluster", "DBClusterNotFoundError", "DBClusterParameterGroupNotFoundError", "DBInstanceClustered",
           "LabDBCluster", "LabDBInstanceClustered", "adopt_cluster", "join_cluster", "CLUSTER_HOST", "READER_HOST", "new_cluster_parameter_group",
           "DBInstance", "DBInstanceNotFoundError", "DBParameterGroupNotFoundError", "DBSnapshotAlreadyExistsError",
           "IamResponse", "InvalidParameterCombination", "InvalidParameterValue", "LabDBInstance",
           "MotoRequestHandler", "OptionGroupNotFoundFaultError", "RDSClientError", "RDSResponse", "adopt",
           "cloudwatch_put", "moto_app", "new_switchover_detail", "new_task", "rds_backend", "reset_backends",
           "utcnow"]

# What the lab reads and writes on moto's objects (checked by tests/test_moto_internals.py).
RDS_BACKEND_ATTRIBUTES = ("databases", "blue_green_deployments", "db_parameter_groups", "option_groups",
                          "database_snapshots", "events", "clusters", "db_cluster_parameter_groups",
                          "cluster_snapshots")
CLUSTER_ATTRIBUTES = ("db_cluster_identifier", "db_cluster_resource_id", "db_cluster_arn", "status", "engine",
                      "engine_version", "parameter_group", "port", "backup_retention_period", "tags")
INSTANCE_ATTRIBUTES = ("db_instance_identifier", "dbi_resource_id", "status", "engine", "engine_version",
                       "db_parameter_group_name", "option_group_name", "source_db_instance_identifier",
                       "is_replica", "replicas", "tags", "port", "db_instance_arn", "backup_retention_period")
DEPLOYMENT_ATTRIBUTES = ("blue_green_deployment_identifier", "blue_green_deployment_name", "source", "target",
                         "status", "status_details", "tasks", "switchover_details")


def rds_backend(account: str, region: str) -> Any:
    """moto's RDS records for one account and Region."""
    return rds_backends[account][region]


def reset_backends(account: str, region: str) -> None:
    """Forget every RDS and CloudWatch record of this account and Region (moto's backend reset)."""
    rds_backends[account][region].reset()
    cloudwatch_backends[account][region].reset()


def cloudwatch_put(account: str, region: str, namespace: str, data: list[dict[str, Any]]) -> None:
    """A datapoint into moto's CloudWatch, as RDS publishes its metrics."""
    cloudwatch_backends[account][region].put_metric_data(namespace, data)


def new_task(name: str, status: str) -> Any:
    return BlueGreenDeploymentTask(name, status)


def new_switchover_detail(source_arn: str, target_arn: str, status: str) -> Any:
    return SwitchoverDetails(source_arn, target_arn, status)


class LabDBInstance(DBInstance):
    """A moto DB instance whose endpoint is the lab's loopback proxy for its name."""

    lab_endpoint_port: int = 0

    @property
    def address(self) -> str:
        return "127.0.0.1"


class LabDBInstanceClustered(DBInstanceClustered):
    """A moto Aurora instance whose endpoint is the lab's loopback proxy for its name."""

    lab_endpoint_port: int = 0

    @property
    def address(self) -> str:
        return "127.0.0.1"


def adopt(inst: Any) -> None:
    """Make a DB instance moto created answer with the lab's endpoint (moto builds the address from the name)."""
    inst.__class__ = LabDBInstanceClustered if isinstance(inst, DBInstanceClustered) else LabDBInstance


# The lab's cluster endpoints: the same port on two loopback addresses, as Aurora's cluster and reader endpoints
# are two DNS names on the cluster's one port (docs/lab-rules.md).
CLUSTER_HOST, READER_HOST = "127.0.0.1", "127.0.0.2"


class LabDBCluster(DBCluster):
    """A moto cluster whose members are matched by the cluster's resource id (moto matches names, so a rename
    moves instances between clusters) and whose endpoints are the lab's loopback proxies."""

    @property
    def _members(self) -> list[Any]:
        return [i for i in self.backend.databases.values() if isinstance(i, DBInstanceClustered)
                and getattr(i, "lab_cluster_resource_id", None) == self.db_cluster_resource_id]

    @property
    def status(self) -> str:  # moto flips `creating` to `available` on the first read; the lab moves it itself
        return str(self._status)

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    @property
    def db_cluster_members(self) -> list[dict[str, Any]]:
        """moto says `in-sync` always; the lab keeps `pending-reboot` after a static change until a reboot."""
        return [{"DBInstanceIdentifier": m.db_instance_identifier, "IsClusterWriter": m.is_cluster_writer,
                 "DBClusterParameterGroupStatus": getattr(m, "lab_cluster_group_status", "in-sync"),
                 "PromotionTier": m.promotion_tier} for m in self.members]

    @property
    def endpoint(self) -> str:
        return CLUSTER_HOST

    @property
    def reader_endpoint(self) -> str:
        return READER_HOST


def adopt_cluster(cluster: Any) -> None:
    cluster.__class__ = LabDBCluster


def join_cluster(inst: Any, cluster: Any) -> None:
    """Record the member's cluster by resource id (names move at switchover, resource ids do not)."""
    inst.lab_cluster_resource_id = cluster.db_cluster_resource_id
    inst.cluster = cluster
    inst.db_cluster_identifier = cluster.db_cluster_identifier


def new_cluster_parameter_group(backend: Any, name: str, family: str, description: str) -> Any:
    """A cluster parameter group record created by the lab itself (RDS's default groups)."""
    return backend.create_db_cluster_parameter_group(name, family, description, [])


def moto_app(rds_dispatch: Any, iam_dispatch: Any, region: str) -> Any:
    """moto's server WSGI application with the lab's RDS and IAM response classes answering for those services
    (moto's server routes each service through its `url_paths`; the lab replaces the two it extends). The lab's
    data plane serves one Region; RDS requests signed for another Region get moto's plain records (enough for a
    fleet inventory across Regions)."""
    def rds(request: Any, full_url: str, headers: Any) -> Any:
        if request_region(request, full_url) != region:
            return RDSResponse.dispatch(request, full_url, headers)
        return rds_dispatch(request, full_url, headers)
    moto.rds.urls.url_paths = {"{0}/$": rds}
    moto.iam.urls.url_paths = {"{0}/$": iam_dispatch}
    return DomainDispatcherApplication(create_backend_app)


def request_region(request: Any, full_url: str) -> str:
    """The Region a request is for, as moto reads it (URL, user agent or SigV4 credential scope)."""
    return str(RDSResponse().get_region_from_url(request, full_url))
