"""Streams that end wrong are told apart (issue 9 item 7), through the real Application."""

from __future__ import annotations

import itertools

from tests.conftest import USER, Harness
from tests.fakes.openai import (
    CorruptChunk,
    Drop,
    EmptyStream,
    StopWithoutDone,
    Text,
    Texts,
    context_length_exceeded,
    rate_limited,
    tool_call,
)
from tests.provider_harness import dialect_bot, dialect_provider, stored

__all__ = ["dialect_bot", "dialect_provider"]  # fixtures: the tests marked so run per dialect


async def _turn(h: Harness, text: str = "hi") -> str:
    h.say(text)
    done = h.turns_done(USER) + 1
    return (await h.answer(turns=done, count=len(h.telegram.bot_messages(USER)) or 1))[-1]


async def test_stream_that_just_stops_is_marked_and_stored_as_interrupted(
    dialect_bot: Harness,
) -> None:
    dialect_bot.provider.script(Texts(["Twelve words ", "of forty"]), StopWithoutDone())
    text = await _turn(dialect_bot)
    assert text.startswith("Twelve words of forty")
    assert "interrupted" in text
    assert (await stored(dialect_bot))[-1].status == "interrupted"
    assert len(dialect_bot.provider.chat_requests()) == 1


async def test_empty_event_stream_is_retried_like_a_drop(dialect_bot: Harness) -> None:
    dialect_bot.provider.script(EmptyStream())
    dialect_bot.provider.script(Text("answered"))
    assert await _turn(dialect_bot) == "answered"
    assert len(dialect_bot.provider.chat_requests()) == 2
    assert not any("OPENAI_BASE_URL" in m.text for m in dialect_bot.telegram.bot_messages(USER))


async def test_drop_during_tool_call_fragments_is_retried(dialect_bot: Harness) -> None:
    dialect_bot.provider.script(
        tool_call(0, "call_1", "get_weather", {"location": "Hanoi"}), Drop()
    )
    dialect_bot.provider.script(Text("no tools needed"))
    assert await _turn(dialect_bot) == "no tools needed"
    assert len(dialect_bot.provider.chat_requests()) == 2


async def test_corrupt_chunk_is_a_bad_answer_not_a_broken_connection(harness: Harness) -> None:
    await harness.restart(provider_max_retries=0)
    harness.provider.script(Text("Part of it"), CorruptChunk())
    text = await _turn(harness)
    assert text.startswith("Part of it")
    assert "broken answer" in text and "connection" not in text
    harness.provider.script(CorruptChunk())
    text = await _turn(harness, "again")
    assert "broken answer" in text and "connection" not in text


async def test_corrupt_chunk_before_any_text_is_retried(dialect_bot: Harness) -> None:
    dialect_bot.provider.script(CorruptChunk())
    dialect_bot.provider.script(Text("fine now"))
    assert await _turn(dialect_bot) == "fine now"


async def test_one_message_too_big_for_the_model_is_said_and_left_out(harness: Harness) -> None:
    harness.provider.script(Text("first answer"))
    await _turn(harness, "short question")
    harness.provider.script(context_length_exceeded())
    harness.provider.script(context_length_exceeded())
    text = await _turn(harness, "x" * 3000)
    assert "too long for the model" in text and "/new" not in text
    bodies = harness.provider.chat_requests()
    assert len(bodies) == 3, "shrunk once, then no identical retry"
    assert [m["content"] for m in bodies[2]["messages"][1:]] == ["x" * 3000]
    harness.provider.script(Text("next works"))
    assert await _turn(harness, "next") == "next works"
    sent = [m["content"] for m in harness.provider.last_messages()[1:]]
    assert sent == ["short question", "first answer", "next"]
    records = await stored(harness)
    assert [r.status for r in records if r.content == "x" * 3000] == ["failed"]


async def test_rate_limit_without_retry_after_backs_off_longer(harness: Harness) -> None:
    await harness.restart(max_retry_wait=1.5)
    harness.provider.script(rate_limited(retry_after=None))
    harness.provider.script(rate_limited(retry_after=None))
    harness.provider.script(Text("after waiting"))
    assert await _turn(harness, "busy?") == "after waiting"
    times = [r.time for r in harness.provider.requests if r.path.endswith("/chat/completions")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2 and all(gap >= 1.1 for gap in gaps), gaps
    (message,) = harness.telegram.bot_messages(USER)
    versions = [t or "" for t, _ in message.history]
    assert any("busy; trying again" in v for v in versions), versions
