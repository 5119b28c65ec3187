"""Places: the city, region, country, country code, postal code, phone, currency, timezone and coordinates
of one row (or of one address of a row: ``billing_*``, ``shipping_*``) agree, because they come from one row
of one place table.

The place table is ``data/places.csv``: 146 real cities of 31 countries, each with its region (first-level
subdivision and, where it is short and certain, its ISO 3166-2 / postal abbreviation), ISO 3166-1 country,
coordinates (city centre, as published by GeoNames, rounded to 4 decimals), IANA timezone, the shape of a
postal code of that city (``#`` a digit, ``?`` a letter, ``*`` either: ``100##`` for Manhattan, ``SW# #??``
for London) and of a local phone number with its country calling code (ITU-T E.164) and area code, and a
rough population (thousands) used as the draw weight. Country facts (name, ISO alpha-3, ISO 4217 currency,
calling code, postal code format) are ``COUNTRIES`` below. Tests check the table against sources it was not
built from: Faker's country list (ISO codes), tzdata's ``zone.tab`` (timezones of each country), Faker's
GeoNames coordinates, Faker's US state ZIP ranges.

Generation is vectorized: one weighted draw of a place row per table row, then a gather per column (a
pattern is expanded for all rows at once). The report counts each agreement as a rule (``agree(city,
country)``...) by joining the written values to lookups in DuckDB: a row violates when its country is not
one of ``COUNTRIES``, or a column disagrees with it (a city of another country, a phone without the
country's calling code, a postal code not of the country's format, a timezone not in tzdata's zones of that
country, coordinates more than ``NEAR_KM`` from the city).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from synth_pipelines.domains.relational.ddl import Table

PLACES_CSV = Path(__file__).parent / "data" / "places.csv"
NEAR_KM = 25.0  # coordinates within this distance of their city's centre agree with it
MIN_SHARE = 0.5  # a place column joins its address when places holding half the population fit it
JITTER_DEG = 0.02  # drawn coordinates lie within ~2-3 km of the centre (a street of the city)


@dataclass(frozen=True)
class Country:
    name: str
    alpha3: str
    currency: str  # ISO 4217
    calling: str  # ITU-T E.164 country calling code
    postal: str  # the postal code format as a regular expression (Universal Postal Union formats)


COUNTRIES: dict[str, Country] = {
    "US": Country("United States", "USA", "USD", "1", r"[0-9]{5}"),
    "CA": Country("Canada", "CAN", "CAD", "1", r"[A-Z][0-9][A-Z] [0-9][A-Z][0-9]"),
    "MX": Country("Mexico", "MEX", "MXN", "52", r"[0-9]{5}"),
    "BR": Country("Brazil", "BRA", "BRL", "55", r"[0-9]{5}-[0-9]{3}"),
    "AR": Country("Argentina", "ARG", "ARS", "54", r"[A-Z][0-9]{4}[A-Z]{3}"),
    "CL": Country("Chile", "CHL", "CLP", "56", r"[0-9]{7}"),
    "GB": Country("United Kingdom", "GBR", "GBP", "44", r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}"),
    "IE": Country("Ireland", "IRL", "EUR", "353", r"[A-Z][0-9][0-9W] [A-Z0-9]{4}"),
    "FR": Country("France", "FRA", "EUR", "33", r"[0-9]{5}"),
    "DE": Country("Germany", "DEU", "EUR", "49", r"[0-9]{5}"),
    "NL": Country("Netherlands", "NLD", "EUR", "31", r"[1-9][0-9]{3} [A-Z]{2}"),
    "BE": Country("Belgium", "BEL", "EUR", "32", r"[1-9][0-9]{3}"),
    "ES": Country("Spain", "ESP", "EUR", "34", r"[0-9]{5}"),
    "PT": Country("Portugal", "PRT", "EUR", "351", r"[0-9]{4}-[0-9]{3}"),
    "IT": Country("Italy", "ITA", "EUR", "39", r"[0-9]{5}"),
    "CH": Country("Switzerland", "CHE", "CHF", "41", r"[1-9][0-9]{3}"),
    "AT": Country("Austria", "AUT", "EUR", "43", r"[1-9][0-9]{3}"),
    "SE": Country("Sweden", "SWE", "SEK", "46", r"[1-9][0-9]{2} [0-9]{2}"),
    "NO": Country("Norway", "NOR", "NOK", "47", r"[0-9]{4}"),
    "DK": Country("Denmark", "DNK", "DKK", "45", r"[1-9][0-9]{3}"),
    "FI": Country("Finland", "FIN", "EUR", "358", r"[0-9]{5}"),
    "PL": Country("Poland", "POL", "PLN", "48", r"[0-9]{2}-[0-9]{3}"),
    "CZ": Country("Czechia", "CZE", "CZK", "420", r"[1-7][0-9]{2} [0-9]{2}"),
    "JP": Country("Japan", "JPN", "JPY", "81", r"[0-9]{3}-[0-9]{4}"),
    "KR": Country("South Korea", "KOR", "KRW", "82", r"[0-9]{5}"),
    "CN": Country("China", "CHN", "CNY", "86", r"[0-9]{6}"),
    "IN": Country("India", "IND", "INR", "91", r"[1-9][0-9]{5}"),
    "SG": Country("Singapore", "SGP", "SGD", "65", r"[0-9]{6}"),
    "AU": Country("Australia", "AUS", "AUD", "61", r"[0-9]{4}"),
    "NZ": Country("New Zealand", "NZL", "NZD", "64", r"[0-9]{4}"),
    "ZA": Country("South Africa", "ZAF", "ZAR", "27", r"[0-9]{4}"),
}

# Column name -> the place field it holds; ``prefix`` (billing_, shipping_...) names one address of the row.
# Order matters: country_code before country, region_code before region.
FIELDS: list[tuple[str, str]] = [
    ("country_code", r"country_?(?:code|iso\d?)|iso_?country(?:_code)?"),
    ("country", r"country(?:_name)?|nationality"),
    ("region_code", r"(?:state|province|region)_?(?:code|abbr)"),
    ("region", r"state|province|region|(?:state|province|region)_name"),
    ("city", r"city(?:_name)?|town"),
    ("postal_code", r"zip(?:_?code)?|post_?code|postal(?:_?code)?"),
    ("phone", r"phone(?:_?(?:number|no))?|mobile|telephone|tel|fax"),
    ("currency", r"currency(?:_code)?"),
    ("timezone", r"time_?zone|tz"),
    ("latitude", r"lat|latitude"),
    ("longitude", r"lng|lon|long|longitude"),
]
_FIELD_RX = [(f, re.compile(rf"^(?P<prefix>(?:[a-z0-9]+_)*?)(?:{words})$")) for f, words in FIELDS]
PATTERN_FIELDS = ("postal_code", "phone")
COORDINATES = ("latitude", "longitude")


def place_field(column: str) -> tuple[str, str] | None:
    """(prefix, field) of a column named like a place attribute: ``billing_city`` -> (``billing_``, city)."""
    name = column.lower()
    for f, rx in _FIELD_RX:
        m = rx.match(name)
        if m:
            return m.group("prefix"), f
    return None


@cache
def places() -> pl.DataFrame:
    """The place table with each city's country facts joined (fixed order: indices are stable)."""
    frame = pl.read_csv(
        PLACES_CSV,
        schema_overrides={"region_code": pl.String, "postal_pattern": pl.String, "population_k": pl.Int64},
        encoding="utf8",
    ).with_columns(pl.col("region_code").fill_null(""))
    cc = frame["country_code"].to_list()
    return frame.with_columns(
        pl.Series("country", [COUNTRIES[c].name for c in cc]),
        pl.Series("country_code3", [COUNTRIES[c].alpha3 for c in cc]),
        pl.Series("currency", [COUNTRIES[c].currency for c in cc]),
        pl.Series("calling", [COUNTRIES[c].calling for c in cc]),
    )


