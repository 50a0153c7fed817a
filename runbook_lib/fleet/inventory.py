"""The fleet inventory: every RDS for MySQL / Aurora MySQL database (and PostgreSQL, flagged) in the accounts and
Regions given, what must move to MySQL 8.0, and what Extended Support costs meanwhile.

RDS clients are passed in, one per (account, Region): nothing here creates a client or keeps state between calls.
Every field is read from the API or marked unknown with the reason (an API the endpoint does not implement, a field
it does not return); nothing is inferred silently. Old blues are recognised by the deployment that switched them
over (its Source after SWITCHOVER_COMPLETED), else by their `-oldN` name, and the row says which.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from runbook_lib.fleet.pricing import ENGINE_TITLES, Billed, Lifecycle, PriceBook, estimate, lifecycle_from_api

IN_SCOPE = ("mysql", "aurora-mysql", "postgres", "aurora-postgresql")
RUNBOOK_ENGINES = ("mysql", "aurora-mysql")      # what the runbook moves today (PostgreSQL: listed, not moved)
OLD_NAME = re.compile(r"-old(\d+)$")
COMPLETED = "SWITCHOVER_COMPLETED"
ENDED = ("DELETING",)
# What a describe call can raise when the endpoint refuses or does not implement it (moto answers 500 with HTML).
_API_ERRORS = (ClientError, BotoCoreError, ResponseParserError)


@dataclass(frozen=True)
class Target:
    """One (account, Region) to scan, with its RDS client. `account` is the label the user gave (a profile, a role
    ARN, `lab`); `account_id` is what STS said, when the caller asked it."""

    account: str
    region: str
    rds: Any
    account_id: str | None = None


@dataclass
class Row:
    """One database: a standalone DB instance, an Aurora cluster or a Multi-AZ DB cluster."""

    account: str
    account_id: str | None
    region: str
    identifier: str
    kind: str                       # instance | aurora-cluster | multi-az-cluster
    arn: str | None
    resource_id: str | None
    engine: str
    engine_version: str
    major: str
    status: str | None
    instance_classes: list[str]
    members: list[str]
    multi_az: bool | None
    engine_lifecycle_support: str | None
    lifecycle: dict[str, Any]
    blue_green: list[dict[str, Any]]
    old_blue: dict[str, Any] | None
    action: str                     # move | moving | skip
    reason: str
    runbook_supports: bool
    estimate: dict[str, Any]

    @property
    def monthly_usd(self) -> float | None:
        value = self.estimate.get("monthly_usd")
        return float(value) if value is not None else None


@dataclass
class Inventory:
    as_of: date
    target_major: str
    rows: list[Row]
    targets: list[dict[str, Any]]
    ignored: list[dict[str, Any]]
    price_sources: list[dict[str, str]]
    overrides: list[str]
    elapsed_s: float = 0.0

    def must_move(self) -> list[Row]:
        return [r for r in self.rows if r.action in ("move", "moving")]

    def summary(self) -> dict[str, Any]:
        known = [r.monthly_usd for r in self.rows if r.monthly_usd is not None]
        by: dict[str, float] = {}
        for r in self.rows:
            if r.monthly_usd is not None:
                key = f"{r.region} / {ENGINE_TITLES.get(r.engine, r.engine)}"
                by[key] = round(by.get(key, 0.0) + r.monthly_usd, 2)
        return {"databases": len(self.rows), "must_move": len(self.must_move()),
                "move": sum(r.action == "move" for r in self.rows),
                "moving": sum(r.action == "moving" for r in self.rows),
                "skipped": sum(r.action == "skip" for r in self.rows),
                "monthly_usd_known": round(sum(known), 2),
                "monthly_usd_must_move": round(sum(r.monthly_usd or 0.0 for r in self.must_move()), 2),
                "cost_unknown": sum(r.monthly_usd is None for r in self.rows),
                "monthly_usd_by_region_engine": by,
                "targets_with_errors": sum(bool(t.get("errors")) for t in self.targets)}

    def to_json(self) -> dict[str, Any]:
        return {"format": "bluegreen-runbook fleet inventory v1", "as_of": self.as_of.isoformat(),
                "target_major": self.target_major, "summary": self.summary(), "targets": self.targets,
                "rows": [asdict(r) for r in self.rows], "ignored": self.ignored,
                "price_sources": self.price_sources, "price_overrides": self.overrides,
                "elapsed_s": round(self.elapsed_s, 3)}

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["account", "account_id", "region", "identifier", "kind", "engine", "engine_version", "major",
                         "status", "instance_classes", "multi_az", "engine_lifecycle_support", "standard_support_end",
                         "lifecycle_origin", "blue_green", "old_blue_evidence", "action", "reason", "vcpus",
                         "support_year", "usd_per_vcpu_hour", "monthly_usd", "cost_unknown_why", "price_source",
                         "resource_id", "arn"])
        for r in self.rows:
            e = r.estimate
            writer.writerow([r.account, r.account_id or "", r.region, r.identifier, r.kind, r.engine, r.engine_version,
                             r.major, r.status or "", " ".join(r.instance_classes),
                             "" if r.multi_az is None else str(r.multi_az).lower(), r.engine_lifecycle_support or "",
                             r.lifecycle.get("standard_end") or "", r.lifecycle.get("origin") or "",
                             "; ".join(f"{b['id']} {b['role']} {b['status']}" for b in r.blue_green),
                             (r.old_blue or {}).get("evidence", ""), r.action, r.reason,
                             "" if e.get("vcpus") is None else e["vcpus"], "" if e.get("year") is None else e["year"],
                             "" if e.get("rate") is None else e["rate"],
                             "" if e.get("monthly_usd") is None else f"{e['monthly_usd']:.2f}", e.get("unknown") or "",
                             e.get("source") or "", r.resource_id or "", r.arn or ""])
        return out.getvalue()

    def table(self) -> str:
        """A fixed-width table for a terminal or a notebook."""
        head = ("account", "region", "database", "engine", "version", "class", "vCPU", "B/G", "action", "$/month",
                "yr", "reason")
        lines = []
        for r in self.rows:
            e = r.estimate
            cost = f"{e['monthly_usd']:.2f}" if e.get("monthly_usd") is not None else "unknown"
            classes = ",".join(sorted(set(r.instance_classes))) + (f" x{len(r.instance_classes)}"
                                                                   if len(r.instance_classes) > 1 else "")
            lines.append((r.account[:14], r.region, r.identifier[:28], r.engine, r.engine_version[:24],
                          (classes + (" MAZ" if r.multi_az and r.kind == "instance" else ""))[:22],
                          str(e.get("vcpus") if e.get("vcpus") is not None else "?"),
                          ",".join(b["role"] for b in r.blue_green) or "-", r.action, cost,
                          str(e.get("year") if e.get("year") is not None else "?"),
                          (r.reason + (f"; cost unknown: {e['unknown']}" if e.get("unknown") else ""))[:90]))
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*line) for line in lines]
        s = self.summary()
        out.append("")
        out.append(f"{s['databases']} databases: {s['must_move']} must move ({s['move']} to start, {s['moving']} "
                   f"already in a deployment), {s['skipped']} skipped; Extended Support as of {self.as_of}: "
                   f"${s['monthly_usd_known']:.2f}/month known (${s['monthly_usd_must_move']:.2f} on the databases "
                   f"that must move), {s['cost_unknown']} unknown")
        for t in self.targets:
            for err in t.get("errors", []):
                out.append(f"  {t['account']} {t['region']}: {err}")
        return "\n".join(out)

    def plot(self, path: Path) -> Path:
        """Bar chart of the known monthly estimate by Region, stacked by engine (PNG)."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        regions = sorted({r.region for r in self.rows})
        engines = [e for e in IN_SCOPE if any(r.engine == e for r in self.rows)]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(regions) + 3), 4.5))
        bottom = [0.0] * len(regions)
        for engine in engines:
            values = [sum(r.monthly_usd or 0.0 for r in self.rows if r.region == region and r.engine == engine)
                      for region in regions]
            ax.bar(regions, values, bottom=bottom, label=ENGINE_TITLES.get(engine, engine))
            bottom = [b + v for b, v in zip(bottom, values)]
        for x, total in enumerate(bottom):
            ax.annotate(f"${total:,.0f}", (x, total), ha="center", va="bottom", fontsize=9)
        unknown = self.summary()["cost_unknown"]
        ax.set_ylabel("USD per month (730 h)")
        ax.set_title(f"RDS Extended Support estimate by Region and engine, as of {self.as_of}"
                     + (f"\n({unknown} database{'s' if unknown != 1 else ''} with unknown cost not shown)"
                        if unknown else ""), fontsize=10)
        if engines:
            ax.legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


