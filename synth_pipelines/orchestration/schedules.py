"""Nightly regeneration over the registered seeds, and a sensor that registers seeds from a file."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from synth_pipelines.core.cli_support import MAX_SEED
from synth_pipelines.core.paths import default_data_dir
from synth_pipelines.orchestration.partitions import seed_partitions

all_domains_job = dg.define_asset_job(
    "all_domains",
    selection=dg.AssetSelection.all(),
    description="Every domain for one seed partition.",
    tags={"synth/job": "all_domains"},
)


@dg.schedule(cron_schedule="0 3 * * *", job=all_domains_job, execution_timezone="UTC")
def nightly_regeneration(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    """One run per registered seed, keyed by day so a tick never launches the same seed twice."""
    seeds = sorted(context.instance.get_dynamic_partitions(seed_partitions.name), key=int)
    if not seeds:
        return dg.SkipReason("no seeds registered: add one in the UI or with `synth seed add 42`")
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(partition_key=seed, run_key=f"{day}-seed-{seed}") for seed in seeds]


def read_seed_file(path: Path) -> list[str]:
    """Seeds listed one per line in ``path`` (``#`` starts a comment); bad lines raise naming the line."""
    seeds: list[str] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not text.isdigit():
            raise ValueError(f"{path}:{lineno}: seed must be a non-negative integer, got {text!r}")
        if int(text) > MAX_SEED:
            raise ValueError(f"{path}:{lineno}: seed must be <= {MAX_SEED} (a seed is a 64-bit integer), got {text}")
        seeds.append(str(int(text)))
    return seeds


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def seed_file_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Registers the seeds listed in ``data/seeds.txt`` (the UI's "Add partition" works too)."""
    path = Path(default_data_dir()) / "seeds.txt"
    if not path.exists():
        return dg.SkipReason(f"{path} does not exist")
    wanted = read_seed_file(path)
    new = [s for s in dict.fromkeys(wanted) if not context.instance.has_dynamic_partition(seed_partitions.name, s)]
    if not new:
        return dg.SkipReason("every seed in seeds.txt is registered")
    return dg.SensorResult(dynamic_partitions_requests=[seed_partitions.build_add_request(new)])
