"""Column values: meaning inferred from names, always within the declared type, drawn vectorized.

Two kinds of draw:
- ``draw_column(spec, rng, n)``: independent values for ordinary columns (numpy draws, then polars
  gathers from vocabularies and string expressions; no per-row Python).
- ``enumerate_column(spec, j)``: the ``j``-th value of a column's *enumerable domain*, an injective
  map from ``0 .. domain_size(spec) - 1`` to values. Keys and UNIQUE columns are built from it, so
  their uniqueness holds by construction (see ``keys.py``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from synth_pipelines.domains.relational.check_values import draw_shaped, enumerate_shaped, is_shaped, shaped_domain_size
from synth_pipelines.domains.relational.ddl import TEMPORAL_ROOM, Column, SqlType
from synth_pipelines.domains.relational.vocab import faker_vocab, vocab

EPOCH = dt.date(1970, 1, 1)
EVENT_START = dt.date(2015, 1, 1)
EVENT_END = dt.date(2025, 12, 31)
BIRTH_START = dt.date(1940, 1, 1)
BIRTH_END = dt.date(2006, 12, 31)
US_PER_DAY = 86_400_000_000
ALNUM = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", dtype=np.uint8)  # no 0/O, 1/I: booking-code style
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)

# --------------------------------------------------------------------------------------------------
# Meaning from names


_PERSON_TABLES = re.compile(
    r"(author|member|customer|employee|user|people|person|student|patient|staff|guest|client|contact|"
    r"teacher|driver|passenger|player|worker|manager|reviewer|owner|applicant|candidate|doctor|nurse|physician|"
    r"dentist|pilot)s?$"
)

_PUBLISHER_TABLES = re.compile(r"publish|press|imprint")

_STRING_RULES: list[tuple[str, str]] = [
    (r"e_?mail", "email"),
    (r"^(first|given|fore)_?name$|^fname$", "first_name"),
    (r"^(last|family|sur)_?name$|^lname$|^surname$", "last_name"),
    (r"^(full_?name|display_?name|contact_?name|customer_?name|author_?name|person_?name)$", "full_name"),
    (r"user_?name|login|handle|nickname", "username"),
    (r"phone|mobile|fax|^tel", "phone"),
    (r"country_?(code|iso)|^iso_?country", "country_code"),
    (r"^country(_name)?$|nationality", "country"),
    (r"currency", "currency"),
    (r"time_?zone|^tz$", "timezone"),
    (r"^(lang|language|locale)(_code)?$", "language"),
    (r"city|town", "city"),
    (r"^(state|province|region)(_name)?$", "state"),
    (r"(street|address)(_line)?_?\d?$|^address", "street"),
    (r"zip|post_?code|postal", "postal_code"),
    (r"url|website|homepage|link$", "url"),
    (r"isbn", "isbn"),
    (r"iata|airport_?code", "iata"),
    (r"booking_?ref|confirmation|locator|pnr|reference|ref_?code|ticket_?no", "reference"),
    (r"(^|_)(code|sku)$", "code"),
    (r"job|position|occupation", "job"),
    (r"colou?r", "color"),
    (r"gender|sex$", "gender"),
    (r"^status$", "status"),
    (r"ip_?addr|^ip$", "ip"),
    (r"uuid|guid", "uuid_text"),
    (r"password|hash|token|secret|digest", "hex"),
    (r"company|employer|organi[sz]ation|publisher|vendor|supplier|brand", "company"),
    (r"department|dept", "department"),
    (r"title|headline|subject", "title"),
    (r"descr|note|comment|body|bio|summary|content|text|review|message|remark", "text"),
]

_NUMBER_RULES: list[tuple[str, str]] = [
    (r"milli_?seconds|(^|_)ms$|duration_ms|length_ms", "duration_ms"),
    (r"(^|_)(seconds|secs?)$|duration_s(ec)?$", "duration_s"),
    (r"(^|_)bytes$|file_?size|size_bytes", "bytes"),
    (r"unit_?price|(^|_)price$|list_price|sale_price", "price"),
    (r"^lat(itude)?$", "latitude"),
    (r"^(lng|lon|long|longitude)$", "longitude"),
    (r"salary|wage|income", "salary"),
    (r"budget|revenue|turnover", "budget"),
    (r"fine|tip|fee|tax|discount|shipping", "small_money"),
    (r"price|cost|amount|total|balance|paid|charge", "money"),
    (r"rating|stars", "rating"),
    (r"(^|_)fare$", "fare"),
    (r"score|percent|pct", "percent"),
    (r"year", "year"),
    (r"^age$|_age$", "age"),
    (r"pages?$", "pages"),
    (r"hours", "hours"),
    (r"minutes|duration", "minutes"),
    (r"quantity|qty|count|copies|seats|party_size|stock|num_|number_of|size$|capacity|used$", "quantity"),
    (r"weight|height|width|length|distance", "measure"),
]


def infer_semantic(table: str, column: Column) -> str:
    """A column's meaning from its name (and its table's name), compatible with its type."""
    name = column.name.lower()
    kind = column.type.kind
    if kind in ("string",):
        entity_name = name in ("name", "display_name") or name == f"{table.rstrip('s')}_name"
        if entity_name and not name.startswith(("first", "last")):
            return _entity_name_kind(table)
        for pattern, semantic in _STRING_RULES:
            if re.search(pattern, name):
                return semantic
        return "words"
    if kind in ("int", "decimal", "float"):
        for pattern, semantic in _NUMBER_RULES:
            if re.search(pattern, name):
                return semantic
        return "number"
    if kind in ("date", "timestamp", "timestamptz"):
        if re.search(r"birth|dob|born", name):
            return "birth"
        return "event"
    return kind


def _entity_name_kind(table: str) -> str:
    t = table.lower()
    if _PERSON_TABLES.search(t):
        return "full_name"
    if re.search(r"department|dept|team|division|unit", t):
        return "department"
    if re.search(r"publisher|compan|supplier|vendor|restaurant|shop|store|brand|organi|hotel|airline|bank", t):
        return "company"
    if re.search(r"city|cities|town", t):
        return "city"
    if re.search(r"countr", t):
        return "country"
    return "title"


# --------------------------------------------------------------------------------------------------
# The column spec: type, meaning and the bounds CHECK constraints impose


@dataclass
class ColumnSpec:
    table: str
    column: Column
    semantic: str
    lo: Any = None  # inclusive bounds after type, CHECK and meaning (numbers, dates, datetimes)
    hi: Any = None
    choices: list[Any] | None = None  # from ENUM or CHECK (col IN (...))
    min_len: int = 0
    max_len: int | None = None
    null_share: float = 0.0
    default: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def type(self) -> SqlType:
        return self.column.type


def polars_dtype(t: SqlType) -> pl.DataType:
    if t.kind == "int":
        lo, hi = t.min_value or 0, t.max_value or 0
        for dtype, (a, b) in ((pl.Int16, (-(2**15), 2**15 - 1)), (pl.Int32, (-(2**31), 2**31 - 1))):
            if lo >= a and hi <= b:
                return dtype
        return pl.Int64
    if t.kind == "decimal":
        return pl.Decimal(t.precision, t.scale)
    return {
        "float": pl.Float64,
        "bool": pl.Boolean,
        "date": pl.Date,
        "time": pl.Time,
        "timestamp": pl.Datetime("us"),
        "timestamptz": pl.Datetime("us", "UTC"),
    }.get(t.kind, pl.String)


# Typical ranges by meaning: (low, high, shape). Shapes: uniform, lognormal (median = geometric mean).
_NUMBER_RANGES: dict[str, tuple[float, float, str]] = {
    "latitude": (-55.0, 70.0, "uniform"),
    "longitude": (-170.0, 175.0, "uniform"),
    "salary": (22_000, 250_000, "lognormal"),
    "budget": (5_000, 5_000_000, "lognormal"),
    "small_money": (0.5, 60, "lognormal"),
    "money": (1, 500, "lognormal"),
    "rating": (1, 5, "skew_up"),  # people rate what they chose: the upper half, as in real reviews
    "duration_ms": (90_000, 600_000, "lognormal"),  # a song: 1.5 to 10 minutes, median about 4
    "duration_s": (30, 3_600, "lognormal"),
    "bytes": (200_000, 60_000_000, "lognormal"),
    "price": (0.99, 199.99, "lognormal"),  # charm prices: x.99 (see _draw_numbers)
    "media_price": (0.69, 2.49, "lognormal"),  # one track, episode or song
    "fare": (39, 1_500, "lognormal"),
    "percent": (0, 100, "uniform"),
    "year": (1950, 2024, "uniform"),
    "age": (18, 90, "uniform"),
    "pages": (48, 1200, "lognormal"),
    "hours": (1, 40, "uniform"),
    "minutes": (10, 180, "lognormal"),  # an appointment, a class, a meeting: median about 40
    "quantity": (1, 12, "small_count"),  # mostly 1 or 2, rarely 10
    "measure": (1, 500, "lognormal"),
    "number": (1, 10_000, "lognormal"),
}


def number_step(t: SqlType) -> float:
    if t.kind == "int":
        return 1
    if t.kind == "decimal":
        return 10.0 ** -(t.scale or 0)
    return 0.0


def type_bounds(t: SqlType) -> tuple[float, float]:
    if t.kind == "int":
        return float(t.min_value), float(t.max_value)  # type: ignore[arg-type]
    if t.kind == "decimal":
        top = 10.0 ** ((t.precision or 18) - (t.scale or 0)) - 10.0 ** -(t.scale or 0)
        return -top, top
    return -1e15, 1e15


def typical_range(spec: ColumnSpec) -> tuple[float, float, str]:
    if "range" in spec.extra:  # a spec's number generator: its bounds and distribution
        return spec.extra["range"]
    return _NUMBER_RANGES.get(spec.semantic, _NUMBER_RANGES["number"])


# --------------------------------------------------------------------------------------------------
# Independent draws


def draw_column(spec: ColumnSpec, rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` values of an ordinary column (NULLs included at the spec's share)."""
    # A CHECK's LIKE, regex or modulo shapes the values (check_values.py).
    values = draw_shaped(spec, rng, n, _draw_values) if is_shaped(spec) else _draw_values(spec, rng, n)
    if spec.null_share > 0 and n:
        nulls = rng.random(n) < spec.null_share
        if nulls.any():
            values = pl.select(pl.when(pl.Series(nulls)).then(None).otherwise(values).alias(spec.name)).to_series()
    return values.alias(spec.name)


