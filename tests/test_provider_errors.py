"""Provider-error classification: OpenAI's and AceData's error bodies map to the same tree."""

from __future__ import annotations

import httpx2
import openai
import pytest

from bot.errors import (
    BadRequestError,
    ContextTooLongError,
    ProviderAuthError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
)
from bot.provider_errors import error_fields, map_status_error


def _acedata(status: int, code: str, message: str) -> openai.APIStatusError:
    request = httpx2.Request("POST", "https://api.acedata.cloud/openai/chat/completions")
    body = {"success": False, "error": {"code": code, "message": message}, "trace_id": "t-1"}
    response = httpx2.Response(status, request=request, json=body)
    # The SDK hands over the body's `error` member when there is one.
    return openai.APIStatusError(message, response=response, body=body["error"])


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (
            401,
            "invalid_token",
            "Unauthorized, invalid or missing authorization token.",
            ProviderAuthError,
        ),
        (
            429,
            "too_many_requests",
            "Too many requests, you have exceeded the rate limit.",
            RateLimitedError,
        ),
        (500, "api_error", "fetch failed", ServerError),
        (
            400,
            "token_mismatched",
            "Bad request, possibly due to missing or invalid parameters.",
            BadRequestError,
        ),
        (
            400,
            "api_not_implemented",
            "Bad request, possibly due to missing or invalid parameters.",
            BadRequestError,
        ),
        (
            400,
            "api_error",
            "This model's maximum context length is 8192 tokens.",
            ContextTooLongError,
        ),
        (429, "too_many_requests", "You exceeded your current quota.", QuotaExceededError),
    ],
)
def test_acedata_codes(status: int, code: str, message: str, kind: type) -> None:
    error = map_status_error(_acedata(status, code, message))
    assert type(error) is kind
    assert code in error.detail


def test_error_fields_of_both_shapes() -> None:
    assert error_fields({"error": {"code": "X", "message": "m"}}) == ("x", "m")
    assert error_fields({"success": False, "error": {"code": "api_error", "message": "m"}}) == (
        "api_error",
        "m",
    )
    assert error_fields({"message": "m", "type": "server_error"}) == ("server_error", "m")
    assert error_fields("garbage", "fallback") == ("", "fallback")
