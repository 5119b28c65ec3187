"""Strings drawn from a pattern: the regex subset CHECKs use (``code ~ '^[A-Z]{3}-[0-9]{4}$'``) and LIKE.

A pattern becomes a sequence of ``Atom``s: a set of allowed ASCII characters repeated ``lo..hi`` times.
Supported regex syntax: literal characters and escaped punctuation (``\\.``), classes ``[A-Z0-9_]`` and
negated classes ``[^@]``, ``.``, ``\\d`` ``\\w`` ``\\s``, the quantifiers ``{n}`` ``{n,}`` ``{n,m}`` ``?``
``+`` ``*`` (unbounded repeats are capped at a few), and the anchors ``^`` and ``$``. Anything else
(groups, alternation, back-references, word boundaries, non-ASCII) raises ``PatternError`` naming the
construct, so the caller can refuse the CHECK with one line.

A string that matches the whole pattern also matches it unanchored, so anchors only need to be valid.

Drawing is vectorized: every atom draws its maximal run of characters for all rows at once, a mask cuts
each row's run to its drawn length, and the masked bytes become one Arrow string buffer (no per-row work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

UNBOUNDED_EXTRA = 4  # ``+``, ``*`` and ``{n,}`` repeat at most this many times beyond their minimum
_DIGITS = b"0123456789"
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = b"abcdefghijklmnopqrstuvwxyz"
_WORD = _UPPER + _LOWER + _DIGITS + b"_"
_DOT = _UPPER + _LOWER + _DIGITS  # ``.`` and LIKE's ``_``/``%``: letters and digits read as a code
LIKE_FILL = _DOT  # what a % among several wildcards draws
_NEGATABLE = _UPPER + _LOWER + _DIGITS + b"._-"  # what a negated class ([^@]) picks from


class PatternError(ValueError):
    """The pattern uses a construct outside the supported subset (the message names it)."""


@dataclass(frozen=True)
class Atom:
    chars: bytes  # the allowed characters (ASCII), in a fixed order
    lo: int
    hi: int  # inclusive; already capped for unbounded quantifiers


@dataclass(frozen=True)
class Shape:
    atoms: tuple[Atom, ...]

    @property
    def min_len(self) -> int:
        return sum(a.lo for a in self.atoms)

    @property
    def max_len(self) -> int:
        return sum(a.hi for a in self.atoms)


def _class(pattern: str, i: int) -> tuple[bytes, int]:
    """The character class starting after ``[`` at ``i``: (allowed characters, index after ``]``)."""
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    members: list[int] = []
    first = True
    while True:
        if i >= len(pattern):
            raise PatternError("an unclosed [ class")
        c = pattern[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "[":
            raise PatternError("a POSIX [[:class:]] or nested [ in a class")
        if c == "\\":
            if i + 1 >= len(pattern):
                raise PatternError("a trailing backslash")
            esc = pattern[i + 1]
            i += 2
            if esc in "dws":
                members.extend(_escape_class(esc))
                continue
            if esc.isalnum():
                raise PatternError(f"the escape \\{esc} in a class")
            c_code = ord(esc)
        else:
            c_code = ord(c)
            i += 1
        if c_code > 127:
            raise PatternError("a non-ASCII character")
        if i + 1 < len(pattern) and pattern[i] == "-" and pattern[i + 1] != "]":
            end = pattern[i + 1]
            if end == "\\" or ord(end) > 127 or ord(end) < c_code:
                raise PatternError(f"the range {chr(c_code)}-{end}")
            members.extend(range(c_code, ord(end) + 1))
            i += 2
        else:
            members.append(c_code)
    allowed = set(members)
    if negate:
        chars = bytes(b for b in _NEGATABLE if b not in allowed)
    else:
        # Printable characters only: a class like [ -~] should not draw control characters.
        chars = bytes(sorted(b for b in allowed if 32 <= b < 127))
    if not chars:
        raise PatternError("a class that allows no printable character")
    return chars, i


def _escape_class(esc: str) -> bytes:
    return {"d": _DIGITS, "w": _WORD, "s": b" "}[esc]


def _quantifier(pattern: str, i: int) -> tuple[int, int, int]:
    """The quantifier at ``i`` (if any): (lo, hi, index after it)."""
    if i >= len(pattern):
        return 1, 1, i
    c = pattern[i]
    if c == "?":
        lo, hi, i = 0, 1, i + 1
    elif c == "+":
        lo, hi, i = 1, 1 + UNBOUNDED_EXTRA, i + 1
    elif c == "*":
        lo, hi, i = 0, UNBOUNDED_EXTRA, i + 1
    elif c == "{":
        close = pattern.find("}", i)
        if close < 0:
            raise PatternError("an unclosed { quantifier")
        body = pattern[i + 1 : close]
        parts = body.split(",")
        try:
            if len(parts) == 1:
                lo = hi = int(parts[0])
            elif len(parts) == 2:
                lo = int(parts[0])
                hi = int(parts[1]) if parts[1].strip() else lo + UNBOUNDED_EXTRA
            else:
                raise ValueError
        except ValueError:
            raise PatternError(f"the quantifier {{{body}}}") from None
        if hi < lo or hi > 255:
            raise PatternError(f"the quantifier {{{body}}}")
        i = close + 1
    else:
        return 1, 1, i
    if i < len(pattern) and pattern[i] == "?":
        i += 1  # a lazy quantifier matches the same strings
    return lo, hi, i


def parse_regex(pattern: str) -> Shape:
    """The atoms of a POSIX/Perl regex in the supported subset (see the module docstring)."""
    atoms: list[Atom] = []
    i = 0
    if pattern.startswith("^"):
        i = 1
    end = len(pattern)
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        end -= 1
    body = pattern[:end]
    while i < end:
        c = body[i]
        if c in "()|":
            raise PatternError("groups and alternation ( ) |")
        if c in "^$":
            raise PatternError(f"an anchor {c} inside the pattern")
        if c in "*+?{":
            raise PatternError(f"a quantifier {c} with nothing to repeat")
        if c == "[":
            chars, i = _class(body, i + 1)
        elif c == ".":
            chars, i = _DOT, i + 1
        elif c == "\\":
            if i + 1 >= end:
                raise PatternError("a trailing backslash")
            esc = body[i + 1]
            i += 2
            if esc in "dws":
                chars = _escape_class(esc)
            elif esc.isalnum():
                raise PatternError(f"the escape \\{esc}")
            else:
                chars = esc.encode()
        else:
            if ord(c) > 127:
                raise PatternError("a non-ASCII character")
            chars, i = c.encode(), i + 1
        lo, hi, i = _quantifier(body, i)
        atoms.append(Atom(chars, lo, hi))
    return Shape(tuple(atoms))


def parse_like(pattern: str, escape: str = "\\") -> list[Atom | None]:
    """A LIKE pattern as atoms, with ``None`` for each ``%`` (any run of characters; the caller decides
    what fills it). ``_`` is one letter or digit; ``escape`` makes the next character literal."""
    out: list[Atom | None] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == escape and i + 1 < len(pattern):
            c = pattern[i + 1]
            i += 2
            literal = True
        else:
            i += 1
            literal = False
        if not literal and c == "%":
            if not out or out[-1] is not None:  # %% is one %
                out.append(None)
            continue
        if not literal and c == "_":
            out.append(Atom(_DOT, 1, 1))
            continue
        if ord(c) > 127:
            raise PatternError("a non-ASCII character")
        out.append(Atom(c.encode(), 1, 1))
    return out


def fit_shape(shape: Shape, max_len: int | None, exact_len: int | None) -> Shape:
    """The shape with repeat counts narrowed so every string fits ``max_len`` (VARCHAR(n)) or has exactly
    ``exact_len`` characters (CHAR(n)). Raises ``PatternError`` when that is impossible."""
    atoms = list(shape.atoms)
    if exact_len is not None:
        if not shape.min_len <= exact_len <= shape.max_len:
            raise PatternError(
                f"strings of {shape.min_len}..{shape.max_len} characters cannot fill the fixed length {exact_len}"
            )
        # Fixed counts: every atom its minimum, then the extra characters go to the first atoms with room.
        extra = exact_len - shape.min_len
        fixed = []
        for a in atoms:
            take = min(extra, a.hi - a.lo)
            extra -= take
            fixed.append(Atom(a.chars, a.lo + take, a.lo + take))
        return Shape(tuple(fixed))
    if max_len is None or shape.max_len <= max_len:
        return shape
    if shape.min_len > max_len:
        raise PatternError(f"its shortest match has {shape.min_len} characters, more than the column's {max_len}")
    over = shape.max_len - max_len
    for k in range(len(atoms) - 1, -1, -1):  # trim optional repeats from the end
        a = atoms[k]
        cut = min(over, a.hi - a.lo)
        atoms[k] = Atom(a.chars, a.lo, a.hi - cut)
        over -= cut
    return Shape(tuple(atoms))


def draw_shape(shape: Shape, rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` strings matching ``shape``: per atom a random repeat count and random allowed characters."""
    blocks: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for a in shape.atoms:
        if a.hi == 0:
            continue
        alphabet = np.frombuffer(a.chars, dtype=np.uint8)
        if alphabet.size == 1:
            chars = np.full((n, a.hi), alphabet[0], dtype=np.uint8)
        else:
            chars = alphabet[rng.integers(0, alphabet.size, (n, a.hi))]
        reps = rng.integers(a.lo, a.hi + 1, n) if a.hi > a.lo else np.full(n, a.lo)
        blocks.append(chars)
        masks.append(np.arange(a.hi)[None, :] < reps[:, None])
    return _masked_strings(blocks, masks, n)


