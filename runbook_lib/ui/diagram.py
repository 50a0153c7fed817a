"""Topology diagrams from live describe calls: which instances exist, on which version and groups,
which way replication flows, and which name each endpoint serves."""

from __future__ import annotations

import graphviz

from runbook_lib.aws.rds import RdsFacade
from runbook_lib.aws.types import DBInstance
from runbook_lib.ui import display

_COLOURS = {"blue": "#cfe2ff", "green": "#d1e7dd", "old": "#e2e3e5"}
_ENGINES = {"mysql": "MySQL", "mariadb": "MariaDB", "postgres": "PostgreSQL", "aurora-mysql": "Aurora MySQL",
            "aurora": "Aurora MySQL", "aurora-postgresql": "Aurora PostgreSQL"}


def engine_label(engine: str | None) -> str:
    return _ENGINES.get(str(engine), str(engine or "MySQL"))


def replication_label(blue: dict[str, object] | DBInstance, green: dict[str, object] | DBInstance) -> str:
    """How green is kept in sync: binlog (MySQL), logical or physical (PostgreSQL: logical for Aurora, and for RDS
    when green runs a higher major version; docs/postgresql.md)."""
    engine = str(blue.get("Engine") or "")
    if engine == "aurora-postgresql":
        return "logical replication"
    if engine == "postgres":
        majors = [str(x.get("EngineVersion") or "0").split(".")[0] for x in (blue, green)]
        return "logical replication" if majors[0] != majors[1] else "physical replication"
    return "binlog replication"


def related_instances(rds: RdsFacade, source: str) -> list[DBInstance]:
    """The source instance, its green twin and its old (-oldN) copies."""
    return [i for i in rds.instances()
            if i["DBInstanceIdentifier"] == source or i["DBInstanceIdentifier"].startswith(source + "-")]


def _role(instance: DBInstance, source: str) -> str:
    name = instance["DBInstanceIdentifier"]
    if name == source:
        return "blue"
    if "-green-" in name:
        return "green"
    return "old"


# graphviz scales a larger drawing down to this (inches; SVG points: 10 in = 720 pt = 960 CSS px).
SIZE = "10,12"


def topology(rds: RdsFacade, source: str, deployment_name: str | None, title: str) -> graphviz.Digraph:
    instances = related_instances(rds, source)
    deployment = rds.find_deployment(deployment_name) if deployment_name else None
    # Top-down and at most SIZE inches: it fits a notebook's output area (≤ 1,000 px) and the HTML record.
    g = graphviz.Digraph("topology", graph_attr={"rankdir": "TB", "label": title, "labelloc": "t", "size": SIZE,
                                                 "fontname": "Helvetica", "fontsize": "16"},
                         node_attr={"fontname": "Helvetica", "fontsize": "11"})
    g.node("clients", "Applications", shape="box3d")
    by_name = {i["DBInstanceIdentifier"]: i for i in instances}
    for inst in instances:
        name = inst["DBInstanceIdentifier"]
        role = _role(inst, source)
        groups = ", ".join(p["DBParameterGroupName"] for p in inst.get("DBParameterGroups", []))
        options = ", ".join(o["OptionGroupName"] for o in inst.get("OptionGroupMemberships", []))
        label = (f"{name}\\n{engine_label(inst.get('Engine'))} {inst['EngineVersion']} · {inst['DBInstanceStatus']}\\n"
                 f"params: {groups}\\noptions: {options}\\n{inst.get('DbiResourceId', '')}")
        g.node(name, label, shape="cylinder", style="filled", fillcolor=_COLOURS[role])
        endpoint = inst.get("Endpoint") or {}
        ep = f"endpoint_{name}"
        g.node(ep, f"endpoint {name}\\n{endpoint.get('Address', '?')}:{endpoint.get('Port', '?')}",
               shape="note", fontsize="10")
        g.edge(ep, name, style="dashed", arrowhead="none")
        if role != "old":
            g.edge("clients", ep, label="writes" if role == "blue" else "reads", style="solid" if role == "blue" else "dotted")
        src = inst.get("ReadReplicaSourceDBInstanceIdentifier")
        if src and src in by_name:
            g.edge(src, name, label=replication_label(by_name[src], inst), color="#0d6efd", penwidth="2")
        elif role == "green" and source in by_name and inst.get("Engine") == "postgres" and deployment \
                and deployment["Status"] != "SWITCHOVER_COMPLETED":
            g.edge(source, name, label=replication_label(by_name[source], inst), color="#0d6efd", penwidth="2")
    if deployment:
        g.node("bgd", f"blue/green deployment {deployment['BlueGreenDeploymentName']}\\n{deployment['Status']}",
               shape="component")
    return g


