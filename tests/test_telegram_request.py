"""The Bot API transport: errors never carry the URL (the token is part of it); bodies go
as JSON (files as multipart), answers are parsed as the standard library would."""

from __future__ import annotations

import json
import socket

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MessageEntity,
)
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from handlers.telegram_request import AiohttpRequest, _json_body
from tests.conftest import TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.intake_helpers import make_bot


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_api_raises_network_error_without_the_token() -> None:
    root = f"http://127.0.0.1:{_closed_port()}"
    bot = Bot(
        TOKEN,
        base_url=f"{root}/bot",
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(),
    )
    await bot._request[1].initialize()
    with pytest.raises((NetworkError, TimedOut)) as info:
        await bot.get_me()
    assert TOKEN not in str(info.value) and TOKEN.split(":")[1] not in repr(info.value)
    await bot._request[1].shutdown()


async def test_request_before_initialize_is_refused() -> None:
    with pytest.raises(RuntimeError):
        await AiohttpRequest().do_request("http://127.0.0.1:1/x", "POST")


async def test_requests_go_as_json_and_uploads_as_multipart() -> None:
    async with FakeTelegram(TOKEN, limits_enabled=False) as telegram:
        bot = make_bot(telegram, TOKEN)
        await bot.initialize()
        try:
            telegram.user_message(42, "hi")
            keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="s")]])
            sent = await bot.send_message(
                42,
                "ünïcode & = + %20 text",
                entities=[MessageEntity(MessageEntity.BOLD, 0, 7)],
                reply_markup=keyboard,
                disable_notification=True,
            )
            await bot.send_document(42, InputFile(b"%PDF-1.4 tiny", filename="a.pdf"))
        finally:
            await bot.shutdown()
        assert telegram.spec_violations == []
    assert sent.text == "ünïcode & = + %20 text"
    message_call, upload_call = (
        telegram.calls_for("sendMessage")[0],
        telegram.calls_for("sendDocument")[0],
    )
    assert message_call.body_type == "application/json"
    assert message_call.params["chat_id"] == 42
    assert message_call.params["disable_notification"] is True
    assert message_call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Stop"
    assert message_call.params["entities"][0]["type"] == "bold"
    assert upload_call.body_type == "multipart/form-data"


def test_bot_api_answers_parse_like_the_standard_library() -> None:
    # Telegram's ids have at most 52 bits; 64-bit integers stay exact.
    answer = b'{"ok": true, "result": {"id": -1009223372036854775, "t": "\\u00fc", "f": 1.5}}'
    assert AiohttpRequest.parse_json_payload(answer) == json.loads(answer)
    odd = b'{"ok": true, "result": {"lone": "\\ud800", "n": NaN}}'  # orjson refuses these
    parsed = AiohttpRequest.parse_json_payload(odd)
    assert parsed["result"]["lone"] == "\ud800" and parsed["result"]["n"] != 0
    with pytest.raises(TelegramError):
        AiohttpRequest.parse_json_payload(b"<html>502 Bad Gateway</html>")


def test_a_text_orjson_cannot_write_is_written_as_ptb_writes_it() -> None:
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 42),
            RequestParameter.from_input("text", "a \ud800 b"),
        ]
    )
    assert _json_body(data) == data.json_payload
    plain = RequestData(
        [RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("text", "ü & = +")]
    )
    assert json.loads(_json_body(plain)) == {"chat_id": "42", "text": "ü & = +"}
