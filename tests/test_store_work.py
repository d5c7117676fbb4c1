"""Shared work in the store, on both backends: the inbox, turn progress, leases, rate budgets.

`replica` is a second store on the same database: another process on PostgreSQL; on SQLite
(one process owns the file) the same store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from storage import ChatKey, Store, open_store
from storage.migrations import latest_version
from storage.models import InboxBatch, ReceivedUpdate

A, B, C = ChatKey(1), ChatKey(-100, 5), ChatKey(3)


@pytest.fixture
async def replica(store: Store, database_url: str) -> AsyncIterator[Store]:
    """Another process's store on the same database (the same store on SQLite)."""
    if database_url.startswith("sqlite"):
        yield store
        return
    other = await open_store(database_url)
    yield other
    await other.close()


async def _put(store: Store, key: ChatKey, *update_ids: int) -> None:
    for update_id in update_ids:
        assert await store.inbox_put(update_id, key.chat_id, key.thread_id, f'{{"u":{update_id}}}')


def _shape(batches: list[InboxBatch]) -> list[tuple[ChatKey, list[int]]]:
    return [(b.key, b.update_ids) for b in batches]


async def test_duplicates_are_ignored_even_after_processing(store: Store) -> None:
    assert await store.inbox_put(10, 1, 0, '{"a":1}') is True
    assert await store.inbox_put(10, 1, 0, '{"a":2}') is False
    (batch,) = await store.inbox_claim("r1", 30, 10)
    assert batch.items[0].payload == '{"a":1}', "the first copy is kept"
    await store.inbox_done(batch.update_ids)
    assert await store.inbox_put(10, 1, 0, '{"a":3}') is False, "processed ids are remembered"
    assert await store.inbox_claim("r1", 30, 10) == []


async def test_a_polled_batch_is_stored_in_one_go_and_wakes_the_workers(
    store: Store, replica: Store
) -> None:
    woken = asyncio.Event()
    await replica.listen_inbox(woken.set)
    await _put(store, A, 1)
    batch = [
        ReceivedUpdate(1, A, '{"again": 1}'),  # already there: ignored
        ReceivedUpdate(2, B, '{"u": 2}'),
        ReceivedUpdate(3, A, '{"ü": "ünïcode"}'),
    ]
    assert await store.inbox_put_many(batch) == 2
    await asyncio.wait_for(woken.wait(), 5)
    assert await store.inbox_put_many([]) == 0
    assert await store.inbox_put_many(batch) == 0, "a batch Telegram sends again adds nothing"
    claimed = await store.inbox_claim("r1", 30, 10)
    assert _shape(claimed) == [(A, [1, 3]), (B, [2])]
    assert claimed[0].items[0].payload == '{"u":1}', "the first copy is kept"
    assert claimed[0].items[1].payload == '{"ü": "ünïcode"}'


async def test_a_claim_takes_whole_conversations_oldest_first(store: Store) -> None:
    await _put(store, A, 1)
    await _put(store, B, 2)
    await _put(store, A, 3)
    await _put(store, C, 4)
    first = await store.inbox_claim("r1", 30, 2)
    assert _shape(first) == [(A, [1, 3]), (B, [2])]
    assert _shape(await store.inbox_claim("r2", 30, 10)) == [(C, [4])]
    assert await store.inbox_claim("r3", 30, 10) == [], "every conversation is held"


async def test_items_arriving_during_a_claim_wait_for_the_next_one(
    store: Store, replica: Store
) -> None:
    await _put(store, A, 1, 2)
    (batch,) = await store.inbox_claim("r1", 30, 10)
    await _put(replica, A, 3)
    assert await replica.inbox_claim("r2", 30, 10) == [], "one turn at a time per conversation"
    assert await store.inbox_claim("r1", 30, 10) == [], "not even its own claimer adds to it"
    await store.inbox_done(batch.update_ids)
    assert _shape(await replica.inbox_claim("r2", 30, 10)) == [(A, [3])]


async def test_an_expired_lease_hands_the_work_over_in_order(store: Store, replica: Store) -> None:
    await _put(store, A, 1, 2)
    await store.inbox_claim("dead", 0.2, 10)
    await _put(store, A, 3)
    assert await replica.inbox_claim("alive", 30, 10) == []
    await asyncio.sleep(0.3)
    assert _shape(await replica.inbox_claim("alive", 30, 10)) == [(A, [1, 2, 3])]
    assert await store.inbox_renew("dead", 30) == 0, "the dead owner holds nothing any more"
    assert await replica.inbox_renew("alive", 30) == 3


