"""Stored images live in the media table, apart from message rows, on both backends.

Each test runs on SQLite and on PostgreSQL (a fresh database on TEST_DATABASE_URL; skipped
with the reason when it is unset).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

import aiosqlite
import asyncpg

from bot.media_retention import MediaPruner
from storage import ChatKey, MessageRecord, Store, sqlite_path
from storage.media import EXPIRED_TEXT


async def _raw(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one query (`?` placeholders) on a connection of its own."""
    if database_url.startswith("sqlite"):
        async with aiosqlite.connect(sqlite_path(database_url)) as db:
            async with db.execute(sql, params) as cur:
                rows = [tuple(r) for r in await cur.fetchall()]
            await db.commit()
            return rows
    numbered = sql
    for i in range(1, len(params) + 1):
        numbered = numbered.replace("?", f"${i}", 1)
    conn = await asyncpg.connect(database_url)
    try:
        return [tuple(r) for r in await conn.fetch(numbered, *params)]
    finally:
        await conn.close()


def _url(n: int, size: int = 300) -> str:
    return "data:image/jpeg;base64," + (chr(ord("A") + n % 26) * size)


def _photo(n: int, images: int = 1, tokens: int = 800, **extra: Any) -> MessageRecord:
    parts: list[dict[str, Any]] = [{"type": "text", "text": f"photo {n}"}]
    parts += [{"type": "image_url", "image_url": {"url": _url(n + i)}} for i in range(images)]
    return MessageRecord(role="user", content=f"photo {n}", tokens=tokens, parts=parts, **extra)


def _media_read(store: Store) -> int:
    return int(getattr(store, "media_rows_read"))  # noqa: B009 - a counter of both stores only


async def test_two_images_round_trip_exactly(store: Store, database_url: str) -> None:
    conversation = await store.active_conversation(ChatKey(1))
    message = _photo(1, images=2)
    message.parts[2]["image_url"]["detail"] = "low"  # type: ignore[index]
    sent = copy.deepcopy(message.parts)
    await store.add_message(conversation, message)
    assert message.parts == sent, "the caller's record is left as it was"
    (got,) = await store.recent_messages(conversation, 10**6, 10)
    assert got.parts == sent and got.content == "photo 1" and got.tokens == 800
    assert _media_read(store) == 2
    rows = await _raw(database_url, "SELECT parts FROM messages WHERE id = ?", got.id)
    assert "data:" not in rows[0][0], "the message row keeps references only"
    media = await _raw(database_url, "SELECT message_id, kind FROM media ORDER BY id")
    assert media == [(got.id, "image"), (got.id, "image")]


async def test_window_reads_only_its_rows_media(store: Store) -> None:
    photos = await store.active_conversation(ChatKey(2))
    for start in range(0, 500, 100):
        await store.add_messages(photos, [_photo(n) for n in range(start, start + 100)])
    window = await store.recent_messages(photos, token_budget=1000, max_messages=200)
    assert [m.content for m in window] == ["photo 499"]
    assert window[0].parts == _photo(499).parts
    assert _media_read(store) == 1, "499 other photos are never read"
    wide = await store.recent_messages(photos, token_budget=800 * 5, max_messages=200)
    assert [m.content for m in wide] == [f"photo {n}" for n in range(495, 500)]
    assert _media_read(store) == 1 + 5


async def test_inline_rows_of_before_still_read(store: Store, database_url: str) -> None:
    conversation = await store.active_conversation(ChatKey(3))
    parts = _photo(7).parts
    await _raw(
        database_url,
        "INSERT INTO messages (conversation_id, role, content, parts, tokens, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        conversation,
        "user",
        "photo 7",
        json.dumps(parts),
        10,
        time.time(),
    )
    await store.add_message(conversation, _photo(8))
    old, new = await store.recent_messages(conversation, 10**6, 10)
    assert old.parts == parts and new.parts == _photo(8).parts


async def test_new_keeps_media_and_forget_deletes_it(store: Store, database_url: str) -> None:
    first = await store.active_conversation(ChatKey(4))
    await store.add_message(first, _photo(1, images=2))
    await store.new_conversation(ChatKey(4))
    other = await store.active_conversation(ChatKey(5))
    await store.add_message(other, _photo(2))
    (kept,) = await store.recent_messages(first, 10**6, 10)
    assert kept.parts == _photo(1, images=2).parts, "/new keeps the old conversation's images"
    await store.forget(ChatKey(4))
    left = await _raw(database_url, "SELECT conversation_id FROM media")
    assert left == [(other,)], "only the forgotten chat's media went"


async def test_edit_drops_the_media_of_deleted_messages(store: Store, database_url: str) -> None:
    conversation = await store.active_conversation(ChatKey(6))
    kept = await store.add_message(conversation, _photo(1))
    await store.add_message(conversation, _photo(2, images=2))
    await store.replace_from(conversation, kept, None, 800)
    assert await _raw(database_url, "SELECT message_id FROM media") == [(kept,)]


async def test_retention_prunes_old_media(store: Store, database_url: str) -> None:
    conversation = await store.active_conversation(ChatKey(7))
    await store.add_message(conversation, _photo(1, images=2, created_at=time.time() - 10 * 86400))
    await store.add_message(conversation, _photo(2))
    assert await store.prune_media(0) == 0, "0 days keeps media forever"
    assert await store.prune_media(5) == 2
    old, new = await store.recent_messages(conversation, 10**6, 10)
    expired = {"type": "text", "text": EXPIRED_TEXT}
    assert old.parts == [{"type": "text", "text": "photo 1"}, expired, expired]
    assert new.parts == _photo(2).parts
    assert len(await _raw(database_url, "SELECT id FROM media")) == 1


async def test_pruner_prunes_at_start(store: Store) -> None:
    conversation = await store.active_conversation(ChatKey(8))
    await store.add_message(conversation, _photo(1, created_at=time.time() - 3 * 86400))
    idle = MediaPruner.start(store, 0)
    await idle.close()
    pruner = MediaPruner.start(store, 1, interval=3600)
    try:
        for _ in range(200):
            (record,) = await store.recent_messages(conversation, 10**6, 10)
            if record.parts and record.parts[1]["type"] == "text":
                break
            await asyncio.sleep(0.01)
        assert record.parts and record.parts[1] == {"type": "text", "text": EXPIRED_TEXT}
    finally:
        await pruner.close()
