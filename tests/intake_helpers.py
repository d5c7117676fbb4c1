"""Shared pieces of the intake tests: reading the inbox through the store, a test Bot."""

from __future__ import annotations

import json
from typing import Any

from telegram import Bot

from handlers.telegram_request import AiohttpRequest
from storage import Store
from tests.fakes.telegram import FakeTelegram

READER = "test-reader"


async def inbox(store: Store) -> dict[int, tuple[tuple[int, int], dict[str, Any]]]:
    """Every pending update in the inbox: update_id -> (lane, payload); claims given back."""
    try:
        batches = await store.inbox_claim(READER, 30, 10**6)
    finally:
        await store.inbox_release(READER)
    found: dict[int, tuple[tuple[int, int], dict[str, Any]]] = {}
    for batch in batches:
        for item in batch.items:
            assert item.update_id not in found, f"update {item.update_id} stored twice"
            found[item.update_id] = (
                (batch.key.chat_id, batch.key.thread_id),
                json.loads(item.payload),
            )
    return found


def make_bot(telegram: FakeTelegram, token: str) -> Bot:
    """A Bot talking to the fake over aiohttp (initialise it before use)."""
    return Bot(
        token,
        base_url=f"{telegram.base_url}/bot",
        base_file_url=f"{telegram.base_url}/file/bot",
        request=AiohttpRequest(connection_pool_size=4),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )
