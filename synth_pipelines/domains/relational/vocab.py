"""Realistic vocabularies from Faker's locale data, loaded once as polars Series.

Faker is only a data source here: its word lists are read at import time and sampled with numpy
indices, never through Faker's per-call API.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import polars as pl

from synth_pipelines.core.rng import block_rng


@cache
def vocab(name: str) -> pl.Series:
    """A named vocabulary (deduplicated, in a fixed order so indices are stable)."""
    values = _LOADERS[name]()
    return pl.Series(name, list(dict.fromkeys(v for v in values if v)), dtype=pl.String)


def _first_names() -> list[str]:
    from faker.providers.person.en_US import Provider

    return [*Provider.first_names_female, *Provider.first_names_male]


def _last_names() -> list[str]:
    from faker.providers.person.en_US import Provider

    return list(Provider.last_names)


def _countries() -> list:
    from faker.providers.date_time import Provider

    return list(Provider.countries)


def _cities() -> list[str]:
    from faker.providers.address.de_DE import Provider as De

    capitals = [c.capital for c in _countries()]
    return [*capitals, *De.cities]


def _companies() -> list[str]:
    from faker.providers.person.en_US import Provider

    return list(Provider.last_names)


def _company_suffixes() -> list[str]:
    return ["Books", "Press", "Group", "and Sons", "Holdings", "Partners", "Media", "Works", "House", "Labs"]


def _jobs() -> list[str]:
    from synth_pipelines.domains.relational.names import JOB_TITLES

    return list(JOB_TITLES)


def _names():
    from synth_pipelines.domains.relational import names

    return names


def _company_names() -> list[str]:
    return _names().company_names(_last_names())


def _words() -> list[str]:
    from faker.providers.lorem.en_US import Provider

    return list(Provider.word_list)


PHRASES = 4096  # phrases per pool: texts combine two or three, so 4096**2 or 4096**3 distinct texts


def _phrases(name: str, lo: int, hi: int) -> list[str]:
    """A fixed pool of ``lo``-``hi`` word lorem phrases (built once, from a constant stream).

    Texts are a few gathers from these pools instead of one gather per word, which keeps long
    text columns cheap while their words stay random.
    """
    words = vocab("word").to_list()
    rng = block_rng(0, "relational-vocab", name)
    counts = rng.integers(lo, hi + 1, PHRASES)
    picks = rng.integers(0, len(words), (PHRASES, hi))
    return [" ".join(words[i] for i in row[:k]) for row, k in zip(picks, counts, strict=True)]


def _title_case(phrases: list[str]) -> list[str]:
    return [p.title() for p in phrases]


def _capitalised(phrases: list[str]) -> list[str]:
    return [p[:1].upper() + p[1:] for p in phrases]


def _streets() -> list[str]:
    from faker.providers.address.en_US import Provider

    return list(Provider.street_suffixes)


def _currencies() -> list[str]:
    from faker.providers.currency import Provider

    return [code for code, _ in Provider.currencies]


def _timezones() -> list[str]:
    return [tz for c in _countries() for tz in c.timezones]


def _colors() -> list[str]:
    from faker.providers.color.en_US import Provider

    return list(Provider.all_colors)


def _email_domains() -> list[str]:
    # RFC 2606 reserved domains: generated addresses never name a real mail provider or mailbox.
    return ["example.com", "example.org", "example.net"]


def fold_ascii(text: str) -> str:
    """``"D'Angelo"`` -> ``"dangelo"``: lower-case ASCII letters only (for email local parts)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")


def _unique_folded(names: list[str]) -> list[str]:
    """Names whose ASCII-folded forms are distinct and non-empty, so a (first, last) pair gives one address."""
    seen: set[str] = set()
    kept = []
    for name in dict.fromkeys(names):
        folded = fold_ascii(name)
        if folded and folded not in seen:
            seen.add(folded)
            kept.append(name)
    return kept


def _pos(part: str) -> list[str]:
    """Faker's en_US lorem words of one part of speech (noun, verb, adjective, adverb)."""
    from faker.providers.lorem.en_US import Provider

    return list(Provider.parts_of_speech[part])


# Templates over Faker's parts of speech: titles and sentences read as English, not as word lists.
_TITLE_TEMPLATES = [
    "The {A} {N}",
    "The {N} of {N2}",
    "{A} {N}",
    "A {N} for the {N2}",
    "The {A} {N} of {N2}",
    "{N} and {N2}",
    "Beyond the {N}",
    "The Last {N}",
    "Notes on {N}",
    "The {N} Years",
    "In Search of {N}",
    "A History of {N}",
]
_SENTENCE_TEMPLATES = [
    "The {n} was {a} and {a2}.",
    "It is a {a} {n} about {n2}.",
    "Most people will {v} the {n} {d}.",
    "There is a {a} {n} behind every {n2}.",
    "We had to {v} the {n} before the {n2}.",
    "The {n2} feels {a}, and the {n} is {d} {a2}.",
    "Nobody expected the {n} to {v} so {d}.",
    "A {a} {n} can {v} any {n2}.",
]
_REVIEW_TEMPLATES = [
    "A {a} read about {n} and {n2}.",
    "The {n} felt {a}, but the {n2} was {d} {a2}.",
    "I would {v} this again; the {n} is {a}.",
    "Not my favourite: the {n} was too {a}.",
    "A {a} book with a {a2} {n}.",
    "Recommended for anyone who likes {n}.",
    "The story of the {n} is {d} {a}.",
    "Too long, but the {n} was worth it.",
]
REVIEW_TITLES = [
    "Loved it", "A great read", "Not for me", "Worth every page", "Slow start, great ending", "Beautifully written",
    "Could not put it down", "Disappointing", "A classic", "Highly recommended", "Better than expected",
    "Solid, not brilliant", "A must-read", "Too long", "Five stars", "Mixed feelings", "A pleasant surprise",
    "Gripping from start to finish", "Okay for a weekend", "Would read again",
]  # fmt: skip


