"""A flood of messages costs one turn, a script hits the per-user rate, others are unaffected."""

from __future__ import annotations

import time

from tests.conftest import USER, Harness
from tests.fakes.openai import Text, Texts

OTHER = 5151


def _user_texts(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


async def test_messages_sent_during_a_turn_are_answered_together(harness: Harness) -> None:
    harness.provider.script(Texts([f"a{i} " for i in range(30)], delay=0.02))
    harness.provider.script(Text("All five, answered at once."))
    harness.say("first")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_messages(USER))
    for i in range(5):
        harness.say(f"more {i}")
    texts = await harness.answer(count=2, turns=2, timeout=10)
    assert texts[-1] == "All five, answered at once."
    requests = harness.provider.chat_requests()
    assert len(requests) == 2, "one model call for the five waiting messages"
    assert _user_texts(requests[1])[-5:] == [f"more {i}" for i in range(5)]
    stored = [m.content for m in await harness.stored() if m.role == "user"]
    assert stored == ["first", *[f"more {i}" for i in range(5)]], "each stored as its own"


async def test_a_flood_from_one_user_does_not_slow_another(harness: Harness) -> None:
    harness.provider.set_default(lambda body: [Texts(["ok ", "then"], delay=0.05)])
    for i in range(200):
        harness.say(f"spam {i}")
    started = time.monotonic()
    harness.telegram.user_message(OTHER, "hello, I am someone else")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_messages(OTHER), timeout=10)
    other_latency = time.monotonic() - started
    await harness.telegram.wait_idle(USER, quiet=1.0, timeout=30)
    flood_calls = [r for r in harness.provider.chat_requests() if "spam" in str(r["messages"])]
    assert len(flood_calls) <= 5, "30 messages a minute at most, ten per merged turn"
    assert other_latency < 2.0
    notices = [m.text for m in harness.telegram.bot_messages(USER) if "too fast" in (m.text or "")]
    assert len(notices) == 1, "told once"
