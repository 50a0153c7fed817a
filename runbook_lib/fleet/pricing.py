"""RDS Extended Support cost estimates from dated, sourced tables (no price is fetched at run time).

Three tables ship as package data (runbook_lib/fleet/data/): prices per engine, Region and support year; instance
class -> vCPUs; end-of-support dates per engine major version (used only where DescribeDBMajorEngineVersions does not
answer). Every figure carries its source and the date it was seen, and an estimate names the figures it used. What
is not in a table is reported as unknown with the reason, never guessed. A user file can override any row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from runbook_lib.errors import RunbookError

ENGINES = ("mysql", "aurora-mysql", "postgres", "aurora-postgresql")
ENGINE_TITLES = {"mysql": "RDS for MySQL", "aurora-mysql": "Aurora MySQL", "postgres": "RDS for PostgreSQL",
                 "aurora-postgresql": "Aurora PostgreSQL"}
YEARS = ("1-2", "3")

# AWS bills by the hour; monthly figures use 730 hours (365 x 24 / 12), the convention of AWS's pricing calculator and
# of the awslabs table's worked example ("0.10 x 2 x 730 = $146.00/month").
HOURS_PER_MONTH = 730.0

# How many instances Extended Support bills for one database, with the source of each rule (docs/fleet.md).
BILLING_RULES: dict[str, tuple[str, str]] = {
    "single-az": ("1 x the instance's vCPUs", ""),
    "multi-az-instance": (
        "2 x the instance's vCPUs: the Multi-AZ standby is billed too",
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/extended-support-charges.html ('RDS Extended Support "
        "charges apply to standby instances in Multi-AZ deployments'; stored copy seen 2026-11-25)"),
    "multi-az-cluster": (
        "the vCPUs of each of its 3 instances (one writer, two readable standbys)",
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZ ('a cluster-level row with three DB "
        "instance rows'; stored copy seen 2026-11-25) with the standby rule above"),
    "aurora": (
        "the vCPUs of each instance of the cluster (writer and readers); Aurora has no hidden standby",
        "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/User_DBInstanceBilling.html (Aurora bills "
        "provisioned instances per instance; stored copy seen 2026-11-25)"),
}
SERVERLESS_CLASS = "db.serverless"


class PricingError(RunbookError):
    """A price, vCPU or lifecycle file is malformed; the message names the file, the row and the fix."""


@dataclass(frozen=True)
class Price:
    engine: str
    region: str
    years: str                  # "1-2" or "3"
    usd_per_vcpu_hour: float
    source_url: str
    source_date: str
    seen: str
    source_kind: str            # aws | third-party | user
    note: str = ""

    def cite(self) -> str:
        return f"{self.source_url} ({self.source_kind}, dated {self.source_date or 'undated'}, seen {self.seen})"


@dataclass(frozen=True)
class Lifecycle:
    """Support dates of one engine major version; `origin` says where they were read (api, table, user)."""

    engine: str
    major: str
    standard_end: date | None
    charges_from: date | None
    year3_from: date | None
    extended_end: date | None
    origin: str
    source: str = ""
    note: str = ""

    @property
    def known(self) -> bool:
        return self.standard_end is not None


@dataclass(frozen=True)
class Billed:
    """What Extended Support bills for one database."""

    engine: str
    major: str
    region: str
    instance_classes: tuple[str, ...]      # one per billed instance (Aurora: each member; Multi-AZ cluster: each member)
    deployment: str = "single-az"          # a key of BILLING_RULES
    enrolled: str | None = None            # EngineLifecycleSupport as observed; None when the field was absent
    lifecycle: Lifecycle | None = None     # observed from DescribeDBMajorEngineVersions; None: the shipped table


@dataclass(frozen=True)
class Estimate:
    """A monthly Extended Support estimate, or the reason there is none (`monthly_usd` None, `unknown` set)."""

    monthly_usd: float | None
    vcpus: int | None
    rate: float | None
    year: int | None
    source: str
    basis: str = ""
    unknown: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"monthly_usd": self.monthly_usd, "vcpus": self.vcpus, "rate": self.rate, "year": self.year,
                "source": self.source, "basis": self.basis, "unknown": self.unknown, "notes": list(self.notes)}


# -- reading tables ------------------------------------------------------------------------------------------------
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
PRICE_COLUMNS = ("engine", "region", "years", "usd_per_vcpu_hour", "source_url", "source_date", "seen", "source_kind",
                 "note")
VCPU_COLUMNS = ("instance_class", "vcpus", "source")
LIFECYCLE_COLUMNS = ("engine", "major", "standard_end", "charges_from", "year3_from", "extended_end", "source", "note")


def _problem(where: str, what: str, fix: str) -> PricingError:
    return PricingError(f"{where}: {what}. {fix} Nothing was estimated.")


def _csv_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV with '#' comment lines, each with its 1-based line number in the file."""
    lines = text.splitlines()
    kept = [(n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]
    if not kept:
        return []
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in kept)))
    out = []
    for (number, _), row in zip(kept[1:], reader):
        out.append((number, {k: (v or "").strip() for k, v in row.items() if k is not None}))
    return out


