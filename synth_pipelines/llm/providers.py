"""LangChain chat models for our providers, and one classification of everything they raise.

Transport retries are ours (``generate.py``, tenacity), not the SDKs': OpenAI counts ``max_retries`` as
retries and Google as total attempts, the Google SDK retries timeouts on its own schedule, and we
want every retry counted in the run's metadata. So both clients are built with no SDK retries, and
``retry_after_s`` reads the provider's ``Retry-After`` hint off the error instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAuthenticationError,
    ModelError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
    OutputParserException,
)
from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from synth_pipelines.llm.settings import LLMSettings, SettingsError

# The scope of an Entra ID (AAD) token for Azure OpenAI.
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"


def azure_token_provider(credential: Any = None) -> Callable[[], str]:
    """A bearer-token callable for Azure OpenAI from ``credential`` (default: ``DefaultAzureCredential``).

    ``DefaultAzureCredential`` tries environment credentials, managed identity, the Azure CLI...; the
    first token is fetched here, so a machine with none fails at start with one line, not per request.
    """
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider

    if credential is None:
        credential = DefaultAzureCredential()
    provider = get_bearer_token_provider(credential, AZURE_SCOPE)
    try:
        provider()
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SettingsError(
            "provider 'azure' has no credential: set AZURE_OPENAI_API_KEY (environment or .env), or sign in "
            f"for DefaultAzureCredential (managed identity, az login, AZURE_CLIENT_ID...): {reason}"
        ) from None
    return provider


def legacy_structured_model(model: str) -> bool:
    """Models LangChain refuses ``method='json_schema'`` for (it warns, then uses function calling)."""
    return model.startswith(("gpt-3", "gpt-4-")) or model == "gpt-4"


def make_chat_model(settings: LLMSettings, azure_credential: Any = None) -> BaseChatModel:
    """ChatOpenAI / AzureChatOpenAI / ChatGoogleGenerativeAI with timeout, max_tokens and no SDK retries.

    Provider ``azure`` uses ``AZURE_OPENAI_API_KEY`` when set, otherwise a bearer token from
    ``azure_credential`` (any azure-identity credential; default ``DefaultAzureCredential``).
    """
    if settings.provider == "azure":
        from langchain_openai import AzureChatOpenAI

        settings.require_azure()
        auth: dict[str, Any] = {}
        if settings.api_key is not None and settings.api_key.get_secret_value():
            auth["api_key"] = settings.api_key
        else:
            auth["azure_ad_token_provider"] = azure_token_provider(azure_credential)
        extra = {"top_p": settings.top_p} if settings.top_p is not None else {}
        return AzureChatOpenAI(
            azure_endpoint=settings.base_url,
            azure_deployment=settings.model,
            api_version=settings.azure_api_version,
            model=settings.model,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            timeout=settings.timeout_s,
            max_retries=0,
            **auth,
            **extra,
        )
    if settings.provider == "openai":
        key = settings.require_key()
        common: dict[str, Any] = {
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "timeout": settings.timeout_s,
            "max_retries": 0,
            "api_key": key,
        }
        if settings.top_p is not None:
            common["top_p"] = settings.top_p
        if settings.top_k is not None and settings.base_url:
            # OpenAI itself rejects top_k; vLLM, llama.cpp and Ollama's OpenAI endpoints accept it.
            common["extra_body"] = {"top_k": settings.top_k}
        if settings.azure_api_version:
            from langchain_openai import AzureChatOpenAI

            return AzureChatOpenAI(
                azure_endpoint=settings.base_url,
                azure_deployment=settings.model,
                api_version=settings.azure_api_version,
                model=settings.model,
                **common,
            )
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=settings.model, base_url=settings.base_url, **common)
    if settings.provider == "google":
        from langchain_google_genai import ChatGoogleGenerativeAI

        kwargs: dict[str, Any] = {
            "model": settings.model,
            "temperature": settings.temperature,
            "max_output_tokens": settings.max_tokens,
            "timeout": settings.timeout_s,
            "max_retries": 1,  # google counts total attempts: 1 = no SDK retry
            "top_p": settings.top_p,
            "top_k": settings.top_k,
        }
        if settings.base_url:
            kwargs["base_url"] = settings.base_url
        if settings.vertexai:
            kwargs |= {"vertexai": True, "project": settings.gcp_project, "location": settings.gcp_location}
            if settings.api_key is not None:
                kwargs["api_key"] = settings.api_key
        else:
            kwargs["api_key"] = settings.require_key()
        return ChatGoogleGenerativeAI(**kwargs)
    raise ValueError(f"provider {settings.provider!r} has no chat model (offline makes no LLM calls)")


class InvalidOutput(Exception):
    """The model answered, but not with a usable instance of the output schema."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ErrorKind:
    reason: str  # short, stable label counted in metadata: rate_limited, server_error, timeout...
    retryable: bool
    fatal: bool = False  # every further request would fail the same way (bad credentials)


