"""The model client's stream reader: SSE quirks of gateways, at the HTTP seam."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.llm as llm_module
from bot.chunks import (
    ChunkReader,
    FlowControl,
    ReadPause,
    SSEDecoder,
    StallWatch,
    block_events,
    read_sse,
)
from bot.errors import (
    ConnectionFailedError,
    CorruptAnswerError,
    ProviderTimeoutError,
    ServerError,
    StreamInterruptedError,
)
from bot.llm import (
    LLMClient,
    ModelOptions,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    build_openai_client,
)
from tests.fakes.openai import FakeOpenAI, Texts


def _client(body: bytes, content_type: str = "text/event-stream") -> LLMClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": content_type})

    sdk = openai.AsyncOpenAI(
        api_key="sk-x",
        base_url="http://gateway.test/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    return LLMClient(sdk, options=ModelOptions(), stall_timeout=5, max_retries=0, max_retry_wait=0)


def _sse(*chunks: object, done: bool = True, comment: bool = False) -> bytes:
    lines = []
    for chunk in chunks:
        if comment:
            lines.append(": PROCESSING\n\n")
        lines.append(f"data: {json.dumps(chunk)}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def _delta(**delta: object) -> dict:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }


async def _events(client: LLMClient) -> list:
    return [e async for e in client.stream(model="m", messages=[{"role": "user", "content": "x"}])]


async def test_text_reasoning_usage_and_comments() -> None:
    body = _sse(
        _delta(role="assistant"),
        _delta(reasoning_content="think"),
        _delta(content="Hel"),
        _delta(reasoning="more"),
        _delta(content="lo"),
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
        comment=True,
    )
    events = await _events(_client(body))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["think", "more"]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.usage is not None and end.usage.prompt_tokens == 5


async def test_gateway_that_ignores_stream_answers_one_completion() -> None:
    completion = {
        "id": "x",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        },
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "g", "arguments": '{"q": 1}'},
                        },
                    ],
                },
            }
        ],
    }
    events = await _events(_client(json.dumps(completion).encode(), "application/json"))
    assert isinstance(events[0], TextDelta) and events[0].text == "Checking."
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert [(c.id, c.name) for c in end.tool_calls] == [("a", "f"), ("b", "g")]
    assert end.finish_reason == "tool_calls"


async def test_stream_without_done_and_without_finish_reason_is_interrupted() -> None:
    # Issue 9 item 7: a body that just stops is not a complete answer (it used to pass as one).
    with pytest.raises(StreamInterruptedError):
        await _events(_client(_sse(_delta(content="ok"), done=False)))
    # [DONE] without finish_reason, or finish_reason without [DONE], still count as complete.
    events = await _events(_client(_sse(_delta(content="ok"), done=True)))
    assert [type(e) for e in events] == [TextDelta, StreamEnd]
    finished = {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    events = await _events(_client(_sse(_delta(content="ok"), finished, done=False)))
    assert [type(e) for e in events] == [TextDelta, StreamEnd]


async def test_error_object_inside_a_200_stream() -> None:
    with pytest.raises(ServerError):
        await _events(_client(_sse({"error": {"message": "upstream overloaded"}})))
    with pytest.raises(StreamInterruptedError):
        await _events(_client(_sse(_delta(content="part"), {"error": {"message": "boom"}})))


async def test_garbage_chunk_is_an_error_not_a_crash() -> None:
    with pytest.raises((ServerError, ConnectionFailedError)):
        await _events(_client(b"data: {not json\n\n"))


def _status_error(status: int, message: str, code: str | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://gateway.test/v1/chat/completions")
    response = httpx2.Response(status, request=request)
    body = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return openai.APIStatusError(message, response=response, body=body)


def test_capability_errors_are_told_apart_from_bad_input() -> None:
    from bot.errors import (
        BadRequestError,
        QuotaExceededError,
        ToolsUnsupportedError,
        VisionUnsupportedError,
    )
    from bot.llm import map_status_error

    assert isinstance(
        map_status_error(_status_error(400, "This model does not support image input.")),
        VisionUnsupportedError,
    )
    assert isinstance(
        map_status_error(
            _status_error(
                400, "Invalid content type. image_url is only supported by certain models."
            )
        ),
        VisionUnsupportedError,
    )
    assert isinstance(map_status_error(_status_error(400, "Invalid image data")), BadRequestError)
    assert isinstance(
        map_status_error(
            _status_error(
                400, "You uploaded an unsupported image. Please make sure your image is valid."
            )
        ),
        BadRequestError,
    )
    assert isinstance(
        map_status_error(_status_error(400, "This model does not support tools")),
        ToolsUnsupportedError,
    )
    assert isinstance(
        map_status_error(
            _status_error(400, "Invalid 'messages[3]': role 'tool' must follow tool_calls")
        ),
        BadRequestError,
    )
    assert isinstance(
        map_status_error(_status_error(402, "Insufficient Balance")), QuotaExceededError
    )


async def test_json_error_body_and_html_page_are_provider_errors() -> None:
    from bot.errors import BadResponseError

    with pytest.raises(ServerError):
        await _events(_client(b'{"error": {"message": "upstream failed"}}', "application/json"))
    with pytest.raises(ServerError):
        await _events(_client(b"not json at all", "application/json"))
    with pytest.raises(BadResponseError):
        await _events(_client(b"<html><body>Welcome to nginx</body></html>", "text/html"))


def test_llm_client_is_a_chat_model() -> None:
    from bot.llm import ChatModel

    model: ChatModel = _client(b"")
    assert callable(model.stream)


SPLIT_BODY = (
    b': keep-alive\r\n\r\nevent: message\ndata: {"a": 1}\r\n\r\n'
    b'data: {"b":\ndata: 2}\n\nid: 7\rdata: {"c": 3}\r\rdata:[DONE]\n\n'
)


def test_sse_decoder_gives_the_same_events_however_the_bytes_are_cut() -> None:
    whole = SSEDecoder().feed(SPLIT_BODY)
    assert whole == [b'{"a": 1}', b'{"b":\n2}', b'{"c": 3}', b"[DONE]"]
    for cut in range(1, len(SPLIT_BODY)):
        decoder = SSEDecoder()
        got = decoder.feed(SPLIT_BODY[:cut]) + decoder.feed(SPLIT_BODY[cut:]) + decoder.flush()
        assert got == whole, f"cut at byte {cut}"
    one_by_one = SSEDecoder()
    bytewise = [p for i in range(len(SPLIT_BODY)) for p in one_by_one.feed(SPLIT_BODY[i : i + 1])]
    assert bytewise + one_by_one.flush() == whole


def test_sse_decoder_ends_an_event_the_stream_did_not_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"x": 1}') == []
    assert decoder.flush() == [b'{"x": 1}']


async def test_a_stall_watch_counts_only_the_time_spent_waiting() -> None:
    watch = StallWatch(0.2)
    try:
        for _ in range(4):
            await watch.wait(asyncio.sleep(0.1, b"x"))
            await asyncio.sleep(0.15)  # the caller's own time between reads
        with pytest.raises(TimeoutError):
            await watch.wait(asyncio.sleep(1, b"late"))
        assert await watch.wait(asyncio.sleep(0, b"again")) == b"again", "still usable"
    finally:
        watch.close()


async def test_a_cancel_from_outside_is_not_taken_for_a_stall() -> None:
    async def reading() -> bytes:
        watch = StallWatch(5)
        try:
            return await watch.wait(asyncio.sleep(10, b""))
        finally:
            watch.close()

    task = asyncio.create_task(reading())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_silent_provider_fails_as_a_stall_not_a_hang() -> None:
    async def blocks() -> AsyncIterator[bytes]:
        yield b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n'
        await asyncio.sleep(10)
        yield b""

    events = []
    with pytest.raises(StreamInterruptedError):
        async for event in read_sse(blocks(), ChunkReader(), 0.2):
            events.append(event)
    assert events == [TextDelta("Hi")]


async def test_a_provider_that_never_answers_the_request_times_out() -> None:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(30)
        return httpx2.Response(200)

    sdk = openai.AsyncOpenAI(
        api_key="sk-x",
        base_url="http://gateway.test/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    client = LLMClient(
        sdk, options=ModelOptions(), stall_timeout=0.3, max_retries=0, max_retry_wait=0
    )
    started = asyncio.get_running_loop().time()
    with pytest.raises(ProviderTimeoutError):
        await _events(client)
    assert asyncio.get_running_loop().time() - started < 3


async def test_the_text_of_one_network_read_comes_as_one_piece() -> None:
    body = _sse(_delta(content="a"), _delta(content="b"), _delta(content="c"))
    events = await _events(_client(body))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["abc"]


def test_a_bad_payload_ends_a_read_after_the_good_ones_before_it() -> None:
    reader = ChunkReader()
    good = json.dumps(_delta(content="Hi")).encode()
    events, failure = block_events([good, good, b"{not json", good], reader)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["HiHi"]
    assert isinstance(failure, CorruptAnswerError)
    events, failure = block_events([good, b"[DONE]", b"{after the end"], ChunkReader())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hi"] and failure is None


async def _paced_stream(
    pause: ReadPause | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], list[bool]]:
    """30 one-letter chunks 10 ms apart from the fake provider, read through the SDK's own
    aiohttp client; the text pieces, and whether the socket was being read mid-pause."""
    flows: list[FlowControl] = []
    reading: list[bool] = []
    found = llm_module.network_transport

    def spy(response: httpx2.Response) -> FlowControl | None:
        flow = found(response)
        flows.extend([flow] if flow is not None else [])
        return flow

    def watched() -> float:
        assert pause is not None
        seconds = pause()
        later = asyncio.get_running_loop().call_later
        later(seconds / 2, lambda: reading.extend(f.is_reading() for f in flows))
        return seconds

    monkeypatch.setattr(llm_module, "network_transport", spy)
    async with FakeOpenAI() as provider:
        provider.script(Texts(list("abcdefghijklmnopqrstuvwxyz0123"), 0.01))
        sdk = build_openai_client(provider.api_key, provider.base_url, 30, 5)
        client = LLMClient(
            sdk, options=ModelOptions(), stall_timeout=5, max_retries=0, max_retry_wait=0
        )
        messages = [{"role": "user", "content": "x"}]
        stream = client.stream(
            model="gpt-4o-mini", messages=messages, pause=watched if pause else None
        )
        events = [e async for e in stream]
        await sdk.close()
    return [e.text for e in events if isinstance(e, TextDelta)], reading


async def test_the_socket_goes_unread_while_the_reply_cannot_show_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pieces, _ = await _paced_stream(None, monkeypatch)
    assert "".join(pieces) == "abcdefghijklmnopqrstuvwxyz0123"
    assert len(pieces) >= 20  # read as the chunks come: about one read each

    pieces, reading = await _paced_stream(lambda: 0.12, monkeypatch)
    assert "".join(pieces) == "abcdefghijklmnopqrstuvwxyz0123"
    assert len(pieces) <= 6  # 0.3 s of chunks in reads 0.12 s apart
    assert reading and not any(reading)  # the installed SDK's transport was found and paused


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.text(max_size=3))
_DELTAS = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["assistant", None]),
        "content": st.one_of(st.text(max_size=4), _VALUES),
        "reasoning_content": _VALUES,
        "reasoning": _VALUES,
        "tool_calls": st.one_of(
            st.just([{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}}]),
            st.just([{"index": "x", "id": 5, "function": {"name": 1, "arguments": 2}}]),
            st.just([1, {"function": 1}]),
            st.just([]),
            st.none(),
        ),
    },
)
_CHOICES = st.fixed_dictionaries(
    {},
    optional={
        "index": st.one_of(st.none(), st.integers(0, 1)),
        "delta": st.one_of(_DELTAS, _VALUES),
        "message": _DELTAS,
        "finish_reason": st.sampled_from([None, "stop", ""]),
    },
)
_CHUNKS = st.one_of(
    st.fixed_dictionaries(
        {"choices": st.one_of(st.lists(_CHOICES, max_size=2), _VALUES)},
        optional={
            "usage": st.one_of(st.none(), st.just({"prompt_tokens": 3, "completion_tokens": 2})),
            "error": st.one_of(st.none(), st.just({"message": "overloaded"})),
        },
    ),
    _VALUES,
)


def _state(reader: ChunkReader) -> tuple[object, ...]:
    return (reader.chunks, reader.visible, reader.finish_reason, reader.usage, reader.end())


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_CHUNKS, min_size=1, max_size=6))
def test_the_text_only_shortcut_reads_chunks_as_the_full_reader_does(chunks: list[object]) -> None:
    payloads = [json.dumps(chunk).encode() for chunk in chunks]
    fast = ChunkReader()
    events, failure = block_events(payloads, fast)
    slow = ChunkReader()
    expected: list[object] = []
    expected_failure: Exception | None = None
    for payload in payloads:
        try:
            expected += slow.feed(payload)
        except Exception as exc:
            expected_failure = exc
            break
    text = "".join(e.text for e in expected if isinstance(e, TextDelta))
    others = [e for e in expected if not isinstance(e, TextDelta)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text
    assert [e for e in events if not isinstance(e, TextDelta)] == others
    assert type(failure) is type(expected_failure)
    assert _state(fast) == _state(slow)
