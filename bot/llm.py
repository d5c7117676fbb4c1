"""The model client: streamed Chat Completions as typed events, with retries and error mapping."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from bot.errors import (
    BadRequestError,
    BadResponseError,
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
    StreamInterruptedError,
    ToolsUnsupportedError,
    VisionUnsupportedError,
)
from bot.tool_calls import ToolCall, ToolCallAssembler

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of a reasoning model's thinking (never shown as the answer)."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Tokens one call used."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class StreamEnd:
    """The stream finished; carries the finish reason, assembled tool calls and usage."""

    finish_reason: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    first_chunk_at: float | None = None


LLMEvent = TextDelta | ReasoningDelta | StreamEnd
Sleep = Callable[[float], Awaitable[None]]


def _retry_after(headers: httpx2.Headers | None) -> float | None:
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


def _error_text(exc: openai.APIStatusError) -> tuple[str, str]:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    code = str(inner.get("code") or inner.get("type") or "") if isinstance(inner, dict) else ""
    message = str(inner.get("message") or exc.message) if isinstance(inner, dict) else exc.message
    return code.lower(), message


def map_status_error(exc: openai.APIStatusError) -> ProviderError:
    """Translate an HTTP error from the provider into the bot's error tree."""
    code, message = _error_text(exc)
    lowered = f"{code} {message}".lower()
    status = exc.status_code
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
        if "insufficient_quota" in lowered or "quota" in lowered or "billing" in lowered:
            return QuotaExceededError(detail)
        return RateLimitedError(detail, retry_after=_retry_after(exc.response.headers))
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


def _unsupported_param(exc: ProviderError, params: dict[str, Any]) -> str | None:
    """The optional parameter a 400 complains about, if it is one we sent."""
    lowered = exc.detail.lower()
    if "unsupported" not in lowered and "not support" not in lowered and "unknown" not in lowered:
        return None
    for name in ("max_tokens", "max_completion_tokens", "stream_options", "temperature"):
        if name in params and name in lowered:
            return name
    return None


@dataclass
class ModelOptions:
    """Per-request options that depend on the provider."""

    max_output_tokens: int | None = None
    max_tokens_param: str = "auto"
    temperature: float | None = None
    include_usage: bool = True


def token_param_for(model: str, base_url: str, configured: str) -> str:
    """Which name carries the output limit: newer OpenAI models reject `max_tokens`."""
    if configured != "auto":
        return configured
    name = model.lower().split("/")[-1]
    openai_host = "api.openai.com" in base_url
    new_family = name.startswith(("o1", "o3", "o4", "gpt-5", "gpt-4.1", "gpt-4o"))
    return "max_completion_tokens" if openai_host and new_family else "max_tokens"


class StreamChunkError(Exception):
    """An `error` object sent inside a 200 stream."""


