"""One turn: store the input, load the history that fits, stream the model, run tools, store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bot.capabilities import CapabilityMemory
from bot.errors import (
    BotError,
    ContextTooLongError,
    MessageTooLongError,
    ProviderError,
    VisionUnsupportedError,
)
from bot.fallbacks import Progress, RequestShape, next_shape
from bot.llm import (
    ChatModel,
    ReadPause,
    ReasoningDelta,
    RetryWait,
    StreamEnd,
    TextDelta,
    Usage,
)
from bot.thinking import ThinkingStatus
from bot.tokens import estimate_message_tokens, estimate_tokens
from bot.tool_calls import ToolCall
from bot.tools.registry import ToolBudget, ToolRegistry
from storage import ChatKey, MessageRecord, Status, Store, UsageRecord

log = logging.getLogger(__name__)


class TurnSink(Protocol):
    """Where a turn shows its progress (the live reply, or a test recorder)."""

    def text(self, delta: str) -> None:
        """Append answer text."""

    def status(self, label: str) -> None:
        """Show what the bot is doing (a tool running) until more text arrives."""


@runtime_checkable
class PacedSink(Protocol):
    """A sink that shows text only at its own pace (the live reply): between two showings
    the model's stream need not be read."""

    def read_pause(self) -> float:
        """Seconds the model's stream may now go unread (0: read on)."""


@dataclass
class TurnInput:
    """What the user sent, already translated from Telegram."""

    key: ChatKey
    text: str
    user_id: int | None = None
    sender: str | None = None
    parts: list[dict[str, Any]] | None = None
    kind: str = "text"
    language: str = "en"
    model: str | None = None
    with_names: bool = False  # prefix user messages with their sender (group chats)
    system_prompt: str | None = None  # the chat's own instructions (/system, /persona)
    earlier: list[str] = field(default_factory=list)  # questions sent just before, stored first
    reask_message_id: int | None = None  # answer this stored message again (new text or "")
    stop: asyncio.Event | None = None  # set to end the turn now, keeping what was shown
    on_question_stored: Callable[[int], None] | None = None  # told the stored question's id


@dataclass
class TurnOutcome:
    """How a turn ended."""

    text: str
    status: Status
    error: BotError | None = None
    finish_reason: str | None = None
    conversation_id: int = 0
    history_messages: int = 0
    tool_calls: int = 0
    rounds: int = 0
    usage: Usage | None = None
    first_chunk_at: float | None = None
    stopped: bool = False
    user_message_id: int = 0
    answered_by: str | None = None  # set when a fallback model answered instead


@dataclass(frozen=True)
class EngineConfig:
    """Settings the turn engine needs."""

    model: str
    system_prompt: str
    history_token_budget: int
    history_max_messages: int
    max_tool_rounds: int
    show_reasoning: bool = False
    capability_memory: float = 3600.0


def _to_api(record: MessageRecord, with_names: bool, images: bool = True) -> dict[str, Any]:
    """A stored message in the Chat Completions request shape (images as text when off)."""
    if record.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": record.tool_call_id or "",
            "content": record.content,
        }
    if record.role == "assistant":
        message: dict[str, Any] = {"role": "assistant", "content": record.content or None}
        if record.tool_calls:
            message["tool_calls"] = record.tool_calls
        elif not record.content:
            message["content"] = ""
        return message
    text = record.content
    if with_names and record.sender and record.role == "user":
        text = f"[{record.sender}]: {text}"
    if record.parts and not images:
        count = sum(1 for p in record.parts if p.get("type") == "image_url")
        return {"role": record.role, "content": f"{text}\n[{count} image(s) not shown]".strip()}
    if record.parts:
        content: list[dict[str, Any]] = []
        if text:
            content.append({"type": "text", "text": text})
        content.extend(record.parts)
        return {"role": record.role, "content": content}
    return {"role": record.role, "content": text}


def trim_to_valid_start(history: list[MessageRecord]) -> list[MessageRecord]:
    """Drop leading messages until the window starts at a user message.

    A window cut inside a tool exchange would start with a tool result or an
    assistant message whose tool results are missing; providers reject both.
    """
    for i, record in enumerate(history):
        if record.role == "user":
            return history[i:]
    return []


@dataclass
class _Turn:
    """The state of one running turn."""

    input: TurnInput
    conversation_id: int
    model: str
    sink: ThinkingStatus
    outcome: TurnOutcome
    answer: list[str] = field(default_factory=list)
    stored_upto: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    window: list[MessageRecord] = field(default_factory=list)
    tool_budget: ToolBudget | None = None  # tool calls left in this turn
    pause: ReadPause | None = None  # how long the model's stream may go unread

    @property
    def text(self) -> str:
        return "".join(self.answer)


