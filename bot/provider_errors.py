"""Provider-error classification: the SDK's exceptions and error bodies -> the bot's error tree."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import openai

from bot.errors import (
    BadRequestError,
    ConnectionFailedError,
    ContextTooLongError,
    ModelNotFoundError,
    ProviderAuthError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    ToolsUnsupportedError,
    VisionUnsupportedError,
)

_CONTEXT_HINTS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "reduce the length",
)
# Phrases that say a capability is missing, not that one input was bad: a broken image
# must not switch vision off for the model.
_NO_VISION = re.compile(
    r"(does ?n[o']t|do not|not) support(s|ed)? (image|vision|multimodal|multi-modal)"
    r"|(image|vision|multimodal)( input)?s? (is|are) not supported"
    r"|image_url is only supported|only supported by certain models|not a (multimodal|vision)"
    r"|invalid content type"
)
_NO_TOOLS = re.compile(
    r"(does ?n[o']t|do not|not) support(s|ed)? (tools|tool use|tool calling|function)"
    r"|(tools|tool use|tool calling|function calling)( parameter)? (is|are) not supported"
    r"|unsupported parameter: '?(tools|tool_choice)|unrecognized request argument supplied: tools"
)
_QUOTA_HINTS = ("insufficient_quota", "quota", "billing", "balance", "credit")
OPTIONAL_PARAMS = (
    "max_tokens",
    "max_completion_tokens",
    "stream_options",
    "temperature",
    "reasoning_effort",
)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the provider asks us to wait (`retry-after-ms` or `retry-after`), if any."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return float(str(value))
        except ValueError:
            return None
    return None


def error_fields(body: Any, fallback: str = "") -> tuple[str, str]:
    """(code, message) of an error body: OpenAI's `{"error": {...}}` or AceData's
    `{"success": false, "error": {"code", "message"}, "trace_id"}` (same shape inside)."""
    body = body if isinstance(body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    if not isinstance(inner, dict):
        return "", str(body.get("error") or fallback)
    code = str(inner.get("code") or inner.get("type") or "")
    message = str(inner.get("message") or fallback)
    return code.lower(), message


def classify(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """The error of the tree for an HTTP status and the body's code and message."""
    lowered = f"{code} {message}".lower()
    detail = f"{status} {code}: {message}"[:300]
    if status == 401:
        return ProviderAuthError(detail)
    if status == 403:
        return ProviderPermissionError(detail)
    if status == 404:
        return ModelNotFoundError(detail)
    if status == 402:
        return QuotaExceededError(detail)  # DeepSeek, OpenRouter: out of balance or credits
    if status == 429:
        if any(hint in lowered for hint in _QUOTA_HINTS):
            return QuotaExceededError(detail)
        return RateLimitedError(detail, retry_after=retry_after(headers))
    if status in (400, 413, 422):
        if any(h in lowered for h in _CONTEXT_HINTS):
            return ContextTooLongError(detail)
        if _NO_VISION.search(lowered):
            return VisionUnsupportedError(detail)
        if _NO_TOOLS.search(lowered):
            return ToolsUnsupportedError(detail)
        return BadRequestError(detail)
    if status >= 500:
        return ServerError(detail)
    return ProviderError(detail)


def map_status_error(exc: openai.APIStatusError) -> ProviderError:
    """Translate an HTTP error from the provider into the bot's error tree."""
    code, message = error_fields(exc.body, exc.message)
    return classify(exc.status_code, code, message, exc.response.headers)


@contextmanager
def provider_errors() -> Iterator[None]:
    """Translate the SDK's exceptions for one request into the bot's error tree."""
    try:
        yield
    except openai.APIStatusError as exc:
        raise map_status_error(exc) from exc
    except openai.APITimeoutError as exc:
        raise ProviderTimeoutError(str(exc)) from exc
    except openai.APIConnectionError as exc:
        raise ConnectionFailedError(str(exc)) from exc


def unsupported_param(exc: ProviderError, params: dict[str, Any]) -> str | None:
    """The optional parameter a 400 complains about, if it is one we sent."""
    if not isinstance(exc, BadRequestError):
        return None
    lowered = exc.detail.lower()
    if "unsupported" not in lowered and "not support" not in lowered and "unknown" not in lowered:
        return None
    for name in OPTIONAL_PARAMS:
        if name in params and name in lowered:
            return name
    return None
