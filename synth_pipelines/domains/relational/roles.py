"""Table roles and the row counts they imply.

Each table plays one role, inferred from its shape and names (``infer_roles``) and overridable in the
generation spec (``tables.<name>.role``):

- ``lookup``: a small list other tables point at (genres, media types, statuses, departments,
  countries, categories): few columns, a name/code/label, no parent of its own, referenced by another
  table (by two or more, or named like a list). Tens of rows, whatever ``--rows`` asks (capped by it),
  values from a vocabulary that fits the table (``LOOKUP_VOCABULARIES``).
- ``junction``: its key is made of two or more foreign keys (playlist_tracks): a share of the pairs.
- ``event``: named like something that happens (invoices, invoice lines, loans, bookings) and hanging
  off a parent through a many-to-one key: a multiple of its largest non-lookup parent (``fanout``;
  line tables twice that, a few lines per order).
- ``entity``: everything else (customers, employees, tracks): ``--rows``.

``--table-rows`` and a spec's ``rows`` win over all of these.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from synth_pipelines.domains.relational.ddl import ForeignKey, Schema, Table

Role = Literal["lookup", "entity", "event", "junction"]
ROLES: tuple[str, ...] = ("lookup", "entity", "event", "junction")

LOOKUP_MAX_COLUMNS = 5
LOOKUP_DEFAULT_ROWS = 12  # a lookup table with no vocabulary of its own: "tens", not --rows
JUNCTION_PAIR_SHARE = 0.05  # of all (left, right) pairs a junction table links
LINE_MULTIPLIER = 2.0  # line tables: twice the fan-out of other events (a few lines per order)

_LOOKUP_NAMES = re.compile(
    r"genre|media_?type|status|department|dept|countr|categor|(^|_)types?$|kinds?$|class(es)?$|currenc|language|"
    r"region|tags?$|levels?$|tiers?$|priorit|formats?$|roles?$"
)
_EVENT_NAMES = re.compile(
    r"order|invoice|loan|booking|reservation|payment|transaction|visit|appointment|review|rating|(^|_)logs?$|"
    r"events?$|ticket|sale|shipment|enrol|prescription|(^|_)lines?$|items?$|details?$|entr(y|ies)$|purchase|"
    r"rental|claim|checkout|attendance|history|histories|message|session|assignment"
)
_LINE_NAMES = re.compile(r"(^|_)(lines?|items?|details?)$")
_LABEL_COLUMNS = re.compile(r"^(name|label|title|code|description|.*_name|.*_code)$")
_MUSIC_TABLES = re.compile(r"track|song|album|artist|playlist")

# Values of a lookup table's label column, by the table's name (the first pattern that matches).
LOOKUP_VOCABULARIES: list[tuple[re.Pattern[str], list[str]]] = [
    (
        re.compile(r"genre"),
        # music genres (a music schema) first; _vocabulary_for picks the literary list otherwise
        [
            "Rock", "Jazz", "Metal", "Alternative & Punk", "Rock And Roll", "Blues", "Latin", "Reggae", "Pop",
            "Soundtrack", "Bossa Nova", "Easy Listening", "Heavy Metal", "R&B/Soul", "Electronica/Dance",
            "World", "Hip Hop/Rap", "Classical", "Opera", "Country", "Folk", "Gospel", "Funk", "Alternative",
            "Indie",
        ],
    ),
    (
        re.compile(r"media_?type|format"),
        [
            "MPEG audio file", "Protected AAC audio file", "Purchased AAC audio file", "AAC audio file",
            "Protected MPEG-4 video file", "MPEG-4 video file", "FLAC audio file", "WAV audio file",
            "Ogg Vorbis audio file", "Apple Lossless audio file", "Dolby Atmos audio file", "Spoken word audiobook",
        ],
    ),
    (
        re.compile(r"status"),
        ["Active", "Pending", "On hold", "Completed", "Cancelled", "Suspended", "Archived", "Draft", "Closed",
         "In review"],
    ),
    (
        re.compile(r"department|dept"),
        [
            "Sales", "Marketing", "Finance", "Human Resources", "Engineering", "IT", "Customer Support",
            "Operations", "Legal", "Research and Development", "Procurement", "Logistics",
        ],
    ),
    (
        re.compile(r"countr"),
        [
            "United States", "Canada", "Brazil", "United Kingdom", "Germany", "France", "Spain", "Italy",
            "Portugal", "Netherlands", "Belgium", "Sweden", "Norway", "Denmark", "Finland", "Poland",
            "Czech Republic", "Austria", "Ireland", "Australia", "India", "Japan", "Argentina", "Chile", "Mexico",
        ],
    ),
    (
        re.compile(r"categor"),
        [
            "Books", "Electronics", "Home & Kitchen", "Toys & Games", "Clothing", "Sports & Outdoors", "Beauty",
            "Garden", "Automotive", "Health", "Music", "Movies", "Office Supplies", "Pet Supplies", "Grocery",
            "Jewelry", "Tools", "Baby", "Shoes", "Software",
        ],
    ),
    (
        re.compile(r"language"),
        [
            "English", "Spanish", "French", "German", "Portuguese", "Italian", "Japanese", "Chinese", "Korean",
            "Russian", "Arabic", "Hindi", "Dutch", "Swedish", "Polish",
        ],
    ),
]  # fmt: skip
_LITERARY_GENRES = [
    "Fiction", "Mystery", "Science Fiction", "Fantasy", "Romance", "Thriller", "Historical Fiction", "Horror",
    "Biography", "History", "Poetry", "Young Adult", "Children's", "Self-Help", "Travel", "Philosophy",
    "Science", "Graphic Novel", "Crime", "Classics",
]  # fmt: skip


def _key_sets(table: Table) -> list[set[str]]:
    return [set(k) for k in [table.primary_key, *table.uniques] if k]


def _live_fks(table: Table, deferred: tuple[ForeignKey, ...]) -> list[ForeignKey]:
    """Foreign keys to another table that are drawn parents-first (not self, not deferred)."""
    return [fk for fk in table.foreign_keys if fk.ref_table != table.name and not any(fk is d for d in deferred)]


def label_column(table: Table) -> str | None:
    """The column that names a lookup row (name, label, code...): the first text one."""
    for col in table.columns.values():
        if col.type.kind == "string" and _LABEL_COLUMNS.match(col.name.lower()):
            return col.name
    return None


def infer_roles(schema: Schema, deferred: tuple[ForeignKey, ...] = ()) -> dict[str, str]:
    referrers: dict[str, set[str]] = {}
    for t in schema.tables.values():
        for fk in t.foreign_keys:
            if fk.ref_table != t.name:
                referrers.setdefault(fk.ref_table, set()).add(t.name)
    roles: dict[str, str] = {}
    for name, table in schema.tables.items():
        lower = name.lower()
        fks = _live_fks(table, deferred)
        fk_cols = {c for fk in table.foreign_keys for c in fk.columns}
        pk = set(table.primary_key)
        key_fks = [fk for fk in table.foreign_keys if set(fk.columns) <= pk]
        if len(pk) >= 2 and pk <= fk_cols and len(key_fks) >= 2:
            roles[name] = "junction"
            continue
        refs = referrers.get(name, set())
        if (
            not fks
            and refs
            and len(table.columns) <= LOOKUP_MAX_COLUMNS
            and label_column(table) is not None
            and (_LOOKUP_NAMES.search(lower) or len(refs) >= 2)
        ):
            roles[name] = "lookup"
            continue
        keys = _key_sets(table)
        many_to_one = [fk for fk in fks if not any(k <= set(fk.columns) for k in keys)]
        roles[name] = "event" if many_to_one and _EVENT_NAMES.search(lower) else "entity"
    return roles


def vocabulary_for(schema: Schema, table: Table) -> list[str] | None:
    """The values of a lookup table's label column, when its name says what it lists."""
    lower = table.name.lower()
    for pattern, values in LOOKUP_VOCABULARIES:
        if pattern.search(lower):
            if pattern.pattern == "genre" and not any(_MUSIC_TABLES.search(t.lower()) for t in schema.tables):
                return list(_LITERARY_GENRES)
            return list(values)
    return None


