"""Provider failures become short translated messages; the bot keeps serving."""

from __future__ import annotations

from tests.conftest import USER, Harness
from tests.fakes.openai import (
    Drop,
    ErrorInStream,
    HttpError,
    Stall,
    Text,
    Texts,
    insufficient_quota,
    invalid_api_key,
    model_not_found,
    rate_limited,
    region_forbidden,
    server_error,
)


async def _one_turn(harness: Harness, text: str = "hi", **kw) -> str:
    harness.say(text, **kw)
    texts = await harness.answer(turns=harness.turns_done(USER) + 1, count=1)
    return texts[-1]


async def test_wrong_key_is_explained(harness: Harness) -> None:
    harness.provider.script(invalid_api_key())
    text = await _one_turn(harness)
    assert "OPENAI_API_KEY" in text
    assert len(harness.provider.chat_requests()) == 1


async def test_forbidden_and_unknown_model(harness: Harness) -> None:
    harness.provider.script(region_forbidden())
    assert "denied" in await _one_turn(harness)
    harness.provider.script(model_not_found("gpt-4o-mini"))
    harness.say("again")
    texts = await harness.answer(count=2, turns=2)
    assert "does not exist" in texts[-1] and "gpt-4o-mini" in texts[-1]


async def test_rate_limit_is_retried_after_retry_after(harness: Harness) -> None:
    harness.provider.script(rate_limited(retry_after=1))
    harness.provider.script(Text("after the wait"))
    assert await _one_turn(harness) == "after the wait"
    first, second = [r for r in harness.provider.requests if r.path.endswith("/chat/completions")]
    assert second.time - first.time >= 0.95


async def test_quota_is_not_retried(harness: Harness) -> None:
    harness.provider.script(insufficient_quota())
    text = await _one_turn(harness)
    assert "credit" in text
    assert len(harness.provider.chat_requests()) == 1


async def test_server_errors_are_retried_then_reported(harness: Harness) -> None:
    harness.provider.script(server_error(500))
    harness.provider.script(server_error(503))
    harness.provider.script(Text("recovered"))
    assert await _one_turn(harness) == "recovered"
    for _ in range(4):
        harness.provider.script(server_error(500))
    harness.say("again")
    texts = await harness.answer(count=2, turns=2, timeout=20)
    assert "server error" in texts[-1]
    assert len(harness.provider.chat_requests()) == 3 + 4


async def test_stalled_stream_keeps_the_text_and_marks_it(harness: Harness) -> None:
    harness.provider.script(Text("The beginning of "), Text("an answer"), Stall(5))
    text = await _one_turn(harness)
    assert text.startswith("The beginning of an answer")
    assert "interrupted" in text and "stopped sending" in text
    answers = [(m.content, m.status) for m in await harness.stored() if m.role == "assistant"]
    assert answers == [("The beginning of an answer", "interrupted")]


async def test_dropped_stream_keeps_the_text_and_the_bot_goes_on(harness: Harness) -> None:
    harness.provider.script(Texts(["Half ", "an answer"]), Drop())
    text = await _one_turn(harness)
    assert text.startswith("Half an answer") and "connection" in text
    harness.provider.script(Text("Next one works."))
    harness.say("next")
    texts = await harness.answer(count=2, turns=2)
    assert texts[-1] == "Next one works."


async def test_error_inside_a_200_stream(harness: Harness) -> None:
    harness.provider.script(Text("Partial"), ErrorInStream("upstream failed"))
    text = await _one_turn(harness)
    assert text.startswith("Partial") and "interrupted" in text


async def test_errors_are_translated(harness: Harness) -> None:
    harness.provider.script(invalid_api_key())
    harness.say("xin chào", language_code="vi")
    texts = await harness.answer()
    assert "Nhà cung cấp" in texts[-1]


async def test_timeout_before_any_chunk_is_reported(harness: Harness) -> None:
    await harness.restart(provider_max_retries=0)
    harness.provider.script(Stall(5))
    text = await _one_turn(harness)
    assert "too long" in text


async def test_other_chats_are_served_while_one_fails(harness: Harness) -> None:
    def answer(body: dict) -> list:
        last = body["messages"][-1]["content"]
        if last == "break":
            return [HttpError(500, "boom", "server_error")]
        return [Text("fine")]

    harness.provider.set_default(answer)
    await harness.restart(provider_max_retries=0)
    harness.say("break", chat_id=777)
    harness.say("hello", chat_id=778)
    assert (await harness.answer(chat_id=778)) == ["fine"]
    bad = await harness.answer(chat_id=777)
    assert "server error" in bad[0]
    assert not any("Traceback" in t for t in bad)


async def test_a_broken_database_still_gets_the_user_an_answer(harness: Harness) -> None:
    # The update is in the inbox; then the database breaks under the turn.
    async def broken(*args: object) -> int:
        raise RuntimeError("database is locked")

    harness.store.add_message = broken  # type: ignore[method-assign]
    harness.say("hello?")
    texts = await harness.answer()
    assert "went wrong" in texts[0]
    assert any("turn crashed" in line for line in harness.log_lines)
