"""Deterministic request plans: which passages (or topic), how many samples and which label per job.

Round ``r`` of seed ``s`` draws from the keyed stream ``(s, "nlp", "round-r")``, and each job's
provider seed is a hash of ``(seed, round, index)``: the same config and seed give the same requests,
hence the same cache keys, on any machine.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from synth_pipelines.core.rng import block_rng
from synth_pipelines.domains.nlp.sources import Passage

DOMAIN = "nlp"


@dataclass(frozen=True)
class Job:
    tag: str  # "r<round>-j<index>", also the request tag in logs and failure reports
    seed: int  # provider seed of the request
    count: int  # samples asked for
    passages: tuple[Passage, ...]  # (source, neighbour, unrelated); empty for a bare query
    topic: str | None
    label: int | None  # pair-class: the label this request asks for


def request_seed(seed: int, round_no: int, index: int) -> int:
    digest = hashlib.sha256(f"nlp-request\x00{seed}\x00{round_no}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def jobs_for_round(
    seed: int,
    round_no: int,
    need: int,
    per_request: int,
    passages: list[Passage],
    topics: list[str],
    labels_needed: list[int] | None,
) -> list[Job]:
    """Enough jobs to make ``need`` samples, with headroom for invalid and duplicate answers.

    Later rounds ask for more headroom: what is still missing is what was hard to get.
    """
    headroom = 1.5 if round_no == 0 else 2.0
    count = max(1, math.ceil(need * headroom / per_request))
    rng = block_rng(seed, DOMAIN, f"round-{round_no}")
    # A fresh permutation per round spreads the jobs over all passages before any repeats.
    primary = rng.permutation(len(passages))[np.arange(count) % len(passages)] if passages else None
    others = rng.integers(0, 1 << 30, size=count)
    jobs = []
    for i in range(count):
        label = labels_needed[i % len(labels_needed)] if labels_needed else None
        chosen: tuple[Passage, ...] = ()
        topic = topics[(round_no * 7919 + i) % len(topics)] if topics else None
        if primary is not None:
            source = passages[int(primary[i])]
            chosen = (source, neighbour(passages, source), unrelated(passages, source, int(others[i])))
        jobs.append(
            Job(
                f"r{round_no}-j{i}",
                request_seed(seed, round_no, i),
                per_request,
                chosen,
                topic,
                label,
            )
        )
    return jobs


def neighbour(passages: list[Passage], source: Passage) -> Passage:
    same = [p for p in passages if p.doc == source.doc]
    for candidate in (source.index + 1, source.index - 1):
        if 0 <= candidate < len(same):
            return same[candidate]
    return source


def unrelated(passages: list[Passage], source: Passage, pick: int) -> Passage:
    """A passage from another document; with a single document, the farthest passage in it."""
    others = [p for p in passages if p.doc != source.doc]
    if others:
        return others[pick % len(others)]
    same = [p for p in passages if p.doc == source.doc]
    return max(same, key=lambda p: abs(p.index - source.index))
