"""Which flow walks the source: the engine seam of steps 01–06.

The flow is chosen from the source's **live** `Engine` (DescribeDBInstances for `source_db_instance`,
DescribeDBClusters for `source_db_cluster`), read once per step, never from a name. Each flow module publishes
`STEPS`: step function name → the function that does that step for its engine; a step function the notebooks call
asks `flows.handler(step, name)` and hands over when there is one. A flow that has no entry for a step function
(and the MySQL instance flow for all of them) leaves it to the step module's own code, which is the RDS for MySQL
instance path.

| source | Engine | flow |
|---|---|---|
| DB instance | mysql | the step modules' own code |
| DB cluster | aurora-mysql (aurora) | `steps/cluster_flow.py` |
| DB instance | postgres | `steps/postgres_flow.py` (`INSTANCE_STEPS`) |
| DB cluster | aurora-postgresql | `steps/postgres_flow.py` (`CLUSTER_STEPS`) |
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from runbook_lib.errors import RunbookError
from runbook_lib.run.context import Step

# (instance|cluster, Engine) -> (module, name of its STEPS mapping); None: the step modules' own code.
REGISTRY: dict[tuple[str, str], tuple[str, str] | None] = {
    ("instance", "mysql"): None,
    ("cluster", "aurora-mysql"): ("runbook_lib.steps.cluster_flow", "STEPS"),
    ("cluster", "aurora"): ("runbook_lib.steps.cluster_flow", "STEPS"),
    ("instance", "postgres"): ("runbook_lib.steps.postgres_flow", "INSTANCE_STEPS"),
    ("cluster", "aurora-postgresql"): ("runbook_lib.steps.postgres_flow", "CLUSTER_STEPS"),
}


def kind(step: Step) -> str:
    return "cluster" if step.params.source_db_cluster else "instance"


def engine(step: Step) -> str:
    """The source's Engine as RDS reports it now (read once per step)."""
    context = step.context
    if context.source_engine is None:
        p = step.params
        source = step.rds.cluster(p.source_db_cluster) if p.source_db_cluster else step.rds.instance(
            p.source_db_instance)
        context.source_engine = str(source["Engine"])
    return context.source_engine


def steps_of(step: Step) -> dict[str, Callable[..., Any]]:
    """The flow's step functions for this source (empty: the step modules' own code)."""
    key = (kind(step), engine(step))
    if key not in REGISTRY:
        supported = ", ".join(f"{e} ({k})" for k, e in REGISTRY)
        source = step.params.source_db_cluster or step.params.source_db_instance
        raise RunbookError(f"{source} is a {key[0]} of engine {key[1]!r}, which this runbook does not walk "
                           f"(it does: {supported}). Nothing was changed.")
    entry = REGISTRY[key]
    if entry is None:
        return {}
    module, name = entry
    return dict(getattr(importlib.import_module(module), name))


def handler(step: Step, name: str) -> Callable[..., Any] | None:
    """The flow's function for step function `name`, or None when the step module's own code does it."""
    return steps_of(step).get(name)

