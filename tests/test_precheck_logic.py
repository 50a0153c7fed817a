"""The detection logic of the checks MariaDB cannot host (it lacks the 5.7 table, plugin or variable, or will
not let the case be planted), run on snapshots shaped as MySQL 5.7 returns those rows. These are tests of the
logic, not of a server: on MariaDB the same checks are reported as not run (tests/test_precheck.py)."""

from __future__ import annotations

from runbook_lib.engines.mysql.upgrade_checks.checks import CHECKS, Upgrade
from runbook_lib.engines.mysql.upgrade_checks.snapshot import (
    Column,
    ForeignKey,
    InnoTable,
    Snapshot,
    Table,
    split_innodb_name,
)

UP = Upgrade("5.7.44", "8.0.39")


def _run(check: str, snap: Snapshot, up: Upgrade = UP) -> list[tuple[str, str]]:
    return [(f.level or "", f.dbObject) for f in CHECKS[check].fn(snap, up)]


def _inno(raw: str, table_id: int, **kw: object) -> InnoTable:
    schema, table, partition = split_innodb_name(raw)
    fields: dict[str, object] = {"n_cols": 4, "space": table_id, "row_format": "Dynamic", "space_type": "Single"}
    fields.update(kw)
    return InnoTable(raw, table_id, schema=schema, table=table, partition=partition, **fields)  # type: ignore[arg-type]


def test_foreign_key_names_over_64_characters() -> None:
    long_id = "app/" + "a" * 58 + "_ibfk_1"       # 65 characters after the schema: what 5.7 generated
    snap = Snapshot(foreign_keys=[ForeignKey(long_id, "app/" + "a" * 58, "app/parent", ("pid",), ("id",)),
                                  ForeignKey("app/" + "b" * 57 + "_ibfk_1", "app/b", "app/parent", ("x",), ("id",))])
    assert _run("foreignKeyLengthCheck", snap) == [("", "app." + "a" * 58)]


def test_circular_directory_paths() -> None:
    snap = Snapshot(files=[("ts1", "/data/mysql/../ts1.ibd"), ("ts2", "/data/ts2.ibd"), ("ts3", "../ts3.ibd")])
    assert _run("circularDirectoryCheck", snap) == [("", "ts1")]


def test_old_geometry_mtype_5() -> None:
    snap = Snapshot(innodb=[_inno("gis/places", 10)],
                    innodb_columns={10: [("id", 6), ("shape", 5), ("note", 5)]},
                    columns=[Column("gis", "places", "shape", "geometry", "geometry", None, None, None, None, None, ""),
                             Column("gis", "places", "note", "text", "text", "utf8mb4", 65535, 65535, None, None, "")])
    assert _run("oldGeometryCheck", snap, Upgrade("5.7.44", "8.0.23")) == [("", "gis.places.shape")]


def test_plugins_and_default_authentication() -> None:
    snap = Snapshot(plugins=["keyring_file", "InnoDB", "keyring_oci"],
                    variables={"default_authentication_plugin": "mysql_native_password",
                               "authentication_policy": "*,,"})
    assert sorted(_run("pluginUsage", snap)) == [("Warning", "keyring_file"), ("Warning", "keyring_oci")]
    assert _run("pluginUsage", snap, Upgrade("5.7.44", "8.0.30")) == [("Notice", "keyring_file"),
                                                                     ("Notice", "keyring_oci")]
    assert _run("deprecatedDefaultAuth", snap) == [("Warning", "default_authentication_plugin")]


def test_schema_names_decoded_and_partitions_in_the_dictionary() -> None:
    assert split_innodb_name("my@002ddb/t@0024x#p#p0") == ("my-db", "t$x", "p0")
    snap = Snapshot(tables=[Table("my-db", "t$x", "BASE TABLE", "InnoDB")],
                    innodb=[_inno("my@002ddb/t@0024x#P#p0", 1), _inno("my@002ddb/t@0024x#p#p1", 2),
                            _inno("app/lost", 3), _inno("app/FTS_0000000000000003_CONFIG", 4)])
    assert _run("schemaInconsistencyCheck", snap) == [("", "app.lost")]


def test_dangling_fulltext_and_column_count_mismatch() -> None:
    snap = Snapshot(innodb=[_inno("app/docs", 0x1a, n_cols=6), _inno("app/FTS_000000000000001a_CONFIG", 30),
                            _inno("app/FTS_00000000000000ff_CONFIG", 31), _inno("app/t", 40, n_cols=5)],
                    columns=[Column("app", "docs", n, "text", "text", None, None, None, None, None, "")
                             for n in ("id", "body")] +
                    [Column("app", "t", n, "int", "int", None, None, None, None, None, "") for n in ("a", "b", "c")])
    assert _run("rdsFulltextDanglingCheck", snap) == [("", "app.FTS_00000000000000ff_CONFIG")]
    # docs: 2 columns + InnoDB's hidden FTS_DOC_ID is fine; t: InnoDB has 2 columns, the definition 3
    assert _run("rdsColumnDefinitionMismatchCheck", snap) == [("", "app.t")]


def test_lower_case_table_names() -> None:
    snap = Snapshot(variables={"lower_case_table_names": "1"}, schemas={"App": "utf8mb4", "ok": "utf8mb4"},
                    tables=[Table("ok", "Orders", "BASE TABLE", "InnoDB"), Table("ok", "lines", "BASE TABLE", "InnoDB")])
    assert _run("rdsLowerCaseTableNamesCheck", snap) == [("", "App"), ("", "ok.Orders")]
    snap.variables["lower_case_table_names"] = "0"
    assert _run("rdsLowerCaseTableNamesCheck", snap) == []
