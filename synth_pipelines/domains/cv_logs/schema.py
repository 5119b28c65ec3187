"""Field inventory and cross-field rules of CV model-run logs."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_pipelines.domains.cv_logs.catalog import (
    ACCELERATOR_NAMES,
    ALL_METRICS,
    ARCHITECTURES,
    DATASETS,
    ERROR_TYPES,
    METRICS_OF_TASK,
    MODEL_NAMES,
    PHASES,
    SPLIT_OF_PHASE,
    SPLITS,
    TASKS,
)
from synth_pipelines.domains.logs.fields import FieldSpec, Inventory, Rule, set_values

FIELDS = [
    FieldSpec("run_id", "string", "Unique id of the phase run.", pattern=r"run-[0-9a-f]{16}"),
    FieldSpec("timestamp", "timestamp", "When the phase run started (UTC)."),
    FieldSpec("phase", "string", "Which phase of the model lifecycle ran.", vocabulary=PHASES),
    FieldSpec("task", "string", "Vision task of the model.", vocabulary=TASKS),
    FieldSpec("model.name", "string", "Registered model name.", vocabulary=MODEL_NAMES),
    FieldSpec("model.architecture", "string", "Network architecture.", vocabulary=ARCHITECTURES),
    FieldSpec("model.version", "string", "Semantic version of the model.", pattern=r"v\d+\.\d+\.\d+"),
    FieldSpec("model.parameters_m", "float", "Parameters, in millions.", ge=0.1, le=10_000),
    FieldSpec("dataset.name", "string", "Dataset the phase read.", vocabulary=DATASETS),
    FieldSpec("dataset.split", "string", "Split of the dataset.", vocabulary=SPLITS),
    FieldSpec("image_count", "int", "Images processed.", ge=1, le=10_000_000),
    FieldSpec("image_size", "int", "Input side length in pixels (square inputs).", ge=32, le=4096),
    FieldSpec("batch_size", "int", "Images per batch.", ge=1, le=4096),
    FieldSpec("metrics.accuracy", "float", "Top-1 accuracy (classification).", required=False, ge=0, le=1),
    FieldSpec("metrics.precision", "float", "Macro precision (classification).", required=False, ge=0, le=1),
    FieldSpec("metrics.recall", "float", "Macro recall (classification).", required=False, ge=0, le=1),
    FieldSpec("metrics.f1", "float", "Macro F1 (classification).", required=False, ge=0, le=1),
    FieldSpec("metrics.map", "float", "mAP@[.5:.95] (detection).", required=False, ge=0, le=1),
    FieldSpec("metrics.map50", "float", "mAP@.5 (detection).", required=False, ge=0, le=1),
    FieldSpec("metrics.iou", "float", "Mean box IoU (detection).", required=False, ge=0, le=1),
    FieldSpec("metrics.miou", "float", "Mean IoU (segmentation).", required=False, ge=0, le=1),
    FieldSpec("metrics.dice", "float", "Dice coefficient (segmentation).", required=False, ge=0, le=1),
    FieldSpec("latency.mean_ms", "float", "Mean latency per image, ms.", ge=0.01, le=600_000),
    FieldSpec("latency.p50_ms", "float", "Median latency per image, ms.", ge=0.01, le=600_000),
    FieldSpec("latency.p95_ms", "float", "95th percentile latency per image, ms.", ge=0.01, le=600_000),
    FieldSpec("duration_s", "float", "Wall time of the phase run, seconds.", ge=0, le=2_592_000),
    FieldSpec("result", "string", "Outcome of the run.", vocabulary=("success", "failure")),
    FieldSpec("error.type", "string", "Error class; only on failed runs.", required=False, vocabulary=ERROR_TYPES),
    FieldSpec("error.message", "string", "Error message; only on failed runs.", required=False),
    FieldSpec("hardware.accelerator", "string", "Accelerator type.", vocabulary=ACCELERATOR_NAMES),
    FieldSpec("hardware.accelerator_count", "int", "Accelerators used (0 on cpu).", ge=0, le=64),
    FieldSpec("hardware.accelerator_memory_gb", "float", "Memory per accelerator, GB.", ge=0, le=256),
    FieldSpec("hardware.cpu_cores", "int", "CPU cores of the host.", ge=1, le=512),
    FieldSpec("hardware.ram_gb", "int", "RAM of the host, GB.", ge=1, le=8192),
    FieldSpec("host", "string", "Synthetic host name.", pattern=r"cv-node-\d{3}"),
]

_failed = pl.col("result") == "failure"
_metric_cols = [f"metrics_{m}" for m in ALL_METRICS]


def _foreign_metrics_present() -> pl.Expr:
    """True where a metric of another task (or any metric on inference) is present."""
    per_task = []
    for task, names in METRICS_OF_TASK.items():
        foreign = [f"metrics_{m}" for m in ALL_METRICS if m not in names]
        per_task.append((pl.col("task") == task) & pl.any_horizontal(pl.col(c).is_not_null() for c in foreign))
    inference = (pl.col("phase") == "inference") & pl.any_horizontal(pl.col(c).is_not_null() for c in _metric_cols)
    return pl.any_horizontal([*per_task, inference])


def _swap_latency(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return df.with_columns(latency_p50_ms=pl.col("latency_p95_ms"), latency_p95_ms=pl.col("latency_p50_ms"))


def _wrong_split(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return df.with_columns(
        dataset_split=pl.when(pl.col("phase") == "train").then(pl.lit("test")).otherwise(pl.lit("train"))
    )


def _foreign_metric(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return df.with_columns(
        metrics_miou=pl.when(pl.col("task") == "segmentation").then(pl.col("metrics_miou")).otherwise(pl.lit(0.61)),
        metrics_accuracy=pl.when(pl.col("task") == "segmentation")
        .then(pl.lit(0.91))
        .otherwise(pl.col("metrics_accuracy")),
    )


RULES = [
    Rule(
        "error_only_on_failure",
        "error.message",
        "error.type and error.message are present exactly on failed runs",
        holds=(_failed == pl.col("error_message").is_not_null()) & (_failed == pl.col("error_type").is_not_null()),
        applies=~_failed,
        violate=lambda df, rng: set_values(
            df, error_message="CUDA out of memory: tried to allocate 512 MiB", error_type="out_of_memory"
        ),
    ),
    Rule(
        "split_matches_phase",
        "dataset.split",
        "dataset.split follows the phase (train->train, validation->val, test->test, inference->prod)",
        holds=pl.col("dataset_split") == pl.col("phase").replace_strict(SPLIT_OF_PHASE, default=None),
        applies=pl.lit(True),
        violate=_wrong_split,
    ),
    Rule(
        "metrics_fit_task",
        "metrics",
        "only the task's own metrics are present, and none on inference runs",
        holds=~_foreign_metrics_present(),
        applies=pl.col("phase") != "inference",
        violate=_foreign_metric,
    ),
    Rule(
        "latency_p50_below_p95",
        "latency.p95_ms",
        "latency.p50_ms is below latency.p95_ms",
        holds=pl.col("latency_p50_ms") < pl.col("latency_p95_ms"),
        applies=pl.lit(True),
        violate=_swap_latency,
    ),
    Rule(
        "accelerator_count_fits_type",
        "hardware.accelerator_count",
        "cpu runs use 0 accelerators, every other accelerator type at least 1",
        holds=(pl.col("hardware_accelerator") == "cpu") == (pl.col("hardware_accelerator_count") == 0),
        applies=pl.col("hardware_accelerator") != "cpu",
        violate=lambda df, rng: set_values(df, hardware_accelerator_count=0),
    ),
]

INVENTORY = Inventory("cv_logs", FIELDS, RULES, id_field="run_id")