def _draw_values(spec: ColumnSpec, rng: np.random.Generator, n: int) -> pl.Series:
    t = spec.type
    dtype = polars_dtype(t)
    if spec.choices is not None:
        if "weights" in spec.extra:
            p = np.asarray(spec.extra["weights"], dtype=np.float64)
            return pl.Series(spec.choices).gather(rng.choice(len(spec.choices), size=n, p=p / p.sum())).cast(dtype)
        return _pick(spec.choices, spec.default, rng, n).cast(dtype)
    kind = t.kind
    if "faker" in spec.extra:
        return fit_length(_gather_series(faker_vocab(spec.extra["faker"]), rng, n), spec)
    if "pattern" in spec.extra:
        return fit_length(_pattern(rng, n, spec.extra["pattern"]), spec)
    if kind in ("int", "decimal", "float"):
        return numbers_to_series(_draw_numbers(spec, rng, n), t)
    if kind == "bool":
        p_true = 0.8 if spec.default is True else 0.2 if spec.default is False else 0.5
        return pl.Series(rng.random(n) < p_true, dtype=pl.Boolean)
    if kind == "date":
        lo, hi = _date_bounds(spec)
        days = rng.integers(_days(lo), _days(hi) + 1, n)
        return pl.Series(days.astype(np.int32)).cast(pl.Date)
    if kind in ("timestamp", "timestamptz"):
        lo, hi = _datetime_bounds(spec)
        seconds = rng.integers(lo // 1_000_000, hi // 1_000_000 + 1, n)
        return pl.Series(seconds * 1_000_000).cast(dtype)
    if kind == "time":
        seconds = rng.integers(6 * 3600, 23 * 3600, n)
        return pl.Series(seconds * 1_000_000_000).cast(pl.Time)
    if kind == "uuid":
        return uuid_strings(rng.integers(0, 2**62, n, dtype=np.int64), rng.integers(0, 2**62, n, dtype=np.int64))
    if kind == "json":
        score = rng.integers(0, 100, n)
        tags = vocab("word").gather(rng.integers(0, vocab("word").len(), n))
        return _concat(['{"score": ', pl.Series(score).cast(pl.String), ', "tag": "', tags, '"}'], "")
    if kind == "enum":
        return _pick(list(t.enum_values), spec.default, rng, n)
    values = fit_length(_draw_string(spec, rng, n), spec)
    if isinstance(spec.default, str) and (spec.max_len is None or len(spec.default) <= spec.max_len):
        # A literal DEFAULT (currency DEFAULT 'USD') is what most rows carry.
        values = pl.select(
            pl.when(pl.Series(rng.random(n) < 0.6)).then(pl.lit(spec.default)).otherwise(values).alias("s")
        ).to_series()
    return values


def _pick(choices: list[Any], default: Any, rng: np.random.Generator, n: int) -> pl.Series:
    """Sample a list of allowed values; a DEFAULT among them is the most common value, as in real data."""
    k = len(choices)
    p = np.full(k, 1.0 / k)
    if default is not None and default in choices and k > 1:
        p = np.full(k, 0.4 / (k - 1))
        p[choices.index(default)] = 0.6
    idx = rng.choice(k, size=n, p=p)
    return pl.Series(choices).gather(idx)


def _draw_numbers(spec: ColumnSpec, rng: np.random.Generator, n: int) -> np.ndarray:
    lo, hi = float(spec.lo), float(spec.hi)
    a, b, shape = typical_range(spec)
    # A numeric DEFAULT (fine_amount DEFAULT 0) is what most rows carry.
    share = 0.7 if isinstance(spec.default, float) and lo <= spec.default <= hi else 0.0
    a, b = max(a, lo), min(b, hi)
    if a > b:  # the CHECK moved the column out of its usual range: the CHECK wins
        a, b = lo, min(hi, lo + max(1.0, abs(lo)) * 10)
        shape = "uniform"
    if shape == "lognormal" and a > 0:
        mu, sigma = (math.log(a) + math.log(b)) / 2, (math.log(b) - math.log(a)) / 5 or 1e-9
        x = np.clip(rng.lognormal(mu, sigma, n), a, b)
    elif shape == "small_count":
        x = a + rng.geometric(0.55, n) - 1.0  # P(a) = 0.55, P(a+1) = 0.25...
        x = np.minimum(x, b)
    elif shape == "skew_up":
        x = a + (b - a) * np.sqrt(rng.random(n))  # density rising to the top of the range
    else:
        x = rng.uniform(a, b, n)
    step = number_step(spec.type)
    if spec.semantic in ("price", "media_price") and step and step <= 0.01 and b - a >= 1:
        # Charm prices: 4.99, 12.99 (within the bounds; a bound below x.99 keeps the plain value).
        charm = np.ceil(x) - 0.01
        x = np.where((charm >= a) & (charm <= b), charm, x)
    if spec.type.kind == "int":
        x = np.clip(np.floor(x + rng.random(n) * (b > a)), a, b)
    elif step:
        x = np.clip(np.round(x / step) * step, math.ceil(a / step) * step, math.floor(b / step) * step)
    else:
        x = np.round(x, 4)
    if share:
        x = np.where(rng.random(n) < share, spec.default, x)
    return x


def numbers_to_series(x: np.ndarray, t: SqlType) -> pl.Series:
    if t.kind == "int":
        return pl.Series(x.astype(np.int64)).cast(polars_dtype(t))
    if t.kind == "decimal":
        # Through the exact scaled integer: float rounding never leaks into the last digit.
        scale = 10 ** (t.scale or 0)
        q = np.round(np.asarray(x, dtype=np.float64) * scale)
        return pl.Series(q / scale).cast(pl.Decimal(t.precision, t.scale))
    return pl.Series(np.asarray(x, dtype=np.float64))


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _date_bounds(spec: ColumnSpec) -> tuple[dt.date, dt.date]:
    start, end = (BIRTH_START, BIRTH_END) if spec.semantic == "birth" else (EVENT_START, EVENT_END)
    if "dates" in spec.extra:  # a spec's date range replaces the meaning's
        start, end = spec.extra["dates"]
    lo = spec.lo if spec.lo is not None else start
    hi = spec.hi if spec.hi is not None else end
    lo = _as_date(lo)
    hi = _as_date(hi)
    a, b = max(lo, start), min(hi, end)
    if a <= b:
        return a, b
    # The CHECK moved the column out of its usual range (d > '2030-01-01'): the CHECK wins, and the values
    # spread over ddl.TEMPORAL_ROOM (10 years; the parser refuses a lower bound without that much room
    # before 9999-12-31) next to the bound it states (both bounds: between them).
    width = TEMPORAL_ROOM
    if spec.lo is not None and spec.hi is not None:
        return lo, max(lo, min(hi, lo + width))
    if spec.lo is not None:
        return lo, lo + width
    return (hi - width if hi - dt.date.min >= width else dt.date.min), hi


def _as_date(v: Any) -> dt.date:
    return v.date() if isinstance(v, dt.datetime) else v


def _datetime_bounds(spec: ColumnSpec) -> tuple[int, int]:
    """Inclusive bounds in microseconds since the epoch."""
    lo, hi = _date_bounds(spec)
    lo_us = _days(lo) * US_PER_DAY
    hi_us = _days(hi) * US_PER_DAY + US_PER_DAY - 1_000_000
    if isinstance(spec.lo, dt.datetime):
        lo_us = max(lo_us, _us(spec.lo))
    if isinstance(spec.hi, dt.datetime):
        hi_us = min(hi_us, _us(spec.hi))
    return lo_us, max(lo_us, hi_us)


def _us(v: dt.datetime) -> int:
    if v.tzinfo is not None:
        v = v.astimezone(dt.UTC).replace(tzinfo=None)
    return int((v - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)


# --------------------------------------------------------------------------------------------------
# Strings


def _gather(name: str, rng: np.random.Generator, n: int) -> pl.Series:
    return _gather_series(vocab(name), rng, n)


def _gather_series(v: pl.Series, rng: np.random.Generator, n: int) -> pl.Series:
    return v.gather(rng.integers(0, v.len(), n))


_PATTERN_ALPHABETS = {ord("#"): DIGITS, ord("?"): ALNUM[:24], ord("*"): ALNUM}


def _pattern(rng: np.random.Generator, n: int, pattern: str) -> pl.Series:
    """Strings shaped like ``pattern``: ``#`` a digit, ``?`` an upper-case letter, ``*`` either."""
    fixed = np.frombuffer(pattern.encode(), dtype=np.uint8)
    chars = np.broadcast_to(fixed, (n, fixed.size)).copy()
    for code, alphabet in _PATTERN_ALPHABETS.items():
        holes = np.flatnonzero(fixed == code)
        if holes.size:
            chars[:, holes] = alphabet[rng.integers(0, alphabet.size, (n, holes.size))]
    return _rows_to_strings(chars)


def _codes(rng: np.random.Generator, n: int, length: int, alphabet: np.ndarray = ALNUM) -> pl.Series:
    if length <= 0:
        return pl.Series([""] * n, dtype=pl.String)
    chars = alphabet[rng.integers(0, alphabet.size, (n, length))]
    return _rows_to_strings(chars)


def _rows_to_strings(chars: np.ndarray) -> pl.Series:
    """An (n, k) uint8 array of ASCII characters -> n strings of length k, without a Python loop.

    The bytes become an Arrow string array directly (offsets 0, k, 2k, ...): no per-string objects.
    """
    n, k = chars.shape
    if n == 0:
        return pl.Series([], dtype=pl.String)
    data = np.ascontiguousarray(chars, dtype=np.uint8).reshape(-1)
    offsets = np.arange(0, n * k + 1, k, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.Series(pl.from_arrow(array)).cast(pl.String)


def _template(rng: np.random.Generator, n: int, pattern: str) -> pl.Series:
    """Strings shaped like ``pattern`` with every ``#`` a random digit (``+1 ### ### ####``)."""
    fixed = np.frombuffer(pattern.encode(), dtype=np.uint8)
    holes = np.flatnonzero(fixed == ord("#"))
    chars = np.broadcast_to(fixed, (n, fixed.size)).copy()
    chars[:, holes] = DIGITS[rng.integers(0, DIGITS.size, (n, holes.size))]
    return _rows_to_strings(chars)


def _digits(rng: np.random.Generator, n: int, k: int) -> pl.Series:
    return _codes(rng, n, k, DIGITS)


def _words(rng: np.random.Generator, n: int, count_hi: int) -> pl.Series:
    """One to ``count_hi`` (1 or 3) lorem words."""
    return _gather("word" if count_hi <= 1 else "phrase", rng, n)


def _title(rng: np.random.Generator, n: int) -> pl.Series:
    """Two to five Title Case words: two phrases from pre-built pools (one gather each, no per-word work)."""
    return _concat([_gather("title_head", rng, n), _gather("title_tail", rng, n)], " ")


def _sentences(rng: np.random.Generator, n: int) -> pl.Series:
    """A sentence of 6-18 words: a capitalised opening phrase, two more phrases and a full stop."""
    parts = [_gather("sentence_head", rng, n), _gather("phrase_long", rng, n), _gather("sentence_tail", rng, n)]
    return _concat(parts, " ")


def _draw_string(spec: ColumnSpec, rng: np.random.Generator, n: int) -> pl.Series:
    sem = spec.semantic
    length = spec.max_len
    if sem == "first_name":
        return _gather("first_name", rng, n)
    if sem == "last_name":
        return _gather("last_name", rng, n)
    if sem == "full_name":
        return _concat([_gather("first_name", rng, n), _gather("last_name", rng, n)], " ")
    if sem == "email":
        local = _concat(
            [
                _gather("first_name", rng, n).str.to_lowercase(),
                _gather("last_name", rng, n).str.to_lowercase(),
            ],
            ".",
        )
        return _concat([_concat([local, _digits(rng, n, 2)], ""), _gather("email_domain", rng, n)], "@")
    if sem == "username":
        return _concat([_gather("first_name", rng, n).str.to_lowercase(), _digits(rng, n, 3)], "")
    if sem == "phone":
        return _template(rng, n, "+1 ### ### ####")
    if sem == "country_code":
        return _gather("country_code3" if (length or 2) >= 3 and spec.type.fixed else "country_code2", rng, n)
    if sem in (
        "country",
        "city",
        "currency",
        "timezone",
        "language",
        "color",
        "job",
        "department",
        "status",
        "gender",
    ):
        if sem == "job" and length is not None:
            # Whole titles that fit (VARCHAR(30) keeps "Sales Manager", never a cut "Administrator, Charit").
            fitting = vocab("job").filter(vocab("job").str.len_chars() <= length)
            if fitting.len():
                return _gather_series(fitting, rng, n)
        return _gather(sem, rng, n)
    if sem == "state":
        return _gather("state", rng, n)
    if sem == "street":
        return _concat([_digits(rng, n, 3), _gather("last_name", rng, n), _gather("street_suffix", rng, n)], " ")
    if sem == "postal_code":
        return _digits(rng, n, 5)
    if sem == "url":
        host = _gather("last_name", rng, n).str.to_lowercase()
        return _concat(["https://www.", host, ".example.com/"], "")
    if sem == "isbn":
        return isbn13(rng.integers(0, 10**9, n))
    if sem == "iata":
        return _codes(rng, n, 3, ALNUM[:24])
    if sem in ("reference", "code"):
        return _codes(rng, n, code_length(spec))
    if sem == "ip":
        parts = [pl.Series(rng.integers(1, 255, n)).cast(pl.String) for _ in range(4)]
        return _concat(parts, ".")
    if sem == "uuid_text":
        return uuid_strings(rng.integers(0, 2**62, n, dtype=np.int64), rng.integers(0, 2**62, n, dtype=np.int64))
    if sem == "hex":
        return _codes(rng, n, min(length or 64, 64), np.frombuffer(b"0123456789abcdef", dtype=np.uint8))
    if sem == "company" and not _PUBLISHER_TABLES.search(spec.table.lower()):
        return _gather("company_name", rng, n)  # Faker's company formats: "Reed Inc", "Hart-Cole"
    if sem == "company":
        return _concat([_gather("company", rng, n), _gather("company_suffix", rng, n)], " ")
    if sem in ("work_title", "review_title", "dish", "product", "artist", "playlist"):
        return _gather(sem, rng, n)
    if sem == "sentences":
        return _concat([_gather("sentence", rng, n), _gather("sentence", rng, n)], " ")
    if sem == "review_text":
        return _concat([_gather("review_sentence", rng, n), _gather("sentence", rng, n)], " ")
    if sem == "bio":
        # A short bio that reads as one: what the person does, where, and one sentence.
        return _concat(
            [_gather("job", rng, n), " based in ", _gather("city", rng, n), ". ", _gather("sentence", rng, n)], ""
        )
    if sem == "title":
        return _title(rng, n)
    if sem == "text":
        return _sentences(rng, n)
    return _words(rng, n, 3 if (length or 40) >= 20 else 1)


def _concat(parts: list[pl.Series | str], sep: str) -> pl.Series:
    exprs = [pl.lit(p) for p in parts]
    return pl.select(pl.concat_str(exprs, separator=sep).alias("s")).to_series()


def code_length(spec: ColumnSpec) -> int:
    length = spec.max_len
    if spec.type.fixed and length:
        return length
    return max(spec.min_len, min(length or 8, 8))


def fit_length(values: pl.Series, spec: ColumnSpec) -> pl.Series:
    """Strings within the declared length: cut at max, pad CHAR(n) and length() minimums."""
    out = values
    if spec.max_len is not None:
        out = out.str.slice(0, spec.max_len).str.strip_chars_end()
    want = spec.max_len if spec.type.fixed and spec.max_len else spec.min_len
    if want:
        out = out.str.pad_end(want, "x")
    return out


def isbn13(nine_digits: np.ndarray) -> pl.Series:
    """ISBN-13 (978 prefix) from 9-digit numbers, with a correct check digit."""
    body = np.asarray(nine_digits, dtype=np.int64)
    digits = np.empty((body.size, 13), dtype=np.int64)
    digits[:, 0:3] = [9, 7, 8]
    rest = body.copy()
    for pos in range(11, 2, -1):
        digits[:, pos] = rest % 10
        rest //= 10
    weights = np.array([1, 3] * 6)
    digits[:, 12] = (10 - (digits[:, :12] * weights).sum(axis=1) % 10) % 10
    return _rows_to_strings((digits + ord("0")).astype(np.uint8))


def uuid_strings(hi62: np.ndarray, lo62: np.ndarray) -> pl.Series:
    """Version-4 layout UUID strings from two 62-bit numbers (lo62 distinct -> UUIDs distinct)."""
    hi = np.asarray(hi62, dtype=np.uint64)
    lo = np.asarray(lo62, dtype=np.uint64)
    hi = (hi & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
    lo = (lo & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)
    hexchars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    out = np.empty((hi.size, 36), dtype=np.uint8)
    cols = [i for i in range(36) if i not in (8, 13, 18, 23)]
    out[:, [8, 13, 18, 23]] = ord("-")
    nibbles = np.empty((hi.size, 32), dtype=np.uint64)
    for k in range(16):
        shift = np.uint64(60 - 4 * k)
        nibbles[:, k] = (hi >> shift) & np.uint64(0xF)
        nibbles[:, 16 + k] = (lo >> shift) & np.uint64(0xF)
    out[:, cols] = hexchars[nibbles.astype(np.intp)]
    return _rows_to_strings(out)


# --------------------------------------------------------------------------------------------------
# Enumerable domains: the j-th distinct value of a column (for keys and UNIQUE columns)


def domain_size(spec: ColumnSpec) -> int:
    """How many distinct values ``enumerate_column`` can produce for this column."""
    return shaped_domain_size(spec, _domain_size) if is_shaped(spec) else _domain_size(spec)


def _domain_size(spec: ColumnSpec) -> int:
    t = spec.type
    if "by_row" in spec.extra:
        return 2**62  # the list, then the list again with a number (Rock 2): distinct for every row
    if spec.choices is not None:
        return len(spec.choices)
    if t.kind == "enum":
        return len(t.enum_values)
    if t.kind == "bool":
        return 2
    if t.kind in ("int", "decimal", "float"):
        lo, hi = _key_number_bounds(spec)
        step = number_step(t) or 0.01
        return max(0, math.floor((hi - lo) / step + 1e-9) + 1)
    if t.kind == "date":
        lo, hi = _date_bounds(spec)
        return _days(hi) - _days(lo) + 1
    if t.kind in ("timestamp", "timestamptz"):
        lo_us, hi_us = _datetime_bounds(spec)
        return (hi_us - lo_us) // 1_000_000 + 1
    if t.kind == "time":
        return 86_400
    if t.kind in ("uuid",) or spec.semantic == "uuid_text":
        return 2**62
    return _string_domain(spec)[0]


def _key_number_bounds(spec: ColumnSpec) -> tuple[float, float]:
    lo, hi = float(spec.lo), float(spec.hi)
    if spec.type.kind == "int" and lo < 1 <= hi:
        lo = 1.0  # keys count from 1 unless a CHECK says otherwise
    return lo, hi


def _string_domain(spec: ColumnSpec) -> tuple[int, str]:
    """(size, method) of a string column's enumerable domain, within its length limits."""
    max_len = spec.max_len if spec.max_len is not None else 10_000
    sem = spec.semantic
    if sem == "isbn" and max_len >= 13:
        return 10**9, "isbn"
    if sem == "email":
        return 2**62, "email"
    if (
        sem
        in (
            "full_name",
            "company",
            "department",
            "title",
            "city",
            "words",
            "text",
            "job",
            "username",
            "street",
            "work_title",
            "review_title",
            "sentences",
            "review_text",
            "bio",
            "dish",
            "product",
            "artist",
            "playlist",
        )
        and max_len >= 24
    ):
        return 2**62, "named"
    if sem in ("country_code", "currency", "language", "timezone", "country", "color", "state"):
        v = _fit_vocab(sem, spec)
        if v.len():
            size = v.len()
            code_size, _ = _code_domain(spec)
            if code_size <= size:
                return size, "vocab"
            return code_size, "code"
    return _code_domain(spec)


def _fit_vocab(sem: str, spec: ColumnSpec) -> pl.Series:
    name = sem
    if sem == "country_code":
        name = "country_code3" if spec.type.fixed and (spec.max_len or 2) >= 3 else "country_code2"
    v = vocab(name)
    if spec.max_len is not None:
        v = v.filter(v.str.len_chars() <= spec.max_len)
    if spec.type.fixed and spec.max_len:
        v = v.filter(v.str.len_chars() == spec.max_len)
    return v


def _code_domain(spec: ColumnSpec) -> tuple[int, str]:
    k = code_length(spec) if spec.max_len is not None else 8
    k = max(k, spec.min_len)
    if spec.max_len is not None and not spec.type.fixed:
        # VARCHAR(n): widen codes as far as needed (up to n) so large tables still fit.
        k = spec.max_len if spec.max_len < 12 else max(k, 12)
    return ALNUM.size ** max(k, 0), f"code{k}"


def enumerate_column(spec: ColumnSpec, j: np.ndarray) -> pl.Series:
    """The ``j``-th values of the column's domain: distinct ``j`` give distinct values."""
    return enumerate_shaped(spec, j, _enumerate_column, _scramble) if is_shaped(spec) else _enumerate_column(spec, j)


def _scramble(j: np.ndarray, size: int) -> np.ndarray:
    """A bijection of ``[0, size)`` that makes consecutive keys look unrelated (pattern-shaped keys)."""
    return permute(j, size, 0x5A9E) if size < 2**62 else mix62(j, 0x5A9E)


def _enumerate_column(spec: ColumnSpec, j: np.ndarray) -> pl.Series:
    t = spec.type
    j = np.asarray(j, dtype=np.int64)
    dtype = polars_dtype(t)
    if "by_row" in spec.extra:
        listed = pl.Series(spec.extra["by_row"], dtype=pl.String)
        rank = pl.Series(j // listed.len() + 1)
        suffix = pl.select(pl.when(rank > 1).then(pl.format(" {}", rank)).otherwise(pl.lit("")).alias("s")).to_series()
        return _concat([listed.gather(j % listed.len()), suffix], "").alias(spec.name)
    if spec.choices is not None:
        return pl.Series(spec.choices).gather(j).cast(dtype).alias(spec.name)
    if t.kind == "enum":
        return pl.Series(list(t.enum_values)).gather(j).alias(spec.name)
    if t.kind == "bool":
        return pl.Series(j == 1, dtype=pl.Boolean).alias(spec.name)
    if t.kind in ("int", "decimal", "float"):
        lo, _ = _key_number_bounds(spec)
        step = number_step(t) or 0.01
        if t.kind == "int":
            return pl.Series(j + int(lo)).cast(dtype).alias(spec.name)
        first = math.ceil(lo / step)
        if abs(first) >= 2**52:
            # Steps this far from zero are below float64's resolution (NUMERIC(38,10) starts at -1e28 in steps
            # of 1e-10): every value came out equal and broke the UNIQUE. Count from the in-range step nearest 0.
            _, hi = _key_number_bounds(spec)
            top = int(np.max(j)) if len(j) else 0
            first = min(max(0, first), math.floor(hi / step) - top)
        return numbers_to_series(first * step + j * step, t).alias(spec.name)
    if t.kind == "date":
        lo, _ = _date_bounds(spec)
        return pl.Series((j + _days(lo)).astype(np.int32)).cast(pl.Date).alias(spec.name)
    if t.kind in ("timestamp", "timestamptz"):
        lo_us, _ = _datetime_bounds(spec)
        return pl.Series(lo_us + j * 1_000_000).cast(dtype).alias(spec.name)
    if t.kind == "time":
        return pl.Series(j * 1_000_000_000).cast(pl.Time).alias(spec.name)
    if t.kind == "uuid" or spec.semantic == "uuid_text":
        return uuid_strings(mix62(j, 0x5EED), mix62(j, 0xBEEF)).alias(spec.name)
    _, method = _string_domain(spec)
    if method == "isbn":
        return isbn13(permute(j, 10**9, 0x15B9)).alias(spec.name)
    if method == "vocab":
        return _fit_vocab(spec.semantic, spec).gather(j).alias(spec.name)
    if method == "email":
        nf, nl = vocab("first_name").len(), vocab("last_name").len()
        p = permute(j % (nf * nl), nf * nl, 0xE1A1)
        first = vocab("first_name").gather(p % nf).str.to_lowercase()
        last = vocab("last_name").gather(p // nf).str.to_lowercase()
        dom = vocab("email_domain").gather(mix62(j, 0xD0) % vocab("email_domain").len())
        # The row number makes the address unique; names and domain keep it realistic.
        local = _concat([_concat([first, last], "."), pl.Series(j).cast(pl.String)], "")
        return fit_length(_concat([local, dom], "@"), spec).alias(spec.name)
    if method == "named":
        base = _named(spec, j)
        rank = pl.Series(j // _named_capacity(spec) + 1)
        # Names repeat after the vocabulary's combinations run out: a numeric suffix keeps them distinct.
        suffix = pl.select(pl.when(rank > 1).then(pl.format(" {}", rank)).otherwise(pl.lit("")).alias("s")).to_series()
        if spec.max_len is not None:
            base = base.str.slice(0, spec.max_len - 20).str.strip_chars_end()
        return _concat([base, suffix], "").alias(spec.name)
    k = int(method[4:])
    return _code_from_index(j, k).alias(spec.name)


def _named_capacity(spec: ColumnSpec) -> int:
    sem = spec.semantic
    if sem == "full_name":
        return vocab("first_name").len() * vocab("last_name").len()
    if sem == "company":
        return vocab("company").len() * vocab("company_suffix").len()
    if sem in ("department", "city", "job", "product", "artist", "playlist"):
        return vocab(sem).len()
    return vocab("word").len() ** 2


def _named(spec: ColumnSpec, j: np.ndarray) -> pl.Series:
    sem = spec.semantic
    cap = _named_capacity(spec)
    listed = ("department", "city", "job", "product", "artist", "playlist")
    jj = permute(j % cap, cap, 0xA11CE) if sem not in listed else j % cap
    if sem == "full_name":
        f, ln = vocab("first_name"), vocab("last_name")
        return _concat([f.gather(jj % f.len()), ln.gather(jj // f.len())], " ")
    if sem == "company":
        c, s = vocab("company"), vocab("company_suffix")
        return _concat([c.gather(jj % c.len()), s.gather(jj // c.len())], " ")
    if sem in listed:
        return vocab(sem).gather(jj)
    w = vocab("word")
    return _concat([w.gather(jj % w.len()), w.gather(jj // w.len())], " ").str.to_titlecase()


def _code_from_index(j: np.ndarray, k: int) -> pl.Series:
    """Base-32 code of ``k`` characters; scrambled so consecutive keys do not look consecutive."""
    base = ALNUM.size
    cap = base**k
    x = permute(j, cap, 0xC0DE) if cap < 2**62 else mix62(j, 0xC0DE)
    chars = np.empty((j.size, k), dtype=np.uint8)
    for pos in range(k - 1, -1, -1):
        chars[:, pos] = ALNUM[(x % base).astype(np.intp)]
        x = x // base
    return _rows_to_strings(chars)


# --------------------------------------------------------------------------------------------------
# Bijections on integer ranges (vectorized): distinct inputs -> distinct outputs

M62 = np.uint64((1 << 62) - 1)


def mix62(x: np.ndarray, key: int) -> np.ndarray:
    """A keyed bijection on ``[0, 2**62)`` (xorshift-multiply rounds, each invertible mod 2**62)."""
    v = (np.asarray(x, dtype=np.uint64) + np.uint64(key & ((1 << 62) - 1))) & M62
    with np.errstate(over="ignore"):
        v ^= v >> np.uint64(31)
        v = (v * np.uint64(0x7FB5D329728EA185)) & M62
        v ^= v >> np.uint64(27)
        v = (v * np.uint64(0x81DADEF4BC2DD44D)) & M62
        v ^= v >> np.uint64(33)
    return v.astype(np.int64)


def permute(x: np.ndarray, n: int, key: int) -> np.ndarray:
    """A keyed pseudo-random permutation of ``[0, n)`` applied to ``x`` (Feistel + cycle walking)."""
    x = np.asarray(x, dtype=np.uint64)
    if n <= 1:
        return np.zeros(x.shape, dtype=np.int64)
    bits = max(2, (n - 1).bit_length())
    bits += bits % 2
    half = bits // 2
    mask = np.uint64((1 << half) - 1)
    keys = [np.uint64((key * 0x9E3779B97F4A7C15 + r * 0xBF58476D1CE4E5B9) & ((1 << 62) - 1)) for r in range(4)]

    def rounds(v: np.ndarray) -> np.ndarray:
        left, right = v >> np.uint64(half), v & mask
        with np.errstate(over="ignore"):
            for k in keys:
                f = right ^ k
                f = (f * np.uint64(0x94D049BB133111EB)) & M62
                f ^= f >> np.uint64(29)
                left, right = right, (left ^ f) & mask
        return (left << np.uint64(half)) | right

    out = rounds(x)
    pending = out >= np.uint64(n)
    while pending.any():
        out[pending] = rounds(out[pending])
        pending = out >= np.uint64(n)
    return out.astype(np.int64)


# NULL share by meaning: an end date is usually still open, a note usually empty.
_NULL_SHARES = [
    ("deleted", 0.95),
    ("left_on", 0.85),
    ("terminated", 0.85),
    ("ends_on", 0.4),
    ("end_date", 0.4),
    ("returned", 0.15),
    ("note", 0.6),
    ("comment", 0.5),
    ("middle_name", 0.6),
]


def null_share_for(column: str) -> float:
    """The NULL share of a nullable column by its name (an end date is usually still open)."""
    return next((share for key, share in _NULL_SHARES if key in column.lower()), 0.1)
