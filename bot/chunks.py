"""The SSE chunk reader: Chat Completions chunks (plain JSON) -> typed events.

Dialects it accepts (see the guides in the README's "Tested providers"): the role
repeated in every delta and role-only deltas (AceData), extra fields such as
`recipient`, whole answers labelled `chat.completion.chunk`, an empty last delta
carrying only `finish_reason` (LemonData), `reasoning_content` (DeepSeek, aiid) or
`reasoning` (OpenRouter, Ollama), SSE comments and `error` objects inside a 200 stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.errors import (
    ConnectionFailedError,
    CorruptAnswerError,
    ProviderTimeoutError,
    StreamInterruptedError,
)
from bot.tool_calls import ToolCall, ToolCallAssembler


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
class RetryWait:
    """The client waits `seconds` before asking again (nothing was shown yet)."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class StreamEnd:
    """The stream finished; finish reason, assembled tool calls, usage, and who answered."""

    finish_reason: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    model: str | None = None


LLMEvent = TextDelta | ReasoningDelta | RetryWait | StreamEnd


class StreamChunkError(Exception):
    """An `error` object sent inside a 200 stream."""


class ChunkReader:
    """Turns Chat Completions chunks (plain dicts) into events, assembling tool calls."""

    def __init__(self) -> None:
        self.assembler = ToolCallAssembler()
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.chunks = 0
        self.visible = False  # text or reasoning was produced (a retry would repeat it)
        self.done = False  # `data: [DONE]` arrived

    @staticmethod
    def _parse(raw: str | bytes) -> Any:
        """One JSON payload; an `error` object in it (inside a 200 answer) is raised."""
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise CorruptAnswerError(f"unreadable chunk: {raw[:80]!r}") from exc
        if isinstance(value, dict) and value.get("error"):
            error = value["error"]
            raise StreamChunkError(str(error.get("message") if isinstance(error, dict) else error))
        return value

    def feed(self, payload: bytes) -> list[LLMEvent]:
        """The events of one SSE data payload."""
        chunk = self._parse(payload)
        if not isinstance(chunk, dict):
            raise CorruptAnswerError(f"chunk is not a JSON object: {payload[:80]!r}")
        self.chunks += 1
        return self._read(chunk, "delta")

    def whole(self, body: bytes) -> list[LLMEvent]:
        """The events of a non-streamed completion (a gateway that ignored stream=True)."""
        completion = self._parse(body)
        if not isinstance(completion, dict):
            raise CorruptAnswerError("the answer is not a JSON object")
        self.chunks += 1
        events = self._read(completion, "message")
        if self.finish_reason is None and (self.visible or self.assembler.calls()):
            self.finish_reason = "stop"  # a whole answer is complete by nature
        return [*events, self.end()]

    def _read(self, body: dict[str, Any], key: str) -> list[LLMEvent]:
        """Usage, and the first choice's `delta` (stream) or `message` (whole answer)."""
        self._read_usage(body.get("usage"))
        events: list[LLMEvent] = []
        for choice in body.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index") not in (0, None):
                continue
            # AceData labels whole answers chunk-like; accept whichever field is there.
            part = choice.get(key) or choice.get("message") or choice.get("delta") or {}
            if isinstance(part, dict):
                self._read_delta(part, events)
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
            self.visible = True
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.visible = True
            events.append(TextDelta(content))
        for fragment in delta.get("tool_calls") or ():
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
        )

    def check_ending(self) -> None:
        """Raise when the stream ended in a way that is not a complete answer."""
        if self.finish_reason is not None:
            return
        if self.chunks == 0 or not (self.visible or self.assembler.calls()):
            # 200 and a valid event stream, but no answer: treated like a drop at 0 chunks.
            raise ConnectionFailedError("the event stream ended without any answer")
        if not self.done:
            raise StreamInterruptedError("the stream ended without finish_reason or [DONE]")


class SSEDecoder:
    """Splits an event stream's bytes into the data payloads of its events.

    Works on whole network reads: one call per read, however many events it holds. Lines
    end in LF, CRLF or CR (the SSE grammar); comments, event names, ids and retry fields
    are skipped; a blank line ends an event.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, block: bytes) -> list[bytes]:
        """The payloads of the events this block completes."""
        buffer = self._pending + block if self._pending else block
        lines = buffer.splitlines(keepends=True)
        last = lines[-1] if lines else b""
        # An unterminated last line, or a CR that may be half of a CRLF, waits for more.
        if last and not last.endswith(b"\n"):
            self._pending = lines.pop()
        else:
            self._pending = b""
        return self._events(lines)

    def flush(self) -> list[bytes]:
        """The payload of an event the stream ended without a blank line after."""
        lines = [self._pending, b"\n"] if self._pending else [b"\n"]
        self._pending = b""
        return self._events(lines)

    def _events(self, lines: list[bytes]) -> list[bytes]:
        payloads: list[bytes] = []
        data = self._data
        for raw in lines:
            line = raw.rstrip(b"\r\n")
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value[:1] == b" " else value)
            elif not line and data:
                payloads.append(data[0] if len(data) == 1 else b"\n".join(data))
                data.clear()
        return payloads


class StallWatch:
    """Fails a wait for the network that lasts longer than `limit` seconds.

    One timer per `limit` seconds for the whole stream instead of one per read (a timer
    per read cost about 5 µs, twice per chunk); time the caller spends between reads
    does not count.
    """

    def __init__(self, limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "a stall watch runs in a task"
        self._task = task
        self._limit = limit
        self._since: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def _check(self) -> None:
        now = self._loop.time()
        if self._since is not None and now - self._since >= self._limit:
            self._handle = None
            self._fired = True
            self._task.cancel()
            return
        start = now if self._since is None else self._since
        self._handle = self._loop.call_at(start + self._limit, self._check)

    async def wait(self, read: Awaitable[bytes]) -> bytes:
        """The result of `read`; TimeoutError when it takes longer than the limit."""
        self._since = self._loop.time()
        if self._handle is None:
            self._handle = self._loop.call_at(self._since + self._limit, self._check)
        try:
            return await read
        except asyncio.CancelledError:
            if self._fired:
                self._fired = False
                if self._task.uncancel() == 0:
                    raise TimeoutError from None
            raise
        finally:
            self._since = None

    def close(self) -> None:
        """Stop watching."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def read_sse(
    blocks: AsyncIterator[bytes], reader: ChunkReader, stall_timeout: float
) -> AsyncIterator[LLMEvent]:
    """The events of an SSE body read by network blocks; a silence longer than
    `stall_timeout` fails."""
    decoder = SSEDecoder()
    iterator = blocks.__aiter__()
    watch = StallWatch(stall_timeout)
    try:
        while True:
            try:
                block = await watch.wait(iterator.__anext__())
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                if reader.visible:
                    raise StreamInterruptedError("stream stalled", stalled=True) from exc
                raise ProviderTimeoutError("no chunk before the stall timeout") from exc
            for event in _payload_events(decoder.feed(block), reader):
                yield event
            if reader.done:
                return
        for event in _payload_events(decoder.flush(), reader):
            yield event
    finally:
        watch.close()


def _payload_events(payloads: list[bytes], reader: ChunkReader) -> Iterator[LLMEvent]:
    """The events of one read's payloads, lazily: the good ones go out before a bad one
    after them raises; `[DONE]` ends the stream."""
    for payload in payloads:
        if payload == b"[DONE]":
            reader.done = True
            return
        yield from reader.feed(payload)
