"""The one domain contract and what the factory builds from it, proven on their own.

(a) the Parquet IO manager keeps every dtype our domains use, and the table order, and gives every
table its own safe file; (b) the warehouse catalog shows exported seeds only; (c) the worked example
of ``docs/architecture.md`` runs through ``run_domain`` and through Dagster to the same bytes, and a
domain whose checks do not match what it declares is refused; (d) every registered domain's asset
group has exactly the contract's shape.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from synth_pipelines.core.domain import (
    CheckOutcome,
    ConstraintViolation,
    Domain,
    RunContext,
    Tables,
    run_domain,
)
from synth_pipelines.definitions import defs
from synth_pipelines.domains.cv_logs.domain import CvLogsDomain
from synth_pipelines.domains.registry import all_domains
from synth_pipelines.orchestration.factory import IO_MANAGER_KEY, build_domain_assets
from synth_pipelines.orchestration.partitions import seed_partitions
from synth_pipelines.orchestration.storage import MANIFEST, ParquetIOManager, table_file_names
from synth_pipelines_tests.dagster_helpers import files_under, materialize_group

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.UTC

# ---------------------------------------------------------------------------------------------
# (a) the Parquet IO manager


def every_dtype() -> pl.DataFrame:
    """One column per dtype the domains produce (and a few neighbours), each with a null."""
    return pl.DataFrame(
        [
            pl.Series("i8", [-128, None, 127], pl.Int8),
            pl.Series("i16", [-(2**15), None, 2**15 - 1], pl.Int16),
            pl.Series("i32", [-(2**31), None, 2**31 - 1], pl.Int32),
            pl.Series("i64", [-(2**63), None, 2**63 - 1], pl.Int64),
            pl.Series("u8", [0, None, 255], pl.UInt8),
            pl.Series("u16", [0, None, 2**16 - 1], pl.UInt16),
            pl.Series("u32", [0, None, 2**32 - 1], pl.UInt32),
            pl.Series("u64", [0, None, 2**64 - 1], pl.UInt64),
            pl.Series("f32", [1.5, None, float("nan")], pl.Float32),
            pl.Series("f64", [2.1229999999999998, None, float("-inf")], pl.Float64),
            pl.Series("flag", [True, None, False], pl.Boolean),
            pl.Series("text", ["héllo\n\"x\"", None, ""], pl.String),
            pl.Series("category", ["b", None, "a"], pl.Categorical),
            pl.Series("enum", ["GET", None, "POST"], pl.Enum(["POST", "GET", "PUT"])),
            pl.Series("day", [dt.date(2026, 1, 1), None, dt.date(1900, 2, 28)], pl.Date),
            pl.Series("clock", [dt.time(23, 59, 59, 999_999), None, dt.time(0)], pl.Time),
            pl.Series("at_ms", [dt.datetime(2026, 1, 1, 0, 0, 0, 123_000, UTC), None, dt.datetime(1970, 1, 1, tzinfo=UTC)], pl.Datetime("ms", "UTC")),  # noqa: E501
            pl.Series("at_us", [dt.datetime(2026, 1, 1, 0, 0, 0, 123_456, UTC), None, dt.datetime(1999, 12, 31, tzinfo=UTC)], pl.Datetime("us", "UTC")),  # noqa: E501
            pl.Series("naive_us", [dt.datetime(2026, 1, 1, 12), None, dt.datetime(2000, 1, 1)], pl.Datetime("us")),
            pl.Series("took_ms", [dt.timedelta(milliseconds=5), None, dt.timedelta(days=-1)], pl.Duration("ms")),
            pl.Series("took_us", [dt.timedelta(microseconds=7), None, dt.timedelta(0)], pl.Duration("us")),
            pl.Series("amount", [decimal.Decimal("12.34"), None, decimal.Decimal("-0.01")], pl.Decimal(10, 2)),
            pl.Series("blob", [b"\x00\xff", None, b""], pl.Binary),
            pl.Series("tags", [["a", None], None, []], pl.List(pl.String)),
            pl.Series("ints", [[1, 2], None, [None]], pl.List(pl.Int64)),
            pl.Series("point", [{"x": 1, "label": "p"}, None, {"x": None, "label": None}], pl.Struct({"x": pl.Int32, "label": pl.String})),  # noqa: E501
            pl.Series("dx", [[{"code": "I10", "description": "hypertension"}], None, []], pl.List(pl.Struct({"code": pl.String, "description": pl.String}))),  # noqa: E501
        ]
    )  # fmt: skip


def round_trip(tables: Tables, base: Path, seed: int = 3) -> tuple[Tables, dg.ExecuteInProcessResult]:
    """Store ``tables`` with the project's IO manager as a partitioned asset, load them in the next one."""
    loaded: list[Tables] = []

    @dg.asset(key=["probe", "normalized"], partitions_def=seed_partitions, io_manager_key=IO_MANAGER_KEY)
    def stored() -> dict:
        return tables

    @dg.asset(
        key=["probe", "reader"], ins={"value": dg.AssetIn(["probe", "normalized"])}, partitions_def=seed_partitions
    )
    def reader(value: dict) -> None:
        loaded.append(value)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(seed)])
        result = dg.materialize(
            [stored, reader],
            partition_key=str(seed),
            instance=instance,
            resources={IO_MANAGER_KEY: ParquetIOManager(base_path=str(base))},
        )
    assert result.success
    return loaded[0], result


