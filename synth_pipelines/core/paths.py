"""Where project data lives: ``data/`` of the checkout, or ``$SYNTH_DATA_DIR``."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = PROJECT_ROOT / "data" / "schemas"


def default_data_dir() -> str:
    return os.environ.get("SYNTH_DATA_DIR", str(PROJECT_ROOT / "data"))


DEFAULT_SEED = 42