async def test_renew_keeps_the_claim_and_release_gives_it_up(store: Store, replica: Store) -> None:
    await _put(store, A, 1)
    await _put(store, B, 2)
    await store.inbox_claim("r1", 0.2, 10)
    assert await store.inbox_renew("r1", 30) == 2
    await asyncio.sleep(0.3)
    assert await replica.inbox_claim("r2", 30, 10) == [], "renewed: still held"
    await store.inbox_release("r1")
    assert _shape(await replica.inbox_claim("r2", 30, 10)) == [(A, [1]), (B, [2])]


async def test_prune_deletes_only_old_processed_rows(store: Store) -> None:
    await _put(store, A, 1, 2)
    await store.inbox_claim("r1", 30, 10)
    await store.inbox_done([1])
    assert await store.inbox_prune(3600) == 0, "too recent"
    await asyncio.sleep(0.05)
    assert await store.inbox_prune(0.01) == 1
    assert await store.inbox_put(1, A.chat_id, 0, "{}") is True, "pruned ids are forgotten"
    assert await store.inbox_put(2, A.chat_id, 0, "{}") is False, "pending ones are not"


async def test_a_put_wakes_the_listeners(store: Store, replica: Store) -> None:
    woke = asyncio.Event()
    await store.listen_inbox(woke.set)
    await asyncio.sleep(0.05)
    await replica.inbox_put(7, 1, 0, "{}")
    await asyncio.wait_for(woke.wait(), timeout=5)
    woke.clear()
    await replica.inbox_put(7, 1, 0, "{}")
    await asyncio.sleep(0.2)
    assert not woke.is_set(), "a duplicate wakes no one"


async def test_turn_progress_is_one_row_per_conversation(store: Store, replica: Store) -> None:
    assert await store.load_turn_progress(1, 0) is None
    await store.save_turn_progress(1, 0, [5, 6], '{"messages":[100]}')
    await store.save_turn_progress(1, 0, [5, 6], '{"messages":[100,101]}')
    await store.save_turn_progress(1, 9, [7], "{}")
    progress = await replica.load_turn_progress(1, 0)
    assert progress is not None
    assert (progress.key, progress.update_ids, progress.state) == (
        ChatKey(1),
        [5, 6],
        '{"messages":[100,101]}',
    )
    topic = await store.load_turn_progress(1, 9)
    assert topic is not None and topic.state == "{}", "topics apart"


async def test_one_leader_until_its_lease_lapses(store: Store, replica: Store) -> None:
    assert await store.try_lead("polling", "a", 0.3) is True
    assert await replica.try_lead("polling", "b", 30) is False
    assert await store.try_lead("polling", "a", 0.3) is True, "renewed"
    assert await replica.try_lead("other", "b", 30) is True, "names apart"
    await asyncio.sleep(0.4)
    assert await replica.try_lead("polling", "b", 30) is True, "lapsed: taken over"
    assert await store.try_lead("polling", "a", 30) is False
    await store.resign_lead("polling", "a")
    assert await store.try_lead("polling", "a", 30) is False, "only the holder resigns"
    await replica.resign_lead("polling", "b")
    assert await store.try_lead("polling", "a", 30) is True


async def test_rate_tokens_are_a_sliding_window(store: Store) -> None:
    assert [await store.take_rate_tokens("bot", 100.0, 1.0, 3) for _ in range(3)] == [0, 0, 0]
    assert await store.take_rate_tokens("bot", 100.0, 1.0, 3) == pytest.approx(1.0)
    assert await store.take_rate_tokens("bot", 100.6, 1.0, 3) == pytest.approx(0.4)
    assert await store.take_rate_tokens("chat:5", 100.6, 1.0, 3) == 0, "buckets apart"
    assert await store.take_rate_tokens("bot", 101.0, 1.0, 3) == 0, "the window slid"
    assert await store.take_rate_tokens("bot", 101.0, 1.0, 3) == 0
    assert await store.take_rate_tokens("bot", 101.0, 1.0, 3) == 0
    assert await store.take_rate_tokens("bot", 101.2, 1.0, 3) == pytest.approx(0.8)


async def test_replicas_claiming_at_once_never_share_a_conversation(
    store: Store, replica: Store
) -> None:
    keys = [ChatKey(1000 + i) for i in range(60)]
    update_id = 0
    for round_ in range(3):
        for key in keys:
            update_id += 1
            await store.inbox_put(update_id, key.chat_id, 0, str(round_))
    held: dict[ChatKey, str] = {}
    seen: dict[ChatKey, list[int]] = {key: [] for key in keys}

    async def worker(s: Store, owner: str) -> None:
        idle = 0
        while idle < 3:
            batches = await s.inbox_claim(owner, 30, 4)
            idle = 0 if batches else idle + 1
            for batch in batches:
                assert batch.key not in held, f"{owner} got {batch.key} held by {held}"
                held[batch.key] = owner
            await asyncio.sleep(0.001)
            for batch in batches:
                seen[batch.key].extend(batch.update_ids)
                del held[batch.key]
                await s.inbox_done(batch.update_ids)

    await asyncio.gather(*(worker(s, f"w{i}") for i, s in enumerate([store, replica] * 4)))
    for i, key in enumerate(keys):
        assert seen[key] == [i + 1, i + 61, i + 121], "each update once, in order"


