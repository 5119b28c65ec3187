"""A loopback LLM server speaking OpenAI chat-completions and Gemini generateContent, for tests and bench.

It is schema-driven: it answers with an instance of the JSON schema found in the request
(``response_format``, ``tools`` or ``generationConfig.responseJsonSchema``), with values made unique
by a counter, so real ``ChatOpenAI`` / ``ChatGoogleGenerativeAI`` clients parse real answers. Tests
may set ``responder`` to build answers from the prompt, and queue faults with ``inject``: HTTP
statuses (429, 500, 401 echoing the key) with optional reply headers (``retry-after-ms``), timeouts,
malformed JSON, schema-invalid, empty or truncated answers. ``fault_every(n, faults)`` makes every n-th
request (by arrival) fail with the next fault of a cycle, for as long as the stub runs; ``duplicate_items``
makes a share of the array items repeat an item other answers also carry. It counts requests and the peak
number in flight, and logs when each request arrived.

Starts on 127.0.0.1, port 0, in a daemon thread; reads nothing from ``sys.argv`` or the environment.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any], str, int], Any]  # (json schema, prompt text, counter) -> answer object
SeedResponder = Callable[[dict[str, Any], str, int | None], Any]  # (json schema, prompt text, request seed) -> answer


@dataclass
class Fault:
    status: int | None = None  # reply with this HTTP status
    delay: float = 0.0  # sleep before replying (longer than the client timeout = a timeout)
    content: str | None = None  # raw answer text instead of the schema instance ("not json" = malformed)
    invalid: bool = False  # valid JSON that breaks the schema
    empty: bool = False  # no answer at all (empty content, no tool call)
    finish_reason: str | None = None  # e.g. "length" (OpenAI) / "MAX_TOKENS" (Gemini): truncated
    echo_key: bool = False  # error body repeats the credential it got, as some providers do
    headers: dict[str, str] = field(default_factory=dict)  # extra reply headers, e.g. {"retry-after-ms": "200"}
    no_choices: bool = False  # a 200 whose "choices" (OpenAI) / "candidates" (Gemini) list is empty


@dataclass
class StubLog:
    path: str
    credential: str
    body: dict[str, Any]
    retry_count: str | None = None
    authorization: str = ""  # the Authorization header as sent ("Bearer <token>"), "" when absent
    received: float = field(default_factory=time.monotonic)  # when the request arrived (time.monotonic)


@dataclass
class _State:
    faults: deque[Fault] = field(default_factory=deque)
    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    counter: int = 0
    log: list[StubLog] = field(default_factory=list)
    periodic_every: int = 0  # every n-th request gets the next of periodic_faults (0: off)
    periodic_faults: tuple[Fault, ...] = ()
    periodic_served: int = 0


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # default 5 -> connection errors at 16+ concurrent clients
    daemon_threads = True


class LLMStub:
    def __init__(self, items_per_array: int = 3, keep_log: bool = True) -> None:
        self.items_per_array = items_per_array
        self.keep_log = keep_log
        self.responder: Responder | None = None
        # Answers that depend on the request's seed only, as a seeded provider's do (wins over ``responder``).
        self.seed_responder: SeedResponder | None = None
        self.delay = 0.0  # latency added to every answer
        # Every k-th array item (k = this, 0: off) of an answer is replaced by an item shared by many answers.
        self.duplicate_items = 0
        self._lock = threading.Lock()
        self._state = _State()
        handler = type("Handler", (_Handler,), {"stub": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="llm-stub")
        self._thread.start()

    # -- what tests use -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    @property
    def requests(self) -> int:
        return self._state.requests

    @property
    def peak_in_flight(self) -> int:
        return self._state.peak_in_flight

    @property
    def log(self) -> list[StubLog]:
        return list(self._state.log)

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each applies to one request, in arrival order."""
        with self._lock:
            self._state.faults.extend(faults)

    def fault_every(self, every: int, *faults: Fault) -> None:
        """From now on every ``every``-th request (counted by arrival) fails with the next of ``faults``, cycling."""
        with self._lock:
            self._state.periodic_every, self._state.periodic_faults = every, faults

    def reset(self) -> None:
        with self._lock:
            self._state = _State()
        self.responder = None
        self.seed_responder = None
        self.delay = 0.0
        self.duplicate_items = 0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- internals --------------------------------------------------------------------------------
    def _begin(self, log: StubLog) -> tuple[Fault | None, int]:
        with self._lock:
            state = self._state
            state.requests += 1
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
            state.counter += 1
            if self.keep_log:
                state.log.append(log)
            if state.faults:
                return state.faults.popleft(), state.counter
            if state.periodic_every and state.periodic_faults and state.requests % state.periodic_every == 0:
                fault = state.periodic_faults[state.periodic_served % len(state.periodic_faults)]
                state.periodic_served += 1
                return fault, state.counter
            return None, state.counter

    def _end(self) -> None:
        with self._lock:
            self._state.in_flight -= 1

    def answer(self, schema: dict[str, Any] | None, prompt: str, counter: int, seed: int | None = None) -> Any:
        if self.seed_responder is not None:
            return self.seed_responder(schema or {}, prompt, seed)
        if self.responder is not None:
            return self.responder(schema or {}, prompt, counter)
        return instance_of(schema or {"type": "object", "properties": {}}, schema or {}, counter, "", self)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = (root.get("$defs") or root.get("definitions") or {})[name]
    return node