# -- reading one target --------------------------------------------------------------------------------------------
def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
        return
    marker: str | None = None
    while True:
        page = getattr(client, operation)(**kwargs, **({"Marker": marker} if marker else {}))
        yield from page.get(key, [])
        marker = page.get("Marker")
        if not marker:
            return


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: {str(err.get('Message') or '')[:200]}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def major_of(engine: str, version: str) -> str:
    """The major version as the runbook compares it: MySQL-compatible X.Y for mysql and aurora-mysql (Aurora MySQL
    '5.7.mysql_aurora.2.11.2' -> 5.7), the first number for PostgreSQL."""
    parts = version.split(".")
    if engine in ("postgres", "aurora-postgresql"):
        return parts[0]
    return ".".join(parts[:2])


def _version_tuple(major: str) -> tuple[int, ...]:
    return tuple(int(p) for p in major.split(".") if p.isdigit())


@dataclass
class _Lifecycles:
    """DescribeDBMajorEngineVersions for one target, read once per engine; `why` says why a lifecycle is unknown."""

    rds: Any
    found: dict[str, dict[str, Lifecycle]] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)

    def get(self, engine: str, major: str) -> tuple[Lifecycle | None, str]:
        if engine not in self.found and engine not in self.why:
            self._read(engine)
        if engine in self.why:
            return None, self.why[engine]
        found = self.found[engine].get(major)
        if found is None and engine == "aurora-mysql":   # should the API name Aurora MySQL majors by its own number
            found = self.found[engine].get({"5.7": "2", "8.0": "3"}.get(major, major))
        if found is None:
            return None, f"DescribeDBMajorEngineVersions lists no {engine} {major}"
        return found, ""

    def _read(self, engine: str) -> None:
        if not hasattr(self.rds, "describe_db_major_engine_versions"):
            import botocore
            self.why[engine] = (f"this botocore ({botocore.__version__}) has no DescribeDBMajorEngineVersions: "
                                "upgrade boto3/botocore")
            return
        try:
            rows = list(_pages(self.rds, "describe_db_major_engine_versions", "DBMajorEngineVersions", Engine=engine))
        except _API_ERRORS as exc:
            self.why[engine] = f"DescribeDBMajorEngineVersions did not answer here ({_why(exc)})"
            return
        self.found[engine] = {str(r.get("MajorEngineVersion")): lifecycle_from_api(
            engine, str(r.get("MajorEngineVersion")), r.get("SupportedEngineLifecycles") or []) for r in rows}


