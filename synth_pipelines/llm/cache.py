"""Our own response cache: sqlite (WAL) under ``data/``, shared by the CLI and the Dagster assets.

LangChain's cache keys on the client's constructor arguments (base URL, timeout, retries) and on the
output class's repr, so it misses when infrastructure changes and replays stale objects when a schema
changes. Ours keys on what determines the answer: provider, model, messages, sampling settings,
seed, the output schema's JSON and the structured-output method. Values are the validated JSON and
token counts; they are re-validated against the current schema when read.
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

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedResponse]:
        found: dict[str, CachedResponse] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):  # stay under sqlite's bound-parameter limit
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value, input_tokens, output_tokens FROM responses WHERE key IN ({marks})",
                    chunk,
                )
                for key, value, tokens_in, tokens_out in rows:
                    found[key] = CachedResponse(value, tokens_in, tokens_out)
        return found

    def put(self, key: str, response: CachedResponse, provider: str, model: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, response.value_json, response.input_tokens, response.output_tokens, provider, model),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
