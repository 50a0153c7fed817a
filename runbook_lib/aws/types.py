"""The RDS shapes the runbook reads, typed from botocore's service model by types-boto3 (a type-checking
dependency only: at run time every shape is the plain dict boto3 returns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types_boto3_cloudwatch.client import CloudWatchClient
    from types_boto3_iam.client import IAMClient
    from types_boto3_rds.client import RDSClient
    from types_boto3_rds.type_defs import BlueGreenDeploymentTypeDef as BlueGreenDeployment
    from types_boto3_rds.type_defs import DBEngineVersionResponseTypeDef as EngineVersion
    from types_boto3_rds.type_defs import DBInstanceTypeDef as DBInstance
    from types_boto3_rds.type_defs import DBParameterGroupTypeDef as ParameterGroup
    from types_boto3_rds.type_defs import DBSnapshotTypeDef as DBSnapshot
    from types_boto3_rds.type_defs import DescribeDBLogFilesDetailsTypeDef as LogFile
    from types_boto3_rds.type_defs import EventTypeDef as Event
    from types_boto3_rds.type_defs import OptionGroupTypeDef as OptionGroup
    from types_boto3_rds.type_defs import ParameterTypeDef as Parameter
    from types_boto3_rds.type_defs import UpgradeTargetTypeDef as UpgradeTarget
    from types_boto3_secretsmanager.client import SecretsManagerClient
    from types_boto3_sts.client import STSClient
else:
    BlueGreenDeployment = EngineVersion = DBInstance = ParameterGroup = DBSnapshot = LogFile = Event = dict
    OptionGroup = Parameter = UpgradeTarget = dict
    CloudWatchClient = IAMClient = RDSClient = SecretsManagerClient = STSClient = Any

__all__ = ["BlueGreenDeployment", "CloudWatchClient", "DBInstance", "DBSnapshot", "EngineVersion", "Event", "IAMClient",
           "LogFile", "OptionGroup", "Parameter", "ParameterGroup", "RDSClient", "STSClient", "SecretsManagerClient",
           "UpgradeTarget"]
