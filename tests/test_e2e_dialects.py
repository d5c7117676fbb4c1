"""Every provider's dialect (tests/fakes/dialects.py) through the real Application."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import USER, Harness
from tests.fakes.openai import (
    FakeOpenAI,
    HttpError,
    Reasoning,
    Text,
    Texts,
    insufficient_quota,
    invalid_api_key,
    rate_limited,
    server_error,
    tool_call,
)
from tests.fakes.openmeteo import FakeOpenMeteo
from tests.fakes.telegram import FakeTelegram
from tests.media_samples import photo
from tests.provider_harness import (
    DIALECT_MODELS,
    dialect_bot,
    dialect_provider,
    running,
    stored,
)

__all__ = ["dialect_bot", "dialect_provider"]  # fixtures used here


@pytest.fixture
async def bot(dialect_bot: Harness) -> Harness:
    return dialect_bot


async def _turn(h: Harness, text: str = "hi") -> str:
    h.say(text)
    done = h.turns_done(USER) + 1
    return (await h.answer(turns=done, count=len(h.telegram.bot_messages(USER)) or 1))[-1]


async def test_plain_chat_is_streamed_and_stored(bot: Harness) -> None:
    fake = bot.provider
    fake.script(Texts(["Xin ", "chào, ", "bạn!"], delay=0.05))
    assert await _turn(bot, "chào") == "Xin chào, bạn!"
    (request,) = fake.chat_requests()
    assert request["model"] == DIALECT_MODELS[fake.dialect.name]
    assert request["stream"] is True
    assert [r.path for r in fake.requests] == [fake.dialect.chat_path]
    records = await stored(bot)
    assert [(r.role, r.content, r.status) for r in records] == [
        ("user", "chào", "complete"),
        ("assistant", "Xin chào, bạn!", "complete"),
    ]
    if fake.dialect.name == "acedata":
        assert all(c.get("recipient") == "all" for c in fake.emitted_chunks)
        assert (
            sum(1 for c in fake.emitted_chunks if c["choices"][0]["delta"] == {"role": "assistant"})
            >= 2
        )


async def test_whole_answer_to_a_streamed_request(bot: Harness) -> None:
    bot.provider.ignore_stream = True
    bot.provider.script(Text("One piece."))
    assert await _turn(bot) == "One piece."
    assert (await stored(bot))[-1].status == "complete"


async def test_each_error_class_gets_the_same_message(bot: Harness) -> None:
    await bot.restart(provider_max_retries=1)
    fake = bot.provider
    fake.script(invalid_api_key())
    assert "OPENAI_API_KEY" in await _turn(bot)
    fake.script(insufficient_quota())
    assert "credit" in await _turn(bot)
    fake.script(HttpError(400, "Bad request: missing parameter", code="token_mismatched"))
    assert "rejected the request" in await _turn(bot)
    fake.script(server_error(500))
    fake.script(server_error(500))
    assert "server error" in await _turn(bot)
    fake.script(rate_limited(retry_after=1))
    fake.script(Text("after the wait"))
    assert await _turn(bot) == "after the wait"
    assert len(fake.chat_requests()) == 1 + 1 + 1 + 2 + 2


async def test_reasoning_is_never_mixed_into_the_answer(bot: Harness) -> None:
    bot.provider.script(Reasoning("Let me think about greetings."), Texts(["Hi", " there"]))
    assert await _turn(bot) == "Hi there"
    bot.provider.script(Text("again"))
    await _turn(bot, "more")
    sent = json.dumps(bot.provider.last_messages())
    assert "think about greetings" not in sent
    if bot.provider.dialect.name == "aiid":
        assert any("reasoning_content" in str(c) for c in bot.provider.emitted_chunks)


async def test_tools_where_the_guide_supports_them(
    telegram: FakeTelegram, dialect_provider: FakeOpenAI, tmp_path: Path
) -> None:
    if not dialect_provider.dialect.tools:
        pytest.skip("the guide does not document tools")
    async with (
        FakeOpenMeteo() as weather,
        running(
            telegram,
            dialect_provider,
            tmp_path / "bot.db",
            tools="weather",
            weather_api_url=weather.weather_url,
            geocoding_api_url=weather.geocoding_url,
        ) as bot,
    ):
        fake = bot.provider
        fake.script(tool_call(0, "call_1", "get_weather", {"location": "Hanoi"}, split=3))
        fake.script(Text("Hanoi: warm."))
        assert await _turn(bot, "weather in Hanoi?") == "Hanoi: warm."
        first, second = fake.chat_requests()
        assert [t["function"]["name"] for t in first["tools"]] == ["get_weather"]
        tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
        assert tool_messages and tool_messages[0]["tool_call_id"] == "call_1"


async def test_vision_where_the_guide_supports_it(bot: Harness) -> None:
    if not bot.provider.dialect.vision:
        pytest.skip("the guide does not document vision")
    pid = bot.telegram.add_file(photo(300, 200), "photos/p.jpg")[0]
    bot.provider.script(Text("A picture."))
    bot.telegram.user_message(USER, None, photo_file_ids=[pid], caption="Hình này là gì?")
    assert await bot.answer() == ["A picture."]
    content = bot.provider.chat_requests()[0]["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "Hình này là gì?"}
    assert content[1]["type"] == "image_url"
    assert content[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
