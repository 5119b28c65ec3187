"""The scenario plugin contract.

A scenario knows one business domain: what a record is (a pydantic model and a pandera schema),
how to ask an LLM for one (``build_prompt``, pure), how to draw one with no model at all
(``draw_offline``, vectorized), and which arguments it takes. The core never changes for a new
scenario: subclass ``Scenario``, register it (built-ins) or expose it through the entry-point group
``synth_pipelines.scenarios`` (third-party packages), and it appears in ``synth scenario`` and as
its own Dagster asset group.

Records are made in two steps. ``draw_plan`` draws the *facts* of every record from the seed
(ids, timestamps, categories, amounts, labels...): the fields named in ``planned_fields``. Then
either the LLM writes the remaining fields (the language: messages, notes, descriptions) for each
planned row, or ``draw_offline`` draws them from vocabularies. Facts the data claims (label
shares, ranges, references) therefore hold whatever the model answers, and are checked by the
pandera schema and ``check_dataset`` before anything is written.
"""

from __future__ import annotations

import argparse
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, Field, ValidationError, create_model

from synth_pipelines.domains.scenarios.records import model_schema
from synth_pipelines.llm.settings import add_provider_args

FORMATS: tuple[str, ...] = ("json", "jsonl", "csv", "yaml", "parquet")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _provider_flags() -> frozenset[str]:
    """The provider layer's flags (``--provider``, ``--top-k``, ``--failure-budget``...), as added to the CLI."""
    parser = argparse.ArgumentParser(add_help=False)
    add_provider_args(parser)
    return frozenset(flag for action in parser._actions for flag in action.option_strings)


# Flags every scenario gets from ``synth scenario``; a scenario may not redefine them.
# Cap on --count (#15): a typo such as 1e11 is refused at once; the memory estimate
# (``ScenarioDomain.describe``) then refuses what this machine cannot hold.
MAX_RECORDS = 100_000_000
# Bytes a record takes at least per field: 12.3 measured for financial (the leanest), 32 for healthcare.
FIELD_BYTES_MIN = 12
RESERVED_FLAGS = (
    frozenset({"--scenario", "--list", "--count", "--seed", "--out-dir", "--output-format", "--help", "--version"})
    | frozenset({"--api-key", "--env-file", "--max-concurrency"})  # kept free for the provider layer
    | _provider_flags()
)
REQUIRED_ATTRIBUTES = (
    "name",
    "version",
    "summary",
    "system_description",
    "record_model",
    "record_name",
    "planned_fields",
    "examples",
)


class ScenarioArgumentError(ValueError):
    """Invalid scenario arguments; the message names the flag and the accepted values."""


@dataclass(frozen=True)
class ScenarioArg:
    """One extra CLI argument of a scenario (and the same field of its Dagster run config)."""

    flag: str  # "--transaction-type"
    type: type  # str, int, float or bool
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    multiple: bool = False  # several values: ``--speciality cardiology dermatology``
    minimum: float | None = None
    maximum: float | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def annotation(self) -> Any:
        return list[self.type] if self.multiple else self.type  # type: ignore[name-defined]


def entity_share(rows: int, records: int, start: int, stop: int) -> tuple[int, int]:
    """(offset, length) of the rows of an entity table of ``rows`` rows that the shard of records
    ``start .. stop`` of ``records`` writes: the same proportion of the table, so the shares tile it."""
    first, last = rows * start // records, rows * stop // records
    return first, last - first


@dataclass(frozen=True)
class EntityRange:
    """The entity rows of records ``start .. stop`` (``Scenario.draw_entity_range``)."""

    # Per table, every row the records of the blocks overlapping the range reference (their checks join them).
    referenced: dict[str, pl.DataFrame]
    # Per table, the rows the range writes: the ranges of shards tiling ``0 .. count`` tile each table in order.
    written: dict[str, pl.DataFrame]


