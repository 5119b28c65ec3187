"""Each scenario as a seed-partitioned asset group of the one factory: Parquet intermediates, the real ``llm``
resource, exports equal to the CLI's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from synth_pipelines.core.domain import RunContext, draw_tables
from synth_pipelines.domains.registry import domain_by_name
from synth_pipelines.domains.scenarios.registry import get_scenario
from synth_pipelines.domains.scenarios.run import run_scenario
from synth_pipelines.llm.resource import LLMResource
from synth_pipelines.orchestration.factory import build_domain_assets
from synth_pipelines_tests.dagster_helpers import materialize_group
from synth_pipelines_tests.llm_stub import Fault, LLMStub
from synth_pipelines_tests.scenarios.conftest import KEY


def _materialize(
    name: str, data_dir: Path, llm: LLMResource, config: dict, instance: dg.DagsterInstance, seed: int = 42
) -> dg.ExecuteInProcessResult:
    group = get_scenario(name).group_name
    return materialize_group(
        group,
        seed,
        data_dir,
        instance,
        {"ops": {f"{group}__config": {"config": config}}},
        raise_on_error=False,
        resources={"llm": llm},
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    return {
        e.asset_key.path[-1]: {k: v.value for k, v in e.step_materialization_data.materialization.metadata.items()}  # type: ignore[union-attr]
        for e in result.get_asset_materialization_events()
    }


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("financial", {"count": 80, "output_format": "csv"}),
        ("healthcare", {"count": 40, "speciality": ["cardiology"]}),
    ],
)
def test_a_scenario_group_materializes_offline_and_exports_what_the_cli_writes(
    name: str, config: dict, data_dir: Path, tmp_path: Path
) -> None:
    with dg.instance_for_test() as instance:
        result = _materialize(name, data_dir, LLMResource(), config, instance)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("claims_hold", True)]
    meta = _metadata(result)["normalized"]
    assert meta["llm_provider"] == "offline" and meta["llm_requests"] == 0
    assert meta["llm_offline_results"] == config["count"] and meta["records_per_second"] > 0
    scenario = get_scenario(name)
    export_dir = data_dir / "exports" / scenario.group_name / "seed=42"
    cli_run = run_scenario(scenario, scenario.parse_config(config), 42, tmp_path / "cli")
    exported = sorted(p.name for p in export_dir.iterdir())
    assert exported == sorted(p.name for p in cli_run.files.values())
    for path in cli_run.files.values():
        assert (export_dir / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_llm_resource_writes_the_text_with_provider_stats_in_metadata_and_a_warm_rerun_is_free(
    llm_stub: LLMStub, data_dir: Path
) -> None:
    llm = LLMResource(provider="openai", model="stub-model", base_url=llm_stub.openai_url, api_key=KEY)
    config = {"count": 10, "output_format": "yaml"}
    llm_stub.inject(Fault(status=429), Fault(invalid=True), Fault(status=500, echo_key=True))
    assets = {a.key.path[-1]: a for a in build_domain_assets(domain_by_name("scenario_tech_support"))}
    assert assets["normalized"].op.pool == "llm"  # the step that draws the text
    export = data_dir / "exports" / "scenario_tech_support" / "seed=42" / "tech_support_tickets.yaml"
    with dg.instance_for_test() as instance:
        first = _materialize("tech-support", data_dir, llm, config, instance)
        assert first.success
        first_bytes = export.read_bytes()
        second = _materialize("tech-support", data_dir, llm, config, instance)
        assert second.success
        events = json.dumps([str(e) for e in instance.all_logs(first.run_id) + instance.all_logs(second.run_id)])
    meta = _metadata(first)["normalized"]
    assert meta["llm_provider"] == "openai" and meta["llm_model"] == "stub-model" and meta["provider"] == "openai"
    assert meta["records_generated"] == 10 and meta["records_failed"] == 0
    assert meta["llm_requests"] == 13 and meta["llm_retries"] == 3 and meta["llm_cache_hits"] == 0
    assert meta["llm_input_tokens"] > 0 and meta["llm_output_tokens"] > 0 and meta["llm_failures"] == 0
    assert meta["records_per_second"] > 0
    assert "subject number" in first_bytes.decode() and "from the stub" in first_bytes.decode()
    # The second materialization of the seed: zero requests, every answer from the cache, same bytes.
    again = _metadata(second)["normalized"]
    assert again["llm_requests"] == 0 and again["llm_cache_hits"] == 10
    assert llm_stub.requests == 13 and export.read_bytes() == first_bytes
    # The key reached the stub only: not the event log (logs, metadata), the exports, the cache or storage.
    assert {entry.credential for entry in llm_stub.log} == {KEY}
    assert "Incorrect API key provided: [REDACTED]" in events  # the echoed key was logged, redacted
    assert KEY[:12] not in events and KEY[-12:] not in events
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert KEY[:12].encode() not in path.read_bytes(), path


def test_a_failed_provider_fails_the_drawing_step_with_its_stats(llm_stub: LLMStub, data_dir: Path) -> None:
    llm = LLMResource(provider="openai", model="stub-model", base_url=llm_stub.openai_url, api_key=KEY)
    llm_stub.inject(Fault(status=401, echo_key=True))
    with dg.instance_for_test() as instance:
        result = _materialize("tech-support", data_dir, llm, {"count": 4}, instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "scenario_tech_support__normalized"
    data = failure.step_failure_data.user_failure_data  # type: ignore[union-attr]
    assert data is not None and "openai rejected the request credentials" in (data.description or "")
    assert data.metadata["llm_requests"].value >= 1 and data.metadata["llm_provider"].value == "openai"
    assert not (data_dir / "exports").exists()


def test_invalid_run_config_fails_the_config_asset_with_the_reason(data_dir: Path) -> None:
    with dg.instance_for_test() as instance:
        result = _materialize("healthcare", data_dir, LLMResource(), {"speciality": ["astrology"]}, instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "scenario_healthcare__config"
    assert "'astrology' is not one of" in str(failure.step_failure_data.error)  # type: ignore[union-attr]
    assert not (data_dir / "exports").exists()


def test_records_and_entity_tables_survive_the_parquet_intermediates_with_exact_dtypes(data_dir: Path) -> None:
    domain = domain_by_name("scenario_healthcare")
    config = {"count": 20}
    with dg.instance_for_test() as instance:
        result = _materialize("healthcare", data_dir, LLMResource(), config, instance)
    assert result.success
    stored = result.asset_value(dg.AssetKey(["scenario_healthcare", "normalized"]))
    drawn = draw_tables(domain, domain.parse_config(config), 42, RunContext(data_dir=data_dir))
    # the records and every entity table, in the drawn order, each exactly as drawn (dtypes, values, rows)
    assert list(stored) == list(drawn) == [domain.scenario.record_name, *domain.scenario.entity_tables]
    for table, frame in drawn.items():
        assert stored[table].schema == frame.schema, table
        assert stored[table].equals(frame), table
    # and the catalog shows each table as a view of the exported seed
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        for table, frame in drawn.items():
            query = f'select count(*), list(distinct seed) from scenario_healthcare."{table}"'
            count, seeds = con.execute(query).fetchone()  # type: ignore[misc]
            assert count == frame.height and seeds == [42], table
