"""Error messages of the log domains' draws: a template per error type with one number filled in."""

from __future__ import annotations

import numpy as np
import polars as pl


def error_messages(templates: list[str], which: np.ndarray, numbers: np.ndarray, failed: np.ndarray) -> pl.Series:
    """Per record, ``templates[which]`` with its ``{}`` replaced by ``numbers``, where ``failed``;
    null elsewhere (only the failed records' messages are built)."""
    rows = np.flatnonzero(failed)
    chosen = pl.Series(templates, dtype=pl.String).gather(which[rows])
    filled = (
        pl.DataFrame({"t": chosen, "k": numbers[rows]})
        .select(
            pl.concat_str(
                [
                    pl.col("t").str.split("{}").list.get(0),
                    pl.col("k").cast(pl.String),
                    pl.col("t").str.split("{}").list.get(1),
                ]
            )
        )
        .to_series()
    )
    return pl.repeat(None, which.size, dtype=pl.String, eager=True).scatter(rows, filled)