async def test_simultaneous_claims_split_the_work(store: Store, replica: Store) -> None:
    for i in range(30):
        await store.inbox_put(i + 1, 2000 + i, 0, "{}")
    claims = await asyncio.gather(
        *(s.inbox_claim(f"c{n}", 30, 3) for n, s in enumerate([store, replica] * 6))
    )
    got = [batch.key for batches in claims for batch in batches]
    assert len(got) == len(set(got)) == 30, "no conversation twice, none left behind"


async def test_replicas_share_one_rate_budget(store: Store, replica: Store) -> None:
    waits = await asyncio.gather(
        *(s.take_rate_tokens("bot", 500.0, 1.0, 30) for s in [store, replica] * 40)
    )
    assert sum(1 for w in waits if w == 0) == 30
    assert all(w == pytest.approx(1.0) for w in waits if w != 0)


async def test_rate_tokens_without_a_time_count_the_moment_they_are_granted(
    store: Store, database_url: str
) -> None:
    assert await store.take_rate_tokens("bot", None, 1.0, 1) == 0
    await asyncio.sleep(0.3)
    assert 0.5 < await store.take_rate_tokens("bot", None, 1.0, 1) < 0.75
    if not database_url.startswith("postgres"):
        return
    # A call held up (here by another replica holding the bucket) is counted when it gets
    # through, not when it was asked: else it expires early and calls bunch up behind it.
    await asyncio.sleep(0.75)
    holder = await asyncpg.connect(database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock(7303, hashtext('bot'))")
        held_up = asyncio.create_task(store.take_rate_tokens("bot", None, 1.0, 1))
        await asyncio.sleep(0.5)
        await holder.execute("SELECT pg_advisory_unlock(7303, hashtext('bot'))")
        assert await held_up == 0
    finally:
        await holder.close()
    assert await store.take_rate_tokens("bot", None, 1.0, 1) > 0.8


async def test_replicas_racing_for_the_lead_get_one_leader(store: Store, replica: Store) -> None:
    won = await asyncio.gather(
        *(s.try_lead("polling", f"r{n}", 30) for n, s in enumerate([store, replica] * 5))
    )
    assert sum(won) == 1


async def test_replicas_starting_a_conversation_at_once_agree_on_it(
    store: Store, replica: Store
) -> None:
    key = ChatKey(-42, 3)
    ids = await asyncio.gather(*(s.active_conversation(key) for s in [store, replica] * 5))
    assert len(set(ids)) == 1
    fresh = await replica.new_conversation(key)
    assert fresh != ids[0] and await replica.active_conversation(key) == fresh


FIRST_RATE_FUNCTION = """
CREATE OR REPLACE FUNCTION take_rate_tokens(
    p_bucket TEXT, p_now DOUBLE PRECISION, p_window DOUBLE PRECISION, p_limit INTEGER
) RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rate_events (bucket, taken_at) VALUES (p_bucket, p_now);
    RETURN 0;
END
$$;
"""


async def test_a_database_from_before_grant_time_counting_gets_it(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        return  # SQLite counts in the process; nothing in its schema changed
    store = await open_store(database_url)
    await store.close()
    connection = await asyncpg.connect(database_url)
    try:
        # As the step before left it: a function that takes the caller's time (NULL fails there).
        await connection.execute(FIRST_RATE_FUNCTION)
        before = latest_version() - 1
        await connection.execute("DELETE FROM schema_version WHERE version > $1", before)
    finally:
        await connection.close()
    upgraded = await open_store(database_url)
    try:
        assert await upgraded.schema_version() == latest_version()
        assert await upgraded.take_rate_tokens("bot", None, 1.0, 1) == 0
        assert await upgraded.take_rate_tokens("bot", None, 1.0, 1) > 0.5
    finally:
        await upgraded.close()


async def test_a_stop_published_on_one_replica_reaches_the_others(
    store: Store, replica: Store, database_url: str
) -> None:
    heard: list[tuple[ChatKey, str]] = []
    await replica.listen_stops(lambda key, token: heard.append((key, token)))
    sent = await store.publish_stop(B, "tok-1")
    if database_url.startswith("sqlite"):
        assert sent is False, "one process: nobody else can be running the answer"
        return
    assert sent is True
    for _ in range(100):
        if heard:
            break
        await asyncio.sleep(0.02)
    assert heard == [(B, "tok-1")]
