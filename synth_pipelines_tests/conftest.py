"""Shared fixtures. The LLM stub is real HTTP on 127.0.0.1 (port 0), started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synth_pipelines_tests.llm_stub import LLMStub


@pytest.fixture(scope="session")
def _llm_stub_server() -> Iterator[LLMStub]:
    stub = LLMStub()
    yield stub
    stub.close()


@pytest.fixture
def llm_stub(_llm_stub_server: LLMStub) -> Iterator[LLMStub]:
    """The loopback OpenAI/Gemini stub, with faults, counters and responder reset for each test."""
    _llm_stub_server.reset()
    yield _llm_stub_server
    _llm_stub_server.reset()
