"""Our own response cache: sqlite (WAL) under ``data/``, shared by the CLI and the Dagster assets.

LangChain's cache keys on the client's constructor arguments (base URL, timeout, retries) and on the
output class's repr, so it misses when infrastructure changes and replays stale objects when a schema
changes. Ours keys on what determines the answer: provider, model, messages, sampling settings,
seed, the output schema's JSON and the structured-output method. Values are the validated JSON and
token counts; they are re-validated against the current schema when read.

A request that failed after all its retries is remembered too (table ``failures``, same key, the redacted
error): a rerun replays the failure instead of asking again, so a finished run is reproduced exactly,
whatever failed along the way. An answer for the key replaces its failure (``put``); ``--retry-failed``
sends remembered failures again; a run stopped by its failure budget or by rejected credentials forgets
the failures it recorded (that was an outage, not a result).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth_pipelines.llm.contract import LLMRequest

KEY_VERSION = 1
CACHE_FILE = "llm_cache.sqlite"


@dataclass(frozen=True)
class CachedResponse:
    value_json: str
    input_tokens: int
    output_tokens: int


def key_prefix(provider: str, model: str, sampling: dict[str, Any], schema_json: dict[str, Any], method: str) -> str:
    """The part of the key shared by every request of one generate() call, serialized once."""
    return json.dumps(
        {
            "v": KEY_VERSION,
            "provider": provider,
            "model": model,
            "sampling": sampling,
            "schema": schema_json,
            "method": method,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def request_key(prefix: str, request: LLMRequest) -> str:
    body = json.dumps([request.messages, request.seed], separators=(",", ":"))
    return hashlib.sha256(f"{prefix}\x00{body}".encode()).hexdigest()


class ResponseCache:
    """A thread-safe key -> response store; one file per project (``data/llm_cache.sqlite``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, provider TEXT, model TEXT)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, error TEXT NOT NULL, provider TEXT, model TEXT)"
        )

    def _select(self, sql: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """``sql`` (with one ``{marks}``) run over ``keys`` in chunks under sqlite's bound-parameter limit."""
        unique = list(dict.fromkeys(keys))
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                rows.extend(self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk))
        return rows

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedResponse]:
        rows = self._select(
            "SELECT key, value, input_tokens, output_tokens FROM responses WHERE key IN ({marks})", keys
        )
        return {key: CachedResponse(value, tokens_in, tokens_out) for key, value, tokens_in, tokens_out in rows}

    def put(self, key: str, response: CachedResponse, provider: str, model: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, response.value_json, response.input_tokens, response.output_tokens, provider, model),
            )
            self._db.execute("DELETE FROM failures WHERE key = ?", (key,))

    def get_failures(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> the (redacted) error of a request that failed after all retries in an earlier run."""
        return dict(self._select("SELECT key, error FROM failures WHERE key IN ({marks})", keys))  # type: ignore[arg-type]

    def put_failure(self, key: str, error: str, provider: str, model: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)", (key, error, provider, model))

    def forget_failures(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM failures WHERE key = ?", [(key,) for key in keys])

    def close(self) -> None:
        with self._lock:
            self._db.close()