def role_counts(
    schema: Schema,
    order: tuple[str, ...],
    roles: dict[str, str],
    rows: int,
    overrides: dict[str, int],
    fanout: float,
    deferred: tuple[ForeignKey, ...],
) -> dict[str, int]:
    """Rows per table by role, parents first (an event's count follows its parents')."""
    counts: dict[str, int] = {}
    for name in order:
        if name in overrides:
            counts[name] = overrides[name]
            continue
        table = schema.tables[name]
        role = roles.get(name, "entity")
        fks = _live_fks(table, deferred)
        keys = _key_sets(table)
        if role == "lookup":
            vocabulary = vocabulary_for(schema, table)
            n = min(rows, len(vocabulary) if vocabulary else LOOKUP_DEFAULT_ROWS)
        elif role == "junction":
            key_fks = [fk for fk in fks if set(fk.columns) <= set(table.primary_key)]
            pairs = math.prod(counts[fk.ref_table] for fk in key_fks) if key_fks else rows
            n = min(math.ceil(pairs * JUNCTION_PAIR_SHARE), math.ceil(rows * fanout), pairs)
        elif role == "event":
            parents = [
                counts[fk.ref_table]
                for fk in fks
                if roles.get(fk.ref_table) != "lookup" and not any(k <= set(fk.columns) for k in keys)
            ]
            base = max(parents) if parents else rows
            multiple = fanout * (LINE_MULTIPLIER if _LINE_NAMES.search(name.lower()) else 1.0)
            n = math.ceil(base * multiple)
        else:
            n = rows
        # One-to-one children (the foreign key is a key) stay within their parent.
        for fk in fks:
            if any(k <= set(fk.columns) for k in keys):
                n = min(n, counts[fk.ref_table])
        counts[name] = n
    return {name: counts[name] for name in schema.tables}


__all__ = ["ROLES", "Role", "infer_roles", "label_column", "role_counts", "vocabulary_for"]