def test_every_dtype_and_the_table_order_survive_the_parquet_intermediates(tmp_path: Path) -> None:
    frame = every_dtype()
    empty = frame.clear()  # a table with no rows keeps its schema (the relational CLI writes such tables)
    # not alphabetical: the order of the tables is the domain's, and must come back as it was
    tables = {"zeta": frame, "alpha": frame.reverse(), "empty": empty, "middle": frame.select("enum", "dx")}
    back, _ = round_trip(tables, tmp_path)
    assert list(back) == ["zeta", "alpha", "empty", "middle"]
    for name, original in tables.items():
        assert back[name].schema == original.schema, name
        assert_frame_equal(back[name], original, check_exact=True, categorical_as_str=False)
    folder = tmp_path / "probe" / "normalized" / "seed=3"
    manifest = json.loads((folder / MANIFEST).read_text())
    assert [(e["name"], e["rows"]) for e in manifest] == [("zeta", 3), ("alpha", 3), ("empty", 0), ("middle", 3)]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_config_step_round_trips_as_json(tmp_path: Path) -> None:
    config = {"domain": "g", "seed": 3, "config": {"count": 5, "start": "2026-01-01T00:00:00Z", "names": ["a"]}}
    back, _ = round_trip(config, tmp_path)  # type: ignore[arg-type]
    assert back == config
    assert sorted(p.name for p in (tmp_path / "probe" / "normalized" / "seed=3").iterdir()) == ["config.json"]


UNSAFE_NAMES = ["Data", "DATA", "data", "a/b", "a_b", "../up", ".hidden", "", "x y", "tables.json"]


def test_table_names_that_collide_or_are_unsafe_get_distinct_safe_files(tmp_path: Path) -> None:
    files = table_file_names(UNSAFE_NAMES)
    assert list(files) == UNSAFE_NAMES
    assert len({f.lower() for f in files.values()}) == len(UNSAFE_NAMES)  # distinct on case-insensitive disks
    for file in files.values():
        assert "/" not in file and "\\" not in file and not file.startswith(".") and file.endswith(".parquet")
        assert file != MANIFEST
    assert table_file_names(UNSAFE_NAMES) == files  # stable for the same names
    # and through the IO manager: every table in its own file inside the seed's folder, each back intact
    tables = {name: pl.DataFrame({"table": [name], "i": [i]}) for i, name in enumerate(UNSAFE_NAMES)}
    back, _ = round_trip(tables, tmp_path / "base")
    assert list(back) == UNSAFE_NAMES
    for name, frame in tables.items():
        assert back[name].equals(frame), name
    folder = tmp_path / "base" / "probe" / "normalized" / "seed=3"
    written = sorted(p.relative_to(tmp_path / "base") for p in (tmp_path / "base").rglob("*") if p.is_file())
    assert written == sorted(Path("probe/normalized/seed=3") / f for f in [*files.values(), MANIFEST])
    assert len(list(folder.iterdir())) == len(UNSAFE_NAMES) + 1


