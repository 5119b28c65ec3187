"""Controlled vocabulary of agent traces: agents, tools, models and their prices, errors (all synthetic).

Model names are made up on purpose: the price table is a plausible synthetic one, not any vendor's.
"""

from __future__ import annotations

import numpy as np

STEP_KINDS = ("plan", "tool_call", "llm_call", "observation", "final")
MODEL_STEP_KINDS = ("plan", "llm_call", "final")
STATUSES = ("ok", "error")

# model, USD per million input tokens, USD per million output tokens, output tokens/s, time to first token ms
MODELS: tuple[tuple[str, float, float, float, float], ...] = (
    ("atlas-large", 3.00, 15.00, 60.0, 600.0),
    ("atlas-mini", 0.15, 0.60, 140.0, 250.0),
    ("nimbus-pro", 1.25, 10.00, 80.0, 500.0),
    ("nimbus-flash", 0.10, 0.40, 180.0, 200.0),
    ("orca-70b", 0.60, 0.80, 50.0, 400.0),
    ("orca-8b", 0.05, 0.08, 200.0, 120.0),
)
MODEL_NAMES = tuple(m[0] for m in MODELS)
PRICE_INPUT_PER_M = {m[0]: m[1] for m in MODELS}
PRICE_OUTPUT_PER_M = {m[0]: m[2] for m in MODELS}
MODEL_TOKENS_PER_S = np.array([m[3] for m in MODELS])
MODEL_TTFT_MS = np.array([m[4] for m in MODELS])
PREFILL_TOKENS_PER_MS = 5.0  # reading the prompt: about 5,000 tokens a second

# tool, median latency ms, argument summaries (synthetic, no personal data)
TOOLS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    (
        "web_search",
        900.0,
        (
            'query="status page incident history"',
            'query="python 3.12 release notes"',
            'query="average shipping time eu"',
            'query="gpu memory bandwidth comparison"',
            'query="iso 8601 week numbers"',
            'query="postgres vacuum tuning"',
        ),
    ),
    (
        "vector_search",
        120.0,
        (
            'query="refund policy" top_k=5',
            'query="password reset steps" top_k=3',
            'query="api rate limits" top_k=5',
            'query="warranty terms" top_k=8',
            'query="onboarding checklist" top_k=5',
            'query="data retention" top_k=4',
        ),
    ),
    (
        "sql_query",
        450.0,
        (
            "table=orders filter=status limit=100",
            "table=events group_by=day limit=31",
            "table=inventory filter=sku limit=50",
            "table=invoices filter=month limit=500",
            "table=sessions group_by=country limit=20",
            "table=tickets filter=priority limit=200",
        ),
    ),
    (
        "read_file",
        15.0,
        (
            "path=docs/architecture.md",
            "path=src/billing/invoice.py",
            "path=config/pipeline.yaml",
            "path=README.md",
            "path=tests/test_api.py",
            "path=notes/meeting-summary.txt",
        ),
    ),
    (
        "python_exec",
        1_500.0,
        (
            "code_lines=12 imports=pandas",
            "code_lines=4 imports=none",
            "code_lines=38 imports=numpy,scipy",
            "code_lines=20 imports=matplotlib",
            "code_lines=7 imports=json",
            "code_lines=55 imports=polars",
        ),
    ),
    (
        "http_request",
        350.0,
        (
            "method=GET url=https://api.internal.test/v1/flights",
            "method=GET url=https://api.internal.test/v1/hotels",
            "method=POST url=https://api.internal.test/v1/quotes",
            "method=GET url=https://api.internal.test/v1/weather",
            "method=GET url=https://api.internal.test/v1/orders",
            "method=POST url=https://api.internal.test/v1/tickets",
        ),
    ),
    (
        "calculator",
        2.0,
        (
            'expression="1299 * 0.85"',
            'expression="(42 + 17) / 3"',
            'expression="2 ** 16"',
            'expression="365 * 24 * 0.999"',
            'expression="1500 / 12"',
            'expression="sqrt(144) + 7"',
        ),
    ),
    (
        "ticket_lookup",
        200.0,
        (
            "ticket_id=TCK-10482",
            "ticket_id=TCK-22917",
            "ticket_id=TCK-30356",
            "ticket_id=TCK-41873",
            "ticket_id=TCK-58204",
            "ticket_id=TCK-69931",
        ),
    ),
)
TOOL_NAMES = tuple(t[0] for t in TOOLS)
TOOL_LATENCY_MS = np.array([t[1] for t in TOOLS])
ARGUMENTS_PER_TOOL = 6
TOOL_ARGUMENTS = tuple(arg for t in TOOLS for arg in t[2])  # flat: tool i owns [6i, 6i+6)

# agent, share of runs, its tools, its models
AGENTS: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    ("support-triage", 0.30, ("ticket_lookup", "vector_search", "http_request"), ("atlas-mini", "nimbus-flash")),
    ("research-assistant", 0.20, ("web_search", "read_file", "vector_search"), ("atlas-large", "nimbus-pro")),
    ("data-analyst", 0.20, ("sql_query", "python_exec", "calculator"), ("nimbus-pro", "orca-70b", "atlas-large")),
    ("code-reviewer", 0.15, ("read_file", "python_exec", "web_search"), ("atlas-large", "orca-70b")),
    ("travel-planner", 0.15, ("http_request", "web_search", "calculator"), ("atlas-mini", "orca-8b")),
)
AGENT_NAMES = tuple(a[0] for a in AGENTS)
AGENT_SHARES = tuple(a[1] for a in AGENTS)
AGENT_TOOLS = np.array([[TOOL_NAMES.index(t) for t in a[2]] for a in AGENTS])
AGENT_MODEL_COUNT = np.array([len(a[3]) for a in AGENTS])
AGENT_MODELS = np.array([[MODEL_NAMES.index(a[3][i % len(a[3])]) for i in range(3)] for a in AGENTS])

ERROR_TYPES = ("timeout", "unavailable", "rate_limited", "context_length_exceeded", "tool_error", "invalid_arguments")
TOOL_ERRORS = ("timeout", "unavailable", "tool_error", "invalid_arguments")
MODEL_ERRORS = ("timeout", "unavailable", "rate_limited", "context_length_exceeded")
ERRORS_OF_KIND = {"tool_call": TOOL_ERRORS, "plan": MODEL_ERRORS, "llm_call": MODEL_ERRORS, "final": MODEL_ERRORS}
ERROR_TEMPLATES = {
    "timeout": "step timed out after {} s",
    "unavailable": "upstream unavailable (HTTP 50{})",
    "rate_limited": "rate limit exceeded, retry after {} s",
    "context_length_exceeded": "prompt of {} tokens exceeds the context window",
    "tool_error": "tool raised an exception (exit code {})",
    "invalid_arguments": "tool arguments failed schema validation at argument {}",
}
TOOL_TIMEOUT_MS = 30_000.0
MODEL_TIMEOUT_MS = 60_000.0
