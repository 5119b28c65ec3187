"""For every asset group: an invalid partition is never exported, and a failed export leaves nothing half-written.

Each group is materialized for one seed with config A; then the same seed is run again with config B (other
data) twice: once with its first blocking check failing, once with ``export`` failing after it wrote the whole
new set into the staging folder. Both times the export folder must keep config A's files byte for byte, with
no staging, backup or temp file left anywhere under the exports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synth_pipelines.core.domain import CheckOutcome, Domain
from synth_pipelines.domains.registry import all_domains
from synth_pipelines_tests.dagster_helpers import files_under, materialize_group

SEED = 3
SMALL: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "cv_logs": ({"count": 40}, {"count": 50}),
    "api_logs": ({"count": 40}, {"count": 50}),
    "agent_traces": ({"count": 10}, {"count": 12}),
    "api_traces": ({"users": 20}, {"users": 30}),
    "nlp": ({"format": "qa", "samples": 4}, {"format": "qa", "samples": 6}),
    "company": ({"rows": 20}, {"rows": 30}),
    "library": ({"rows": 20}, {"rows": 30}),
    "restaurants": ({"rows": 20}, {"rows": 30}),
    "scenario_financial": ({"count": 5}, {"count": 7}),
    "scenario_healthcare": ({"count": 5}, {"count": 7}),
    "scenario_tech_support": ({"count": 5}, {"count": 7}),
}
DOMAINS = {domain.name: domain for domain in all_domains()}


def test_every_registered_group_is_covered() -> None:
    assert sorted(SMALL) == sorted(DOMAINS)


def materialize(group: str, data_dir: Path, instance: dg.DagsterInstance, config: dict[str, Any]):  # type: ignore[no-untyped-def]
    run_config = {"ops": {f"{group}__config": {"config": config}}}
    return materialize_group(group, SEED, data_dir, instance, run_config, raise_on_error=False)


def leftovers(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


@pytest.mark.parametrize("group", sorted(SMALL))
def test_a_failed_check_or_export_leaves_the_previous_export_byte_identical(
    group: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = DOMAINS[group]
    config_a, config_b = SMALL[group]
    data_dir = tmp_path / "data"
    export_dir = data_dir / "exports" / group / f"seed={SEED}"
    with dg.instance_for_test() as instance:
        assert materialize(group, data_dir, instance, config_a).success
        before = files_under(export_dir)
        assert before

        # 1. A blocking check fails: the partition stops before `exported`.
        blocking = next(spec.name for spec in domain.check_specs if spec.blocking)
        real_checks = type(domain).checks

        def one_check_fails(self: Domain, tables: Any, cfg: Any, seed: int) -> list[CheckOutcome]:
            return [
                CheckOutcome(o.name, False, "forced failure", o.metadata) if o.name == blocking else o
                for o in real_checks(self, tables, cfg, seed)
            ]

        with monkeypatch.context() as patch:
            patch.setattr(type(domain), "checks", one_check_fails)
            failed = materialize(group, data_dir, instance, config_b)
        evaluations = {e.check_name: e.passed for e in failed.get_asset_check_evaluations()}
        assert evaluations[blocking] is False
        assert not failed.asset_materializations_for_node(f"{group}__exported")
        assert files_under(export_dir) == before
        assert leftovers(data_dir / "exports") == []

        # 2. The export fails part-way: every new file is staged, then it raises.
        real_export = type(domain).export
        staged: list[str] = []

        def export_then_fail(self: Domain, tables: Any, cfg: Any, seed: int, out_dir: Path, ctx: Any) -> Any:
            files = real_export(self, tables, cfg, seed, out_dir, ctx)
            staged.extend(sorted(str(Path(p).relative_to(out_dir)) for p in files.values()))
            raise OSError(28, "No space left on device (forced by the test)")

        with monkeypatch.context() as patch:
            patch.setattr(type(domain), "export", export_then_fail)
            broken = materialize(group, data_dir, instance, config_b)
        assert not broken.success
        failure = next(e for e in broken.all_events if e.is_step_failure)
        assert failure.step_key == f"{group}__exported"
        assert staged and any(before.get(name) is not None for name in staged)  # the new set was really written
        assert files_under(export_dir) == before
        assert leftovers(data_dir / "exports") == []

        # The same run without the fault replaces the set as a unit (so the faults above were what kept it).
        assert materialize(group, data_dir, instance, config_b).success
        after = files_under(export_dir)
        assert after != before and sorted(after) == sorted(staged)
