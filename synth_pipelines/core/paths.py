"""Where project data lives: ``data/`` of the checkout, or ``$SYNTH_DATA_DIR``."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = PROJECT_ROOT / "data" / "schemas"


def default_data_dir() -> str:
    return os.environ.get("SYNTH_DATA_DIR", str(PROJECT_ROOT / "data"))


# The one rule for where a ``synth`` command writes when not told: ``<data dir>/synthetic/...``, the data dir
# being ``$SYNTH_DATA_DIR`` or the checkout's ``data/`` (the Dagster exports go to ``<data dir>/exports``).
OUTPUT_RULE = "$SYNTH_DATA_DIR/synthetic (SYNTH_DATA_DIR defaults to the checkout's data/)"


def default_output_dir(*parts: str) -> Path:
    """Where a command writes by default: ``<data dir>/synthetic/<parts>``."""
    return Path(default_data_dir(), "synthetic", *parts)


DEFAULT_SEED = 42
# The largest seed: the warehouse catalog stores a seed as a DuckDB BIGINT (and a hive partition
# value), so a larger one would be accepted at registration and fail later in the run.
MAX_SEED = 2**63 - 1


def seed_problem(seed: int) -> str | None:
    """Why ``seed`` is not a usable seed, or None."""
    if seed < 0 or seed > MAX_SEED:
        return f"seed must be between 0 and 2**63-1 ({MAX_SEED}), got {seed}"
    return None
