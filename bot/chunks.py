"""The SSE chunk reader: Chat Completions chunks (plain JSON) -> typed events.

Dialects it accepts (see the guides in the README's "Tested providers"): the role
repeated in every delta and role-only deltas (AceData), extra fields such as
`recipient`, whole answers labelled `chat.completion.chunk`, an empty last delta
carrying only `finish_reason` (LemonData), `reasoning_content` (DeepSeek, aiid) or
`reasoning` (OpenRouter, Ollama), SSE comments and `error` objects inside a 200 stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from bot import fast_json
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
    def parse(raw: str | bytes) -> Any:
        """One JSON payload (CorruptAnswerError when it is not JSON)."""
        try:
            return fast_json.loads(raw)
        except ValueError as exc:
            raise CorruptAnswerError(f"unreadable chunk: {raw[:80]!r}") from exc

    @staticmethod
    def _checked(value: Any, raw: bytes) -> dict[str, Any]:
        """A parsed chunk; an `error` object in it (inside a 200 answer) is raised."""
        if isinstance(value, dict) and value.get("error"):
            error = value["error"]
            raise StreamChunkError(str(error.get("message") if isinstance(error, dict) else error))
        if not isinstance(value, dict):
            raise CorruptAnswerError(f"chunk is not a JSON object: {raw[:80]!r}")
        return value

    def feed(self, payload: bytes) -> list[LLMEvent]:
        """The events of one SSE data payload."""
        return self.take(self.parse(payload), payload)

    def take(self, value: Any, raw: bytes) -> list[LLMEvent]:
        """The events of one parsed payload (`raw` is its text, for the error message)."""
        chunk = self._checked(value, raw)
        self.chunks += 1
        return self._read(chunk, "delta")

    def take_text(self, value: Any) -> str | None:
        """The text of a parsed payload that carries only text (most chunks), taken without
        building events; None for any other, which goes through `take`."""
        text = plain_text(value)
        if text is not None:
            self.chunks += 1
            self.visible = True
        return text

    @staticmethod
    def parse_all(payloads: list[bytes]) -> list[Any] | None:
        """Several payloads parsed in one call (a third of the cost of one call each), or
        None when one of them is not a single JSON value."""
        try:
            values = orjson.loads(b"[" + b",".join(payloads) + b"]")
        except ValueError:
            return None
        return values if isinstance(values, list) and len(values) == len(payloads) else None

    def whole(self, body: bytes) -> list[LLMEvent]:
        """The events of a non-streamed completion (a gateway that ignored stream=True)."""
        completion = self.parse(body)
        if not isinstance(completion, dict):
            raise CorruptAnswerError("the answer is not a JSON object")
        self._checked(completion, body)
        self.chunks += 1
        events = self._read(completion, "message")
        if self.finish_reason is None and (self.visible or self.assembler.calls()):
            self.finish_reason = "stop"  # a whole answer is complete by nature
        return [*events, self.end()]

    def _read(self, body: dict[str, Any], key: str) -> list[LLMEvent]:
        """Usage, and the first choice's `delta` (stream) or `message` (whole answer)."""
        self._read_usage(body.get("usage"))
        events: list[LLMEvent] = []
        choices = body.get("choices")
        for choice in choices if isinstance(choices, list) else ():
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
        fragments = delta.get("tool_calls")
        for fragment in fragments if isinstance(fragments, list) else ():
            if not isinstance(fragment, dict):
                continue
            function = fragment.get("function")
            function = function if isinstance(function, dict) else {}
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


FULL_BLOCK = 16 * 1024  # a read this long may have left more in the buffer (the SDK's size)


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


ReadPause = Callable[[], float]  # seconds the stream may now go unread (0: read on)


class FlowControl(Protocol):
    """The part of an asyncio transport that stops and restarts reading the socket."""

    def pause_reading(self) -> None:
        """Stop reading the socket (what arrives waits in the kernel)."""

    def resume_reading(self) -> None:
        """Read the socket again."""

    def is_reading(self) -> bool:
        """Whether the socket is being read (False once closing)."""


async def read_sse(
    blocks: AsyncIterator[bytes],
    reader: ChunkReader,
    stall_timeout: float,
    pause: ReadPause | None = None,
    flow: FlowControl | None = None,
) -> AsyncIterator[LLMEvent]:
    """The events of an SSE body read by network blocks; a silence longer than
    `stall_timeout` fails.

    With `pause` and `flow`, the socket goes unread for as long as `pause()` says after a
    block that emptied the buffer: what arrives meanwhile waits in the kernel and comes in
    one read instead of one wake-up per chunk.
    """
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
            events, failure = block_events(decoder.feed(block), reader)
            for event in events:
                yield event
            if failure is not None:
                raise failure
            if reader.done:
                return
            if pause is not None and flow is not None and len(block) < FULL_BLOCK:
                await _unread_for(pause, flow, reader)
        events, failure = block_events(decoder.flush(), reader)
        for event in events:
            yield event
        if failure is not None:
            raise failure
    finally:
        watch.close()


async def _unread_for(pause: ReadPause, flow: FlowControl, reader: ChunkReader) -> None:
    """Leave the socket unread while the answer's text cannot be shown sooner anyway (not
    before text is visible, nor while a tool call is being written)."""
    if not reader.visible or reader.assembler.pending:
        return
    seconds = pause()
    if seconds <= 0 or not flow.is_reading():
        return
    flow.pause_reading()
    try:
        await asyncio.sleep(seconds)
    finally:
        flow.resume_reading()


def block_events(
    payloads: list[bytes], reader: ChunkReader
) -> tuple[list[LLMEvent], Exception | None]:
    """The events of one network read's payloads, adjacent text joined into one piece.
    A bad payload ends them: it is returned, to be raised once the good ones went out.
    `[DONE]` ends the stream."""
    if b"[DONE]" in payloads:
        reader.done = True
        payloads = payloads[: payloads.index(b"[DONE]")]
    events: list[LLMEvent] = []
    text: list[str] = []
    values = reader.parse_all(payloads) if len(payloads) > 1 else None
    try:
        for position, payload in enumerate(payloads):
            value = values[position] if values else reader.parse(payload)
            if (piece := reader.take_text(value)) is not None:
                text.append(piece)
                continue
            for event in reader.take(value, payload):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    continue
                if text:
                    events.append(TextDelta("".join(text)))
                    text.clear()
                events.append(event)
    except (CorruptAnswerError, StreamChunkError) as exc:
        return _joined(events, text), exc
    return _joined(events, text), None


def plain_text(value: Any) -> str | None:
    """The text of a chunk that carries only text (most chunks), or None: such a chunk is
    read here without events or calls; any other goes through `ChunkReader.take`."""
    if type(value) is not dict or "error" in value or value.get("usage") is not None:
        return None
    choices = value.get("choices")
    if type(choices) is not list or len(choices) != 1:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("finish_reason") or choice.get("index", 0) != 0:
        return None
    delta = choice.get("delta")
    if type(delta) is not dict:
        return None
    content = delta.get("content")
    if type(content) is not str or not content:
        return None
    if delta.get("tool_calls") or delta.get("reasoning_content") or delta.get("reasoning"):
        return None
    return content


def _joined(events: list[LLMEvent], text: list[str]) -> list[LLMEvent]:
    if text:
        events.append(TextDelta("".join(text)))
    return events