def _membership(deployments: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """ARN -> the deployments naming it, with the role (source or target) and where the ARN was read."""
    found: dict[str, list[dict[str, Any]]] = {}

    def add(arn: Any, d: dict[str, Any], role: str, where: str) -> None:
        if not arn:
            return
        entries = found.setdefault(str(arn), [])
        ident = d.get("BlueGreenDeploymentIdentifier")
        for e in entries:
            if e["id"] == ident and e["role"] == role:
                if where not in e["from"]:
                    e["from"].append(where)
                return
        entries.append({"id": ident, "name": d.get("BlueGreenDeploymentName"), "status": d.get("Status"),
                        "role": role, "from": [where]})

    for d in deployments:
        add(d.get("Source"), d, "source", "Source")
        add(d.get("Target"), d, "target", "Target")
        for detail in d.get("SwitchoverDetails") or []:
            add(detail.get("SourceMember"), d, "source", "SwitchoverDetails")
            add(detail.get("TargetMember"), d, "target", "SwitchoverDetails")
    return found


def _classify(row: Row, names_in_use: set[str], target_major: str, runbook_engines: Sequence[str]) -> None:
    """Set action and reason: old blue > green of a live deployment > source of a live deployment > engine > version."""
    completed_source = [b for b in row.blue_green if b["role"] == "source" and b["status"] == COMPLETED]
    live = [b for b in row.blue_green if b["status"] not in (COMPLETED, *ENDED)]
    old = OLD_NAME.search(row.identifier)
    if completed_source:
        b = completed_source[0]
        row.old_blue = {"evidence": "deployment", "deployment": b["id"],
                        "detail": f"source of {b['name'] or b['id']} after its switchover ({', '.join(b['from'])})"}
    elif old:
        base = row.identifier[:old.start()]
        row.old_blue = {"evidence": "name only", "deployment": None,
                        "detail": f"named like an old blue ({row.identifier}); no deployment names it (deleted, or "
                                  f"in another account/Region){'; ' + base + ' exists' if base in names_in_use else ''}"}
    if row.old_blue:
        row.action, row.reason = "skip", f"old blue: {row.old_blue['detail']}"
        return
    greens = [b for b in live if b["role"] == "target"]
    if greens:
        b = greens[0]
        row.action, row.reason = "skip", f"green of {b['name'] or b['id']} ({b['status']})"
        return
    if row.engine not in runbook_engines:
        row.action = "skip"
        row.reason = (f"{ENGINE_TITLES.get(row.engine, row.engine)}: listed with its cost; the runbook does not "
                      "move it (yet)")
        return
    if _version_tuple(row.major) >= _version_tuple(target_major):
        row.action, row.reason = "skip", f"already on {row.major} (target {target_major})"
        return
    sources = [b for b in live if b["role"] == "source"]
    if sources:
        b = sources[0]
        row.action = "moving"
        row.reason = (f"source of {b['name'] or b['id']} ({b['status']}): a blue/green run is under way; resume it "
                      "rather than start another")
        return
    row.action, row.reason = "move", f"{row.engine} {row.major} -> {target_major}"


def scan(target: Target, book: PriceBook, as_of: date, target_major: str = "8.0",
         runbook_engines: Sequence[str] = RUNBOOK_ENGINES) -> tuple[list[Row], dict[str, Any], list[dict[str, Any]]]:
    """Read one (account, Region): its rows, a report of what was read (and what could not be), ignored engines."""
    report: dict[str, Any] = {"account": target.account, "account_id": target.account_id, "region": target.region,
                              "errors": [], "unknown": {}}
    rds = target.rds
    try:
        instances = list(_pages(rds, "describe_db_instances", "DBInstances"))
    except _API_ERRORS as exc:
        report["errors"].append(f"DescribeDBInstances failed, nothing listed here: {_why(exc)}")
        return [], report, []
    try:
        clusters = list(_pages(rds, "describe_db_clusters", "DBClusters"))
    except _API_ERRORS as exc:
        clusters = []
        report["errors"].append(f"DescribeDBClusters failed, clusters not listed: {_why(exc)}")
    deployments_known = True
    try:
        deployments = list(_pages(rds, "describe_blue_green_deployments", "BlueGreenDeployments"))
    except _API_ERRORS as exc:
        deployments, deployments_known = [], False
        report["errors"].append(f"DescribeBlueGreenDeployments failed, deployment membership unknown: {_why(exc)}")
    report["read"] = {"instances": len(instances), "clusters": len(clusters), "deployments": len(deployments)}
    members = _membership(deployments)
    lifecycles = _Lifecycles(rds)
    by_id = {str(i["DBInstanceIdentifier"]): i for i in instances}
    names = set(by_id) | {str(c["DBClusterIdentifier"]) for c in clusters}
    rows: list[Row] = []
    ignored: list[dict[str, Any]] = []

    def build(ident: str, kind: str, arn: str | None, resource_id: str | None, engine: str, version: str,
              status: str | None, classes: list[str], member_ids: list[str], multi_az: bool | None,
              lifecycle_support: str | None, deployment: str) -> None:
        major = major_of(engine, version)
        observed, why = lifecycles.get(engine, major)
        if why:
            report["unknown"].setdefault("lifecycle_api", {})[engine] = why
        life = book.lifecycle(engine, major, observed)
        lifecycle = {"origin": life.origin if life and life.known else "unknown",
                     "standard_end": life.standard_end.isoformat() if life and life.standard_end else None,
                     "extended_end": life.extended_end.isoformat() if life and life.extended_end else None,
                     "source": (life.source if life else "") or "",
                     "api": "answered" if observed else why,
                     "note": (life.note if life else "") or ""}
        est = estimate(Billed(engine, major, target.region, tuple(classes), deployment, lifecycle_support, observed),
                       book, as_of)
        row = Row(target.account, target.account_id, target.region, ident, kind, arn, resource_id, engine, version,
                  major, status, classes, member_ids, multi_az, lifecycle_support, lifecycle,
                  members.get(arn or "", []) if deployments_known else [], None, "move", "", engine in runbook_engines,
                  est.as_dict())
        if not deployments_known:
            row.blue_green = [{"id": None, "name": None, "status": "unknown", "role": "unknown",
                               "from": ["DescribeBlueGreenDeployments failed"]}]
        _classify(row, names, target_major, runbook_engines)
        rows.append(row)

    for c in clusters:
        engine = str(c.get("Engine") or "")
        ident = str(c["DBClusterIdentifier"])
        if engine not in IN_SCOPE:
            ignored.append({"region": target.region, "identifier": ident, "engine": engine, "why": "engine out of scope"})
            continue
        member_ids = [str(m["DBInstanceIdentifier"]) for m in c.get("DBClusterMembers") or []]
        aurora = engine.startswith("aurora")
        if aurora:
            classes = [str(by_id[m]["DBInstanceClass"]) for m in member_ids if m in by_id]
            deployment = "aurora"
        else:   # a Multi-AZ DB cluster: three instances of DBClusterInstanceClass
            cls_ = c.get("DBClusterInstanceClass")
            classes = ([str(by_id[m]["DBInstanceClass"]) for m in member_ids if m in by_id]
                       or ([str(cls_)] * 3 if cls_ else []))
            deployment = "multi-az-cluster"
        build(ident, "aurora-cluster" if aurora else "multi-az-cluster", c.get("DBClusterArn"),
              c.get("DbClusterResourceId"), engine, str(c.get("EngineVersion") or ""), c.get("Status"), classes,
              member_ids, c.get("MultiAZ"), c.get("EngineLifecycleSupport"), deployment)
    for ident, i in by_id.items():
        if i.get("DBClusterIdentifier"):
            continue    # a member: counted in its cluster's row
        engine = str(i.get("Engine") or "")
        if engine not in IN_SCOPE:
            ignored.append({"region": target.region, "identifier": ident, "engine": engine, "why": "engine out of scope"})
            continue
        multi_az = i.get("MultiAZ")
        build(ident, "instance", i.get("DBInstanceArn"), i.get("DbiResourceId"), engine,
              str(i.get("EngineVersion") or ""), i.get("DBInstanceStatus"), [str(i.get("DBInstanceClass") or "")],
              [], multi_az, i.get("EngineLifecycleSupport"), "multi-az-instance" if multi_az else "single-az")
    if any(r.engine_lifecycle_support is None for r in rows):
        report["unknown"]["EngineLifecycleSupport"] = "not returned by this endpoint for some databases"
    return rows, report, ignored


def collect(targets: Sequence[Target], book: PriceBook, as_of: date, target_major: str = "8.0",
            runbook_engines: Sequence[str] = RUNBOOK_ENGINES, workers: int = 4,
            clock: Callable[[], float] | None = None) -> Inventory:
    """Scan every target (up to `workers` at once) and gather one inventory, rows ordered by account, Region, name."""
    import time
    tick = clock or time.monotonic
    started = tick()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets) or 1))) as pool:
        results = list(pool.map(lambda t: scan(t, book, as_of, target_major, runbook_engines), targets))
    rows = sorted((r for rs, _, _ in results for r in rs), key=lambda r: (r.account, r.region, r.identifier))
    inv = Inventory(as_of, target_major, rows, [rep for _, rep, _ in results],
                    [i for _, _, ig in results for i in ig], book.sources(), list(book.overrides))
    inv.elapsed_s = tick() - started
    return inv


def write_outputs(inv: Inventory, folder: Path) -> dict[str, Path]:
    """inventory.json, inventory.csv, inventory.txt and the cost plot, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "inventory.json", "csv": folder / "inventory.csv", "table": folder / "inventory.txt",
             "plot": folder / "cost_by_region_engine.png"}
    doc = inv.to_json()
    doc["generated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    paths["json"].write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    paths["csv"].write_text(inv.to_csv(), encoding="utf-8")
    paths["table"].write_text(inv.table() + "\n", encoding="utf-8")
    inv.plot(paths["plot"])
    return paths
