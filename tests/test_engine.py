"""The turn engine against a scripted model: the fallback ladder and the stored history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.conversation import ConversationEngine, EngineConfig, TurnInput
from bot.errors import (
    ContextTooLongError,
    MessageTooLongError,
    ProviderError,
    ServerError,
    ToolsUnsupportedError,
    VisionUnsupportedError,
)
from bot.fallbacks import Progress, RequestShape, next_shape
from bot.llm import LLMEvent, ReadPause, StreamEnd, TextDelta
from bot.tools.registry import ToolRegistry, tool_from_function
from storage import ChatKey, MessageRecord, SQLiteStore

Step = ProviderError | str


class ScriptedModel:
    """A ChatModel that answers each request with the next step: an error, or a text."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, Any]] = []

    async def stream(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        pause: ReadPause | None = None,
    ) -> AsyncIterator[LLMEvent]:
        self.requests.append({"model": model, "messages": messages, "tools": tools})
        step = self.steps.pop(0)
        if isinstance(step, ProviderError):
            raise step
        yield TextDelta(step)
        yield StreamEnd("stop")


class Sink:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def text(self, delta: str) -> None:
        self.shown.append(delta)

    def status(self, label: str) -> None:
        pass


async def lookup(ctx: object, query: str) -> str:
    """Looks something up.

    Args:
        query: what to look up
    """
    return "found"


@pytest.fixture
async def store() -> AsyncIterator[SQLiteStore]:
    store = await SQLiteStore.open(":memory:")
    yield store
    await store.close()


def engine(store: SQLiteStore, model: ScriptedModel, tools: bool = False) -> ConversationEngine:
    registry = ToolRegistry([tool_from_function(lookup)] if tools else [], context=None, timeout=5)
    return ConversationEngine(store, model, registry, EngineConfig("m", "sys", 4000, 200, 3))


async def test_context_too_long_shrinks_the_window_once(store: SQLiteStore) -> None:
    key = ChatKey(1)
    conversation = await store.active_conversation(key)
    for i in range(20):
        role = "user" if i % 2 == 0 else "assistant"
        await store.add_message(
            conversation, MessageRecord(role=role, content="x" * 600, tokens=200)
        )
    model = ScriptedModel(ContextTooLongError("too long"), "fits")
    outcome = await engine(store, model).run(TurnInput(key=key, text="q"), Sink())
    assert outcome.status == "complete" and outcome.text == "fits"
    first, second = (len(r["messages"]) for r in model.requests)
    assert second < first
    assert model.requests[1]["messages"][-1] == {"role": "user", "content": "q"}


async def test_context_too_long_twice_fails(store: SQLiteStore) -> None:
    conversation = await store.active_conversation(ChatKey(1))
    await store.add_message(conversation, MessageRecord(role="user", content="old", tokens=900))
    await store.add_message(conversation, MessageRecord(role="assistant", content="a", tokens=900))
    model = ScriptedModel(ContextTooLongError("a"), ContextTooLongError("b"), "never")
    outcome = await engine(store, model).run(TurnInput(key=ChatKey(1), text="q"), Sink())
    assert outcome.status == "failed" and isinstance(outcome.error, ContextTooLongError)
    assert len(model.requests) == 2


async def test_a_message_too_long_alone_is_said_and_kept_out(store: SQLiteStore) -> None:
    model = ScriptedModel(ContextTooLongError("too long"), "short answer")
    turns = engine(store, model)
    outcome = await turns.run(TurnInput(key=ChatKey(1), text="x" * 5000), Sink())
    assert isinstance(outcome.error, MessageTooLongError)
    assert len(model.requests) == 1, "the same request is not sent again"
    await turns.run(TurnInput(key=ChatKey(1), text="short"), Sink())
    assert "x" * 100 not in str(model.requests[1]["messages"])


async def test_tools_refused_asks_again_without_them(store: SQLiteStore) -> None:
    model = ScriptedModel(ToolsUnsupportedError("no tools"), "plain answer")
    outcome = await engine(store, model, tools=True).run(
        TurnInput(key=ChatKey(1), text="q"), Sink()
    )
    assert outcome.text == "plain answer"
    assert model.requests[0]["tools"] and model.requests[1]["tools"] is None


async def test_vision_refused_for_a_photo_says_so_and_is_remembered(store: SQLiteStore) -> None:
    parts = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]
    model = ScriptedModel(VisionUnsupportedError("no images"))
    turns = engine(store, model)
    photo = TurnInput(key=ChatKey(1), text="what is this?", parts=parts)
    outcome = await turns.run(photo, Sink())
    assert isinstance(outcome.error, VisionUnsupportedError) and outcome.status == "failed"
    again = await turns.run(photo, Sink())
    assert isinstance(again.error, VisionUnsupportedError)
    assert len(model.requests) == 1, "the second photo is refused without asking the model"


async def test_vision_refused_for_old_photos_leaves_them_out(store: SQLiteStore) -> None:
    parts = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]
    model = ScriptedModel("a cat", VisionUnsupportedError("no images"), "text only")
    turns = engine(store, model)
    await turns.run(TurnInput(key=ChatKey(1), text="what is this?", parts=parts), Sink())
    outcome = await turns.run(TurnInput(key=ChatKey(1), text="and now?"), Sink())
    assert outcome.text == "text only"
    assert "image(s) not shown" in str(model.requests[2]["messages"])


async def test_other_errors_stand(store: SQLiteStore) -> None:
    model = ScriptedModel(ServerError("500"))
    outcome = await engine(store, model).run(TurnInput(key=ChatKey(1), text="q"), Sink())
    assert outcome.status == "failed" and isinstance(outcome.error, ServerError)


def test_the_ladder_never_retries_after_text() -> None:
    shape = RequestShape(budget=4000)
    shown = Progress(has_text=True, has_tool_calls=False, turn_has_images=False, window_tokens=900)
    for error in (ContextTooLongError(), ToolsUnsupportedError(), VisionUnsupportedError()):
        assert next_shape(error, shape, shown) is None
    fresh = Progress(has_text=False, has_tool_calls=False, turn_has_images=False, window_tokens=900)
    shrunk = next_shape(ContextTooLongError(), shape, fresh)
    assert shrunk == RequestShape(budget=450, shrunk=True)
    assert next_shape(ContextTooLongError(), shrunk, fresh) is None
