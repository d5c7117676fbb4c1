"""The model client: one provider's streamed Chat Completions as typed events, with retries.

Error classification lives in `bot.provider_errors`, the SSE chunk reader in `bot.chunks`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import httpx2
import openai

from bot.capabilities import CapabilityMemory
from bot.chunks import (
    ChunkReader,
    FlowControl,
    LLMEvent,
    ReadPause,
    ReasoningDelta,
    RetryWait,
    StreamChunkError,
    StreamEnd,
    TextDelta,
    Usage,
    read_sse,
)
from bot.errors import (
    BadResponseError,
    ConnectionFailedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    ServerError,
    StreamInterruptedError,
)
from bot.provider_errors import map_status_error, provider_errors, unsupported_param

__all__ = [
    "ChatModel",
    "LLMClient",
    "LLMEvent",
    "ModelOptions",
    "ReadPause",
    "ReasoningDelta",
    "RetryWait",
    "StreamEnd",
    "TextDelta",
    "Usage",
    "build_openai_client",
    "map_status_error",
    "token_param_for",
]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


class ChatModel(Protocol):
    """What the conversation engine needs from a model: one streamed completion."""

    def stream(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        pause: ReadPause | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream one completion as events, ending with a StreamEnd; `pause` says how long
        the network may go unread between reads (the reply cannot show more sooner)."""
        ...


@dataclass
class ModelOptions:
    """Per-request options that depend on the provider."""

    max_output_tokens: int | None = None
    max_tokens_param: str = "auto"
    temperature: float | None = None
    include_usage: bool = True
    reasoning_effort: str | None = None


