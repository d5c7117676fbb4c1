"""Defects found in review; each test failed before its fix."""

from __future__ import annotations

import asyncio

from bot.conversation import ConversationEngine, EngineConfig, TurnInput
from bot.errors import ContextTooLongError
from bot.llm import StreamEnd, TextDelta
from bot.tool_calls import ToolCall
from bot.tools.registry import ToolRegistry, tool_from_function
from storage import ChatKey, MessageRecord, SQLiteStore
from tests.conftest import USER, Harness
from tests.fakes.openai import Text, Texts
from tests.media_samples import ogg_opus_voice, photo

GROUP = -100777


def _echo(body: dict) -> list:
    return [Text("re: " + str(body["messages"][-1]["content"]))]


def _asked(harness: Harness) -> list[str]:
    out = []
    for request in harness.provider.chat_requests():
        content = request["messages"][-1]["content"]
        out.append(content if isinstance(content, str) else str([p.get("text") for p in content]))
    return out


async def test_failed_voice_download_is_explained(harness: Harness) -> None:
    voice = ogg_opus_voice(0.2)
    file_id, _ = harness.telegram.add_file(voice, "voice/v.oga")
    harness.telegram.fail_next("getFile", 500, "Internal Server Error: restart", times=5)
    harness.telegram.user_message(
        USER,
        None,
        voice={
            "file_id": file_id,
            "file_unique_id": "u",
            "duration": 1,
            "mime_type": "audio/ogg",
            "file_size": len(voice),
        },
    )
    texts = await harness.notice()
    assert "couldn't download" in texts[0]
    assert harness.provider.chat_requests() == []


async def test_answer_all_group_keeps_message_order(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.provider.set_default(_echo)
    kw = {"chat_type": "supergroup", "chat_title": "T", "user_id": 1001}
    harness.telegram.set_admins(GROUP, [1001])
    harness.telegram.user_message(GROUP, "/answerall on", **kw)
    await harness.notice(GROUP)
    harness.telegram.user_message(GROUP, "first plain", **kw)
    harness.telegram.user_message(GROUP, "@test_llm_bot second mention", **kw)
    await harness.answer(GROUP, count=3, turns=2)
    asked = _asked(harness)
    assert "first" in asked[0] and "second" in asked[1]


async def test_text_after_an_album_is_answered_after_it(harness: Harness) -> None:
    harness.provider.set_default(_echo)
    ids = [harness.telegram.add_file(photo(64, 64), f"photos/p{i}.jpg")[0] for i in range(2)]
    harness.telegram.user_message(
        USER, None, photo_file_ids=[ids[0]], caption="look", media_group_id="a1"
    )
    harness.telegram.user_message(USER, None, photo_file_ids=[ids[1]], media_group_id="a1")
    harness.telegram.user_message(USER, "and what do you think?")
    await harness.answer(USER, count=2, turns=2)
    asked = _asked(harness)
    assert "look" in asked[0] and "think" in asked[1]


async def test_message_after_new_in_a_group_starts_the_new_conversation(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.provider.set_default(lambda body: [Text("ok")])
    kw = {"chat_type": "supergroup", "chat_title": "T", "user_id": 1001}
    harness.telegram.set_admins(GROUP, [1001])
    harness.telegram.user_message(GROUP, "@test_llm_bot remember 42", **kw)
    await harness.answer(GROUP)
    harness.telegram.user_message(GROUP, "/new", **kw)
    harness.telegram.user_message(GROUP, "@test_llm_bot what number?", **kw)
    await harness.answer(GROUP, count=3, turns=2)
    await harness.telegram.wait_idle(GROUP, quiet=0.5)
    asked = [m.content for m in await harness.stored(GROUP) if m.role == "user"]
    assert asked == ["what number?"], "the new conversation holds only the question after /new"


async def test_editing_a_command_does_not_run_it_again(harness: Harness) -> None:
    harness.provider.set_default(lambda body: [Text("answer")])
    message = harness.say("/ask what is 2+2")
    await harness.answer()
    harness.telegram.push_update(
        {"edited_message": dict(message, text="/ask what is 2+3", edit_date=message["date"] + 5)}
    )
    await asyncio.sleep(1)
    assert len(harness.provider.chat_requests()) == 1


async def test_unexpected_400_on_an_edit_still_delivers_the_final_text(harness: Harness) -> None:
    harness.provider.script(Texts(["part one ", "part two ", "part three ", "THE END"], delay=0.6))
    harness.telegram.fail_next("editMessageText", 400, "Bad Request: MESSAGE_ID_INVALID")
    harness.say("go")
    texts = await harness.answer(timeout=15)
    assert texts[-1].endswith("THE END")


async def test_a_crash_after_streaming_keeps_the_answer_and_adds_a_note(harness: Harness) -> None:
    store = harness.runtime.services.store  # type: ignore[union-attr]
    original = store.add_message

    async def failing_for_answers(conversation_id: int, message: MessageRecord) -> int:
        if message.role == "assistant":
            raise RuntimeError("database is locked")
        return await original(conversation_id, message)

    store.add_message = failing_for_answers  # type: ignore[method-assign]
    harness.provider.script(Texts(["A long and ", "useful answer ", "about cats."], delay=0.3))
    harness.say("tell me about cats")
    texts = await harness.answer()
    assert texts[-1].startswith("A long and useful answer about cats.")
    assert "went wrong" in texts[-1]


class _ToolThenShrink:
    """A model that calls a tool, then finds the context too long, then answers."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def stream(self, *, model, messages, tools=None, tool_choice=None, pause=None):
        self.calls.append([m["role"] for m in messages])
        if len(self.calls) == 1:
            yield StreamEnd("tool_calls", tool_calls=[ToolCall("c1", "big", '{"query": "a"}')])
        elif len(self.calls) == 2:
            raise ContextTooLongError("400 context_length_exceeded")
        else:
            yield TextDelta("answer")
            yield StreamEnd("stop")


async def big(ctx: object, query: str) -> str:
    """Returns a big result.

    Args:
        query: what to look up
    """
    return "x" * 7000


class _Sink:
    def text(self, delta: str) -> None:
        pass

    def status(self, label: str) -> None:
        pass


async def test_context_too_long_after_tools_never_drops_the_question() -> None:
    store = await SQLiteStore.open(":memory:")
    llm = _ToolThenShrink()
    tools = ToolRegistry([tool_from_function(big)], context=None, timeout=5)
    engine = ConversationEngine(store, llm, tools, EngineConfig("m", "sys", 8000, 200, 3))  # type: ignore[arg-type]
    outcome = await engine.run(TurnInput(key=ChatKey(1), text="Capital of France?"), _Sink())
    assert all("user" in roles for roles in llm.calls)
    assert outcome.status == "failed" and isinstance(outcome.error, ContextTooLongError)
    await store.close()
