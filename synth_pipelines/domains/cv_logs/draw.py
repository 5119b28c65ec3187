"""Vectorized draw of clean CV model-run records: every column is drawn for a whole block at once."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_pipelines.core.ids import unique_ids
from synth_pipelines.domains.cv_logs.catalog import (
    ACCELERATORS,
    ARCHITECTURES,
    DATASETS,
    ERROR_TEMPLATES,
    ERROR_TYPES,
    IMAGE_SIZES,
    MODEL_NAMES,
    MODEL_PARAMS_M,
    MODEL_TASK,
    PHASE_SHARES,
    PHASES,
    SPLIT_OF_PHASE,
    TASK_SHARES,
    TASKS,
)
from synth_pipelines.domains.logs.messages import error_messages

RUN_INTERVAL_MS = 60_000  # one phase run a minute on average
FAILURE_RATE = 0.06
MAX_DURATION_S = 14 * 24 * 3600.0


def _pick(values: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(idx)


def draw_cv_runs(seed: int, rng: np.random.Generator, start: int, n: int, start_ms: int) -> pl.DataFrame:
    """Clean CV run records for rows ``start .. start+n``, values plausible together."""
    task = rng.choice(len(TASKS), size=n, p=TASK_SHARES)
    # A model of the run's task, uniformly.
    per_task = [np.flatnonzero(t == MODEL_TASK) for t in range(len(TASKS))]
    model = np.empty(n, dtype=np.int64)
    for t, models in enumerate(per_task):
        mask = task == t
        model[mask] = models[rng.integers(0, len(models), mask.sum())]
    phase = rng.choice(len(PHASES), size=n, p=PHASE_SHARES)
    is_train = phase == 0
    is_inference = phase == 3

    image_size = np.empty(n, dtype=np.int64)
    for t, name in enumerate(TASKS):
        sizes, shares = IMAGE_SIZES[name]
        mask = task == t
        image_size[mask] = np.asarray(sizes)[rng.choice(len(sizes), size=mask.sum(), p=shares)]
    batch_size = np.where(is_inference, rng.choice([1, 8, 16, 32], size=n), rng.choice([16, 32, 64, 128], size=n))

    acc = rng.choice(len(ACCELERATORS), size=n, p=[a[1] for a in ACCELERATORS])
    speed = np.array([a[2] for a in ACCELERATORS])[acc]
    memory = np.array([a[3] for a in ACCELERATORS])[acc]
    on_cpu = acc == len(ACCELERATORS) - 1
    acc_count = np.where(on_cpu, 0, np.where(is_train, rng.choice([1, 2, 4, 8], size=n), rng.choice([1, 2], size=n)))
    cpu_cores = rng.choice([8, 16, 32, 64, 96], size=n)
    ram_gb = cpu_cores * rng.choice([4, 8], size=n)

    # Latency per image grows with model size and pixel count, shrinks with faster accelerators.
    params = MODEL_PARAMS_M[model]
    base_ms = 0.05 * params * (image_size / 224.0) ** 2 * speed + 0.4
    p50 = np.round(base_ms * rng.lognormal(0.0, 0.15, n) + 0.001, 3)
    p95 = np.round(p50 * rng.uniform(1.25, 2.2, n) + 0.001, 3)
    mean = np.round(p50 * rng.uniform(1.02, 1.18, n), 3)

    image_count = np.where(
        is_train,
        rng.lognormal(np.log(40_000), 0.8, n),
        np.where(is_inference, rng.lognormal(np.log(300), 1.2, n), rng.lognormal(np.log(4_000), 0.7, n)),
    )
    image_count = np.clip(image_count.astype(np.int64), 1, 2_000_000)

    failed = rng.random(n) < FAILURE_RATE * np.where(on_cpu | (memory == 16.0), 2.0, 1.0)
    passes = np.where(is_train, rng.integers(3, 30, n), 1)  # epochs when training
    per_pass_s = image_count * mean / 1000.0 / np.maximum(1, acc_count)
    # Jobs are capped at 14 days: fewer epochs where one pass is slow (large sets on CPU).
    passes = np.clip(passes, 1, np.maximum(1, (MAX_DURATION_S // np.maximum(per_pass_s, 1e-3)).astype(np.int64)))
    full_s = np.minimum(per_pass_s * passes, MAX_DURATION_S)
    duration = np.round(np.where(failed, full_s * rng.uniform(0.02, 0.9, n), full_s), 3)

    # Errors only on failures; nan_loss only happens while training.
    err = rng.choice(len(ERROR_TYPES), size=n)
    err = np.where((err == ERROR_TYPES.index("nan_loss")) & ~is_train, ERROR_TYPES.index("data_error"), err)
    err_number = rng.integers(1, 50_000, n)
    err_type = _pick(ERROR_TYPES, err)
    message = error_messages([ERROR_TEMPLATES[e] for e in ERROR_TYPES], err, err_number, failed)

    # Metrics: complete on successful evaluated runs; none or partial (first metric only) on failures.
    measured = ~is_inference
    partial = failed & (rng.random(n) < 0.4)
    full = measured & ~failed
    head = measured & (full | partial)  # the first metric of the task
    quality = rng.beta(12, 2.5, n)  # centred ~0.83
    cls, det, seg = task == 0, task == 1, task == 2
    precision = np.clip(quality + rng.normal(0, 0.02, n), 0, 1)
    recall = np.clip(quality + rng.normal(0, 0.03, n), 0, 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    map50 = np.clip(quality * rng.uniform(0.8, 0.98, n), 0, 1)
    miou = np.clip(quality * rng.uniform(0.75, 0.95, n), 0, 1)

    def metric(values: np.ndarray, where: np.ndarray) -> pl.Series:
        return pl.Series(np.round(values, 4)).set(pl.Series(~where), None)  # type: ignore[arg-type]

    phase_names = _pick(PHASES, phase)
    major, minor, patch = rng.integers(1, 6, n), rng.integers(0, 20, n), rng.integers(0, 10, n)
    timestamps = start_ms + (np.arange(start, start + n) * RUN_INTERVAL_MS) + rng.integers(0, RUN_INTERVAL_MS, n)

    frame = pl.DataFrame(
        {
            "run_id": unique_ids(seed, "cv_logs", "run", start, n, "run-"),
            "timestamp": pl.Series(timestamps).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            "phase": phase_names,
            "task": _pick(TASKS, task),
            "model_name": _pick(MODEL_NAMES, model),
            "model_architecture": _pick(ARCHITECTURES, model),
            "model_version": pl.Series(major).cast(pl.String),
            "model_parameters_m": params,
            "dataset_name": _pick(DATASETS, model),
            "dataset_split": phase_names.replace_strict(SPLIT_OF_PHASE),
            "image_count": image_count,
            "image_size": image_size,
            "batch_size": batch_size.astype(np.int64),
            "metrics_accuracy": metric(quality, cls & head),
            "metrics_precision": metric(precision, cls & full),
            "metrics_recall": metric(recall, cls & full),
            "metrics_f1": metric(f1, cls & full),
            "metrics_map": metric(map50 * rng.uniform(0.55, 0.7, n), det & full),
            "metrics_map50": metric(map50, det & head),
            "metrics_iou": metric(np.clip(quality * rng.uniform(0.75, 0.9, n), 0, 1), det & full),
            "metrics_miou": metric(miou, seg & head),
            "metrics_dice": metric(2 * miou / (1 + miou), seg & full),
            "latency_mean_ms": mean,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "duration_s": duration,
            "result": _pick(("success", "failure"), failed.astype(np.int64)),
            "error_type": err_type.set(pl.Series(~failed), None),  # type: ignore[arg-type]
            "error_message": message,
            "hardware_accelerator": _pick(tuple(a[0] for a in ACCELERATORS), acc),
            "hardware_accelerator_count": acc_count.astype(np.int64),
            "hardware_accelerator_memory_gb": memory,
            "hardware_cpu_cores": cpu_cores.astype(np.int64),
            "hardware_ram_gb": ram_gb.astype(np.int64),
            "host": pl.Series(rng.integers(0, 1000, n)).cast(pl.String).str.zfill(3),
        }
    )
    return frame.with_columns(
        model_version=pl.concat_str(
            [
                pl.lit("v"),
                pl.col("model_version"),
                pl.lit("."),
                pl.Series(minor).cast(pl.String),
                pl.lit("."),
                pl.Series(patch).cast(pl.String),
            ]
        ),
        host=pl.concat_str([pl.lit("cv-node-"), pl.col("host")]),
    )