def _fill(name: str, templates: list[str], count: int = PHRASES) -> list[str]:
    """``count`` strings from ``templates`` with words drawn from a constant stream (the same pool every run)."""
    nouns, adjectives, verbs, adverbs = _pos("noun"), _pos("adjective"), _pos("verb"), _pos("adverb")
    rng = block_rng(0, "relational-vocab", name)
    t = rng.integers(0, len(templates), count)
    picks = rng.integers(0, 1 << 30, (count, 6))
    out = []
    for k, p in zip(t, picks, strict=True):
        words = {
            "n": nouns[p[0] % len(nouns)],
            "n2": nouns[p[1] % len(nouns)],
            "a": adjectives[p[2] % len(adjectives)],
            "a2": adjectives[p[3] % len(adjectives)],
            "v": verbs[p[4] % len(verbs)],
            "d": adverbs[p[5] % len(adverbs)],
        }
        words |= {"N": words["n"].title(), "N2": words["n2"].title(), "A": words["a"].title()}
        text = templates[k].format(**words)
        out.append(text[:1].upper() + text[1:])
    return out


def _dishes() -> list[str]:
    """Dish names from mimesis's English food data (read once; mimesis is only a data source here)."""
    import json
    from pathlib import Path

    import mimesis

    path = Path(mimesis.__file__).parent / "datasets" / "en" / "food.json"
    return list(json.loads(path.read_text(encoding="utf-8"))["dishes"])


FAKER_SAMPLES = 2000


@cache
def faker_vocab(provider: str) -> pl.Series:
    """A Faker en_US provider sampled once into a vocabulary (fixed seed, so the same list every run)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(0)
    method = getattr(fake, provider)
    values = [str(method()) for _ in range(FAKER_SAMPLES)]
    return pl.Series(provider, list(dict.fromkeys(values)), dtype=pl.String)


def faker_provider_exists(provider: str) -> bool:
    from faker import Faker

    try:
        return callable(getattr(Faker("en_US"), provider))
    except AttributeError:
        return False


def _states() -> list[str]:
    from faker.providers.address.en_US import Provider

    return list(Provider.states)


_LOADERS = {
    "first_name": _first_names,
    "last_name": _last_names,
    "country": lambda: [c.name for c in _countries()],
    "country_code2": lambda: [c.alpha_2_code for c in _countries()],
    "country_code3": lambda: [c.alpha_3_code for c in _countries()],
    "city": _cities,
    "company": _companies,
    "company_suffix": _company_suffixes,
    "job": _jobs,
    "company_name": lambda: _company_names(),
    "product": lambda: _names().product_names(),
    "artist": lambda: _names().artist_names(_first_names(), _last_names()),
    "playlist": lambda: list(_names().PLAYLISTS),
    "word": _words,
    "phrase": lambda: _phrases("phrase", 1, 3),
    "phrase_long": lambda: _phrases("phrase_long", 2, 6),
    "title_head": lambda: _title_case(_phrases("title_head", 1, 2)),
    "title_tail": lambda: _title_case(_phrases("title_tail", 1, 3)),
    "sentence_head": lambda: _capitalised(_phrases("sentence_head", 2, 6)),
    "sentence_tail": lambda: [p + "." for p in _phrases("sentence_tail", 2, 6)],
    "street_suffix": _streets,
    "currency": _currencies,
    "timezone": _timezones,
    "color": _colors,
    "email_domain": _email_domains,
    "state": _states,
    "person_first": lambda: _unique_folded(_first_names()),
    "person_last": lambda: _unique_folded(_last_names()),
    "person_first_folded": lambda: [fold_ascii(n) for n in vocab("person_first").to_list()],
    "person_last_folded": lambda: [fold_ascii(n) for n in vocab("person_last").to_list()],
    "work_title": lambda: _fill("work_title", _TITLE_TEMPLATES),
    "sentence": lambda: _fill("sentence", _SENTENCE_TEMPLATES),
    "review_sentence": lambda: _fill("review_sentence", _REVIEW_TEMPLATES),
    "review_title": lambda: REVIEW_TITLES,
    "dish": _dishes,
    "language": lambda: [
        "en",
        "de",
        "fr",
        "es",
        "it",
        "pt",
        "nl",
        "sv",
        "pl",
        "ja",
        "zh",
        "ko",
        "ru",
        "ar",
        "hi",
    ],
    "department": lambda: [
        "Engineering",
        "Finance",
        "Human Resources",
        "Marketing",
        "Sales",
        "Operations",
        "Legal",
        "Research",
        "Customer Support",
        "Procurement",
        "Security",
        "Data",
        "Design",
        "Logistics",
        "Quality",
    ],
    "status": lambda: ["active", "inactive", "pending", "archived"],
    "gender": lambda: ["female", "male", "non-binary"],
}
