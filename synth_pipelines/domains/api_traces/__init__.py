"""API call traces from Markov-chain workflows (docs/api_traces.md).

``generate_session(workflow, seed=..., session_id=...)`` returns one session's calls from Python; it is
imported on first use so that importing the package (``synth api-traces``'s start-up) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["generate_session"]


def __getattr__(name: str) -> Any:
    if name == "generate_session":
        from synth_pipelines.domains.api_traces.sessions import generate_session

        return generate_session
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
