"""The store's saved conversations, forgetting, turns and usage, on both backends."""

from __future__ import annotations

import time
from pathlib import Path

import aiosqlite

from storage import ChatKey, MessageRecord, Store, TurnRecord, UsageRecord, open_store


async def _conversation(store: Store, key: ChatKey, *questions: str) -> int:
    conversation = await store.new_conversation(key)
    for text in questions:
        await store.add_message(conversation, MessageRecord(role="user", content=text, tokens=2))
        await store.add_message(conversation, MessageRecord(role="assistant", content="ok"))
    return conversation


async def test_conversations_list_newest_first_and_page(store: Store) -> None:
    key = ChatKey(10)
    ids = [await _conversation(store, key, f"question {i}", "more") for i in range(7)]
    await store.new_conversation(key)  # an empty archived one is left out ...
    current = await store.new_conversation(key)  # ... the empty active one is listed
    first = await store.conversations(key, 0, 5)
    assert first.total == 8
    assert [c.id for c in first.items] == [current, *reversed(ids[-4:])]
    assert first.items[0].active and not any(c.active for c in first.items[1:])
    assert (first.items[1].title, first.items[1].messages) == ("question 6", 4)
    rest = await store.conversations(key, 5, 5)
    assert [c.id for c in rest.items] == list(reversed(ids[:3]))
    assert (await store.conversations(ChatKey(10, 3), 0, 5)).total == 0, "topics apart"


async def test_resume_makes_an_old_conversation_active_and_keeps_the_left_one(
    store: Store,
) -> None:
    key = ChatKey(11)
    old = await _conversation(store, key, "old question")
    left = await _conversation(store, key, "newer question")
    assert await store.resume_conversation(key, old)
    assert await store.active_conversation(key) == old
    page = await store.conversations(key, 0, 10)
    assert {c.id: c.active for c in page.items} == {old: True, left: False}
    other = await _conversation(store, ChatKey(12), "someone else's")
    assert not await store.resume_conversation(key, other), "not this chat's"
    assert await store.active_conversation(key) == old


async def test_forget_deletes_the_key_only(store: Store) -> None:
    key, kept = ChatKey(20, 5), ChatKey(20)
    conversation = await _conversation(store, key, "secret one", "secret two")
    await _conversation(store, key, "secret three")
    await store.set_setting(key, "system_prompt", "be a pirate")
    await store.record_usage(UsageRecord(conversation, 20, 7, "m", 10, 5))
    await store.inbox_put(901, 20, 5, '{"message": {"text": "secret one"}}')
    await store.inbox_put(902, 20, 0, '{"message": {"text": "not forgotten"}}')
    await store.inbox_done([901, 902])
    await store.inbox_put(903, 20, 5, '{"message": {"text": "/forget"}}')
    mine = await _conversation(store, kept, "not forgotten")
    await store.set_setting(kept, "model", "gpt-4.1")
    report = await store.forget(key)
    assert (report.conversations, report.messages, report.settings) == (2, 6, 1)
    assert (await store.conversations(key, 0, 10)).total == 0
    assert await store.get_setting(key, "system_prompt") is None
    fresh = await store.active_conversation(key)
    assert fresh != conversation and await store.recent_messages(fresh, 10**6, 100) == []
    kept_messages = await store.recent_messages(mine, 10**6, 100)
    assert kept_messages[0].content == "not forgotten"
    assert await store.get_setting(kept, "model") == "gpt-4.1"
    assert (await store.usage_by_model(0, 7))[0].prompt_tokens == 10, "numbers stay for quotas"
    pending = await store.inbox_claim("me", 30.0, 10)
    assert [b.update_ids for b in pending] == [[903]], "the update being handled stays"
    assert await store.inbox_prune(-1) == 1, "only the other chat's handled update was left"


async def test_forget_reclaims_sqlite_pages(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await open_store(f"sqlite:///{path}")
    key = ChatKey(30)
    conversation = await store.active_conversation(key)
    secret = "PINEAPPLE-" * 2000
    await store.add_messages(
        conversation, [MessageRecord(role="user", content=secret) for _ in range(50)]
    )
    await store.forget(key)
    await store.close()
    async with aiosqlite.connect(path) as db:
        free = await (await db.execute("PRAGMA freelist_count")).fetchone()
    assert free == (0,), "the free pages went back to the file system"
    assert b"PINEAPPLE" not in path.read_bytes()
    wal = tmp_path / "bot.db-wal"
    assert not wal.exists() or b"PINEAPPLE" not in wal.read_bytes()


async def test_turns_count_usage_and_stats(store: Store) -> None:
    now = time.time()

    def turn(user: int, chat: int, status: str, ms: float | None, at: float) -> TurnRecord:
        return TurnRecord(chat, 0, user, "gpt-4o-mini", status, ms, at)

    for record in (
        turn(1, 1, "complete", 100.0, now),
        turn(1, 1, "complete", 300.0, now),
        turn(2, -50, "interrupted", 200.0, now),
        turn(2, -50, "failed", None, now),
        turn(1, 1, "complete", 999.0, now - 3 * 86400),
    ):
        await store.record_turn(record)
    await store.record_usage(UsageRecord(1, 1, 1, "gpt-4o-mini", 120, 30))
    await store.record_usage(UsageRecord(1, 1, 1, "gpt-4.1", 5, 5))
    since = now - 3600
    assert await store.turn_count(since, user_id=1) == 2
    assert await store.turn_count(since, chat_id=-50) == 2
    assert await store.turn_count(0, user_id=1) == 3
    usage = await store.usage_by_model(since, 1)
    assert [(u.model, u.messages, u.prompt_tokens, u.completion_tokens) for u in usage] == [
        ("gpt-4o-mini", 2, 120, 30),
        ("gpt-4.1", 0, 5, 5),
    ]
    stats = await store.turn_stats(since)
    assert (stats.users, stats.chats) == (2, 2)
    assert stats.outcomes == {"complete": 2, "interrupted": 1, "failed": 1}
    assert sorted(stats.first_visible_ms) == [100.0, 200.0, 300.0]
