"""Make N unique, valid samples: rounds of batched requests, validation, dedup, balance, checkpoints.

Each finished batch is appended to a JSONL checkpoint under ``data/nlp/checkpoints/`` (flushed and
fsynced) before the next one starts, so a stopped run resumes where it stopped: the finished
batches are replayed from the checkpoint and the rest from the response cache. Everything that
decides which samples are kept depends only on the answers, never on timing, so a resumed run and
an uninterrupted one keep the same samples in the same order.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synth_pipelines.domains.nlp.formats import LABELS, Format, batch_model, check_sample, dedup_key
from synth_pipelines.domains.nlp.plan import Job, jobs_for_round
from synth_pipelines.domains.nlp.prompts import job_messages
from synth_pipelines.domains.nlp.sources import Passage
from synth_pipelines.llm.contract import LLMRequest, StructuredGenerator
from synth_pipelines.llm.generate import BUDGET_SPENT


@dataclass
class RunReport:
    records: list[dict[str, Any]]
    target: int
    rounds: int = 0
    batches: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    over_quota: int = 0
    failed_requests: int = 0
    resumed_records: int = 0
    stop_reason: str | None = None  # why fewer than target were made

    @property
    def shortfall(self) -> int:
        return self.target - len(self.records)


class Checkpoint:
    """Append-only JSONL: a header line, then one line per finished batch."""

    def __init__(self, path: Path, fingerprint: str, live: Path | None = None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        # ``--incremental-save``: every accepted record also goes, as one JSON line, flushed, to this file
        # (the run's final JSONL, which the finished file later replaces by a rename).
        self.live = live

    def _write_live(self, records: list[dict[str, Any]], mode: str) -> None:
        if self.live is None:
            return
        self.live.parent.mkdir(parents=True, exist_ok=True)
        with open(self.live, mode, encoding="utf-8") as fh:
            fh.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
            fh.flush()
            os.fsync(fh.fileno())

    def load(self) -> dict[tuple[int, int], list[dict[str, Any]]]:
        if not self.path.exists():
            return {}
        done: dict[tuple[int, int], list[dict[str, Any]]] = {}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            header = {}
        if header.get("fingerprint") != self.fingerprint:
            return {}  # another config wrote it: start over (the file is rewritten below)
        for line in lines[1:]:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break  # a batch cut off by a crash: it is redone
            done[(entry["round"], entry["batch"])] = entry["records"]
        return done

    def start(self, keep: dict[tuple[int, int], list[dict[str, Any]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"fingerprint": self.fingerprint}) + "\n")
            for (round_no, batch), records in keep.items():
                fh.write(json.dumps({"round": round_no, "batch": batch, "records": records}) + "\n")
        self._write_live([record for records in keep.values() for record in records], "w")

    def append(self, round_no: int, batch: int, records: list[dict[str, Any]]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"round": round_no, "batch": batch, "records": records}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._write_live(records, "a")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Balance:
    """pair-class quotas: every class within ``tolerance`` of N/3, and never unreachable."""

    def __init__(self, target: int, tolerance: float) -> None:
        share = target / len(LABELS)
        self.lower = int(share * (1 - tolerance))
        self.upper = max(-(-target // len(LABELS)), int(share * (1 + tolerance)))
        self.target = target
        self.counts = dict.fromkeys(LABELS, 0)

    def admits(self, label: int) -> bool:
        if self.counts[label] >= self.upper:
            return False
        after = dict(self.counts)
        after[label] += 1
        missing = sum(max(0, self.lower - c) for c in after.values())
        return missing <= self.target - sum(after.values())

    def add(self, label: int) -> None:
        self.counts[label] += 1

    def needed(self) -> list[int]:
        """Labels to ask for next, the most missing first."""
        gaps = sorted(LABELS, key=lambda lab: (self.counts[lab] - self.upper, lab))
        return [lab for lab in gaps if self.counts[lab] < self.upper] or list(LABELS)

    def ok(self) -> bool:
        return all(self.lower <= c <= self.upper for c in self.counts.values())


def make_samples(
    fmt: Format,
    seed: int,
    target: int,
    per_request: int,
    batch_size: int,
    max_rounds: int,
    passages: list[Passage],
    topics: list[str],
    generator: StructuredGenerator,
    checkpoint: Checkpoint | None,
    method: str,
    balance: Balance | None = None,
    progress: Callable[[int], None] | None = None,
    log: logging.Logger | None = None,
    job_registry: dict[str, Job] | None = None,
) -> RunReport:
    """Up to ``target`` samples; ``job_registry`` receives each job by tag before it is sent."""
    log = log or logging.getLogger("synth_pipelines.nlp")
    schema = batch_model(fmt)
    report = RunReport(records=[], target=target)
    seen: set[str] = set()
    done = checkpoint.load() if checkpoint else {}
    if checkpoint:
        checkpoint.start(done)
        if done:
            log.info("resuming from %s: %d finished batches", checkpoint.path, len(done))

    def keep(records: list[dict[str, Any]], replayed: bool) -> None:
        if replayed:  # fresh records were counted by _consider already
            for record in records:
                seen.add(dedup_key(fmt, record))
                if balance is not None:
                    balance.add(record["label"])
        report.records.extend(records)
        if progress and records:
            progress(len(records))

    for round_no in range(max_rounds):
        need = target - len(report.records)
        if need <= 0:
            break
        report.rounds = round_no + 1
        labels = balance.needed() if balance is not None else None
        jobs = jobs_for_round(seed, round_no, need, per_request, passages, topics, labels)
        for batch_no, start in enumerate(range(0, len(jobs), batch_size)):
            if len(report.records) >= target:
                break
            if (round_no, batch_no) in done:
                replayed = done[(round_no, batch_no)]
                report.resumed_records += len(replayed)
                keep(replayed, replayed=True)
                continue
            batch = jobs[start : start + batch_size]
            if job_registry is not None:
                job_registry.update({j.tag: j for j in batch})
            results = generator.generate([LLMRequest(job_messages(fmt, j), j.seed, j.tag) for j in batch], schema)
            report.batches += 1
            accepted: list[dict[str, Any]] = []
            for job, result in zip(batch, results, strict=True):
                if result.value is None:
                    if result.error != BUDGET_SPENT:
                        report.failed_requests += 1
                    continue
                source = "offline" if result.source == "offline" else "llm"
                for sample in result.value.samples[: job.count]:  # type: ignore[attr-defined]
                    if len(report.records) + len(accepted) >= target:
                        break
                    accepted_record = _consider(fmt, sample.model_dump(), seen, balance, report)
                    if accepted_record is not None:
                        accepted.append(accepted_record | {"source": source, "method": method})
            if checkpoint:
                checkpoint.append(round_no, batch_no, accepted)
            keep(accepted, replayed=False)
            if generator.stats.budget_exhausted:
                report.stop_reason = "token budget spent"
                return report
    if len(report.records) < target:
        report.stop_reason = report.stop_reason or f"{max_rounds} refill rounds spent"
    return report


def _consider(
    fmt: Format,
    sample: dict[str, Any],
    seen: set[str],
    balance: Balance | None,
    report: RunReport,
) -> dict[str, Any] | None:
    reason = check_sample(fmt, sample)
    if reason is not None:
        report.invalid[reason] += 1
        return None
    key = dedup_key(fmt, sample)
    if key in seen:
        report.duplicates += 1
        return None
    if balance is not None:
        if not balance.admits(sample["label"]):
            report.over_quota += 1
            return None
        balance.add(sample["label"])
    seen.add(key)
    return {name: sample.get(name) for name in fmt.field_names}