@dataclass
class PlaceGroup:
    """The place columns of one address of a table (same prefix), drawn from one place row per table row."""

    prefix: str
    columns: dict[str, str]  # column -> the places() column it takes (city, country_code3, phone_pattern...)
    fields: dict[str, str]  # column -> its field (city, country_code, phone...)
    rows: np.ndarray  # the place rows every column can hold (lengths, CHAR(n), IN lists, bounds)
    weights: np.ndarray

    @property
    def key(self) -> str | None:
        """The column that says which country a row is in (for the report): a code, a name, else the city."""
        for want in ("country_code", "country", "city"):
            col = next((c for c, f in self.fields.items() if f == want), None)
            if col is not None:
                return col
        return None


def _source_column(field: str, spec: Any) -> str:
    if field == "country_code":
        return "country_code3" if spec.type.fixed and (spec.max_len or 2) >= 3 else "country_code"
    if field == "region" and spec.max_len is not None and spec.max_len <= 3:
        return "region_code"  # state CHAR(2): the abbreviation
    if field in PATTERN_FIELDS:
        return "postal_pattern" if field == "postal_code" else "phone_pattern"
    return field


def _fits(values: pl.Series, spec: Any) -> np.ndarray:
    """Which place values the column can hold as they are."""
    lengths = values.str.len_chars().to_numpy()
    ok = lengths > 0
    if spec.max_len is not None:
        ok &= lengths <= spec.max_len
        if spec.type.fixed:
            ok &= lengths == spec.max_len
    ok &= lengths >= (spec.min_len or 0)
    if spec.choices is not None:
        ok &= values.is_in([str(c) for c in spec.choices]).to_numpy()
    return ok


