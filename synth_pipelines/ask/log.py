"""The question log in the store's catalog (``ask_questions``, migration 0004): every question asked in
words, answered, refused or failed. The rows of one ``conversation_id`` are that conversation's turns;
a follow-up reads them back so the model sees the earlier questions and SQL."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from synth_pipelines.store.catalog import DatasetStore, StoreError

OUTCOMES = ("answered", "refused", "failed")


@dataclass(frozen=True)
class LoggedQuestion:
    conversation_id: str
    dataset_id: str
    version: int
    question: str
    sql: str | None
    explanation: str | None
    row_count: int | None
    outcome: str  # answered, refused, failed
    reason: str | None
    attempts: int
    input_tokens: int
    output_tokens: int
    latency_ms: float
    provider: str | None
    model: str | None


@dataclass(frozen=True)
class Turn:
    question: str
    sql: str | None
    explanation: str | None
    outcome: str


def new_conversation_id() -> str:
    return "cv-" + secrets.token_hex(4)


def conversation_turns(store: DatasetStore, dataset_id: str, conversation_id: str) -> list[Turn]:
    """The earlier turns of a conversation of this dataset, oldest first; StoreError if there is none."""
    with store.reading() as con:
        rows = []
        if con is not None:
            rows = con.execute(
                "SELECT dataset_id, question, sql, explanation, outcome FROM ask_questions "
                "WHERE conversation_id = ? ORDER BY turn",
                [conversation_id],
            ).fetchall()
    if not rows or any(r[0] != dataset_id for r in rows):
        raise StoreError(f"no conversation {conversation_id!r} about dataset {dataset_id} (synth ask starts one)")
    return [Turn(r[1], r[2], r[3], r[4]) for r in rows]


def append_question(store: DatasetStore, entry: LoggedQuestion) -> int:
    """Append one question to the log; returns its turn number in the conversation."""
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"outcome {entry.outcome!r} is not one of {OUTCOMES}")
    with store.writing() as con:
        row = con.execute(
            "SELECT coalesce(max(turn), 0) FROM ask_questions WHERE conversation_id = ?", [entry.conversation_id]
        ).fetchone()
        turn = int(row[0]) + 1 if row else 1
        con.execute(
            "INSERT INTO ask_questions VALUES (?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entry.conversation_id, turn, entry.dataset_id, entry.version, entry.question, entry.sql,
                entry.explanation, entry.row_count, entry.outcome, entry.reason, entry.attempts,
                entry.input_tokens, entry.output_tokens, entry.latency_ms, entry.provider, entry.model,
            ],
        )  # fmt: skip
    return turn


def question_summary(store: DatasetStore, dataset_id: str) -> dict[str, Any]:
    """Counts over a dataset's whole question log (the Dagster materialization's metadata)."""
    with store.reading() as con:
        row = None
        if con is not None:
            row = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE outcome = 'answered'), "
                "count(*) FILTER (WHERE outcome = 'refused'), count(*) FILTER (WHERE outcome = 'failed'), "
                "count(DISTINCT conversation_id), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
                "coalesce(avg(latency_ms), 0), count(*) FILTER (WHERE attempts > 1) "
                "FROM ask_questions WHERE dataset_id = ?",
                [dataset_id],
            ).fetchone()
    row = row or (0, 0, 0, 0, 0, 0, 0, 0.0, 0)
    return {
        "questions": int(row[0]),
        "answered": int(row[1]),
        "refused": int(row[2]),
        "failed": int(row[3]),
        "conversations": int(row[4]),
        "input_tokens": int(row[5]),
        "output_tokens": int(row[6]),
        "mean_latency_ms": round(float(row[7]), 1),
        "self_corrected": int(row[8]),
    }


def logged_questions(store: DatasetStore, dataset_id: str) -> list[dict[str, Any]]:
    """Every logged question of a dataset, oldest first (for tests and reports)."""
    with store.reading() as con:
        if con is None:
            return []
        cursor = con.execute(
            "SELECT * FROM ask_questions WHERE dataset_id = ? ORDER BY asked_at, conversation_id, turn", [dataset_id]
        )
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