def _date(value: Any, where: str, column: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _problem(where, f"{column} is {value!r}, not a date", "Write dates as YYYY-MM-DD, or leave the cell "
                       "empty when the date is not known.") from None


def _price(row: Mapping[str, Any], where: str, kind_default: str) -> Price:
    missing = [c for c in ("engine", "region", "years", "usd_per_vcpu_hour", "source_url") if not str(row.get(c) or "")]
    if missing:
        raise _problem(where, f"missing {', '.join(missing)}", "Each price needs engine, region, years, "
                       "usd_per_vcpu_hour and source_url (where the figure comes from).")
    engine, region, years = str(row["engine"]), str(row["region"]), str(row["years"])
    if engine not in ENGINES:
        raise _problem(where, f"engine is {engine!r}", f"Use one of {', '.join(ENGINES)} (RDS's Engine values).")
    if not _REGION.match(region):
        raise _problem(where, f"region is {region!r}", "Use an AWS Region name such as us-east-1.")
    if years not in YEARS:
        raise _problem(where, f"years is {years!r}", "Use 1-2 (the first two years of Extended Support) or 3.")
    try:
        rate = float(row["usd_per_vcpu_hour"])
    except (TypeError, ValueError):
        rate = -1.0
    if not 0 < rate < 10:
        raise _problem(where, f"usd_per_vcpu_hour is {row['usd_per_vcpu_hour']!r}",
                       "Give the price in US dollars per vCPU-hour, e.g. 0.100 (AWS's figures are below 1).")
    for column in ("source_date", "seen"):
        _date(row.get(column), where, column)
    return Price(engine, region, years, rate, str(row["source_url"]), str(row.get("source_date") or ""),
                 str(row.get("seen") or ""), str(row.get("source_kind") or kind_default), str(row.get("note") or ""))


def _vcpu(row: Mapping[str, Any], where: str) -> tuple[str, int, str]:
    cls = str(row.get("instance_class") or "")
    if not _CLASS.match(cls):
        raise _problem(where, f"instance_class is {cls!r}", "Use an RDS DB instance class such as db.r6g.large.")
    try:
        vcpus = int(str(row.get("vcpus")))
    except ValueError:
        vcpus = 0
    if not 0 < vcpus <= 1024:
        raise _problem(where, f"vcpus is {row.get('vcpus')!r}", "Give the class's default vCPU count, a whole "
                       "number such as 2.")
    if not str(row.get("source") or ""):
        raise _problem(where, "source is empty", "Say where the vCPU count comes from (a URL or document).")
    return cls, vcpus, str(row["source"])


def _lifecycle(row: Mapping[str, Any], where: str, origin: str) -> Lifecycle:
    engine, major = str(row.get("engine") or ""), str(row.get("major") or "")
    if engine not in ENGINES:
        raise _problem(where, f"engine is {engine!r}", f"Use one of {', '.join(ENGINES)}.")
    if not re.match(r"^\d+(\.\d+)?$", major):
        raise _problem(where, f"major is {major!r}", "Use the major version as RDS names it: 5.7, 8.0 (Aurora MySQL "
                       "v2 is 5.7, v3 is 8.0) or a PostgreSQL major such as 12.")
    dates = {c: _date(row.get(c), where, c) for c in ("standard_end", "charges_from", "year3_from", "extended_end")}
    if dates["standard_end"] and not str(row.get("source") or ""):
        raise _problem(where, "source is empty", "Say where the dates come from (a URL or document).")
    return Lifecycle(engine, major, dates["standard_end"], dates["charges_from"], dates["year3_from"],
                     dates["extended_end"], origin, str(row.get("source") or ""), str(row.get("note") or ""))


def _shipped(name: str) -> str:
    return resources.files("runbook_lib.fleet").joinpath("data").joinpath(name).read_text(encoding="utf-8")


# -- the book ------------------------------------------------------------------------------------------------------
@dataclass
class PriceBook:
    """The three tables, as shipped or overridden; `overrides` names every file that replaced a shipped row."""

    prices: dict[tuple[str, str, str], Price]
    vcpus: dict[str, tuple[int, str]]
    lifecycles: dict[tuple[str, str], Lifecycle]
    overrides: list[str] = field(default_factory=list)

    @classmethod
    def shipped(cls) -> PriceBook:
        prices = {}
        for number, row in _csv_rows(_shipped("extended_support_prices.csv")):
            price = _price(row, f"extended_support_prices.csv line {number}", "third-party")
            prices[(price.engine, price.region, price.years)] = price
        vcpus = {}
        for number, row in _csv_rows(_shipped("instance_vcpus.csv")):
            cls_, n, source = _vcpu(row, f"instance_vcpus.csv line {number}")
            vcpus[cls_] = (n, source)
        lifecycles = {}
        for number, row in _csv_rows(_shipped("engine_lifecycles.csv")):
            life = _lifecycle(row, f"engine_lifecycles.csv line {number}", "table")
            lifecycles[(life.engine, life.major)] = life
        return cls(prices, vcpus, lifecycles)

    @classmethod
    def load(cls, override: str | Path | None = None) -> PriceBook:
        book = cls.shipped()
        if override is not None:
            book.apply(Path(override))
        return book

    def apply(self, path: Path) -> None:
        """Replace shipped rows with a user's: a CSV of prices (the shipped columns), or YAML with any of `prices`,
        `vcpus`, `lifecycles` (lists of mappings with the shipped columns)."""
        if not path.is_file():
            raise PricingError(f"--prices {path}: no such file. Pass a CSV with the columns {', '.join(PRICE_COLUMNS)}, "
                               "or a YAML file with prices/vcpus/lifecycles lists (docs/fleet.md shows both). Nothing "
                               "was estimated.")
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".csv":
            rows = _csv_rows(text)
            header = set(rows[0][1]) if rows else set()
            missing = [c for c in ("engine", "region", "years", "usd_per_vcpu_hour", "source_url") if c not in header]
            if missing:
                raise PricingError(f"{path}: the header lacks {', '.join(missing)}. A price override CSV has the "
                                   f"columns {', '.join(PRICE_COLUMNS)} (source_url says where each figure comes "
                                   "from). Nothing was estimated.")
            for number, row in rows:
                price = _price(row, f"{path} line {number}", "user")
                self.prices[(price.engine, price.region, price.years)] = price
        elif path.suffix.lower() in (".yaml", ".yml"):
            self._apply_yaml(path, text)
        else:
            raise PricingError(f"{path}: unknown file type {path.suffix!r}. Pass a .csv (prices) or a .yaml/.yml "
                               "(prices, vcpus, lifecycles). Nothing was estimated.")
        self.overrides.append(str(path))

    def _apply_yaml(self, path: Path, text: str) -> None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PricingError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}). Fix the syntax; docs/fleet.md "
                               "shows an example. Nothing was estimated.") from None
        if not isinstance(data, dict) or not data or set(data) - {"prices", "vcpus", "lifecycles"}:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise PricingError(f"{path}: top level is {keys}; expected a mapping with any of prices, vcpus, "
                               "lifecycles, each a list of rows. Nothing was estimated.")
        for section, parse in (("prices", self._yaml_price), ("vcpus", self._yaml_vcpu),
                               ("lifecycles", self._yaml_lifecycle)):
            rows = data.get(section) or []
            if not isinstance(rows, list):
                raise PricingError(f"{path}: {section} is a {type(rows).__name__}; make it a list of rows (one '- ' "
                                   "per row). Nothing was estimated.")
            for index, row in enumerate(rows, 1):
                where = f"{path} {section}[{index}]"
                if not isinstance(row, dict):
                    raise PricingError(f"{where}: a row must be a mapping of column: value. Nothing was estimated.")
                parse(row, where)

    def _yaml_price(self, row: Mapping[str, Any], where: str) -> None:
        price = _price({k: ("" if v is None else str(v)) for k, v in row.items()}, where, "user")
        self.prices[(price.engine, price.region, price.years)] = price

    def _yaml_vcpu(self, row: Mapping[str, Any], where: str) -> None:
        cls_, n, source = _vcpu(row, where)
        self.vcpus[cls_] = (n, source)

    def _yaml_lifecycle(self, row: Mapping[str, Any], where: str) -> None:
        life = _lifecycle(row, where, "user")
        self.lifecycles[(life.engine, life.major)] = life

    # -- look-ups --------------------------------------------------------------------------------------------------
    def price(self, engine: str, region: str, year: int) -> Price | None:
        return self.prices.get((engine, region, "3" if year >= 3 else "1-2"))

    def vcpus_of(self, instance_class: str) -> tuple[int, str] | None:
        return self.vcpus.get(instance_class)

    def lifecycle(self, engine: str, major: str, observed: Lifecycle | None = None) -> Lifecycle | None:
        """The observed lifecycle wins; a user's row beats the shipped one; shipped dates fill what the API lacks
        (charges_from, year3_from) for the same end of standard support."""
        table = self.lifecycles.get((engine, major))
        if observed is None or not observed.known:
            return table if table is not None and table.known else (observed or table)
        if table is not None and table.standard_end == observed.standard_end:
            return replace(observed, charges_from=observed.charges_from or table.charges_from,
                           year3_from=observed.year3_from or table.year3_from,
                           note="; ".join(n for n in (observed.note, f"charge and year-3 dates from {table.source}")
                                          if n))
        return observed

    def sources(self) -> list[dict[str, str]]:
        """Distinct price sources in the book (for the record)."""
        seen: dict[str, dict[str, str]] = {}
        for p in self.prices.values():
            seen.setdefault(p.source_url, {"source_url": p.source_url, "source_kind": p.source_kind,
                                           "source_date": p.source_date, "seen": p.seen})
        return list(seen.values())


