"""The Bot API transport: errors never carry the URL (the token is part of it)."""

from __future__ import annotations

import socket

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from handlers.telegram_request import AiohttpRequest
from tests.conftest import TOKEN


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