def show(rds: RdsFacade, source: str, deployment_name: str | None, title: str) -> graphviz.Digraph:
    return _render(topology(rds, source, deployment_name, title))


def _render(graph: graphviz.Digraph) -> graphviz.Digraph:
    """SVG in a notebook, the DOT source elsewhere."""
    if display.in_notebook():
        display.show(display.ipython_display().SVG(graph.pipe(format="svg")))
    else:
        print(graph.source)
    return graph


def cluster_topology(rds: RdsFacade, source: str, deployment_name: str | None, title: str) -> graphviz.Digraph:
    """Aurora clusters: the source cluster, its green twin and old (-oldN) copies, each with its instances (writer,
    readers), its cluster endpoint (writes) and reader endpoint (reads), and replication writer to writer."""
    clusters = [c for c in rds.clusters() if c["DBClusterIdentifier"] == source
                or c["DBClusterIdentifier"].startswith(source + "-")]
    deployment = rds.find_deployment(deployment_name) if deployment_name else None
    g = graphviz.Digraph("topology", graph_attr={"rankdir": "LR", "label": title, "labelloc": "t",
                                                 "fontname": "Helvetica", "fontsize": "16", "compound": "true"},
                         node_attr={"fontname": "Helvetica", "fontsize": "11"})
    g.node("clients", "Applications", shape="box3d")
    writers: dict[str, str] = {}
    by_role: dict[str, dict[str, object]] = {}
    for cluster in clusters:
        name = cluster["DBClusterIdentifier"]
        role = "blue" if name == source else "green" if "-green-" in name else "old"
        by_role[role] = cluster
        with g.subgraph(name=f"cluster_{name}") as sub:
            engine = engine_label(cluster.get("Engine"))
            sub.attr(label=f"{name}\\n{engine} {cluster['EngineVersion']} · {cluster['Status']}\\n"
                           f"cluster params: {cluster.get('DBClusterParameterGroup', '')}",
                     style="filled", fillcolor=_COLOURS[role])
            for member in cluster.get("DBClusterMembers", []):
                inst = member["DBInstanceIdentifier"]
                kind = "writer" if member["IsClusterWriter"] else "reader"
                sub.node(inst, f"{inst}\\n{kind}", shape="cylinder", style="filled", fillcolor="white")
                if member["IsClusterWriter"]:
                    writers[role] = inst
            for kind, key in (("cluster endpoint", "Endpoint"), ("reader endpoint", "ReaderEndpoint")):
                sub.node(f"{kind}_{name}", f"{kind}\\n{cluster.get(key, '?')}:{cluster.get('Port', '?')}",
                         shape="note", fontsize="10")
        members = cluster.get("DBClusterMembers", [])
        writer = next((m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]), None)
        reader = next((m["DBInstanceIdentifier"] for m in members if not m["IsClusterWriter"]), writer)
        if writer:
            g.edge(f"cluster endpoint_{name}", writer, style="dashed", arrowhead="none")
        if reader:
            g.edge(f"reader endpoint_{name}", reader, style="dashed", arrowhead="none")
        if role != "old":
            g.edge("clients", f"cluster endpoint_{name}", label="writes" if role == "blue" else "tests")
            if role == "blue":
                g.edge("clients", f"reader endpoint_{name}", label="reads", style="dotted")
    if "blue" in writers and "green" in writers:
        g.edge(writers["blue"], writers["green"], label=replication_label(by_role["blue"], by_role["green"]),
               color="#0d6efd", penwidth="2")
    if deployment:
        g.node("bgd", f"blue/green deployment {deployment['BlueGreenDeploymentName']}\\n{deployment['Status']}",
               shape="component")
    return g


def show_cluster(rds: RdsFacade, source: str, deployment_name: str | None, title: str) -> graphviz.Digraph:
    return _render(cluster_topology(rds, source, deployment_name, title))
