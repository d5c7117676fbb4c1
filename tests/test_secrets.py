"""Secrets stay where they belong: log redaction, the transcription key, provider image URLs."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from pydantic import ValidationError

from bot.check import explain_settings_error
from bot.errors import InputError
from bot.images import MAX_IMAGE_BYTES, ImageClient
from bot.logs import RedactingFormatter
from bot.settings import Settings
from tests.conftest import TOKEN, USER, Harness

BOT_URL = f"https://api.telegram.org/bot{TOKEN}/getMe"
SHORT_URL = "https://api.telegram.org/bot123456:ABCdefGHIjklMNO_pq-rs/getMe"


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise httpx.ConnectError(f"cannot reach {SHORT_URL}")
        except httpx.ConnectError:
            exc_info = sys.exc_info()
    return logging.LogRecord("bot.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_bot_api_urls_are_redacted_from_message_args_and_exception() -> None:
    formatter = RedactingFormatter("%(levelname)s %(name)s: %(message)s", secrets=[])
    record = _record(f"failed {SHORT_URL} then %s and %r", SHORT_URL, {"url": SHORT_URL}, exc=True)
    line = formatter.format(record)
    assert "ABCdefGHIjklMNO_pq-rs" not in line
    assert "123456:" not in line
    assert line.count("bot***") == 4 and "Traceback" in line and "ConnectError" in line


def test_configured_secrets_are_redacted_anywhere_in_a_line() -> None:
    formatter = RedactingFormatter("%(message)s", secrets=["sk-very-secret-key-123"])
    assert formatter.format(_record("key=%s", "sk-very-secret-key-123")) == "key=***"


async def test_a_failure_carrying_a_bot_api_url_is_logged_without_the_token(
    harness: Harness,
) -> None:
    harness.telegram.fail_next("getFile", 400, f"Bad Request: cannot fetch {BOT_URL}")
    file_id, _ = harness.telegram.add_file(b"hello", "documents/a.txt")
    harness.telegram.user_message(
        USER, None, document={"file_id": file_id, "file_unique_id": "a", "file_name": "a.txt"}
    )
    texts = await harness.notice()
    assert TOKEN not in texts[0]
    printed = [line for line in harness.log_output if "getme" in line.lower()]
    assert printed, harness.log_output
    assert all(TOKEN not in line and "bot***/getme" in line.lower() for line in printed)
    assert all(TOKEN.split(":")[1] not in line for line in harness.log_output)


def _settings(**values: str) -> Settings:
    base = {"telegram_bot_token": "123:abcdefghijkl", "openai_api_key": "sk-chat-key"}
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[arg-type]


def test_chat_key_goes_to_transcription_only_on_the_same_host() -> None:
    same = _settings(
        openai_base_url="https://gw.example.com/v1",
        transcription_base_url="https://gw.example.com/x",
    )
    assert same.transcription_key == "sk-chat-key"
    assert _settings().transcription_key == "sk-chat-key"
    own = _settings(transcription_base_url="https://stt.example.org/v1", transcription_api_key="k2")
    assert own.transcription_key == "k2"


def test_another_transcription_host_without_its_key_is_a_clear_settings_error() -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(transcription_base_url="https://stt.example.org/v1")
    lines = explain_settings_error(caught.value)
    assert len(lines) == 1 and "set TRANSCRIPTION_API_KEY" in lines[0]
    with pytest.raises(ValidationError):
        _settings(
            openai_base_url="https://api.example.com/v1",
            transcription_base_url="http://api.example.com/v1",
        )


def _image_client(served: list[str], url: str, body: bytes, length: bool = True) -> ImageClient:
    """An ImageClient whose provider answers with `url`, which serves `body`."""

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        if request.url.path.endswith("/images/generations"):
            return httpx.Response(200, json={"created": 1, "data": [{"url": url}]})
        if length:
            return httpx.Response(200, content=body)
        return httpx.Response(200, stream=_Chunks(body))

    transport = httpx.MockTransport(handler)
    client = openai.AsyncOpenAI(
        api_key="sk-x",
        base_url="https://provider.test/v1",
        http_client=httpx.AsyncClient(transport=transport),
    )
    return ImageClient(client, httpx.AsyncClient(transport=transport), model="m", size="s")


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 65536):
            yield self.body[start : start + 65536]


@pytest.mark.parametrize("length", [True, False])
async def test_provider_image_url_is_read_with_a_size_limit(length: bool) -> None:
    served: list[str] = []
    big = _image_client(
        served, "https://cdn.example.com/big.png", b"x" * (MAX_IMAGE_BYTES + 1), length
    )
    with pytest.raises(InputError) as caught:
        await big.generate("a cat")
    assert caught.value.user_key == "error_image_failed" and "too large" in caught.value.detail
    small = _image_client(served, "https://cdn.example.com/ok.png", b"\x89PNG small", length)
    assert await small.generate("a cat") == b"\x89PNG small"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.png", "gopher://x"])
async def test_provider_image_url_must_be_http(url: str) -> None:
    served: list[str] = []
    with pytest.raises(InputError) as caught:
        await _image_client(served, url, b"data").generate("a cat")
    assert "not http(s)" in caught.value.detail
    assert served == ["https://provider.test/v1/images/generations"]