# ---------------------------------------------------------------------------------------------
# (b) the warehouse catalog

CATALOG_GROUP = CvLogsDomain.name
CATALOG_COUNT = 40


def catalog_config(count: int = CATALOG_COUNT) -> dict[str, Any]:
    return {"ops": {f"{CATALOG_GROUP}__config": {"config": {"count": count}}}}


@pytest.fixture(scope="module")
def catalog_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One log group materialized for seeds 1, 2 and 4; then seed 3, and seed 4 again with another config,
    with a blocking check that fails."""
    data = tmp_path_factory.mktemp("catalog") / "data"
    with dg.instance_for_test() as instance, pytest.MonkeyPatch.context() as patch:
        for seed in (1, 2, 4):
            assert materialize_group(CATALOG_GROUP, seed, data, instance, catalog_config()).success

        def failing(self: CvLogsDomain, tables: Tables, cfg: Any, seed: int) -> list[CheckOutcome]:
            return [CheckOutcome("no_invalid_rows", False, "forced failure for the test")]

        patch.setattr(CvLogsDomain, "checks", failing)
        for seed, count in ((3, CATALOG_COUNT), (4, CATALOG_COUNT + 1)):
            result = materialize_group(CATALOG_GROUP, seed, data, instance, catalog_config(count), raise_on_error=False)
            assert [e.passed for e in result.get_asset_check_evaluations()] == [False]
            assert not result.asset_materializations_for_node(f"{CATALOG_GROUP}__exported")
    yield data


def test_the_catalog_has_a_view_per_table_with_every_exported_seed(catalog_data: Path) -> None:
    with duckdb.connect(str(catalog_data / "warehouse.duckdb"), read_only=True) as con:
        views = con.execute(
            "select schema_name, view_name from duckdb_views() where not internal order by 1, 2"
        ).fetchall()
        columns = [row[0] for row in con.execute(f"describe {CATALOG_GROUP}.{CATALOG_GROUP}").fetchall()]
        per_seed = con.execute(
            f"select seed, count(*) from {CATALOG_GROUP}.{CATALOG_GROUP} group by seed order by seed"
        ).fetchall()
        exported = con.execute("select group_name, seed from main.exported_partitions order by seed").fetchall()
    assert views == [(CATALOG_GROUP, CATALOG_GROUP)]
    assert "seed" in columns and set(CvLogsDomain().inventory.polars_schema) <= set(columns)
    assert per_seed == [(1, CATALOG_COUNT), (2, CATALOG_COUNT)]
    assert exported == [(CATALOG_GROUP, 1), (CATALOG_GROUP, 2)]


def test_the_catalog_rows_are_the_validated_intermediates(catalog_data: Path) -> None:
    with duckdb.connect(str(catalog_data / "warehouse.duckdb"), read_only=True) as con:
        seed_2 = con.execute(f"select * exclude (seed) from {CATALOG_GROUP}.{CATALOG_GROUP} where seed = 2").pl()
    folder = catalog_data / "storage" / CATALOG_GROUP / "normalized" / "seed=2"
    stored = pl.read_parquet(folder / f"{CATALOG_GROUP}.parquet")
    assert seed_2.columns == stored.columns and seed_2.height == stored.height
    assert seed_2.sort("run_id").select("run_id", "result").equals(stored.sort("run_id").select("run_id", "result"))


def test_a_seed_that_failed_a_blocking_check_is_neither_exported_nor_in_the_catalog(catalog_data: Path) -> None:
    # its intermediates exist (the check runs on them), but the view only lists exported seeds
    assert (catalog_data / "storage" / CATALOG_GROUP / "normalized" / "seed=3").is_dir()
    exports = catalog_data / "exports" / CATALOG_GROUP
    assert sorted(p.name for p in exports.iterdir()) == ["seed=1", "seed=2", "seed=4"]
    with duckdb.connect(str(catalog_data / "warehouse.duckdb"), read_only=True) as con:
        seeds = con.execute(f"select distinct seed from {CATALOG_GROUP}.{CATALOG_GROUP} order by seed").fetchall()
    assert seeds == [(1,), (2,)]


def test_a_seed_that_fails_when_run_again_leaves_the_catalog(catalog_data: Path) -> None:
    """Seed 4 was exported, then run again with a failing blocking check: its new intermediates are not
    validated, so the catalog stops showing the seed; the export folder keeps the files of the run that passed."""
    stored = pl.read_parquet(catalog_data / "storage" / CATALOG_GROUP / "normalized" / "seed=4" / "cv_logs.parquet")
    assert stored.height == CATALOG_COUNT + 1  # the failing run's tables
    with duckdb.connect(str(catalog_data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(f"select count(*) from {CATALOG_GROUP}.{CATALOG_GROUP} where seed = 4").fetchone()
    assert rows == (0,)
    exported = pl.read_parquet(catalog_data / "exports" / CATALOG_GROUP / "seed=4" / f"{CATALOG_GROUP}_valid.parquet")
    assert exported.height == CATALOG_COUNT


# ---------------------------------------------------------------------------------------------
# (c) the worked example of docs/architecture.md


def load_example() -> ModuleType:
    path = ROOT / "docs" / "examples" / "sensor_readings.py"
    spec = importlib.util.spec_from_file_location("sensor_readings_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    module = load_example()
    yield module
    sys.modules.pop(module.__name__, None)


EXAMPLE_CONFIG = {"sensors": 7, "hours": 30}


def test_the_worked_example_runs_without_dagster(example: ModuleType, tmp_path: Path) -> None:
    domain = example.SensorReadingsDomain()
    cfg = domain.parse_config(EXAMPLE_CONFIG)
    run = run_domain(domain, cfg, 42, tmp_path / "out", RunContext(data_dir=tmp_path))
    assert [(o.name, o.passed) for o in run.checks] == [("no_invalid_rows", True), ("readings_belong_to_sensors", True)]
    assert {name: frame.height for name, frame in run.tables.items()} == {"sensors": 7, "readings": 7 * 30}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "readings.csv", "readings.parquet", "sensors.csv", "sensors.parquet"
    ]  # fmt: skip
    assert all(path.is_file() and path.parent == tmp_path / "out" for path in run.files.values())
    run_domain(domain, cfg, 42, tmp_path / "again")
    assert files_under(tmp_path / "again") == files_under(tmp_path / "out")


def test_the_worked_example_through_dagster_writes_the_same_bytes(example: ModuleType, tmp_path: Path) -> None:
    domain = example.SensorReadingsDomain()
    run_domain(domain, domain.parse_config(EXAMPLE_CONFIG), 42, tmp_path / "plain")
    with dg.instance_for_test() as instance:
        result = materialize_group(
            "sensor_readings",
            42,
            tmp_path / "data",
            instance,
            {"ops": {"sensor_readings__config": {"config": EXAMPLE_CONFIG}}},
            assets=build_domain_assets(domain),
        )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"no_invalid_rows": True, "readings_belong_to_sensors": True}
    exported = tmp_path / "data" / "exports" / "sensor_readings" / "seed=42"
    assert files_under(exported) == files_under(tmp_path / "plain")


def broken_example(example: ModuleType, mistake: str) -> Domain:
    """The worked example with checks that return other names than it declares."""

    class Broken(example.SensorReadingsDomain):  # type: ignore[misc, name-defined]
        def checks(self, tables: Tables, cfg: Any, seed: int) -> list[CheckOutcome]:
            outcomes = super().checks(tables, cfg, seed)
            if mistake == "missing":
                return outcomes[:1]
            if mistake == "extra":
                return [*outcomes, CheckOutcome("not_declared", True, "a check nobody declared")]
            return [outcomes[0], CheckOutcome("readings_belong", True, "a typo of the declared name")]

    return Broken()


MISTAKES = {
    "missing": r"checks returned \['no_invalid_rows'\], but the domain declares \[.*'readings_belong_to_sensors'\]",
    "extra": r"checks returned \['no_invalid_rows', 'readings_belong_to_sensors', 'not_declared'\]",
    "renamed": r"checks returned \['no_invalid_rows', 'readings_belong'\]",
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_checks_that_do_not_match_the_declared_specs_are_refused(
    example: ModuleType, mistake: str, tmp_path: Path
) -> None:
    domain = broken_example(example, mistake)
    with pytest.raises(ConstraintViolation, match=MISTAKES[mistake]) as info:
        run_domain(domain, domain.parse_config(EXAMPLE_CONFIG), 1, tmp_path / "out")
    assert str(info.value).startswith("sensor_readings: ")
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_dagster_refuses_undeclared_checks_too(example: ModuleType, tmp_path: Path) -> None:
    domain = broken_example(example, "missing")
    with dg.instance_for_test() as instance:
        result = materialize_group(
            "sensor_readings",
            1,
            tmp_path,
            instance,
            {"ops": {"sensor_readings__config": {"config": EXAMPLE_CONFIG}}},
            raise_on_error=False,
            assets=build_domain_assets(domain),
        )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "sensor_readings__normalized"
    assert "readings_belong_to_sensors" in str(failure.step_failure_data.error)  # type: ignore[union-attr]
    assert not (tmp_path / "exports").exists()


# ---------------------------------------------------------------------------------------------
# (d) every registered domain's asset group


def group_shape(domain: Domain) -> tuple[set[str], dict[str, bool]]:
    return (
        {"config", "normalized", "exported"} | ({"raw"} if domain.has_raw_form else set()),
        {spec.name: spec.blocking for spec in domain.check_specs},
    )


@pytest.mark.parametrize("domain", all_domains(), ids=lambda d: d.name)
def test_every_registered_group_has_the_contracts_assets_and_declared_checks(domain: Domain) -> None:
    expected_steps, expected_checks = group_shape(domain)
    assets = [
        a
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition) and domain.name in a.group_names_by_key.values()
    ]
    keys = {key for a in assets for key in a.keys}
    assert {key.path[0] for key in keys} == {domain.name}
    assert {key.path[1] for key in keys} == expected_steps
    checks = [spec for a in assets for spec in a.check_specs]
    assert {spec.asset_key for spec in checks} == {dg.AssetKey([domain.name, "normalized"])}
    assert {spec.name: spec.blocking for spec in checks} == expected_checks
    assert len(checks) == len(domain.check_specs)
    # lineage: config -> [raw ->] normalized -> exported
    graph = defs.resolve_asset_graph()
    key = lambda step: dg.AssetKey([domain.name, step])  # noqa: E731
    first = key("raw") if domain.has_raw_form else key("config")
    assert graph.get(key("normalized")).parent_keys == {key("config"), first}
    assert graph.get(key("exported")).parent_keys == {key("config"), key("normalized")}
    assert all(graph.get(k).partitions_def == seed_partitions for k in keys)


def test_the_groups_are_the_registered_domains() -> None:
    groups = {spec.group_name for spec in defs.resolve_all_asset_specs()}
    assert groups == {d.name for d in all_domains()}
    assert len(all_domains()) == len(groups)  # no two domains share a group
    raw_groups = {d.name for d in all_domains() if d.has_raw_form}
    assert raw_groups == {"cv_logs", "api_logs", "agent_traces", "api_traces", "nlp"}
