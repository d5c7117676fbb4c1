"""The webhook server over real HTTP on 127.0.0.1 with the real store (SQLite and PostgreSQL).

Only Telegram (the holder of the secret) gets an update into the inbox; the 200 comes after
the commit; a retried delivery is stored once; `/healthz` reflects the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError
from telegram import Update

from bot.settings import Settings
from handlers.intake import TokenRefusedError, derive_webhook_secret
from handlers.intake_webhook import (
    MAX_BODY,
    SECRET_HEADER,
    WebhookServer,
    webhook_path,
    webhook_secret,
)
from storage import Store, open_store
from tests.conftest import API_KEY, TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.intake_helpers import inbox, make_bot

URL = "https://example.com/hooks/tg"
SECRET = derive_webhook_secret(TOKEN)


def _settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "openai_api_key": API_KEY,
        "webhook_url": URL,
        "port": 0,
    }
    return Settings(_env_file=None, **(base | values))


def _update(update_id: int, text: str = "hello", chat_id: int = 42) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ann"},
            "text": text,
        },
    }


class Running:
    """A started server, its wake-ups, and an HTTP client."""

    def __init__(self, server: WebhookServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.wakes = 0

    def url(self, path: str | None = None) -> str:
        return f"http://127.0.0.1:{self.server.port}{self.server.path if path is None else path}"

    async def post(
        self, body: bytes | dict[str, Any], secret: str | None = SECRET, path: str | None = None
    ) -> int:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        async with self.http.post(self.url(path), data=data, headers=headers) as response:
            await response.read()
            return response.status


@pytest.fixture
async def running(store: Store) -> AsyncIterator[Running]:
    async def healthy() -> bool:
        await store.schema_version()
        return True

    holder: list[Running] = []
    server = WebhookServer.from_settings(
        _settings(), store, lambda: setattr(holder[0], "wakes", holder[0].wakes + 1), healthy
    )
    async with aiohttp.ClientSession() as http:
        holder.append(Running(server, http))
        await server.start()
        try:
            yield holder[0]
        finally:
            await server.stop()


async def test_forged_posts_are_refused_and_never_stored(
    running: Running, store: Store, database_url: str
) -> None:
    assert await running.post(_update(1), secret=None) == 403
    assert await running.post(_update(2), secret="wrong-secret") == 403
    assert await running.post(_update(3), secret=SECRET[:-1]) == 403
    assert await running.post(_update(4), secret=SECRET + "x") == 403
    assert await running.post(_update(5), secret="") == 403
    assert await inbox(database_url) == {}
    assert running.wakes == 0


async def test_a_delivery_retried_by_telegram_is_stored_once(
    running: Running, store: Store, database_url: str
) -> None:
    update = _update(900, "question")
    assert await running.post(update) == 200
    assert await running.post(update) == 200, "a duplicate is acknowledged too"
    stored = await inbox(database_url)
    assert list(stored) == [900]
    lane, payload = stored[900]
    assert lane == (42, 0)
    assert payload == update, "the update is kept exactly as Telegram sent it"
    parsed = Update.de_json(payload, None)
    assert parsed.message is not None and parsed.message.text == "question"
    assert running.wakes >= 1


async def test_the_200_comes_after_the_commit(running: Running, database_url: str) -> None:
    assert await running.post(_update(901)) == 200
    other = await open_store(database_url)  # another connection sees it at once
    try:
        assert 901 in await inbox(database_url)
    finally:
        await other.close()


async def test_oversized_bodies_are_refused(
    running: Running, store: Store, database_url: str
) -> None:
    big = _update(902, "x" * (MAX_BODY + 10))
    assert await running.post(big) == 413
    assert await running.post(big, secret=None) == 403, "the secret is checked first"
    assert await inbox(database_url) == {}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"{}",
        b'{"update_id": "7"}',
        b'{"update_id": true}',
        b'{"update_id": 1.5}',
        b'{"update_id": 99999999999999999999999}',
        b"\xff\xfe{}",
        b"[" * 100_000,
    ],
)
async def test_bodies_that_are_not_updates_get_400(
    running: Running, store: Store, body: bytes, database_url: str
) -> None:
    assert await running.post(body) == 400
    assert await inbox(database_url) == {}


async def test_a_hostile_update_with_a_valid_id_is_stored_in_the_no_chat_lane(
    running: Running, store: Store, database_url: str
) -> None:
    assert await running.post({"update_id": 903, "message": {"chat": "nope"}}) == 200
    assert (await inbox(database_url))[903][0] == (0, 0)


async def test_the_server_listens_at_the_webhook_urls_own_path(running: Running) -> None:
    assert running.server.path == "/hooks/tg"
    assert await running.post(_update(904), path="/") in (404, 405)
    assert await running.post(_update(905), path="/telegram") in (404, 405)
    assert await running.post(_update(906)) == 200
    async with running.http.get(running.url()) as response:
        assert response.status == 405, "only POST is served at the webhook path"


def test_webhook_paths() -> None:
    assert webhook_path("https://example.com/hooks/tg") == "/hooks/tg"
    assert webhook_path("https://example.com") == "/"
    assert webhook_path("https://example.com/") == "/"
    assert webhook_path("https://example.com:8443/a/b/?x=1") == "/a/b/"


async def test_healthz_follows_the_database(running: Running, database_url: str) -> None:
    async with running.http.get(running.url("/healthz")) as response:
        assert response.status == 200
    other = await open_store(database_url)
    await other.close()

    async def closed_database() -> bool:
        await other.schema_version()
        return True

    async def unhealthy() -> bool:
        return False

    for check in (closed_database, unhealthy):
        server = WebhookServer(other, lambda: None, check, secret=SECRET, port=0)
        await server.start()
        try:
            async with running.http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
                assert response.status == 503
        finally:
            await server.stop()


async def test_register_sets_the_webhook_exactly(store: Store) -> None:
    async with FakeTelegram(TOKEN) as telegram:
        bot = make_bot(telegram, TOKEN)
        await bot.initialize()
        try:
            settings = _settings()
            server = WebhookServer.from_settings(
                settings, store, lambda: None, store.schema_version
            )
            await server.register(bot, settings)
            assert telegram.webhook is not None
            (call,) = telegram.calls_for("setWebhook")
            assert call.params["url"] == URL, "registered as given, no path appended"
            assert call.params["secret_token"] == SECRET
            assert set(call.params["allowed_updates"]) == set(Update.ALL_TYPES)
            assert call.params["max_connections"] == 40
            assert call.params["drop_pending_updates"] is False

            configured = _settings(webhook_secret="my_Secret-1", max_webhook_connections=5)
            server = WebhookServer.from_settings(
                configured, store, lambda: None, store.schema_version
            )
            await server.register(bot, configured)
            last = telegram.calls_for("setWebhook")[-1]
            assert last.params["secret_token"] == "my_Secret-1"
            assert last.params["max_connections"] == 5
        finally:
            await bot.shutdown()


def test_the_configured_secret_wins_and_must_be_allowed_by_telegram() -> None:
    assert webhook_secret(_settings()) == SECRET
    assert webhook_secret(_settings(webhook_secret="abc_DEF-123")) == "abc_DEF-123"
    for bad in ("has space", "ünï", "x" * 257, "semi;colon"):
        with pytest.raises(ValidationError):
            _settings(webhook_secret=bad)


async def test_register_rides_out_an_unreachable_telegram_and_stops_on_a_wrong_token(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.intake_webhook")
    settings = _settings()
    async with FakeTelegram(TOKEN) as telegram:
        bot = make_bot(telegram, TOKEN)
        await bot.initialize()
        try:
            server = WebhookServer.from_settings(
                settings, store, lambda: None, store.schema_version
            )
            telegram.fail_next("setWebhook", 502, "Bad Gateway", times=2)
            await asyncio.wait_for(server.register(bot, settings, backoff_initial=0.05), 5)
            assert telegram.webhook is not None and telegram.webhook["url"] == URL
        finally:
            await bot.shutdown()
        lines = [r.getMessage() for r in caplog.records if "setWebhook failed" in r.getMessage()]
        assert len(lines) == 2 and all("Bad Gateway" in line for line in lines)

        wrong = make_bot(telegram, "123456789:AAE-wrong-token-SECRET_zyxwvutsrqponm")
        await wrong.request.initialize()
        try:
            with pytest.raises(TokenRefusedError):
                await asyncio.wait_for(server.register(wrong, settings), 2)
        finally:
            await wrong.request.shutdown()
    assert TOKEN not in caplog.text and "wrong-token" not in caplog.text


async def test_a_flood_of_forgeries_does_not_flood_the_log(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.intake_webhook")
    for n in range(30):
        assert await running.post(_update(n), secret="forged") == 403
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