def shape_domain(shape: Shape) -> int:
    """How many distinct strings ``enumerate_shape`` produces (each atom at its longest count)."""
    return math.prod(len(a.chars) ** a.hi for a in shape.atoms)


def enumerate_shape(shape: Shape, j: np.ndarray) -> pl.Series:
    """The ``j``-th strings of the shape (each atom at its longest count, ``j`` in mixed radix over the
    atoms' characters): distinct ``j`` below ``shape_domain`` give distinct strings."""
    x = np.asarray(j, dtype=np.int64)
    n = len(x)
    blocks: list[np.ndarray] = []
    for a in reversed(shape.atoms):
        if a.hi == 0:
            continue
        alphabet = np.frombuffer(a.chars, dtype=np.uint8)
        chars = np.empty((n, a.hi), dtype=np.uint8)
        for pos in range(a.hi - 1, -1, -1):
            chars[:, pos] = alphabet[np.asarray(x % alphabet.size, dtype=np.int64)]
            x = x // alphabet.size
        blocks.append(chars)
    blocks.reverse()
    masks = [np.ones(b.shape, dtype=bool) for b in blocks]
    return _masked_strings(blocks, masks, n)


def _masked_strings(blocks: list[np.ndarray], masks: list[np.ndarray], n: int) -> pl.Series:
    """Rows of character blocks, kept where the mask is set, as one Arrow string buffer."""
    if not blocks or n == 0:
        return pl.Series([""] * n, dtype=pl.String)
    chars = np.concatenate(blocks, axis=1)
    mask = np.concatenate(masks, axis=1)
    data = chars[mask]  # row-major: each row's kept characters in order
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)))
    return pl.Series(pl.from_arrow(array)).cast(pl.String)