# -- the estimate --------------------------------------------------------------------------------------------------
def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - day 28 exists in every month


def support_year(life: Lifecycle, as_of: date) -> tuple[int | None, str]:
    """Which year of Extended Support `as_of` falls in (1, 2, 3), 0 before charges start, or None with why."""
    if life.standard_end is None:
        return None, f"end of standard support of {life.engine} {life.major} unknown ({life.note or 'no date'})"
    if as_of <= life.standard_end:
        return 0, f"in standard support until {life.standard_end}"
    extended_start = life.standard_end + timedelta(days=1)
    if life.extended_end is not None and as_of > life.extended_end:
        return None, (f"past the end of Extended Support ({life.extended_end}): RDS upgrades such databases; no "
                      "Extended Support price applies")
    if life.charges_from is not None and as_of < life.charges_from:
        return 0, f"enrolled in Extended Support since {extended_start}, charged from {life.charges_from}"
    if life.year3_from is not None:
        if as_of >= life.year3_from:
            return 3, f"year 3 from {life.year3_from}"
        year = 2 if as_of >= _add_months(extended_start, 12) else 1
        return year, f"year {year} (Extended Support from {extended_start})"
    months = (as_of.year - extended_start.year) * 12 + as_of.month - extended_start.month - (
        1 if as_of.day < extended_start.day else 0)
    year = min(3, months // 12 + 1)
    return year, f"year {year} (Extended Support from {extended_start})"


def estimate(db: Billed, book: PriceBook, as_of: date) -> Estimate:
    """The monthly Extended Support charge of `db` on `as_of`: vCPUs (by class, times the billing rule) x the price of
    its Region, engine and support year x 730 hours. Unknown, with the reason, when any input is."""
    life = book.lifecycle(db.engine, db.major, db.lifecycle)
    if db.enrolled == "open-source-rds-extended-support-disabled":
        return Estimate(0.0, None, None, None, "EngineLifecycleSupport",
                        basis="not enrolled (open-source-rds-extended-support-disabled): RDS upgrades it at the end "
                              "of standard support instead of charging")
    notes: list[str] = []
    if db.enrolled is None:
        notes.append("EngineLifecycleSupport not reported: assumed open-source-rds-extended-support, RDS's default")
    if life is None:
        return Estimate(None, None, None, None, "", unknown=f"no lifecycle known for {db.engine} {db.major} (the API "
                        "did not answer and the shipped table has no row)", notes=tuple(notes))
    life_source = "DescribeDBMajorEngineVersions" if life.origin == "api" else f"{life.origin} table: {life.source}"
    year, why = support_year(life, as_of)
    if year is None:
        return Estimate(None, None, None, None, life_source, unknown=why, notes=tuple(notes))
    if year == 0:
        return Estimate(0.0, None, None, 0, life_source, basis=why, notes=tuple(notes))
    if not db.instance_classes:
        return Estimate(None, None, None, year, life_source, unknown="no instance to bill (a cluster without members)",
                        notes=tuple(notes))
    if SERVERLESS_CLASS in db.instance_classes:
        return Estimate(None, None, None, year, life_source, unknown="Aurora Serverless v2 is billed per ACU-hour, "
                        "which this estimate does not model", notes=tuple(notes))
    counts = []
    for cls_ in db.instance_classes:
        found = book.vcpus_of(cls_)
        if found is None:
            return Estimate(None, None, None, year, life_source, unknown=f"vCPUs of {cls_} unknown (not in the vCPU "
                            "table; add it with --prices FILE, section vcpus)", notes=tuple(notes))
        counts.append(found[0])
    multiplier = 2 if db.deployment == "multi-az-instance" else 1
    vcpus = sum(counts) * multiplier
    price = book.price(db.engine, db.region, year)
    if price is None:
        return Estimate(None, vcpus, None, year, life_source, unknown=f"no price for {ENGINE_TITLES.get(db.engine, db.engine)} "
                        f"in {db.region}, year {year} (add it with --prices FILE)", notes=tuple(notes))
    monthly = round(vcpus * price.usd_per_vcpu_hour * HOURS_PER_MONTH, 2)
    rule, rule_source = BILLING_RULES.get(db.deployment, ("", ""))
    basis = (f"{'+'.join(str(c) for c in counts)} vCPU{' x 2 (Multi-AZ standby)' if multiplier == 2 else ''} x "
             f"${price.usd_per_vcpu_hour:.3f}/vCPU-h x {HOURS_PER_MONTH:.0f} h; {why}; {rule}")
    if rule_source:
        notes.append(f"billing rule: {rule_source}")
    if price.note:
        notes.append(price.note)
    return Estimate(monthly, vcpus, price.usd_per_vcpu_hour, year, price.cite(), basis=basis, notes=tuple(notes))


def lifecycle_from_api(engine: str, major: str, lifecycles: Iterable[Mapping[str, Any]]) -> Lifecycle:
    """A Lifecycle from DescribeDBMajorEngineVersions' SupportedEngineLifecycles (dates as botocore gives them)."""
    by_name = {str(x.get("LifecycleSupportName")): x for x in lifecycles}
    standard = by_name.get("open-source-rds-standard-support") or {}
    extended = by_name.get("open-source-rds-extended-support") or {}

    def day(value: Any) -> date | None:
        if value is None:
            return None
        return value.date() if hasattr(value, "date") else date.fromisoformat(str(value)[:10])

    standard_end = day(standard.get("LifecycleSupportEndDate"))
    # Year 3 is counted from the day after the end of standard support (support_year), unless the shipped table
    # knows a different date for the same end of standard support (PriceBook.lifecycle merges it).
    return Lifecycle(engine, major, standard_end, None, None, day(extended.get("LifecycleSupportEndDate")), "api",
                     "DescribeDBMajorEngineVersions SupportedEngineLifecycles",
                     "" if standard_end else "the API gave no end of standard support")