def plan_places(table: Table, specs: dict[str, Any], generators: dict[str, str]) -> list[PlaceGroup]:
    """The place groups of a table: two or more place columns of one prefix that are drawn freely (not keys,
    not set by a spec's generator), restricted to the places every one of them can hold. A column that can
    hold no place is left to its ordinary drawing; so is a group that would be left with no place."""
    locked = {c for k in [table.primary_key, *table.uniques] for c in (k or ())}
    locked |= {c for fk in table.foreign_keys for c in fk.columns}
    found: dict[str, dict[str, str]] = {}
    for name, spec in specs.items():
        hit = place_field(name)
        if hit is None or name in locked or generators.get(name) != "inferred" or "weights" in spec.extra:
            continue
        prefix, field = hit
        kind = spec.type.kind
        if (field in COORDINATES) != (kind in ("decimal", "float")) or (kind not in ("string", "decimal", "float")):
            continue
        found.setdefault(prefix, {})[name] = field
    # A lone column under a prefix (home_phone beside city, country) belongs to the row's main address.
    main = found.setdefault("", {})
    for prefix in [p for p, cols in found.items() if p and len(cols) < 2]:
        main.update(found.pop(prefix))
    table_places = places()
    weights_all = table_places["population_k"].to_numpy().astype(np.float64)
    groups: list[PlaceGroup] = []
    for prefix, fields in found.items():
        ok = np.ones(table_places.height, dtype=bool)
        columns: dict[str, str] = {}
        for col, field in fields.items():
            spec = specs[col]
            if field in COORDINATES:
                centre = table_places[field].to_numpy()
                margin = JITTER_DEG * (1 if field == "latitude" else 3)
                fit = (centre - margin >= float(spec.lo)) & (centre + margin <= float(spec.hi))
                source = field
            else:
                source = _source_column(field, spec)
                fit = _fits(table_places[source], spec)
            # A column that only a few places fit (phone VARCHAR(12)) would skew the whole address towards
            # them; it keeps its ordinary drawing instead (a city or country always leads the group).
            share = float(weights_all[fit].sum() / weights_all.sum())
            if fit.any() and (share >= MIN_SHARE or field in ("city", "country", "country_code")):
                ok &= fit
                columns[col] = source
        if len(columns) < 2 or not ok.any():
            continue
        rows = np.flatnonzero(ok)
        weights = table_places["population_k"].to_numpy()[rows].astype(np.float64)
        groups.append(PlaceGroup(prefix, columns, {c: fields[c] for c in columns}, rows, weights / weights.sum()))
    return groups


def draw_places(
    groups: list[PlaceGroup], specs: dict[str, Any], rng_for: Callable[[str], np.random.Generator], n: int
) -> dict[str, pl.Series]:
    """Every placed column's values for ``n`` rows (no NULLs: the caller applies each column's share)."""
    from synth_pipelines.domains.relational.values import numbers_to_series

    table_places = places()
    out: dict[str, pl.Series] = {}
    for g in groups:
        at = g.rows[rng_for(f"place:{g.prefix}").choice(g.rows.size, size=n, p=g.weights)]
        for col, source in g.columns.items():
            spec = specs[col]
            if source in COORDINATES:
                rng = rng_for(f"place:{col}")
                lat = table_places["latitude"].to_numpy()[at]
                if source == "latitude":
                    x = lat + rng.uniform(-JITTER_DEG, JITTER_DEG, n)
                else:
                    # a degree of longitude shrinks with the latitude: keep the same distance on the ground
                    span = JITTER_DEG / np.maximum(np.cos(np.radians(lat)), 0.2)
                    x = table_places["longitude"].to_numpy()[at] + rng.uniform(-1.0, 1.0, n) * span
                x = np.clip(x, float(spec.lo), float(spec.hi))
                x = np.round(x, 6) if spec.type.kind == "float" else x
                out[col] = numbers_to_series(x, spec.type).alias(col)
            elif source in ("postal_pattern", "phone_pattern"):
                out[col] = expand_patterns(table_places[source], at, rng_for(f"place:{col}")).alias(col)
            else:
                out[col] = table_places[source].gather(pl.Series(at)).alias(col)
    return out