def token_param_for(model: str, base_url: str, configured: str) -> str:
    """Which name carries the output limit: newer OpenAI models reject `max_tokens`."""
    if configured != "auto":
        return configured
    name = model.lower().split("/")[-1]
    openai_host = "api.openai.com" in base_url
    new_family = name.startswith(("o1", "o3", "o4", "gpt-5", "gpt-4.1", "gpt-4o"))
    return "max_completion_tokens" if openai_host and new_family else "max_tokens"


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
        name: str = "",
        memory: CapabilityMemory | None = None,
    ) -> None:
        self.name = name
        self._memory = memory if memory is not None else CapabilityMemory()
        self._client = client
        self._stream_timeout = _stream_timeout(client.timeout)
        self._options = options
        self._stall_timeout = stall_timeout
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep

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
        if self._options.reasoning_effort:
            params["reasoning_effort"] = self._options.reasoning_effort
        dropped = self._memory.refusals((self.name, model))
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
        pause: ReadPause | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream one completion; retries only while nothing has been yielded."""
        attempt = 0
        while True:
            params = self._params(model, messages, tools, tool_choice)
            yielded = False
            try:
                async for event in self._stream_once(params, pause):
                    if isinstance(event, (TextDelta, ReasoningDelta)):
                        yielded = True
                    yield event
                return
            except ProviderError as exc:
                if yielded:
                    raise
                bad_param = unsupported_param(exc, params)
                if bad_param and not self._memory.refused((self.name, model), bad_param):
                    log.warning("%s rejects %s; retrying without it", model, bad_param)
                    self._memory.refuse((self.name, model), bad_param)
                    continue
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise
                attempt += 1
                log.warning(
                    "provider error (%s: %s), retry %d/%d in %.2fs",
                    type(exc).__name__,
                    exc.detail[:200],
                    attempt,
                    self._max_retries,
                    delay,
                )
                if delay >= 1.0:
                    yield RetryWait(delay, type(exc).__name__)
                await self._sleep(delay)

    def _retry_delay(self, exc: ProviderError, attempt: int) -> float | None:
        if not exc.retryable or attempt >= self._max_retries:
            return None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            if exc.retry_after > self._max_retry_wait:
                return None
            return max(0.0, exc.retry_after)
        # A rate limit without Retry-After (LiteLLM drops it) needs a longer pause than a
        # 5xx: back off from 2 s, doubling, up to MAX_RETRY_WAIT.
        first = 2.0 if isinstance(exc, RateLimitedError) else 0.5
        base = min(self._max_retry_wait, first * float(2**attempt))
        return float(base * (0.75 + random.random() / 2))

    async def _stream_once(
        self, params: dict[str, Any], pause: ReadPause | None
    ) -> AsyncIterator[LLMEvent]:
        """One request; chunks are parsed as plain JSON (the SDK's per-chunk models cost
        about 90 µs each, which made a busy bot CPU-bound). The body goes out as built: the
        SDK's `create` re-walks it against its type hints first (0.6 ms for two messages,
        4 ms for twenty), for keys this client never uses."""
        reader = ChunkReader()
        try:
            with provider_errors():
                opening = self._client.post(
                    "/chat/completions",
                    cast_to=httpx2.Response,
                    body=params,
                    options={"timeout": self._stream_timeout},
                    stream=True,
                )
                response = await _headers_within(opening, self._stall_timeout)
            try:
                kind = response.headers.get("content-type", "")
                if "json" in kind:
                    # A gateway that ignored stream=True and answered with one completion.
                    for event in reader.whole(await response.aread()):
                        yield event
                    return
                blocks = response.aiter_bytes()
                flow = network_transport(response) if pause is not None else None
                async for event in read_sse(blocks, reader, self._stall_timeout, pause, flow):
                    yield event
                if reader.chunks == 0 and not reader.done and "event-stream" not in kind:
                    raise BadResponseError(f"not an event stream ({kind or 'no content type'})")
                reader.check_ending()
            finally:
                await response.aclose()
        except StreamChunkError as exc:
            if reader.visible:
                raise StreamInterruptedError(f"error in stream: {exc}") from exc
            raise ServerError(f"error in stream: {exc}") from exc
        except (httpx2.HTTPError, openai.APIConnectionError) as exc:
            if reader.visible:
                raise StreamInterruptedError(f"stream dropped: {exc!r}") from exc
            raise ConnectionFailedError(f"stream dropped: {exc!r}") from exc
        yield reader.end()

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


def network_transport(response: httpx2.Response) -> FlowControl | None:
    """The socket transport under a streamed response of the SDK's aiohttp client, to pause
    reading it; None when the response came some other way (reading then never pauses).
    tests/test_llm_stream.py checks that the installed SDK still has this shape."""
    stream = getattr(response.stream, "_stream", None)  # httpx2's wrapper of the transport's
    aiohttp_response = getattr(stream, "_aiohttp_response", None)
    connection = getattr(aiohttp_response, "connection", None)
    transport = getattr(connection, "transport", None)
    if all(hasattr(transport, name) for name in ("pause_reading", "resume_reading", "is_reading")):
        return cast(FlowControl, transport)
    return None


def _stream_timeout(configured: float | httpx2.Timeout | None) -> httpx2.Timeout:
    """The client's timeouts without the per-read one: the transport re-armed a timer at
    every chunk (about 3 µs each); `read_sse` watches for stalls with one timer instead."""
    base = configured if isinstance(configured, httpx2.Timeout) else httpx2.Timeout(configured)
    return httpx2.Timeout(connect=base.connect, read=None, write=base.write, pool=base.pool)


async def _headers_within(opening: Awaitable[T], seconds: float) -> T:
    """The streamed response once its headers arrived; a provider silent for longer than
    the stall timeout fails as a timeout (retried like one)."""
    try:
        async with asyncio.timeout(seconds):
            return await opening
    except TimeoutError as exc:
        raise ProviderTimeoutError(f"no answer within {seconds:.0f} s") from exc


def chat_url_hook(base_url: str, chat_url: str) -> Callable[[httpx2.Request], Awaitable[None]]:
    """A request hook sending `{base}/chat/completions` to `chat_url` (BizCity's own path)."""
    target = httpx2.URL(chat_url)
    standard = httpx2.URL(base_url.rstrip("/") + "/chat/completions")

    async def redirect(request: httpx2.Request) -> None:
        if request.url.host == standard.host and request.url.path == standard.path:
            request.url = target.copy_merge_params(request.url.params)
            request.headers["host"] = target.netloc.decode("ascii")

    return redirect


def build_openai_client(
    api_key: str, base_url: str, timeout: float, stall_timeout: float, chat_url: str = ""
) -> openai.AsyncOpenAI:
    """The SDK client; its own retries are off because LLMClient decides what to retry.

    With `chat_url`, chat completions go there; models, audio and images stay at `base_url`.
    """
    limits = openai.Timeout(timeout, connect=10.0, read=stall_timeout + 5)
    hooks = {"request": [chat_url_hook(base_url, chat_url)]} if chat_url else {}
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        timeout=limits,
        # The SDK's aiohttp transport reads many concurrent streams with about half the CPU.
        http_client=openai.DefaultAioHttpClient(timeout=limits, event_hooks=hooks),
    )
