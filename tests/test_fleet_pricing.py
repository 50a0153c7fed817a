"""Extended Support pricing: the shipped tables, the support year, the billing rules and user overrides."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from runbook_lib.fleet.pricing import (
    ENGINES,
    HOURS_PER_MONTH,
    Billed,
    PriceBook,
    PricingError,
    estimate,
    lifecycle_from_api,
    support_year,
)

AS_OF = date(2026, 11, 25)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.shipped()


def test_every_shipped_price_is_sourced_and_dated_and_every_region_has_both_tiers(book: PriceBook) -> None:
    regions = {r for (_, r, _) in book.prices}
    assert {"us-east-1", "eu-west-1", "ap-northeast-2"} <= regions
    for engine in ENGINES:
        for region in regions:
            for years in ("1-2", "3"):
                price = book.prices[(engine, region, years)]
                assert price.source_url.startswith("https://"), price
                date.fromisoformat(price.seen)
                assert price.source_kind in ("aws", "third-party"), price
    assert book.prices[("mysql", "us-east-1", "1-2")].usd_per_vcpu_hour == pytest.approx(0.100)
    assert book.prices[("mysql", "us-east-1", "3")].usd_per_vcpu_hour == pytest.approx(0.200)
    # Aurora MySQL: no year-3 price (year-1 price throughout), and the row says so and names the disagreeing source.
    aurora = book.prices[("aurora-mysql", "us-east-1", "3")]
    assert aurora.usd_per_vcpu_hour == pytest.approx(0.100) and "no year-3 price" in aurora.note
    assert all(n > 0 for n, _ in book.vcpus.values())
    assert book.vcpus_of("db.r6g.large") == (2, book.vcpus["db.r6g.large"][1])
    assert book.vcpus_of("db.m6i.32xlarge")[0] == 128  # type: ignore[index]


@pytest.mark.parametrize("day,year", [("2024-02-29", 0), ("2024-03-01", 1), ("2025-02-28", 1), ("2025-03-01", 2),
                                      ("2026-02-28", 2), ("2026-03-01", 3), ("2027-02-28", 3), ("2027-03-01", None)])
def test_support_year_of_mysql_57_follows_its_dates(book: PriceBook, day: str, year: int | None) -> None:
    life = book.lifecycle("mysql", "5.7")
    assert life is not None
    assert support_year(life, date.fromisoformat(day))[0] == year


def test_aurora_mysql_charges_start_a_month_after_standard_support_ended(book: PriceBook) -> None:
    life = book.lifecycle("aurora-mysql", "5.7")
    assert life is not None
    year, why = support_year(life, date(2024, 11, 15))
    assert year == 0 and "charged from 2024-12-01" in why
    assert support_year(life, date(2024, 12, 1))[0] == 1


def test_multi_az_doubles_a_cluster_bills_each_member_and_the_basis_says_so(book: PriceBook) -> None:
    single = estimate(Billed("mysql", "5.7", "us-east-1", ("db.r6g.large",)), book, AS_OF)
    multi = estimate(Billed("mysql", "5.7", "us-east-1", ("db.r6g.large",), "multi-az-instance"), book, AS_OF)
    assert single.monthly_usd == pytest.approx(2 * 0.200 * HOURS_PER_MONTH)
    assert multi.monthly_usd == pytest.approx(2 * single.monthly_usd)  # type: ignore[operator]
    assert multi.vcpus == 4 and "Multi-AZ standby" in multi.basis and multi.year == 3
    cluster = estimate(Billed("mysql", "5.7", "us-east-1", ("db.r6g.large",) * 3, "multi-az-cluster"), book, AS_OF)
    assert cluster.vcpus == 6
    aurora = estimate(Billed("aurora-mysql", "5.7", "eu-west-1", ("db.r6g.xlarge", "db.r6g.large"), "aurora"),
                      book, AS_OF)
    assert aurora.vcpus == 6 and aurora.rate == pytest.approx(0.112)
    assert aurora.monthly_usd == pytest.approx(round(6 * 0.112 * HOURS_PER_MONTH, 2))
    assert "github.com" in aurora.source and "no year-3 price" in " ".join(aurora.notes)


def test_what_is_not_known_is_unknown_with_the_reason(book: PriceBook) -> None:
    eight = estimate(Billed("mysql", "8.0", "us-east-1", ("db.r6g.large",)), book, AS_OF)
    assert eight.monthly_usd is None and "8.0" in str(eight.unknown) and "unknown" in str(eight.unknown)
    odd = estimate(Billed("mysql", "5.7", "us-east-1", ("db.z9q.large",)), book, AS_OF)
    assert odd.monthly_usd is None and "db.z9q.large" in str(odd.unknown)
    serverless = estimate(Billed("aurora-mysql", "5.7", "us-east-1", ("db.serverless",), "aurora"), book, AS_OF)
    assert serverless.monthly_usd is None and "ACU" in str(serverless.unknown)
    nowhere = estimate(Billed("mysql", "5.7", "xx-nowhere-1", ("db.r6g.large",)), book, AS_OF)
    assert nowhere.monthly_usd is None and nowhere.vcpus == 2 and "xx-nowhere-1" in str(nowhere.unknown)
    assumed = estimate(Billed("mysql", "5.7", "us-east-1", ("db.r6g.large",)), book, AS_OF)
    assert any("EngineLifecycleSupport not reported" in n for n in assumed.notes)
    off = estimate(Billed("mysql", "5.7", "us-east-1", ("db.r6g.large",), enrolled="open-source-rds-extended-support-"
                          "disabled"), book, AS_OF)
    assert off.monthly_usd == 0.0 and "not enrolled" in off.basis


def test_lifecycle_from_the_api_is_used_where_the_table_has_none(book: PriceBook) -> None:
    observed = lifecycle_from_api("mysql", "8.0", [
        {"LifecycleSupportName": "open-source-rds-standard-support",
         "LifecycleSupportStartDate": datetime(2018, 10, 23, tzinfo=timezone.utc),
         "LifecycleSupportEndDate": datetime(2026, 7, 31, tzinfo=timezone.utc)},
        {"LifecycleSupportName": "open-source-rds-extended-support",
         "LifecycleSupportStartDate": datetime(2026, 8, 1, tzinfo=timezone.utc),
         "LifecycleSupportEndDate": datetime(2029, 7, 31, tzinfo=timezone.utc)}])
    got = estimate(Billed("mysql", "8.0", "us-east-1", ("db.r6g.large",), lifecycle=observed), book, AS_OF)
    assert got.year == 1 and got.monthly_usd == pytest.approx(2 * 0.100 * HOURS_PER_MONTH)
    assert book.lifecycle("mysql", "8.0", observed).origin == "api"  # type: ignore[union-attr]


def test_a_user_csv_replaces_a_price_and_is_cited(tmp_path: Path) -> None:
    path = tmp_path / "ours.csv"
    path.write_text("# negotiated\nengine,region,years,usd_per_vcpu_hour,source_url,source_date,seen,source_kind,note\n"
                    "mysql,us-east-1,3,0.150,https://example.invalid/contract-42,2026-10-01,2026-11-20,user,EDP\n")
    book = PriceBook.load(path)
    got = estimate(Billed("mysql", "5.7", "us-east-1", ("db.r6g.large",)), book, AS_OF)
    assert got.rate == pytest.approx(0.150) and "contract-42" in got.source and book.overrides == [str(path)]
    assert estimate(Billed("mysql", "5.7", "us-east-2", ("db.r6g.large",)), book, AS_OF).rate == pytest.approx(0.2)


def test_a_user_yaml_adds_a_class_and_a_lifecycle(tmp_path: Path) -> None:
    path = tmp_path / "ours.yaml"
    path.write_text("vcpus:\n  - {instance_class: db.r8g.large, vcpus: 2, source: https://example.invalid/r8g}\n"
                    "lifecycles:\n  - {engine: mysql, major: '8.0', standard_end: 2026-07-31, extended_end: 2029-07-31,"
                    " source: https://example.invalid/calendar}\n")
    book = PriceBook.load(path)
    got = estimate(Billed("mysql", "8.0", "us-east-1", ("db.r8g.large",)), book, AS_OF)
    assert got.monthly_usd == pytest.approx(2 * 0.100 * HOURS_PER_MONTH) and got.year == 1


@pytest.mark.parametrize("name,text,expected", [
    ("bad.csv", "engine,region,years,usd_per_vcpu_hour,source_url\nmaria,us-east-1,3,0.1,https://x.invalid\n",
     "line 2: engine is 'maria'"),
    ("bad.csv", "engine,region,years,usd_per_vcpu_hour,source_url\nmysql,us-east-1,3,-1,https://x.invalid\n",
     "usd_per_vcpu_hour is '-1'"),
    ("bad.csv", "engine,region,years,usd_per_vcpu_hour,source_url\nmysql,us-east-1,4,0.1,https://x.invalid\n",
     "years is '4'"),
    ("bad.csv", "engine,region,years,usd_per_vcpu_hour\nmysql,us-east-1,3,0.1\n", "the header lacks source_url"),
    ("bad.csv", "engine,region,years,usd_per_vcpu_hour,source_url,seen\nmysql,us-east-1,3,0.1,https://x.invalid,"
     "yesterday\n", "seen is 'yesterday', not a date"),
    ("bad.yaml", "- 1\n- 2\n", "expected a mapping with any of prices, vcpus, lifecycles"),
    ("bad.yaml", "prices: {engine: mysql}\n", "prices is a dict; make it a list"),
    ("bad.yaml", "vcpus:\n  - {instance_class: r6g.large, vcpus: 2, source: x}\n", "instance_class is 'r6g.large'"),
    ("bad.yaml", "prices: [\n", "not valid YAML"),
    ("bad.json", "{}", "unknown file type '.json'"),
])
def test_a_bad_override_file_is_refused_naming_file_row_and_fix(tmp_path: Path, name: str, text: str,
                                                                 expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PricingError) as caught:
        PriceBook.load(path)
    message = str(caught.value)
    assert expected in message and str(path) in message and "Nothing was estimated" in message


def test_a_missing_override_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="no such file.*columns engine, region"):
        PriceBook.load(tmp_path / "absent.csv")
