"""Tool calls bounded per round and per turn; every call still gets a result; results capped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.tool_calls import ToolCall
from bot.tools.registry import ToolRegistry, tool_from_function
from tests.conftest import Harness
from tests.fakes.openai import Text, tool_call
from tests.fakes.search import FakeSearx


@pytest.fixture
async def searx() -> AsyncIterator[FakeSearx]:
    fake = FakeSearx()
    await fake.start()
    yield fake
    await fake.stop()


def _searches(count: int, round_no: int) -> list:
    return [
        tool_call(i, f"call_{round_no}_{i}", "web_search", {"query": f"q{round_no} {i}"})
        for i in range(count)
    ]


def _tool_results(body: dict) -> dict[str, str]:
    return {m["tool_call_id"]: m["content"] for m in body["messages"] if m["role"] == "tool"}


async def test_fifty_searches_in_one_round_run_five(harness: Harness, searx: FakeSearx) -> None:
    await harness.restart(tools="search", searxng_url=searx.url, search_provider="searxng")
    harness.provider.script(*_searches(50, 1))
    harness.provider.script(Text("Done searching."))
    harness.say("search everything")
    assert (await harness.answer())[-1] == "Done searching."
    assert len([r for r in searx.requests if r.path == "/search"]) == 5
    second = harness.provider.chat_requests()[1]
    results = _tool_results(second)
    assert len(results) == 50 and set(results) == {f"call_1_{i}" for i in range(50)}
    refused = [r for r in results.values() if "not run" in r]
    assert len(refused) == 45
    assert "at most 5 tool calls per round" in json.loads(refused[0])["error"]


async def test_calls_per_turn_are_bounded_across_rounds(harness: Harness, searx: FakeSearx) -> None:
    await harness.restart(tools="search", searxng_url=searx.url, search_provider="searxng")
    for round_no in (1, 2, 3):
        harness.provider.script(*_searches(50, round_no))
    harness.provider.script(Text("Enough."))
    harness.say("search more")
    assert (await harness.answer())[-1] == "Enough."
    assert len([r for r in searx.requests if r.path == "/search"]) == 12
    last = harness.provider.chat_requests()[3]
    assert len(_tool_results(last)) == 150


async def test_tool_results_are_capped_before_they_reach_the_model() -> None:
    async def huge(ctx: object) -> str:
        """Return a lot of text."""
        return "x" * 100_000

    registry = ToolRegistry(
        [tool_from_function(huge)], context=None, timeout=5, max_result_chars=500
    )
    calls = [ToolCall(id="a", name="huge", arguments="{}"), ToolCall("b", "n" * 10_000, "{}")]
    results = await registry.run_all(calls)
    assert len(results) == 2 and all(len(r) <= 520 for r in results)
