"""Function-calling tools through the real Application: weather, search, failures, history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.conftest import USER, Harness
from tests.fakes.openai import HttpError, Text, Texts, tool_call
from tests.fakes.openmeteo import FakeOpenMeteo
from tests.fakes.search import FakeSearx


@pytest.fixture
async def weather() -> AsyncIterator[FakeOpenMeteo]:
    fake = FakeOpenMeteo()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def searx() -> AsyncIterator[FakeSearx]:
    fake = FakeSearx()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def tools(harness: Harness, weather: FakeOpenMeteo, searx: FakeSearx) -> Harness:
    await harness.restart(
        tools="weather,search",
        weather_api_url=weather.weather_url,
        geocoding_api_url=weather.geocoding_url,
        searxng_url=searx.url,
        search_provider="auto",
    )
    return harness


def _tool_messages(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m["role"] == "tool"]


async def test_weather_question_is_answered_from_real_data(
    tools: Harness, weather: FakeOpenMeteo
) -> None:
    tools.provider.script(
        tool_call(0, "call_w1", "get_weather", {"location": "Hanoi", "days": 2}, split=4)
    )
    tools.provider.script(Texts(["Tomorrow in Hanoi: ", "warm, light rain."], delay=0.3))
    tools.say("what's the weather in Hanoi tomorrow?")
    texts = await tools.answer()
    assert texts == ["Tomorrow in Hanoi: warm, light rain."]
    first, second = tools.provider.chat_requests()
    names = [t["function"]["name"] for t in first["tools"]]
    assert names == ["get_weather", "web_search"]
    assistant = second["messages"][-2]
    assert assistant["tool_calls"][0]["id"] == "call_w1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "location": "Hanoi",
        "days": 2,
    }
    result = json.loads(_tool_messages(second)[0]["content"])
    assert result["place"]["name"] == "Hanoi"
    assert len(result["daily"]) == 2
    assert isinstance(result["current"]["conditions"], str)
    assert any("/search" in p for p in weather.paths()) and any(
        "/forecast" in p for p in weather.paths()
    )
    history = [text for text, _ in tools.telegram.bot_messages(USER)[0].history]
    assert any("Looking up the weather in Hanoi" in (h or "") for h in history)


async def test_search_results_go_to_the_model_with_links(tools: Harness, searx: FakeSearx) -> None:
    searx.delay = 0.3  # long enough for the status to be shown (a fast search may skip it)
    tools.provider.script(tool_call(0, "call_s", "web_search", {"query": "latest python release"}))
    tools.provider.script(Text("Python 3.14 is out [python.org](https://python.org)."))
    tools.say("what is the latest python?")
    texts = await tools.answer()
    assert texts == ["Python 3.14 is out python.org."]
    result = json.loads(_tool_messages(tools.provider.chat_requests()[1])[0]["content"])
    assert result["provider"] == "searxng"
    assert result["results"] and all(r["url"].startswith("http") for r in result["results"])
    assert searx.requests[0].query["q"] == "latest python release"
    history = [text for text, _ in tools.telegram.bot_messages(USER)[0].history]
    assert any("Searching: latest python release" in (h or "") for h in history), history


async def test_two_tools_in_one_step_run_concurrently(
    tools: Harness, weather: FakeOpenMeteo, searx: FakeSearx
) -> None:
    weather.delay = 0.4
    searx.delay = 0.8
    tools.provider.script(
        tool_call(0, "c1", "get_weather", {"location": "Paris"}),
        tool_call(1, "c2", "web_search", {"query": "Paris events"}),
    )
    tools.provider.script(Text("Both done."))
    tools.say("weather and events in Paris")
    assert await tools.answer() == ["Both done."]
    first, second = [r for r in tools.provider.requests if r.path.endswith("/chat/completions")]
    # weather makes two sequential calls (0.8 s), search one (0.8 s): together about 0.8 s
    assert second.time - first.time < 1.3
    ids = [m["tool_call_id"] for m in _tool_messages(tools.provider.chat_requests()[1])]
    assert ids == ["c1", "c2"]


async def test_tool_failures_go_back_to_the_model(tools: Harness, weather: FakeOpenMeteo) -> None:
    weather.fail_with(500)
    tools.provider.script(tool_call(0, "c1", "get_weather", {"location": "Hanoi"}))
    tools.provider.script(Text("The weather service is down, sorry."))
    tools.say("weather?")
    assert await tools.answer() == ["The weather service is down, sorry."]
    assert "error" in json.loads(_tool_messages(tools.provider.chat_requests()[1])[0]["content"])


async def test_unknown_place_and_bad_arguments_are_tool_errors(tools: Harness) -> None:
    tools.provider.script(
        tool_call(0, "c1", "get_weather", {"location": "Nowhereville"}),
        tool_call(1, "c2", "get_weather", '{"location": '),
    )
    tools.provider.script(Text("I could not find it."))
    tools.say("weather in Nowhereville?")
    assert await tools.answer() == ["I could not find it."]
    results = [json.loads(m["content"]) for m in _tool_messages(tools.provider.chat_requests()[1])]
    assert "Nowhereville" in results[0]["error"]
    assert "error" in results[1]


async def test_rounds_are_bounded_and_an_answer_comes_anyway(tools: Harness) -> None:
    await tools.restart(max_tool_rounds=2)

    def keep_calling(body: dict) -> list:
        if body.get("tool_choice") == "none":
            return [Text("Final answer without more tools.")]
        n = len(body["messages"])
        return [tool_call(0, f"c{n}", "get_weather", {"location": "Hanoi"})]

    tools.provider.set_default(keep_calling)
    tools.say("loop")
    assert await tools.answer(timeout=15) == ["Final answer without more tools."]
    requests = tools.provider.chat_requests()
    assert len(requests) == 3
    assert requests[-1]["tool_choice"] == "none"


async def test_follow_up_after_restart_sees_tool_history(tools: Harness, weather, searx) -> None:
    tools.provider.script(tool_call(0, "call_1", "get_weather", {"location": "Hanoi"}))
    tools.provider.script(Text("Hanoi: 30°C."))
    tools.say("weather in Hanoi?")
    await tools.answer()
    await tools.restart()
    tools.provider.script(Text("The day after: 31°C."))
    tools.say("and the day after?")
    await tools.answer(count=2, turns=2)
    roles = [m["role"] for m in tools.provider.last_messages()]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assistant = tools.provider.last_messages()[2]
    assert assistant["tool_calls"][0]["id"] == tools.provider.last_messages()[3]["tool_call_id"]


async def test_provider_rejecting_tools_gets_the_turn_without_them(tools: Harness) -> None:
    tools.provider.script(
        HttpError(400, "This model does not support tools", "invalid_request_error")
    )
    tools.provider.script(Text("Answer without tools."))
    tools.say("hi")
    assert await tools.answer() == ["Answer without tools."]
    first, second = tools.provider.chat_requests()
    assert "tools" in first and "tools" not in second


async def test_tools_can_be_switched_off(harness: Harness) -> None:
    await harness.restart(tools="none")
    harness.provider.script(Text("plain"))
    harness.say("hi")
    await harness.answer()
    assert "tools" not in harness.provider.chat_requests()[0]
