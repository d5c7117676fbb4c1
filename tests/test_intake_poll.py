"""The long-polling loop against the fake Bot API over HTTP, with the real store.

Every update is in the inbox before the offset that confirms it is sent; kills, outages
and a second replica lose or duplicate nothing; a wrong token stops polling at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import Bot, Update

from handlers.intake_poll import (
    LEASE_NAME,
    STORE_WAVE,
    Poller,
    PollerConfig,
    PollingTokenError,
)
from handlers.telegram_request import AiohttpRequest
from storage import Store, open_store
from tests.conftest import TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.intake_helpers import inbox, make_bot

FAST = PollerConfig(
    timeout=1, read_margin=0.5, lease=1.5, retry_lead=0.1, backoff_initial=0.05, backoff_max=0.2
)


@pytest.fixture
async def replica(store: Store, database_url: str) -> AsyncIterator[Store]:
    """Another process's store on the same database (the same store on SQLite)."""
    if database_url.startswith("sqlite"):
        yield store
        return
    other = await open_store(database_url)
    yield other
    await other.close()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, limits_enabled=False) as fake:
        yield fake
        assert fake.spec_violations == []


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    made = make_bot(telegram, TOKEN)
    await made.initialize()
    yield made
    await made.shutdown()


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self.listeners: list[Callable[[], None]] = []

    def __call__(self) -> None:
        self.count += 1
        for listener in self.listeners:
            listener()


def _poller(
    store: Store,
    bot: Bot,
    owner: str,
    wake: Callable[[], None] | None = None,
    config: PollerConfig = FAST,
) -> Poller:
    return Poller(
        store,
        bot,
        AiohttpRequest(connection_pool_size=1),
        wake or (lambda: None),
        owner=owner,
        config=config,
    )


def _send(telegram: FakeTelegram, count: int, chat_id: int = 42) -> list[int]:
    ids = []
    for n in range(count):
        telegram.user_message(chat_id, f"message {n}")
        ids.append(telegram.updates[-1]["update_id"])
    return ids


