"""Shared pieces of the intake tests: reading the inbox table, a test Bot."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import Any

import asyncpg
from telegram import Bot

from handlers.telegram_request import AiohttpRequest
from storage import sqlite_path
from tests.fakes.telegram import FakeTelegram

Inbox = dict[int, tuple[tuple[int, int], dict[str, Any]]]


async def inbox(database_url: str) -> Inbox:
    """Every update in the inbox table: update_id -> (lane, payload).

    Read with a connection of its own, so that it never disturbs claims or the code under test.
    """
    query = "SELECT update_id, chat_id, thread_id, payload FROM inbox ORDER BY update_id"
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db:
            rows = db.execute(query).fetchall()
    else:
        conn = await asyncpg.connect(database_url)
        try:
            rows = [tuple(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()
    return {row[0]: ((row[1], row[2]), json.loads(row[3])) for row in rows}


def make_bot(telegram: FakeTelegram, token: str) -> Bot:
    """A Bot talking to the fake over aiohttp (initialise it before use)."""
    return Bot(
        token,
        base_url=f"{telegram.base_url}/bot",
        base_file_url=f"{telegram.base_url}/file/bot",
        request=AiohttpRequest(connection_pool_size=4),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )
