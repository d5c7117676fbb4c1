"""Reasoning models: REASONING_EFFORT, the thinking status, collapsed reasoning."""

from __future__ import annotations

import json

from tests.conftest import USER, Harness
from tests.fakes.openai import Reasoning, Text, Texts
from tests.provider_harness import stored


async def test_effort_is_sent_only_when_set(harness: Harness) -> None:
    harness.provider.script(Text("plain"))
    harness.say("a")
    await harness.answer()
    assert "reasoning_effort" not in harness.provider.chat_requests()[0]
    await harness.restart(reasoning_effort="high")
    harness.provider.script(Text("deep"))
    harness.say("b")
    await harness.answer(count=2, turns=2)
    assert harness.provider.chat_requests()[-1]["reasoning_effort"] == "high"


async def test_thinking_is_shown_with_seconds_then_replaced_by_the_answer(
    harness: Harness,
) -> None:
    harness.provider.script(
        Reasoning("First, "),
        Reasoning("consider.", delay=1.2),
        Texts(["The ", "answer."], delay=0.3),
    )
    harness.say("hard question")
    (text,) = await harness.answer()
    assert text == "The answer."
    (message,) = harness.telegram.bot_messages(USER)
    versions = [t or "" for t, _ in message.history]
    assert any("Thinking" in v and "(1 s)" in v for v in versions), versions
    assert "consider" not in text
    assert [r.content for r in await stored(harness)] == ["hard question", "The answer."]


async def test_collapsed_reasoning_sits_above_the_answer_in_an_expandable_quote(
    harness: Harness,
) -> None:
    await harness.restart(show_reasoning="collapsed")
    harness.provider.script(Reasoning("Greeting, so reply warmly."), Texts(["Hello ", "**you**"]))
    harness.say("hi")
    await harness.answer()
    (message,) = harness.telegram.bot_messages(USER)
    assert message.text == "Greeting, so reply warmly.\n\nHello you"
    quote = [e for e in message.entities if e["type"] == "expandable_blockquote"]
    assert quote == [{"type": "expandable_blockquote", "offset": 0, "length": 26}]
    bold = [e for e in message.entities if e["type"] == "bold"]
    assert bold == [{"type": "bold", "offset": 34, "length": 3}]
    records = await stored(harness)
    assert records[-1].content == "Hello **you**"
    harness.provider.script(Text("again"))
    harness.say("more")
    await harness.answer(count=2, turns=2)
    assert "reply warmly" not in json.dumps(harness.provider.last_messages())