async def _stored_ids(database_url: str, expected: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        ids = sorted(await inbox(database_url))
        if len(ids) >= expected or time.monotonic() > deadline:
            return ids
        await asyncio.sleep(0.05)


def _confirm_only_stored(telegram: FakeTelegram, database_url: str, sent: list[int]) -> list[str]:
    """A getUpdates hook: the offset it carries must confirm only updates already stored."""
    problems: list[str] = []

    async def check(params: dict[str, Any]) -> None:
        offset = params.get("offset")
        if not isinstance(offset, int):
            return
        stored = await inbox(database_url)
        missing = [u for u in sent if u < offset and u not in stored]
        if missing:
            problems.append(f"offset {offset} confirms {missing} before they were stored")

    telegram.on_get_updates.append(check)
    return problems


async def test_every_update_is_stored_before_telegram_is_told(
    telegram: FakeTelegram, store: Store, bot: Bot, database_url: str
) -> None:
    sent: list[int] = []
    problems = _confirm_only_stored(telegram, database_url, sent)
    wakes = Wakes()
    poller = _poller(store, bot, "r1", wakes)
    await poller.start()
    try:
        for _ in range(4):
            sent += _send(telegram, 3)
            await asyncio.sleep(0.1)
        telegram.user_message(-1005, "/stop", chat_type="supergroup")
        sent.append(telegram.updates[-1]["update_id"])
        assert await _stored_ids(database_url, len(sent)) == sent
        await telegram.wait_for(lambda: telegram.updates == [], timeout=5)
    finally:
        await poller.stop()
    assert problems == []
    assert wakes.count >= 1
    stored = await inbox(database_url)
    assert stored[sent[-1]][0] == (-1005, -1), "/stop goes to the control lane"
    for update_id, (_lane, payload) in stored.items():
        assert payload["update_id"] == update_id
        assert Update.de_json(payload, None).update_id == update_id
    getupdates = telegram.calls_for("getUpdates")
    assert set(getupdates[0].params["allowed_updates"]) == set(Update.ALL_TYPES)


async def test_a_poller_killed_between_polls_loses_and_duplicates_nothing(
    telegram: FakeTelegram, store: Store, bot: Bot, database_url: str
) -> None:
    sent = _send(telegram, 5)
    problems = _confirm_only_stored(telegram, database_url, sent)
    running: list[asyncio.Task[None]] = []
    wakes = Wakes()
    # The process dies right after storing, before the next getUpdates: cancelled from
    # inside the batch's wake-up, not after a waiter's extra loop turns (a race on 3.11).
    wakes.listeners.append(lambda: running[0].cancel())
    poller = _poller(store, bot, "replica-1", wakes)
    running.append(await poller.start())
    await asyncio.wait(running, timeout=5)
    assert running[0].cancelled()
    assert len(telegram.updates) == 5, "nothing was confirmed to Telegram yet"
    sent += _send(telegram, 4)

    restarted = _poller(store, bot, "replica-1")
    await restarted.start()
    try:
        assert await _stored_ids(database_url, len(sent)) == sent
        await telegram.wait_for(lambda: telegram.updates == [], timeout=5)
    finally:
        await restarted.stop()
    assert problems == []


async def test_polling_rides_out_bad_gateways_and_timeouts(
    telegram: FakeTelegram,
    store: Store,
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.intake_poll")
    sent = _send(telegram, 2)
    telegram.fail_next("getUpdates", 502, "Bad Gateway", times=3)
    poller = _poller(store, bot, "r1")
    await poller.start()
    try:
        await telegram.wait_for(
            lambda: len([c for c in telegram.calls_for("getUpdates") if c.error]) == 3
        )
        telegram.hang_next("getUpdates", 2.5, times=2)  # longer than the read timeout (1.5 s)
        sent += _send(telegram, 3)
        assert await _stored_ids(database_url, len(sent), timeout=15) == sent
        sent += _send(telegram, 2)
        assert await _stored_ids(database_url, len(sent)) == sent
    finally:
        await poller.stop()
    failures = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert len(failures) == 5, failures
    assert any("TimedOut" in line for line in failures)
    assert any("Bad Gateway" in line for line in failures)
    assert all("getUpdates" in line for line in failures), "each line says what fails"
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_a_wrong_token_stops_polling_at_once(
    telegram: FakeTelegram, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "123456789:AAE-wrong-token-SECRET_zyxwvutsrqponm"
    bot = make_bot(telegram, wrong)
    await bot.request.initialize()
    poller = _poller(store, bot, "r1")
    started = time.monotonic()
    try:
        task = await poller.start()
        with pytest.raises(PollingTokenError):
            await asyncio.wait_for(task, 5)
    finally:
        await poller.stop()
        await bot.request.shutdown()
    assert time.monotonic() - started < 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "TELEGRAM_BOT_TOKEN" in errors[0].getMessage()
    assert wrong not in caplog.text


async def test_polling_removes_a_webhook_but_keeps_its_pending_updates(
    telegram: FakeTelegram, store: Store, bot: Bot, database_url: str
) -> None:
    telegram.webhook = {"url": "https://example.com/hook"}
    sent = _send(telegram, 2)
    poller = _poller(store, bot, "r1")
    await poller.start()
    try:
        assert await _stored_ids(database_url, len(sent)) == sent
    finally:
        await poller.stop()
    (call,) = telegram.calls_for("deleteWebhook")
    assert call.params.get("drop_pending_updates") in (None, False)
    assert telegram.webhook is None


async def test_stop_ends_a_long_poll_at_once_and_frees_the_lease(
    telegram: FakeTelegram, store: Store, bot: Bot
) -> None:
    config = PollerConfig(timeout=30, retry_lead=0.1, backoff_initial=0.05)
    poller = _poller(store, bot, "r1", config=config)
    await poller.start()
    await telegram.wait_for(lambda: telegram.calls_for("getUpdates"), timeout=5)
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await poller.stop()
    assert time.monotonic() - started < 1
    assert await store.try_lead(LEASE_NAME, "someone-else", 10), "the lease was given up"


async def test_of_two_replicas_one_polls_and_the_other_takes_over(
    telegram: FakeTelegram, store: Store, replica: Store, bot: Bot, database_url: str
) -> None:
    first, second = _poller(store, bot, "replica-a"), _poller(replica, bot, "replica-b")
    await first.start()
    await telegram.wait_for(lambda: first.leading, timeout=5)
    await second.start()
    sent = _send(telegram, 3)
    try:
        assert await _stored_ids(database_url, len(sent)) == sent
        await asyncio.sleep(0.5)
        assert first.leading and not second.leading
        await first.stop()
        await telegram.wait_for(lambda: second.leading, timeout=5)
        sent += _send(telegram, 3)
        assert await _stored_ids(database_url, len(sent)) == sent
    finally:
        await first.stop()
        await second.stop()
    conflicts = [c for c in telegram.calls_for("getUpdates") if c.error and "Conflict" in c.error]
    assert conflicts == [], "never two long polls at once"


async def test_the_lease_is_renewed_during_a_long_poll_longer_than_it(
    telegram: FakeTelegram, store: Store, replica: Store, bot: Bot, database_url: str
) -> None:
    config = PollerConfig(timeout=3, read_margin=0.5, lease=0.9, retry_lead=0.05)
    first = _poller(store, bot, "replica-a", config=config)
    second = _poller(replica, bot, "replica-b", config=config)
    await first.start()
    await telegram.wait_for(lambda: telegram.calls_for("getUpdates"), timeout=5)
    await second.start()
    try:
        await asyncio.sleep(2.5)  # inside one long poll of 3 s, the lease ran out twice over
        assert first.leading and not second.leading
        sent = _send(telegram, 2)
        assert await _stored_ids(database_url, len(sent)) == sent
    finally:
        await first.stop()
        await second.stop()
    assert len(telegram.calls_for("getUpdates")) >= 2
    conflicts = [c for c in telegram.calls_for("getUpdates") if c.error and "Conflict" in c.error]
    assert conflicts == []


async def test_a_replica_takes_over_when_the_poller_dies_without_a_word(
    telegram: FakeTelegram, store: Store, replica: Store, bot: Bot, database_url: str
) -> None:
    first, second = _poller(store, bot, "replica-a"), _poller(replica, bot, "replica-b")
    task = await first.start()
    await telegram.wait_for(lambda: first.leading, timeout=5)
    await second.start()
    try:
        task.cancel()  # killed: the lease is not given up, it runs out
        sent = _send(telegram, 2)
        died = time.monotonic()
        await telegram.wait_for(lambda: second.leading, timeout=10)
        assert time.monotonic() - died <= FAST.lease + 1
        assert await _stored_ids(database_url, len(sent)) == sent
    finally:
        await second.stop()
        await first.stop()


class CountingStore:
    """The real store, counting how updates reach it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.waves: list[int] = []

    async def inbox_put_many(self, updates: list[Any]) -> int:
        self.waves.append(len(updates))
        return await self._store.inbox_put_many(updates)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_big_batch_is_stored_in_waves_that_each_wake_the_workers(
    telegram: FakeTelegram, store: Store, bot: Bot, database_url: str
) -> None:
    sent = [u for chat in range(20) for u in _send(telegram, 1, chat_id=500 + chat)]
    counting = CountingStore(store)
    woken = Wakes()
    await store.listen_inbox(woken)
    poller = _poller(counting, bot, "r1")  # type: ignore[arg-type]
    await poller.start()
    try:
        assert await _stored_ids(database_url, len(sent)) == sent
    finally:
        await poller.stop()
    assert counting.waves == [STORE_WAVE, STORE_WAVE, 20 - 2 * STORE_WAVE]
    assert woken.count >= 3, "the workers hear of each wave as it is stored"


async def test_an_update_only_the_standard_library_can_read_is_stored_and_polling_goes_on(
    telegram: FakeTelegram, store: Store, bot: Bot, database_url: str
) -> None:
    sent = _send(telegram, 1)
    odd = telegram.updates[-1]["message"]
    odd["text"] = "half a pair: \ud800"  # orjson refuses the answer: PTB's parser reads it
    odd["forged_number"] = 2**70  # ...and this integer orjson cannot write back
    poller = _poller(store, bot, "r1")
    await poller.start()
    try:
        assert await _stored_ids(database_url, 1) == sent
        sent += _send(telegram, 2)
        assert await _stored_ids(database_url, len(sent)) == sent, "polling goes on"
    finally:
        await poller.stop()
    stored = await inbox(database_url)
    assert stored[sent[0]][1]["message"]["forged_number"] == 2**70
