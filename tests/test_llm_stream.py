"""The model client's stream reader: SSE quirks of gateways, at the HTTP seam."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from bot.errors import ConnectionFailedError, ServerError, StreamInterruptedError
from bot.llm import LLMClient, ModelOptions, ReasoningDelta, StreamEnd, TextDelta


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
