"""Controlled vocabulary of the CV logs: models, datasets, accelerators, errors (all synthetic names)."""

from __future__ import annotations

import numpy as np

TASKS = ("classification", "detection", "segmentation")
TASK_SHARES = (0.45, 0.35, 0.20)
PHASES = ("train", "validation", "test", "inference")
PHASE_SHARES = (0.35, 0.25, 0.15, 0.25)
SPLIT_OF_PHASE = {"train": "train", "validation": "val", "test": "test", "inference": "prod"}
SPLITS = ("train", "val", "test", "prod")

# (task, model name, architecture, parameters in millions, dataset)
MODELS: tuple[tuple[str, str, str, float, str], ...] = (
    ("classification", "defect-classifier", "resnet50", 25.6, "pcb-defects-2025"),
    ("classification", "shelf-sku-classifier", "efficientnet_b3", 12.2, "retail-shelves-v3"),
    ("classification", "leaf-disease-classifier", "vit_b16", 86.6, "plant-leaves-2024"),
    ("classification", "xray-triage-classifier", "convnext_tiny", 28.6, "chest-xray-synth"),
    ("detection", "pallet-detector", "yolov8s", 11.2, "warehouse-pallets-v2"),
    ("detection", "vehicle-detector", "faster_rcnn_r50", 41.8, "traffic-cams-2025"),
    ("detection", "ppe-detector", "detr_r50", 41.3, "site-safety-v1"),
    ("detection", "turbine-inspection-detector", "retinanet_r50", 34.0, "wind-turbine-inspection"),
    ("segmentation", "road-segmenter", "deeplabv3_r101", 58.6, "city-roads-v4"),
    ("segmentation", "cell-segmenter", "unet_r34", 24.4, "microscopy-cells-v2"),
    ("segmentation", "roof-segmenter", "segformer_b2", 27.5, "aerial-roofs-2025"),
    ("segmentation", "crack-segmenter", "mask2former_swin_t", 47.4, "bridge-cracks-v1"),
)
MODEL_TASK = np.array([TASKS.index(m[0]) for m in MODELS])
MODEL_NAMES = tuple(m[1] for m in MODELS)
ARCHITECTURES = tuple(m[2] for m in MODELS)
MODEL_PARAMS_M = np.array([m[3] for m in MODELS])
DATASETS = tuple(m[4] for m in MODELS)

# Input side in pixels, by task: (sizes, shares)
IMAGE_SIZES = {
    "classification": ((224, 256, 384), (0.6, 0.25, 0.15)),
    "detection": ((512, 640, 1024), (0.2, 0.6, 0.2)),
    "segmentation": ((512, 768, 1024), (0.45, 0.3, 0.25)),
}

# accelerator, share, relative time per image (A100 = 1), memory GB
ACCELERATORS: tuple[tuple[str, float, float, float], ...] = (
    ("nvidia-a100", 0.30, 1.0, 80.0),
    ("nvidia-h100", 0.15, 0.6, 80.0),
    ("nvidia-l4", 0.20, 2.2, 24.0),
    ("nvidia-t4", 0.20, 3.5, 16.0),
    ("tpu-v4", 0.05, 1.1, 32.0),
    ("cpu", 0.10, 25.0, 0.0),
)
ACCELERATOR_NAMES = tuple(a[0] for a in ACCELERATORS)

ERROR_TYPES = ("out_of_memory", "nan_loss", "data_error", "timeout", "driver_error")
ERROR_TEMPLATES = {
    "out_of_memory": "CUDA out of memory: tried to allocate {} MiB",
    "nan_loss": "loss became NaN at step {}",
    "data_error": "corrupt image in shard {}: cannot identify image file",
    "timeout": "phase exceeded its time limit after {} s",
    "driver_error": "accelerator driver reset (Xid {})",
}

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")
DETECTION_METRICS = ("map", "map50", "iou")
SEGMENTATION_METRICS = ("miou", "dice")
METRICS_OF_TASK = {
    "classification": CLASSIFICATION_METRICS,
    "detection": DETECTION_METRICS,
    "segmentation": SEGMENTATION_METRICS,
}
ALL_METRICS = CLASSIFICATION_METRICS + DETECTION_METRICS + SEGMENTATION_METRICS