class ConversationEngine:
    """Runs turns: history -> messages -> model <-> tools -> stored answer."""

    def __init__(
        self, store: Store, llm: ChatModel, tools: ToolRegistry, config: EngineConfig
    ) -> None:
        self._store = store
        self._llm = llm
        self._tools = tools
        self._config = config
        self._no_vision = CapabilityMemory(config.capability_memory)  # per model address

    async def run(self, turn: TurnInput, sink: TurnSink) -> TurnOutcome:
        """Run one turn to its end; errors come back in the outcome, never raised."""
        conversation_id = await self._store.active_conversation(turn.key)
        tokens = estimate_message_tokens(turn.text, turn.parts)
        if turn.reask_message_id is None:
            if turn.earlier:
                earlier = [self._question(turn, text) for text in turn.earlier]
                await self._store.add_messages(conversation_id, earlier)
            question = self._question(turn, turn.text, turn.parts)
            user_message_id = await self._store.add_message(conversation_id, question)
            if turn.on_question_stored is not None:
                turn.on_question_stored(user_message_id)
        else:
            # Asked again: an empty text keeps the stored question (regenerate).
            user_message_id = turn.reask_message_id
            text = turn.text or None
            await self._store.replace_from(conversation_id, user_message_id, text, tokens)
        outcome = TurnOutcome(
            text="",
            status="failed",
            conversation_id=conversation_id,
            user_message_id=user_message_id,
        )
        shown = ThinkingStatus(sink, turn.language, self._config.show_reasoning)
        state = _Turn(turn, conversation_id, turn.model or self._config.model, shown, outcome)
        if isinstance(sink, PacedSink):
            state.pause = sink.read_pause
        try:
            await self._rounds_until_stopped(state)
        except ProviderError as exc:
            outcome.error = exc
        await self._finish(state)
        return outcome

    @staticmethod
    def _question(
        turn: TurnInput, text: str, parts: list[dict[str, Any]] | None = None
    ) -> MessageRecord:
        """A question of this turn as it is stored."""
        record = MessageRecord(
            role="user", content=text, parts=parts, sender=turn.sender, kind=turn.kind
        )
        record.tokens = estimate_message_tokens(text, parts)
        return record

    async def _rounds_until_stopped(self, state: _Turn) -> None:
        """The model rounds, abandoned (provider stream closed, tools cancelled) on stop."""
        stop = state.input.stop
        if stop is None:
            await self._rounds(state)
            return
        rounds = asyncio.ensure_future(self._rounds(state))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({rounds, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not rounds.done():
                rounds.cancel()
                state.outcome.stopped = True
                with contextlib.suppress(asyncio.CancelledError):
                    await rounds
        if not state.outcome.stopped:
            rounds.result()

    async def _load_window(self, state: _Turn, shape: RequestShape) -> None:
        system = state.input.system_prompt or self._config.system_prompt
        budget = max(shape.budget - estimate_tokens(system), 1)
        history = await self._store.recent_messages(
            state.conversation_id, budget, self._config.history_max_messages
        )
        # A user message the model refused as too long on its own stays out of every window.
        history = [r for r in history if not (r.role == "user" and r.status == "failed")]
        state.window = trim_to_valid_start(history)
        with_names = state.input.with_names
        state.messages = [{"role": "system", "content": system}]
        state.messages.extend(_to_api(r, with_names, shape.images) for r in state.window)
        state.outcome.history_messages = len(state.window)

    async def _rounds(self, state: _Turn) -> None:
        """Model rounds until an answer without tool calls (or the round limit)."""
        shape = RequestShape(
            budget=self._config.history_token_budget,
            images=not self._no_vision.refused(("", state.model), "vision"),
            tools=bool(self._tools),
        )
        if state.input.parts and not shape.images:
            raise VisionUnsupportedError(f"{state.model} takes no images")
        await self._load_window(state, shape)
        rounds = 0
        while True:
            last_round = rounds >= self._config.max_tool_rounds
            tools = self._tools.schemas() if shape.tools else None
            try:
                end = await self._stream_round(
                    state, tools, "none" if last_round and tools else None
                )
            except ProviderError as exc:
                retry = await self._fallback(exc, state, shape)
                if retry is None:
                    raise
                if retry.images != shape.images or retry.budget != shape.budget:
                    await self._load_window(state, retry)
                shape = retry
                continue
            rounds += 1
            state.outcome.rounds = rounds
            state.outcome.finish_reason = end.finish_reason
            self._add_usage(state.outcome, end.usage)
            if not (end.tool_calls and not last_round and shape.tools):
                return
            state.outcome.tool_calls += len(end.tool_calls)
            await self._run_tools(state, end.tool_calls)

    async def _fallback(
        self, error: ProviderError, state: _Turn, shape: RequestShape
    ) -> RequestShape | None:
        if isinstance(error, VisionUnsupportedError):
            self._no_vision.refuse(("", state.model), "vision")
        fresh = not state.answer and state.outcome.tool_calls == 0
        if isinstance(error, ContextTooLongError) and fresh and len(state.window) <= 1:
            raise await self._too_long_alone(state, error) from error
        progress = Progress(
            has_text=bool(state.answer),
            has_tool_calls=state.outcome.tool_calls > 0,
            turn_has_images=bool(state.input.parts),
            window_tokens=sum(r.tokens for r in state.window),
        )
        return next_shape(error, shape, progress)

    async def _too_long_alone(self, state: _Turn, exc: ContextTooLongError) -> MessageTooLongError:
        """The new message alone overflows the model: keep it stored, out of later windows."""
        await self._store.set_message_status(state.outcome.user_message_id, "failed")
        return MessageTooLongError(exc.detail)

    async def _finish(self, state: _Turn) -> None:
        """Decide the status, store the answer's last part and the usage."""
        outcome = state.outcome
        full = state.text
        outcome.text = full.strip()
        if outcome.stopped:
            outcome.status = "interrupted"
        elif outcome.error is not None:
            outcome.status = "interrupted" if state.answer else "failed"
        elif outcome.finish_reason in ("length", "content_filter"):
            outcome.status = "interrupted" if outcome.text else "failed"
        else:
            outcome.status = "complete"
        last_round_text = full[state.stored_upto :].strip()
        if last_round_text:
            status: Status = "complete" if outcome.status == "complete" else "interrupted"
            await self._store.add_message(
                state.conversation_id,
                MessageRecord(
                    role="assistant",
                    content=last_round_text,
                    tokens=estimate_tokens(last_round_text),
                    status=status,
                ),
            )
        if outcome.usage is not None:
            await self._record_usage(state, outcome.usage)

    async def _record_usage(self, state: _Turn, usage: Usage) -> None:
        """Usage is bookkeeping: failing to record it must not fail the turn."""
        try:
            await self._store.record_usage(
                UsageRecord(
                    conversation_id=state.conversation_id,
                    chat_id=state.input.key.chat_id,
                    user_id=state.input.user_id,
                    model=state.model,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                )
            )
        except Exception:
            log.exception("could not record usage of conversation %s", state.conversation_id)

    @staticmethod
    def _add_usage(outcome: TurnOutcome, usage: Usage | None) -> None:
        if usage is None:
            return
        if outcome.usage is None:
            outcome.usage = usage
        else:
            outcome.usage = Usage(
                outcome.usage.prompt_tokens + usage.prompt_tokens,
                outcome.usage.completion_tokens + usage.completion_tokens,
            )

    async def _stream_round(
        self, state: _Turn, tools: list[dict[str, Any]] | None, tool_choice: str | None
    ) -> StreamEnd:
        separator_pending = bool(state.answer)
        outcome = state.outcome
        async for event in self._llm.stream(
            model=state.model,
            messages=state.messages,
            tools=tools,
            tool_choice=tool_choice,
            pause=state.pause,
        ):
            if isinstance(event, StreamEnd):
                if event.model and event.model != state.model:
                    outcome.answered_by = event.model
                return event
            if isinstance(event, RetryWait):
                state.sink.waiting(event.seconds)
                continue
            if outcome.first_chunk_at is None:
                outcome.first_chunk_at = time.monotonic()
            if isinstance(event, TextDelta):
                piece = event.text
                if separator_pending:
                    separator_pending = False
                    if not state.text.endswith("\n\n"):
                        piece = "\n\n" + piece.lstrip("\n")
                state.answer.append(piece)
                state.sink.text(piece)
            elif isinstance(event, ReasoningDelta):
                state.sink.reasoning(event.text)  # never part of the answer
        return StreamEnd(finish_reason=None)

    async def _run_tools(self, state: _Turn, calls: list[ToolCall]) -> None:
        said = state.text[state.stored_upto :].strip()
        for call in calls:
            label = self._tools.status_label(call, state.input.language)
            if label:
                state.sink.status(label)
        if state.tool_budget is None:
            state.tool_budget = self._tools.budget()
        results = await self._tools.run_all(calls, state.tool_budget)
        assistant = MessageRecord(
            role="assistant",
            content=said,
            tool_calls=[c.to_api() for c in calls],
            tokens=estimate_tokens(said) + sum(estimate_tokens(c.arguments) + 8 for c in calls),
        )
        tool_records = [
            MessageRecord(
                role="tool",
                content=result,
                tool_call_id=call.id,
                tokens=estimate_tokens(result) + 4,
                meta={"name": call.name},
            )
            for call, result in zip(calls, results, strict=True)
        ]
        await self._store.add_messages(state.conversation_id, [assistant, *tool_records])
        state.messages.append(_to_api(assistant, with_names=False))
        state.messages.extend(_to_api(r, with_names=False) for r in tool_records)
        state.stored_upto = len(state.text)
