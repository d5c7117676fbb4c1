"""Assembling tool calls from streamed fragments, including gateway quirks."""

from __future__ import annotations

from bot.tool_calls import ToolCallAssembler


def test_fragments_keyed_by_index_assemble_in_order() -> None:
    a = ToolCallAssembler()
    a.add(0, "call_a", "get_weather", "")
    a.add(1, "call_b", "web_search", '{"qu')
    a.add(0, None, None, '{"location"')
    a.add(0, None, None, ': "Hanoi"}')
    a.add(1, None, None, 'ery": "news"}')
    calls = a.calls()
    assert [(c.id, c.name) for c in calls] == [("call_a", "get_weather"), ("call_b", "web_search")]
    assert calls[0].parsed_arguments() == {"location": "Hanoi"}
    assert calls[1].parsed_arguments() == {"query": "news"}


def test_index_reused_for_a_new_call_with_a_new_id() -> None:
    a = ToolCallAssembler()
    a.add(0, "call_1", "get_weather", '{"location": "Paris"}')
    a.add(0, "call_2", "get_weather", '{"location": "Rome"}')
    assert [c.parsed_arguments()["location"] for c in a.calls()] == ["Paris", "Rome"]


def test_fragments_without_index_continue_the_last_call() -> None:
    a = ToolCallAssembler()
    a.add(None, "c1", "web_search", '{"query":')
    a.add(None, None, None, ' "x"}')
    assert a.calls()[0].parsed_arguments() == {"query": "x"}


def test_name_repeated_and_whole_arguments_resent() -> None:
    a = ToolCallAssembler()
    a.add(0, "c1", "get_weather", '{"location": "Hue"}')
    a.add(0, "c1", "get_weather", '{"location": "Hue"}')
    calls = a.calls()
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert calls[0].parsed_arguments() == {"location": "Hue"}


def test_missing_id_gets_one_and_empty_arguments_become_object() -> None:
    a = ToolCallAssembler()
    a.add(0, None, "get_time", None)
    call = a.calls()[0]
    assert call.id == "call_0"
    assert call.parsed_arguments() == {}
    assert call.to_api()["function"]["arguments"] == "{}"
