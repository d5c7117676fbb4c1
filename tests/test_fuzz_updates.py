"""Fuzz: thousands of generated and mutated updates through the real bot, fed by the fake Telegram.

No update, however malformed, crashes a handler or stops the dispatcher, none reaches the
model for someone who is not allowed, and the next normal message is still answered.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.conftest import Harness
from tests.fakes.openai import Text
from tests.update_strategies import JSON, _ids, mutated, realistic_update, scrub, spec_update

ALLOWED = 7_000_001
ADMIN = 7_000_002
STRANGERS = [5151, 6262, 7_000_003, 1, 2**40]
COUNT = int(os.environ.get("FUZZ_UPDATES", "2000"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))  # 0: the same updates every run


def _updates(count: int, bot_messages: list[JSON], senders: list[int] = STRANGERS) -> list[JSON]:
    """`count` updates: spec-generated, realistic and mutated, from these senders' ids."""
    ids = _ids(senders)
    realistic = realistic_update(senders, bot_messages)
    one = st.one_of(spec_update(ids), realistic, mutated(realistic), mutated(spec_update(ids)))
    batch = st.lists(one, min_size=10, max_size=10)
    found: list[JSON] = []

    @settings(
        max_examples=max(count // 10, 1),
        deadline=None,
        database=None,
        derandomize=SEED == 0,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED)
    @given(batch)
    def collect(updates: list[JSON]) -> None:
        found.extend(updates)

    collect()
    return found[:count]


async def _inbox_counts(harness: Harness) -> tuple[int, int]:
    """(highest stored update_id, updates not yet done) in the SQLite inbox."""
    db: Any = harness.store._db  # type: ignore[attr-defined]
    cur = await db.execute("SELECT MAX(update_id), COUNT(*) - COUNT(done_at) FROM inbox")
    highest, pending = await cur.fetchone()
    return highest or 0, pending or 0


async def _drained(harness: Harness, last_id: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        highest, pending = await _inbox_counts(harness)
        if highest >= last_id and pending == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"inbox not drained: highest {highest}/{last_id}, {pending} pending")
        await asyncio.sleep(0.1)


async def _flooded(harness: Harness) -> None:
    """Wait until everything pushed so far (and one last ordinary message) was handled."""
    harness.telegram.user_message(STRANGERS[1], "still there?")
    last_id = harness.telegram.updates[-1]["update_id"]
    await _drained(harness, last_id, timeout=60)


def _crashes(harness: Harness) -> list[str]:
    """Unhandled errors, and tracebacks of anything but Telegram refusing a call."""
    return [
        line
        for line in harness.log_lines
        if "unhandled error" in line
        or ("Traceback" in line and not line.rstrip().split("\n")[-1].startswith("telegram.error."))
    ]


def _add_chats(harness: Harness, senders: list[int]) -> None:
    for uid in senders:
        harness.telegram.add_chat(uid, "private", first_name="Mallory")
        harness.telegram.add_chat(-(10**12) - uid, "supergroup", title="Group")


async def test_fuzzed_updates_never_crash_nor_reach_the_model_for_strangers(
    harness: Harness,
) -> None:
    if "postgresql" in harness.database_url:
        pytest.skip("the fuzz runs on SQLite only")
    started = time.monotonic()
    await harness.restart(allowed_user_ids=str(ALLOWED), admin_user_ids=str(ADMIN))
    _add_chats(harness, STRANGERS)
    harness.provider.script(Text("Hello."))
    harness.say("hi", chat_id=ALLOWED)
    await harness.answer(ALLOWED)
    asked = len(harness.provider.chat_requests())
    bot_messages = [
        {**m.raw, "reply_markup": m.reply_markup} for m in harness.telegram.bot_messages(ALLOWED)
    ]
    updates = await asyncio.to_thread(_updates, COUNT, bot_messages)
    for payload in updates:
        harness.telegram.push_update(scrub(payload, {ALLOWED, ADMIN}, STRANGERS[0]))
    await _flooded(harness)

    runtime = harness.runtime
    assert runtime is not None and runtime.dispatcher is not None
    assert runtime.dispatcher.processed >= len(updates) // 2, "most updates reach the handlers"
    assert _crashes(harness) == []
    assert len(harness.provider.chat_requests()) == asked, "a stranger reached the model"
    harness.provider.script(Text("Still here."))
    harness.say("and now?", chat_id=ALLOWED)
    texts = await harness.answer(ALLOWED, count=2, turns=2, timeout=15)
    assert texts[-1] == "Still here."
    assert _crashes(harness) == []
    assert time.monotonic() - started < 90


async def test_fuzzed_updates_from_allowed_users_never_crash(harness: Harness) -> None:
    if "postgresql" in harness.database_url:
        pytest.skip("the fuzz runs on SQLite only")
    started = time.monotonic()
    await harness.restart(allowed_user_ids=str(ALLOWED), admin_user_ids=str(ADMIN))
    _add_chats(harness, [ALLOWED, ADMIN])
    harness.provider.set_default(lambda body: [Text("ok")])
    harness.say("hi", chat_id=ALLOWED)
    await harness.answer(ALLOWED)
    bot_messages = [
        {**m.raw, "reply_markup": m.reply_markup} for m in harness.telegram.bot_messages(ALLOWED)
    ]
    count = int(os.environ.get("FUZZ_ALLOWED_UPDATES", "200"))
    updates = await asyncio.to_thread(_updates, count, bot_messages, [ALLOWED, ADMIN])
    for payload in updates:
        harness.telegram.push_update(payload)
    await _flooded(harness)
    assert _crashes(harness) == []
    harness.provider.script(Text("Still here."))
    harness.say("and now?", chat_id=ALLOWED)
    await harness.telegram.wait_for(
        lambda: harness.telegram.last_text(ALLOWED) == "Still here.", timeout=15
    )
    assert _crashes(harness) == []
    assert time.monotonic() - started < 90