def classify(exc: BaseException) -> ErrorKind:
    """Map provider, transport and parsing exceptions onto one small vocabulary."""
    if isinstance(exc, InvalidOutput):
        return ErrorKind(exc.reason, True)
    if isinstance(exc, ModelAuthenticationError | ModelPermissionDeniedError):
        return ErrorKind("auth_rejected", False, fatal=True)
    if isinstance(exc, ModelRateLimitError):
        return ErrorKind("rate_limited", True)
    if isinstance(exc, ModelTimeoutError | httpx.TimeoutException | TimeoutError):
        return ErrorKind("timeout", True)
    if isinstance(exc, ContextOverflowError):
        return ErrorKind("context_overflow", False)
    if isinstance(exc, ModelError):
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        name = type(exc).__name__
        if "Refusal" in name:
            return ErrorKind("refusal", True)
        if exc.is_retryable:
            return ErrorKind("connection_error" if "Connection" in name else "server_error", True)
        return ErrorKind(f"rejected_{status}" if status else "rejected", False)
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return ErrorKind("connection_error", True)
    if isinstance(exc, ValidationError | OutputParserException | json.JSONDecodeError):
        return ErrorKind("invalid_output", True)
    name = type(exc).__name__
    if name == "LengthFinishReasonError":
        return ErrorKind("truncated", True)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status in (401, 403):
            return ErrorKind("auth_rejected", False, fatal=True)
        if status == 429 or status >= 500:
            return ErrorKind("rate_limited" if status == 429 else "server_error", True)
        return ErrorKind(f"rejected_{status}", False)
    if name in ("APITimeoutError",):
        return ErrorKind("timeout", True)
    if name in ("APIConnectionError",):
        return ErrorKind("connection_error", True)
    return ErrorKind(f"error_{name}", False)


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (``retry-after-ms`` / ``Retry-After``), or None.

    openai SDK errors carry the HTTP response (``exc.response.headers``); LangChain's Google errors are
    raised ``from`` the google-genai error, which carries it; so the exception chain is searched too.
    Zero, negative and unparsable values count as no hint.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        headers = getattr(getattr(current, "response", None), "headers", None) or getattr(current, "headers", None)
        wait = _header_wait(headers) if headers is not None and hasattr(headers, "get") else None
        if wait is not None:
            return wait
        current = current.__cause__ or current.__context__
    return None


def _header_wait(headers: Any) -> float | None:
    def header(name: str) -> str | None:
        value = headers.get(name)
        if value is None:
            value = headers.get(name.title())
        return None if value is None else str(value).strip()

    millis = header("retry-after-ms")
    if millis:
        try:
            wait = float(millis) / 1000
        except ValueError:
            wait = 0.0
        if wait > 0:
            return wait
    seconds = header("retry-after")
    if not seconds:
        return None
    try:
        wait = float(seconds)
    except ValueError:
        try:
            wait = parsedate_to_datetime(seconds).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return wait if wait > 0 else None


REDACTED = "[REDACTED]"
# An echo of at least this many consecutive characters of a secret is removed; shorter runs are left
# (any 7 characters of a key also occur in ordinary text, and 7 of ~40 random characters reveal little).
MIN_ECHO = 8


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret, and every run of ``MIN_ECHO``+ consecutive characters of one, replaced.

    Providers and models echo keys whole or in part ("sk-abc...wxyz"). A fragment is found through
    its ``MIN_ECHO``-character windows: every window of the text that occurs in the secret is marked,
    and each marked run becomes one ``[REDACTED]``, so no character of an echoed fragment survives at
    its ends (replacing fixed-size pieces left the last few characters of a longer fragment).
    """
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, REDACTED)
        if len(secret) < MIN_ECHO or len(text) < MIN_ECHO:
            continue
        windows = {secret[i : i + MIN_ECHO] for i in range(len(secret) - MIN_ECHO + 1)}
        marked = [False] * len(text)
        found = False
        for i in range(len(text) - MIN_ECHO + 1):
            if text[i : i + MIN_ECHO] in windows:
                marked[i : i + MIN_ECHO] = [True] * MIN_ECHO
                found = True
        if found:
            parts: list[str] = []
            for i, char in enumerate(text):
                if not marked[i]:
                    parts.append(char)
                elif i == 0 or not marked[i - 1]:
                    parts.append(REDACTED)
            text = "".join(parts)
    return text


def redact_value(value: object, secrets: list[str]) -> object:
    """A JSON-like value with ``redact`` applied to every string in it (dict keys too)."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, secrets) for v in value]
    return value
