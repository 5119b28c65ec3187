"""Realistic vocabularies from Faker's locale data, loaded once as polars Series.

Faker is only a data source here: its word lists are read at import time and sampled with numpy
indices, never through Faker's per-call API.
"""

from __future__ import annotations

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
    from faker.providers.job.en_US import Provider

    return list(Provider.jobs)


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
    from faker.providers.internet.en_US import Provider

    return [*Provider.free_email_domains, "example.com", "example.org", "mail.test"]


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
