"""The store on both backends: schema, persistence, the history window, settings.

Each test runs on SQLite and on PostgreSQL (a fresh database on TEST_DATABASE_URL; skipped
with the reason when it is unset).
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from storage import ChatKey, MessageRecord, SQLiteStore, Store, UsageRecord, open_store
from storage.migrations import MIGRATIONS, latest_version


async def test_schema_and_persistence(database_url: str) -> None:
    store = await open_store(database_url)
    assert await store.schema_version() == latest_version()
    conversation = await store.active_conversation(ChatKey(1))
    await store.add_message(conversation, MessageRecord(role="user", content="hi", tokens=5))
    await store.set_setting(ChatKey(1), "model", "gpt-4.1")
    await store.close()
    again = await open_store(database_url)
    assert await again.schema_version() == latest_version(), "migrating twice is a no-op"
    assert await again.active_conversation(ChatKey(1)) == conversation
    assert [m.content for m in await again.recent_messages(conversation, 100, 10)] == ["hi"]
    assert await again.get_setting(ChatKey(1), "model") == "gpt-4.1"
    await again.close()


async def test_sqlite_uses_wal_and_creates_the_folder(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "bot.db")
    store = await SQLiteStore.open(path)
    await store.close()
    async with aiosqlite.connect(path) as db:
        mode = await (await db.execute("PRAGMA journal_mode")).fetchone()
    assert mode == ("wal",)


async def test_window_fits_the_budget_and_the_row_cap(store: Store) -> None:
    conversation = await store.active_conversation(ChatKey(2))
    await store.add_messages(
        conversation,
        [MessageRecord(role="user", content=f"m{i}", tokens=10) for i in range(1000)],
    )
    window = await store.recent_messages(conversation, token_budget=55, max_messages=200)
    assert [m.content for m in window] == [f"m{i}" for i in range(995, 1000)]
    capped = await store.recent_messages(conversation, token_budget=10**6, max_messages=7)
    assert len(capped) == 7 and capped[-1].content == "m999"
    huge = await store.recent_messages(conversation, token_budget=1, max_messages=7)
    assert [m.content for m in huge] == ["m999"], "the newest message always comes"


async def test_messages_keep_every_field(store: Store) -> None:
    conversation = await store.active_conversation(ChatKey(-1001234567890123, 77))
    sent = MessageRecord(
        role="assistant",
        content="ok",
        tokens=3,
        parts=[{"type": "text", "text": "ok"}],
        sender="Ann",
        tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        kind="text",
        status="interrupted",
        meta={"reply": [1, 2]},
    )
    message_id = await store.add_message(conversation, sent)
    tool = MessageRecord(role="tool", content="42", tool_call_id="c1")
    await store.add_messages(conversation, [tool])
    (got, got_tool) = await store.recent_messages(conversation, 1000, 10)
    assert got.id == message_id == sent.id and got_tool.id == tool.id
    assert (got.parts, got.sender, got.tool_calls, got.status, got.meta) == (
        sent.parts,
        "Ann",
        sent.tool_calls,
        "interrupted",
        {"reply": [1, 2]},
    )
    assert got.created_at == pytest.approx(sent.created_at) and got_tool.tool_call_id == "c1"
    await store.record_usage(UsageRecord(conversation, -1001234567890123, 5, "m", 10, 20))


async def test_new_conversation_archives_and_settings_clear(store: Store) -> None:
    key = ChatKey(-5, 7)
    first = await store.active_conversation(key)
    second = await store.new_conversation(key)
    assert second != first and await store.active_conversation(key) == second
    assert await store.active_conversation(ChatKey(-5)) not in (first, second), "topics apart"
    await store.set_setting(key, "voice", "on")
    assert await store.get_setting(key, "voice") == "on"
    await store.set_setting(key, "voice", "off")
    assert await store.get_setting(key, "voice") == "off"
    await store.set_setting(key, "voice", None)
    assert await store.get_setting(key, "voice") is None


async def test_a_database_from_before_named_steps_keeps_its_data(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    async with aiosqlite.connect(path) as db:
        # What the code before named steps did: migration 1, then version 1 recorded.
        await db.executescript(
            MIGRATIONS[0].script("sqlite")
            + "CREATE TABLE schema_version (version INTEGER);"
            + "INSERT INTO schema_version VALUES (1);"
            + "INSERT INTO conversations (chat_id, thread_id, created_at) VALUES (9, 0, 1.0);"
        )
        await db.commit()
    store = await SQLiteStore.open(path)
    assert await store.schema_version() == latest_version()
    assert await store.active_conversation(ChatKey(9)) == 1
    await store.close()


def test_migrations_are_named_steps_and_step_one_is_the_original_schema() -> None:
    names = [step.name for step in MIGRATIONS]
    assert all(names) and len(set(names)) == len(names)
    sql = MIGRATIONS[0].script("sqlite")
    assert "id INTEGER PRIMARY KEY," in sql and "archived_at REAL\n" in sql
    assert "{" not in sql and "BIGINT" in MIGRATIONS[0].script("postgres")