class Scenario(ABC):
    """Subclass, fill in the class attributes and the four abstract methods; see docs/scenarios.md."""

    name: ClassVar[str]  # CLI name, kebab-case: "tech-support"
    version: ClassVar[str]  # bump when the same seed and arguments would give different bytes
    summary: ClassVar[str]  # one line for ``synth scenario --list``
    system_description: ClassVar[str]  # the system message sent to the LLM
    record_model: ClassVar[type[BaseModel]]  # one primary record (ticket, transaction, encounter)
    record_name: ClassVar[str]  # file/table name of the primary records: "tickets"
    planned_fields: ClassVar[tuple[str, ...]]  # record fields drawn from the seed, never by the LLM
    examples: ClassVar[tuple[str, ...]]  # full ``synth scenario ...`` command lines for --help
    output_formats: ClassVar[tuple[str, ...]] = FORMATS
    arguments: ClassVar[tuple[ScenarioArg, ...]] = ()
    # Foreign keys of the records: column -> (entity table, column); checked before writing.
    references: ClassVar[dict[str, tuple[str, str]]] = {}
    # Names of the entity tables ``draw_entities`` returns (each its own file and Dagster asset).
    entity_tables: ClassVar[tuple[str, ...]] = ()
    default_count: ClassVar[int] = 100
    # The most primary records the scenario can number (its ids' fixed width): a larger --count is refused
    # up front in one line instead of failing the id checks after the drawing.
    max_count: ClassVar[int] = MAX_RECORDS
    # Records per block of a *block-drawn* scenario: record ``i``'s facts, offline text and the entity rows it
    # references come from block ``i // block_rows`` alone (``draw_plan_range``, ``draw_offline_range``,
    # ``draw_entity_range``), so a shard draws only the blocks its records overlap. ``None``: the plan is drawn for
    # the whole count, and a shard of records ``start .. stop`` draws a run of ``stop`` records.
    block_rows: ClassVar[int | None] = None

    # Built by __init_subclass__ from ``arguments``: count, output_format and one field per argument.
    config_model: ClassVar[type[BaseModel]]
    _text_model: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        problems: list[str] = []
        missing_attrs = [a for a in REQUIRED_ATTRIBUTES if not hasattr(cls, a)]
        if missing_attrs:
            problems.append(f"missing class attributes {', '.join(missing_attrs)}")
        missing_methods = sorted(
            name
            for name in getattr(Scenario, "__abstractmethods__", ())
            if getattr(getattr(cls, name, None), "__isabstractmethod__", False)
        )
        if missing_methods:
            problems.append(f"missing methods {', '.join(missing_methods)}")
        if problems:
            raise TypeError(
                f"scenario {cls.__qualname__} is incomplete: {'; '.join(problems)} "
                "(declare them, or pass abstract=True for an intermediate base class)"
            )
        cls._check_declaration()
        cls.config_model = cls._build_config_model()
        fields = cls.record_model.model_fields
        cls._text_model = create_model(  # type: ignore[call-overload]
            f"{cls.record_model.__name__}Text",
            __doc__=cls.record_model.__doc__,
            **{n: (f.annotation, f) for n, f in fields.items() if n not in cls.planned_fields},
        )

    @classmethod
    def _check_declaration(cls) -> None:
        where = f"scenario {cls.__qualname__}"
        if not isinstance(cls.name, str) or not NAME_PATTERN.match(cls.name):
            raise TypeError(f"{where}: name must be kebab-case like 'tech-support', got {cls.name!r}")
        if not (isinstance(cls.record_model, type) and issubclass(cls.record_model, BaseModel)):
            raise TypeError(f"{where}: record_model must be a pydantic model class")
        if not re.match(r"^[a-z][a-z0-9_]*$", cls.record_name):
            raise TypeError(f"{where}: record_name must be snake_case like 'tickets', got {cls.record_name!r}")
        bad = [f for f in cls.output_formats if f not in FORMATS]
        if bad or not cls.output_formats:
            raise TypeError(f"{where}: output_formats must be a non-empty subset of {FORMATS}, got {bad}")
        unknown = [f for f in cls.planned_fields if f not in cls.record_model.model_fields]
        if unknown:
            raise TypeError(f"{where}: planned_fields {unknown} are not fields of {cls.record_model.__name__}")
        if set(cls.planned_fields) >= set(cls.record_model.model_fields):
            raise TypeError(f"{where}: every field is planned; leave at least one for the LLM to write")
        for column, (table, _key) in cls.references.items():
            if column not in cls.record_model.model_fields or table not in cls.entity_tables:
                raise TypeError(f"{where}: reference {column} -> {table} names an unknown field or entity table")
        if not cls.examples:
            raise TypeError(f"{where}: give at least one usage example")
        if cls.block_rows is not None:
            if not isinstance(cls.block_rows, int) or cls.block_rows < 1:
                raise TypeError(f"{where}: block_rows must be a positive int or None, got {cls.block_rows!r}")
            unset = [m for m in ("draw_plan_range", "draw_offline_range") if getattr(cls, m) is getattr(Scenario, m)]
            if unset:
                raise TypeError(f"{where}: block_rows is set, so implement {', '.join(unset)}")
        model_schema(cls.record_model)  # raises TypeError for a field with no column type
        seen: set[str] = set()
        for arg in cls.arguments:
            if not isinstance(arg, ScenarioArg):
                raise TypeError(f"{where}: arguments must be ScenarioArg, got {arg!r}")
            if not arg.flag.startswith("--") or arg.flag in RESERVED_FLAGS or arg.flag in seen:
                raise TypeError(f"{where}: argument flag {arg.flag!r} is reserved, duplicated or not a --flag")
            if arg.type not in (str, int, float, bool):
                raise TypeError(f"{where}: argument {arg.flag} has type {arg.type!r}; use str, int, float or bool")
            seen.add(arg.flag)

    @classmethod
    def _build_config_model(cls) -> type[BaseModel]:
        fields: dict[str, Any] = {
            "count": (
                int,
                Field(
                    cls.default_count, ge=1, le=min(cls.max_count, MAX_RECORDS), description="number of primary records"
                ),
            ),
            "output_format": (
                str,
                Field(cls.output_formats[0], description=f"one of {list(cls.output_formats)}"),
            ),
        }
        for arg in cls.arguments:
            default = list(arg.default) if arg.multiple else arg.default
            fields[arg.dest] = (
                arg.annotation(),
                Field(default, ge=arg.minimum, le=arg.maximum, description=arg.help),
            )
        title = "".join(part.title() for part in cls.name.split("-"))
        model = create_model(f"{title}ScenarioConfig", __module__=cls.__module__, **fields)
        # Reachable by name in the scenario's module, so a config pickles (shards run on spawned workers).
        module = sys.modules.get(cls.__module__)
        if module is not None and not hasattr(module, model.__name__):
            setattr(module, model.__name__, model)
        return model

    # ---- names -------------------------------------------------------------------------------

    @property
    def group_name(self) -> str:
        """Dagster asset group and export folder: ``scenario_tech_support``."""
        return "scenario_" + self.name.replace("-", "_")

    def file_stem(self, table: str) -> str:
        return f"{self.name.replace('-', '_')}_{table}"

    # ---- arguments ---------------------------------------------------------------------------

    def parse_config(self, values: Mapping[str, Any] | None = None) -> BaseModel:
        """Typed, checked arguments; raises ``ScenarioArgumentError`` naming the flag."""
        values = dict(values or {})
        try:
            cfg = self.config_model.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            flag = "--" + field.replace("_", "-")
            given = values.get(field)
            raise ScenarioArgumentError(
                f"scenario {self.name}: {flag}: {first['msg']}" + (f" (got {given!r})" if given is not None else "")
            ) from None
        if cfg.output_format not in self.output_formats:  # type: ignore[attr-defined]
            raise ScenarioArgumentError(
                f"scenario {self.name}: --output-format {cfg.output_format!r} is not supported; "  # type: ignore[attr-defined]
                f"choose one of {', '.join(self.output_formats)}"
            )
        for arg in self.arguments:
            value = getattr(cfg, arg.dest)
            items = value if arg.multiple else [value]
            if arg.multiple and not items:
                raise ScenarioArgumentError(f"scenario {self.name}: {arg.flag} needs at least one value")
            if arg.choices is not None:
                wrong = [v for v in items if v not in arg.choices]
                if wrong:
                    raise ScenarioArgumentError(
                        f"scenario {self.name}: {arg.flag}: {', '.join(map(repr, wrong))} is not one of "
                        f"{', '.join(map(str, arg.choices))}"
                    )
        self.validate_args(cfg)
        return cfg

    def validate_args(self, cfg: Any) -> None:  # noqa: B027 - optional hook, not abstract
        """Reject invalid combinations of arguments with ``ScenarioArgumentError``; default: accept."""

    # ---- records -----------------------------------------------------------------------------

    def record_schema(self) -> pl.Schema:
        return model_schema(self.record_model)

    def text_model(self) -> type[BaseModel]:
        """What the LLM is asked for: the record model without the planned fields."""
        return self._text_model

    def messages(self, plan_row: Mapping[str, Any], cfg: Any) -> tuple[tuple[str, str], ...]:
        """System description and ``build_prompt`` as chat messages (pure)."""
        return (("system", self.system_description), ("user", self.build_prompt(plan_row, cfg)))

    @abstractmethod
    def schema(self, cfg: Any) -> pa.DataFrameSchema:
        """The pandera schema every primary record satisfies (it may depend on the arguments)."""

    @abstractmethod
    def draw_plan(self, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        """``cfg.count`` rows of the ``planned_fields``, drawn from ``synth_pipelines.core.rng``."""

    @abstractmethod
    def draw_offline(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame]
    ) -> pl.DataFrame:
        """The non-planned fields for every plan row, drawn without a model (vectorized)."""

    @abstractmethod
    def build_prompt(self, plan_row: Mapping[str, Any], cfg: Any) -> str:
        """The user message asking for the non-planned fields of one plan row. Pure: no I/O."""

    def draw_entities(self, cfg: Any, seed: int) -> dict[str, pl.DataFrame]:
        """Related entity tables (accounts, patients...) written beside the records; none by default."""
        return {}

    def entity_schemas(self, cfg: Any) -> dict[str, pa.DataFrameSchema]:
        """A pandera schema per entity table returned by ``draw_entities``."""
        return {}

    # ---- ranges of records (block-drawn scenarios; shards, docs/scale-out.md) --------------------

    def draw_entity_range(self, cfg: Any, seed: int, start: int, stop: int) -> EntityRange:
        """The entity rows records ``start .. stop`` reference and write. Default: every shard draws the whole
        tables (``draw_entities``) and writes the same proportion of each table as of the records."""
        tables = self.draw_entities(cfg, seed)
        written = {name: f.slice(*entity_share(f.height, cfg.count, start, stop)) for name, f in tables.items()}
        return EntityRange(tables, written)

    def draw_plan_range(
        self, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame], start: int, stop: int
    ) -> pl.DataFrame:
        """Block-drawn scenarios: the plan rows of records ``start .. stop`` (``start`` a multiple of
        ``block_rows``), equal to those rows of ``draw_plan``, drawn from their blocks alone."""
        raise NotImplementedError(f"scenario {self.name} is not block-drawn (block_rows is None)")

    def draw_offline_range(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame], start: int
    ) -> pl.DataFrame:
        """Block-drawn scenarios: ``draw_offline`` for plan rows of records ``start ..`` (a block's first row)."""
        raise NotImplementedError(f"scenario {self.name} is not block-drawn (block_rows is None)")

    def post_process(self, records: pl.DataFrame, cfg: Any) -> pl.DataFrame:
        """Adjust assembled records (offline or LLM) before validation; identity by default."""
        return records

    def check_dataset(self, records: pl.DataFrame, entities: Mapping[str, pl.DataFrame], cfg: Any) -> list[str]:
        """Cross-table or whole-dataset claims the schema cannot express; each problem as one line."""
        return []

    # ---- shards (docs/scale-out.md) ------------------------------------------------------------
    # A shard checks its own records (``check_dataset``); a whole-dataset claim that spans shards (a
    # count per account) is decided at the commit from numbers every shard reports, summed.

    def shard_check_numbers(self, records: pl.DataFrame, cfg: Any) -> dict[str, Any]:
        """Numbers (or dicts of numbers) of one shard's records that add up across shards; none by default."""
        return {}

    def set_problems(self, numbers: Mapping[str, Any], cfg: Any) -> list[str]:
        """Whole-dataset claims from the summed ``shard_check_numbers`` of every shard; each problem one line."""
        return []