_HOLES = {ord("#"): b"0123456789", ord("?"): b"ABCDEFGHJKLMNPRSTUVWXYZ", ord("*"): b"ABCDEFGHJKLMNPRSTUVWXYZ23456789"}


def expand_patterns(patterns: pl.Series, at: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Row ``i`` gets ``patterns[at[i]]`` with each ``#`` a random digit, ``?`` a letter, ``*`` either: one
    padded byte matrix for all rows, then the padding dropped through the Arrow offsets (no per-row work)."""
    n = at.size
    if n == 0:
        return pl.Series([], dtype=pl.String)
    encoded = [p.encode("ascii") for p in patterns.to_list()]
    width = max(len(p) for p in encoded)
    table = np.zeros((len(encoded), width), dtype=np.uint8)
    for i, p in enumerate(encoded):  # once per pattern of the place table, not per row
        table[i, : len(p)] = np.frombuffer(p, dtype=np.uint8)
    lengths = np.array([len(p) for p in encoded], dtype=np.int64)[at]
    chars = table[at]
    for code, alphabet in _HOLES.items():
        pool = np.frombuffer(alphabet, dtype=np.uint8)
        chars = np.where(chars == code, pool[rng.integers(0, pool.size, chars.shape)], chars)
    keep = np.arange(width)[None, :] < lengths[:, None]
    data = np.ascontiguousarray(chars[keep])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.Series(pl.from_arrow(array)).cast(pl.String)


# --------------------------------------------------------------------------------------------------
# The report: each agreement counted over the written files


def _zones() -> pl.DataFrame:
    """tzdata's zone.tab (IANA): each country's timezones, a source the place table was not built from."""
    import tzdata

    path = Path(tzdata.__file__).parent / "zoneinfo" / "zone.tab"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            for cc in parts[0].split(","):
                rows.append((cc, parts[2]))
    return pl.DataFrame(rows, schema=["cc", "tz"], orient="row")


_LOOKUPS = ("__synth_places", "__synth_countries", "__synth_zones")


def _register_lookups(con: Any) -> None:
    p = places()
    con.register(
        _LOOKUPS[0],
        p.select(
            pl.col("city"), pl.col("region"), pl.col("region_code"), pl.col("country_code").alias("cc"), "latitude",
            "longitude",
        ).to_arrow(),
    )  # fmt: skip
    countries = pl.DataFrame(
        [(cc, c.alpha3, c.name, c.currency, c.calling, c.postal) for cc, c in COUNTRIES.items()],
        schema=["cc", "cc3", "name", "currency", "calling", "postal"],
        orient="row",
    )
    con.register(_LOOKUPS[1], countries.to_arrow())
    con.register(_LOOKUPS[2], _zones().to_arrow())


def _km(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    """Great-circle distance in km (haversine) as SQL."""
    return (
        f"(2 * 6371 * asin(sqrt(power(sin(radians({lat2} - {lat1}) / 2), 2) + cos(radians({lat1})) * "
        f"cos(radians({lat2})) * power(sin(radians({lon2} - {lon1}) / 2), 2))))"
    )


def place_rules_report(con: Any, tables: list[tuple[str, list[PlaceGroup]]]) -> list[dict[str, Any]]:
    """Per table and address, one rule per placed column: rows with both it and the row's country column
    set, and those among them that disagree (or whose country is not a known one)."""

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    out: list[dict[str, Any]] = []
    registered = False
    for name, groups in tables:
        for g in groups:
            if not registered:
                _register_lookups(con)
                registered = True
            key = g.key
            fields = g.fields
            city = next((c for c, f in fields.items() if f == "city"), None)
            joins = []
            if key is None:
                resolved = "NULL"
            elif fields[key] == "country_code":
                joins.append(f"LEFT JOIN {_LOOKUPS[1]} AS k ON c.{q(key)} IN (k.cc, k.cc3)")
                resolved = "k.cc"
            elif fields[key] == "country":
                joins.append(f"LEFT JOIN {_LOOKUPS[1]} AS k ON k.name = c.{q(key)}")
                resolved = "k.cc"
            else:  # the city alone says the country (city names are unique in the place table)
                joins.append(f"LEFT JOIN (SELECT city AS kc, cc FROM {_LOOKUPS[0]}) AS kp ON kp.kc = c.{q(key)}")
                joins.append(f"LEFT JOIN {_LOOKUPS[1]} AS k ON k.cc = kp.cc")
                resolved = "k.cc"
            joins.append(f"LEFT JOIN (SELECT cc, list(tz) AS tzs FROM {_LOOKUPS[2]} GROUP BY cc) AS z ON z.cc = k.cc")
            joins.append(
                f"LEFT JOIN (SELECT cc, list(region) || list(region_code) AS regions FROM {_LOOKUPS[0]} GROUP BY cc)"
                " AS r ON r.cc = k.cc"
            )
            if city is not None:
                joins.append(f"LEFT JOIN {_LOOKUPS[0]} AS pc ON pc.city = c.{q(city)} AND pc.cc = k.cc")
            if key is None:
                joins = []
            checks: list[tuple[str, str, str]] = []  # (rule, rows checked, violations)
            if key is not None:
                known = f"c.{q(key)} IS NOT NULL"
                checks.append((f"real({key})", known, f"{known} AND {resolved} IS NULL"))
            lat = next((c for c, f in fields.items() if f == "latitude"), None)
            lon = next((c for c, f in fields.items() if f == "longitude"), None)
            for col, field in fields.items():
                if col == key or field in COORDINATES:
                    continue
                v = f"c.{q(col)}"
                # a region agrees with the row's city, or with its country when the city is NULL
                region = f"list_contains(r.regions, {v})"
                if city is not None and city != key:
                    region = f"CASE WHEN c.{q(city)} IS NULL THEN {region} ELSE {v} IN (pc.region, pc.region_code) END"
                elif city is not None:
                    region = f"{v} IN (pc.region, pc.region_code)"
                agree = {
                    "country": f"{v} = k.name",
                    "country_code": f"{v} IN (k.cc, k.cc3)",
                    "currency": f"{v} = k.currency",
                    "phone": f"starts_with({v}, '+' || k.calling || ' ')",
                    "postal_code": f"regexp_full_match({v}, k.postal)",
                    "timezone": f"list_contains(z.tzs, {v})",
                    "city": "pc.city IS NOT NULL",
                    "region": region,
                    "region_code": region,
                }[field]
                both = f"c.{q(key)} IS NOT NULL AND {v} IS NOT NULL"
                checks.append((f"agree({col}, {key})", both, f"{both} AND NOT coalesce({agree}, false)"))
            if lat is not None and lon is not None:
                both = f"c.{q(lat)} IS NOT NULL AND c.{q(lon)} IS NOT NULL"
                here = (f"CAST(c.{q(lat)} AS DOUBLE)", f"CAST(c.{q(lon)} AS DOUBLE)")
                # near the row's city; without one, near a city of its country (any city without a country)
                where = f"WHERE p2.cc = {resolved}" if key is not None else ""
                dist = f"(SELECT min({_km(*here, 'p2.latitude', 'p2.longitude')}) FROM {_LOOKUPS[0]} AS p2 {where})"
                anchor = key or "a city"
                if key is not None:
                    both = f"{both} AND c.{q(key)} IS NOT NULL"
                if city is not None:
                    to_city = _km(*here, "pc.latitude", "pc.longitude")
                    dist = f"CASE WHEN c.{q(city)} IS NULL THEN {dist} ELSE {to_city} END"
                    anchor = city
                rule = f"near({lat}, {lon}, {anchor}, {NEAR_KM:g} km)"
                checks.append((rule, both, f"{both} AND NOT coalesce({dist} <= {NEAR_KM}, false)"))
            if not checks:
                continue
            exprs = ", ".join(f"count(*) FILTER (WHERE {a}), count(*) FILTER (WHERE {b})" for _, a, b in checks)
            values = con.execute(f"SELECT {exprs} FROM {q(name)} AS c {' '.join(joins)}").fetchone()
            for i, (rule, _, _) in enumerate(checks):
                out.append(
                    {
                        "table": name,
                        "rule": rule,
                        "kind": "place",
                        "origin": "inferred",
                        "rows_checked": int(values[2 * i]),
                        "violations": int(values[2 * i + 1]),
                    }
                )
    return out
