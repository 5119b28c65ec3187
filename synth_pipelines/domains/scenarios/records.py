"""Pydantic record models as polars schemas.

A scenario declares its records once, as a pydantic model; the polars dtypes of the record frame,
of the LLM's answer frame and of every re-read file are derived from it, so they cannot drift.
Timestamps are UTC with millisecond precision, the precision every export format carries.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel

TIMESTAMP = pl.Datetime("ms", "UTC")


def polars_dtype(annotation: Any) -> tuple[pl.DataType, bool]:
    """The polars dtype of a pydantic field annotation, and whether it may be null."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return polars_dtype(args[0])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unions other than Optional[X] have no column type: {annotation!r}")
        return polars_dtype(inner[0])[0], True
    if origin is Literal:
        return polars_dtype(type(args[0]))[0], None in args
    if origin in (list, tuple, typing.Sequence):
        return pl.List(polars_dtype(args[0])[0]), False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pl.Struct(model_schema(annotation)), False
    simple: dict[Any, pl.DataType] = {
        str: pl.String(),
        int: pl.Int64(),
        float: pl.Float64(),
        bool: pl.Boolean(),
        dt.datetime: TIMESTAMP,
        dt.date: pl.Date(),
    }
    if annotation in simple:
        return simple[annotation], False
    raise TypeError(f"no column type for annotation {annotation!r}")


def model_schema(model: type[BaseModel], exclude: Iterable[str] = ()) -> pl.Schema:
    """Field name -> polars dtype, in declaration order."""
    skip = set(exclude)
    return pl.Schema(
        {name: polars_dtype(f.annotation)[0] for name, f in model.model_fields.items() if name not in skip}
    )


def nullable_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, f in model.model_fields.items() if polars_dtype(f.annotation)[1]}


def frame_from_models(values: Iterable[BaseModel], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Parsed pydantic values as a frame with exactly ``schema`` (aware datetimes normalised to UTC)."""
    rows = [v.model_dump(mode="python") for v in values]
    return pl.DataFrame(rows, schema=dict(schema))


def conform(df: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``df`` with exactly the columns of ``schema``, in order, cast to its dtypes."""
    missing = [name for name in schema if name not in df.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    return df.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