class ChunkReader:
    """Turns Chat Completions chunks (plain dicts) into events, assembling tool calls."""

    def __init__(self) -> None:
        self.assembler = ToolCallAssembler()
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.first_chunk_at: float | None = None
        self.started = False

    @staticmethod
    def _parse(raw: str | bytes) -> Any:
        """One JSON payload; an `error` object in it (inside a 200 answer) is raised."""
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise StreamChunkError(f"unreadable answer: {raw[:80]!r}") from exc
        if isinstance(value, dict) and value.get("error"):
            error = value["error"]
            raise StreamChunkError(str(error.get("message") if isinstance(error, dict) else error))
        return value

    def feed(self, payload: str) -> list[LLMEvent]:
        """The events of one SSE data payload."""
        chunk = self._parse(payload)
        if not isinstance(chunk, dict):
            return []
        if self.first_chunk_at is None:
            self.first_chunk_at = time.monotonic()
        return self._read(chunk, "delta")

    def whole(self, body: bytes) -> list[LLMEvent]:
        """The events of a non-streamed completion (a gateway that ignored stream=True)."""
        completion = self._parse(body)
        if not isinstance(completion, dict):
            raise StreamChunkError("the answer is not a JSON object")
        return [*self._read(completion, "message"), self.end()]

    def _read(self, body: dict[str, Any], field: str) -> list[LLMEvent]:
        """Usage, and the first choice's `delta` (stream) or `message` (whole answer)."""
        self._read_usage(body.get("usage"))
        events: list[LLMEvent] = []
        for choice in body.get("choices") or ():
            if choice.get("index") not in (0, None):
                continue
            self._read_delta(choice.get(field) or {}, events)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _read_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.usage = Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )

    def _read_delta(self, delta: dict[str, Any], events: list[LLMEvent]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self.started = True
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.started = True
            events.append(TextDelta(content))
        for fragment in delta.get("tool_calls") or ():
            self.started = True
            function = fragment.get("function") or {}
            self.assembler.add(
                fragment.get("index"),
                fragment.get("id"),
                function.get("name"),
                function.get("arguments"),
            )

    def end(self) -> StreamEnd:
        """The closing event."""
        return StreamEnd(
            finish_reason=self.finish_reason,
            tool_calls=self.assembler.calls(),
            usage=self.usage,
            first_chunk_at=self.first_chunk_at,
        )


class LLMClient:
    """Streams chat completions from one OpenAI-compatible provider."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        options: ModelOptions,
        stall_timeout: float,
        max_retries: int,
        max_retry_wait: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._options = options
        self._stall_timeout = stall_timeout
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._dropped_params: set[str] = set()

    @property
    def base_url(self) -> str:
        """The provider's API root."""
        return str(self._client.base_url)

    def _params(
        self,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        tool_choice: str | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
        if self._options.include_usage:
            params["stream_options"] = {"include_usage": True}
        if tools:
            params["tools"] = tools
            if tool_choice:
                params["tool_choice"] = tool_choice
        if self._options.max_output_tokens:
            name = token_param_for(model, self.base_url, self._options.max_tokens_param)
            params[name] = self._options.max_output_tokens
        if self._options.temperature is not None:
            params["temperature"] = self._options.temperature
        dropped = self._dropped_params
        for name in dropped:
            params.pop(name, None)
        limit = self._options.max_output_tokens
        if limit and not {"max_tokens", "max_completion_tokens"} <= dropped:
            if "max_tokens" in dropped:
                params["max_completion_tokens"] = limit
            elif "max_completion_tokens" in dropped:
                params["max_tokens"] = limit
        return params

    async def stream(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream one completion; retries only while nothing has been yielded."""
        attempt = 0
        while True:
            params = self._params(model, messages, tools, tool_choice)
            yielded = False
            try:
                async for event in self._stream_once(params):
                    if isinstance(event, (TextDelta, ReasoningDelta)):
                        yielded = True
                    yield event
                return
            except ProviderError as exc:
                if yielded:
                    raise
                bad_param = (
                    _unsupported_param(exc, params) if isinstance(exc, BadRequestError) else None
                )
                if bad_param and bad_param not in self._dropped_params:
                    log.warning("provider rejects %s; retrying without it", bad_param)
                    self._dropped_params.add(bad_param)
                    continue
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise
                attempt += 1
                log.warning(
                    "provider error (%s), retry %d/%d in %.2fs",
                    type(exc).__name__,
                    attempt,
                    self._max_retries,
                    delay,
                )
                await self._sleep(delay)

    def _retry_delay(self, exc: ProviderError, attempt: int) -> float | None:
        if not exc.retryable or attempt >= self._max_retries:
            return None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            if exc.retry_after > self._max_retry_wait:
                return None
            return max(0.0, exc.retry_after)
        base = min(self._max_retry_wait, 0.5 * float(2**attempt))
        return float(base * (0.75 + random.random() / 2))

    async def _stream_once(self, params: dict[str, Any]) -> AsyncIterator[LLMEvent]:
        """One request; chunks are parsed as plain JSON (the SDK's per-chunk models cost
        about 90 µs each, which made a busy bot CPU-bound)."""
        chunks = ChunkReader()
        started = False
        try:
            with provider_errors():
                request = self._client.chat.completions.with_streaming_response.create(**params)
                response = await request.__aenter__()
            try:
                if "json" in response.headers.get("content-type", ""):
                    # A gateway that ignored stream=True and answered with one completion.
                    events = chunks.whole(await response.read())
                    for event in events:
                        yield event
                    return
                lines = response.iter_lines().__aiter__()
                data: list[str] = []
                spoke_sse = False
                while True:
                    try:
                        async with asyncio.timeout(self._stall_timeout):
                            line = await lines.__anext__()
                    except StopAsyncIteration:
                        break
                    except TimeoutError as exc:
                        if started:
                            raise StreamInterruptedError("stream stalled", stalled=True) from exc
                        raise ProviderTimeoutError("no chunk before the stall timeout") from exc
                    if line.startswith("data:"):
                        spoke_sse = True
                        data.append(line[5:].lstrip(" "))
                        continue
                    if line or not data:
                        continue  # comments (": PROCESSING"), event names, blank keep-alives
                    payload, data = "\n".join(data), []
                    if payload == "[DONE]":
                        break
                    for event in chunks.feed(payload):
                        started = True
                        yield event
                if data and (payload := "\n".join(data)) != "[DONE]":
                    for event in chunks.feed(payload):
                        yield event
                if not spoke_sse:
                    kind = response.headers.get("content-type", "no content type")
                    raise BadResponseError(f"not an event stream ({kind})")
            finally:
                await request.__aexit__(None, None, None)
        except StreamChunkError as exc:
            if started or chunks.started:
                raise StreamInterruptedError(f"error in stream: {exc}") from exc
            raise ServerError(f"error in stream: {exc}") from exc
        except (httpx2.HTTPError, openai.APIConnectionError) as exc:
            if started or chunks.started:
                raise StreamInterruptedError(f"stream dropped: {exc!r}") from exc
            raise ConnectionFailedError(f"stream dropped: {exc!r}") from exc
        yield chunks.end()

    async def list_models(self) -> list[str]:
        """The model ids the provider lists."""
        with provider_errors():
            page = await self._client.models.list()
        return [m.id for m in page.data]

    async def ping(self, model: str) -> str:
        """A one-token completion, to check that the model answers."""
        text = ""
        async for event in self.stream(
            model=model, messages=[{"role": "user", "content": "Say OK."}]
        ):
            if isinstance(event, TextDelta):
                text += event.text
        return text


def build_openai_client(
    api_key: str, base_url: str, timeout: float, stall_timeout: float
) -> openai.AsyncOpenAI:
    """The SDK client; its own retries are off because LLMClient decides what to retry."""
    limits = httpx2.Timeout(timeout, connect=10.0, read=stall_timeout + 5)
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        timeout=limits,
        # The SDK's aiohttp transport reads many concurrent streams with about half the CPU.
        http_client=openai.DefaultAioHttpClient(timeout=limits),
    )
