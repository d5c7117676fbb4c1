"""Intake as configured: WEBHOOK_URL set -> the webhook server, registered; else polling."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot

from bot.settings import Settings
from handlers.intake import derive_webhook_secret
from handlers.intake_mode import Intake, replica_name
from handlers.intake_poll import LEASE_NAME, PollerConfig
from handlers.intake_webhook import SECRET_HEADER
from handlers.telegram_request import AiohttpRequest
from storage import Store
from tests.conftest import API_KEY, TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.intake_helpers import inbox, make_bot


def _settings(telegram: FakeTelegram, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "openai_api_key": API_KEY,
        "telegram_api_url": telegram.base_url,
        "port": 0,
        "polling_timeout": 1,
    }
    return Settings(_env_file=None, **(base | values))


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, limits_enabled=False) as fake:
        yield fake


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    made = make_bot(telegram, TOKEN)
    await made.initialize()
    yield made
    await made.shutdown()


async def _healthy() -> bool:
    return True


async def test_webhook_mode_listens_then_registers(
    telegram: FakeTelegram, store: Store, bot: Bot, database_url: str
) -> None:
    settings = _settings(telegram, webhook_url="https://bot.example.com/hooks/tg")
    wakes: list[int] = []
    intake = Intake(settings, store, bot, AiohttpRequest(), lambda: wakes.append(1), _healthy)
    await intake.start()
    try:
        assert intake.webhook is not None and intake.poller is None
        assert telegram.webhook is not None
        assert telegram.webhook["url"] == "https://bot.example.com/hooks/tg"
        url = f"http://127.0.0.1:{intake.webhook.port}/hooks/tg"
        update = {"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": 9}}}
        headers = {SECRET_HEADER: derive_webhook_secret(TOKEN)}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=json.dumps(update), headers=headers) as response,
        ):
            assert response.status == 200
        assert list(await inbox(database_url)) == [5]
        assert wakes
    finally:
        await intake.stop()
    assert telegram.calls_for("getUpdates") == [], "a webhook replica never polls"
    assert telegram.webhook is not None, "stopping one replica leaves the webhook to the others"


async def test_polling_mode_removes_the_webhook_and_fills_the_inbox(
    telegram: FakeTelegram, store: Store, bot: Bot, database_url: str
) -> None:
    telegram.webhook = {"url": "https://old.example.com/"}
    settings = _settings(telegram)
    config = PollerConfig(timeout=1, read_margin=0.5, lease=2, retry_lead=0.1)
    intake = Intake(
        settings, store, bot, AiohttpRequest(), lambda: None, _healthy, poller_config=config
    )
    await intake.start()
    try:
        assert intake.poller is not None and intake.polling is not None
        telegram.user_message(42, "hello")
        await telegram.wait_for(lambda: telegram.updates == [], timeout=5)
        assert len(await inbox(database_url)) == 1
        assert telegram.webhook is None
    finally:
        await intake.stop()
    assert await store.try_lead(LEASE_NAME, "another", 5), "the polling lease was given up"


def test_replica_names_are_unique_per_process() -> None:
    name = replica_name()
    assert name == replica_name() and ":" in name