def instance_of(node: dict[str, Any], root: dict[str, Any], n: int, name: str, stub: LLMStub) -> Any:
    """A valid instance of a JSON schema node; strings carry the counter so answers are unique."""
    node = _resolve(node, root)
    for combo in ("anyOf", "oneOf"):
        if combo in node:
            options = [o for o in node[combo] if _resolve(o, root).get("type") not in ("null", "NULL")]
            return instance_of(options[0] if options else node[combo][0], root, n, name, stub)
    kind = str(node.get("type", "object")).lower()
    if "enum" in node:
        return node["enum"][n % len(node["enum"])]
    if kind == "object":
        return {k: instance_of(v, root, n, k, stub) for k, v in (node.get("properties") or {}).items()}
    if kind == "array":
        count = max(int(node.get("minItems", 0)), min(stub.items_per_array, int(node.get("maxItems", 10**6))))
        items = [instance_of(node.get("items", {}), root, n * 1000 + i, name, stub) for i in range(count)]
        if stub.duplicate_items:
            # Shared by every answer whose counter falls in the same block of 4: duplicates across requests.
            shared = instance_of(node.get("items", {}), root, -(n // 4) - 1, name, stub)
            items = [shared if i % stub.duplicate_items == 0 else item for i, item in enumerate(items)]
        return items
    if kind == "integer":
        lo, hi = node.get("minimum"), node.get("maximum")
        return lo + n % (hi - lo + 1) if lo is not None and hi is not None else n
    if kind == "number":
        lo, hi = node.get("minimum", 0.0), node.get("maximum", 1.0)
        return round(lo + (n % 101) / 100 * (hi - lo), 2)
    if kind == "boolean":
        return n % 2 == 0
    if kind == "null":
        return None
    return f"{name or 'text'} number {n} from the stub"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # without it: ~44 ms per call (Nagle + delayed ACK)
    stub: LLMStub

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "request body is not JSON"}})
            return
        credential = (
            self.headers.get("Authorization", "").removeprefix("Bearer ")
            or self.headers.get("x-goog-api-key", "")
            or self.headers.get("api-key", "")
        )
        route = self.path.split("?", 1)[0]  # Azure adds ?api-version=...
        gemini = re.search(r"/models/([^/:]+):generateContent", route)
        if not gemini and not route.endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        log = StubLog(
            self.path, credential, body, self.headers.get("x-stainless-retry-count"),
            self.headers.get("Authorization", ""),
        )  # fmt: skip
        fault, counter = self.stub._begin(log)
        try:
            delay = self.stub.delay + (fault.delay if fault else 0.0)
            if delay:
                time.sleep(delay)
            if fault and fault.status:
                message = f"injected {fault.status}"
                if fault.echo_key:
                    message += f": Incorrect API key provided: {credential}"
                error = {"error": {"message": message, "code": fault.status, "status": "ERR"}}
                self._send(fault.status, error, fault.headers)
            elif gemini:
                self._send(200, self._gemini(body, fault, counter), fault.headers if fault else None)
            else:
                self._send(200, self._openai(body, fault, counter), fault.headers if fault else None)
        finally:
            self.stub._end()

    def _text_of(
        self, fault: Fault | None, schema: dict[str, Any] | None, prompt: str, counter: int, seed: int | None
    ) -> str:
        if fault and fault.content is not None:
            return fault.content
        if fault and fault.empty:
            return ""
        if fault and fault.invalid:
            return json.dumps({"unexpected": [1, 2, 3]})
        return json.dumps(self.stub.answer(schema, prompt, counter, seed))

    def _openai(self, body: dict[str, Any], fault: Fault | None, counter: int) -> dict[str, Any]:
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        fmt = body.get("response_format") or {}
        tools = body.get("tools") or []
        schema = (fmt.get("json_schema") or {}).get("schema")
        if tools:
            schema = tools[0]["function"].get("parameters")
        text = self._text_of(fault, schema, prompt, counter, body.get("seed"))
        message: dict[str, Any] = {"role": "assistant", "content": None if tools else text}
        if tools and not (fault and fault.empty):
            call = {"name": tools[0]["function"]["name"], "arguments": text}
            message["tool_calls"] = [{"id": f"call_{counter}", "type": "function", "function": call}]
        usage = {"prompt_tokens": len(prompt) // 4 + 1, "completion_tokens": len(text) // 4 + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice = {"index": 0, "message": message, "finish_reason": (fault.finish_reason if fault else None) or "stop"}
        return {
            "id": f"chatcmpl-{counter}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body.get("model", "stub"),
            "system_fingerprint": "fp_stub",
            "choices": [] if fault and fault.no_choices else [choice],
            "usage": usage,
        }

    def _gemini(self, body: dict[str, Any], fault: Fault | None, counter: int) -> dict[str, Any]:
        parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
        parts += (body.get("systemInstruction") or {}).get("parts", [])
        prompt = "\n".join(str(p.get("text", "")) for p in parts)
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        declarations = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        if declarations:
            schema = declarations[0].get("parametersJsonSchema") or declarations[0].get("parameters")
        text = self._text_of(fault, schema, prompt, counter, config.get("seed"))
        if declarations and not (fault and fault.empty):
            try:
                args = json.loads(text)
            except json.JSONDecodeError:
                args = {"raw": text}
            out_parts: list[dict[str, Any]] = [{"functionCall": {"name": declarations[0]["name"], "args": args}}]
        else:
            out_parts = [{"text": text}]
        tokens_in, tokens_out = len(prompt) // 4 + 1, len(text) // 4 + 1
        candidate = {
            "content": {"role": "model", "parts": out_parts},
            "finishReason": (fault.finish_reason if fault else None) or "STOP",
            "index": 0,
        }
        return {
            "candidates": [] if fault and fault.no_choices else [candidate],
            "usageMetadata": {
                "promptTokenCount": tokens_in,
                "candidatesTokenCount": tokens_out,
                "totalTokenCount": tokens_in + tokens_out,
            },
            "modelVersion": "stub-gemini",
        }
