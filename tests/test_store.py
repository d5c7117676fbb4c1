"""The SQLite store: schema, WAL, the history window, settings, persistence."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from storage import ChatKey, MessageRecord, SQLiteStore
from storage.migrations import latest_version


async def test_schema_wal_and_persistence(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "bot.db")
    store = await SQLiteStore.open(path)
    assert await store.schema_version() == latest_version()
    conversation = await store.active_conversation(ChatKey(1))
    await store.add_message(conversation, MessageRecord(role="user", content="hi", tokens=5))
    await store.set_setting(ChatKey(1), "model", "gpt-4.1")
    await store.close()
    async with aiosqlite.connect(path) as db:
        mode = await (await db.execute("PRAGMA journal_mode")).fetchone()
    assert mode == ("wal",)
    again = await SQLiteStore.open(path)
    assert await again.active_conversation(ChatKey(1)) == conversation
    assert [m.content for m in await again.recent_messages(conversation, 100, 10)] == ["hi"]
    assert await again.get_setting(ChatKey(1), "model") == "gpt-4.1"
    await again.close()


async def test_window_fits_the_budget_and_the_row_cap() -> None:
    store = await SQLiteStore.open(":memory:")
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
    await store.close()


async def test_new_conversation_archives_and_settings_clear() -> None:
    store = await SQLiteStore.open(":memory:")
    key = ChatKey(-5, 7)
    first = await store.active_conversation(key)
    second = await store.new_conversation(key)
    assert second != first and await store.active_conversation(key) == second
    assert await store.active_conversation(ChatKey(-5)) not in (first, second), "topics apart"
    await store.set_setting(key, "voice", "on")
    assert await store.get_setting(key, "voice") == "on"
    await store.set_setting(key, "voice", None)
    assert await store.get_setting(key, "voice") is None
    await store.close()


async def test_a_database_from_before_named_steps_keeps_its_data(tmp_path: Path) -> None:
    from storage.migrations import MIGRATIONS

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
    from storage.migrations import MIGRATIONS

    names = [step.name for step in MIGRATIONS]
    assert all(names) and len(set(names)) == len(names)
    sql = MIGRATIONS[0].script("sqlite")
    assert "id INTEGER PRIMARY KEY," in sql and "archived_at REAL\n" in sql
    assert "{" not in sql and "BIGINT" in MIGRATIONS[0].script("postgres")
