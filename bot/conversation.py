"""One turn: store the input, load the history that fits, stream the model, run tools, store."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.capabilities import CapabilityMemory
from bot.errors import (
    BotError,
    ContextTooLongError,
    MessageTooLongError,
    ProviderError,
    StreamInterruptedError,
    ToolsUnsupportedError,
    VisionUnsupportedError,
)
from bot.llm import ChatModel, ReasoningDelta, RetryWait, StreamEnd, TextDelta, Usage
from bot.thinking import ThinkingStatus
from bot.tokens import estimate_message_tokens, estimate_tokens
from bot.tool_calls import ToolCall
from bot.tools.registry import ToolRegistry
from storage import ChatKey, MessageRecord, Store, UsageRecord

log = logging.getLogger(__name__)

TurnStatus = Literal["complete", "interrupted", "failed"]


class TurnSink(Protocol):
    """Where a turn shows its progress (the live reply, or a test recorder)."""

    def text(self, delta: str) -> None:
        """Append answer text."""

    def status(self, label: str) -> None:
        """Show what the bot is doing (a tool running) until more text arrives."""


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


@dataclass
class TurnOutcome:
    """How a turn ended."""

    text: str
    status: TurnStatus
    error: BotError | None = None
    finish_reason: str | None = None
    conversation_id: int = 0
    history_messages: int = 0
    tool_calls: int = 0
    rounds: int = 0
    usage: Usage | None = None
    started_at: float = field(default_factory=time.monotonic)
    first_chunk_at: float | None = None
    ended_at: float | None = None
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

    async def _build_messages(
        self, conversation_id: int, budget: int, with_names: bool, images: bool = True
    ) -> tuple[list[dict[str, Any]], list[MessageRecord]]:
        system_tokens = estimate_tokens(self._config.system_prompt)
        history = await self._store.recent_messages(
            conversation_id, max(budget - system_tokens, 1), self._config.history_max_messages
        )
        # A user message the model refused as too long on its own stays out of every window.
        history = [r for r in history if not (r.role == "user" and r.status == "failed")]
        history = trim_to_valid_start(history)
        messages = [{"role": "system", "content": self._config.system_prompt}]
        messages.extend(_to_api(r, with_names, images) for r in history)
        return messages, history

    async def run_turn(self, turn: TurnInput, sink: TurnSink) -> TurnOutcome:
        """Run one turn to its end; errors come back in the outcome, never raised."""
        outcome = TurnOutcome(text="", status="failed")
        conversation_id = await self._store.active_conversation(turn.key)
        outcome.conversation_id = conversation_id
        user = MessageRecord(
            role="user",
            content=turn.text,
            parts=turn.parts,
            sender=turn.sender,
            kind=turn.kind,
        )
        user.tokens = estimate_message_tokens(turn.text, turn.parts)
        user.id = await self._store.add_message(conversation_id, user)

        with_names = turn.key.chat_id < 0
        sink = ThinkingStatus(sink, turn.language, self._config.show_reasoning)
        model = turn.model or self._config.model
        budget = self._config.history_token_budget
        use_tools = bool(self._tools)
        answer: list[str] = []
        stored_upto = 0
        shrunk = False
        round_no = 0
        try:
            images = not self._no_vision.refused(("", model), "vision")
            if turn.parts and not images:
                raise VisionUnsupportedError(f"{model} takes no images")
            messages, window = await self._build_messages(
                conversation_id, budget, with_names, images
            )
            outcome.history_messages = len(window)
            while True:
                round_no += 1
                last_round = round_no > self._config.max_tool_rounds
                tools = self._tools.schemas() if use_tools else None
                try:
                    end = await self._stream_round(
                        model,
                        messages,
                        tools,
                        "none" if last_round and tools else None,
                        answer,
                        sink,
                        outcome,
                    )
                except ContextTooLongError as exc:
                    if answer or outcome.tool_calls:
                        raise
                    if len(window) <= 1:
                        raise await self._too_long_alone(user, exc) from exc
                    if shrunk:
                        raise
                    shrunk = True
                    used = sum(r.tokens for r in window)
                    budget = max(min(budget, used) // 2, 200)
                    log.info("context too long; retrying with a %d-token window", budget)
                    messages, window = await self._build_messages(
                        conversation_id, budget, with_names, images
                    )
                    outcome.history_messages = len(window)
                    round_no -= 1
                    continue
                except VisionUnsupportedError:
                    self._no_vision.refuse(("", model), "vision")
                    if turn.parts or answer or not images:
                        raise
                    log.info("%s takes no images; retrying with images left out", model)
                    images = False
                    messages, window = await self._build_messages(
                        conversation_id, budget, with_names, images
                    )
                    round_no -= 1
                    continue
                except ToolsUnsupportedError:
                    if not use_tools or answer:
                        raise
                    log.info("provider rejects tools; retrying without them")
                    use_tools = False
                    round_no -= 1
                    continue
                outcome.finish_reason = end.finish_reason
                self._add_usage(outcome, end.usage)
                if end.tool_calls and not last_round and use_tools:
                    outcome.tool_calls += len(end.tool_calls)
                    said = "".join(answer)[stored_upto:].strip()
                    await self._run_tools(
                        conversation_id, end.tool_calls, said, messages, sink, turn.language
                    )
                    stored_upto = len("".join(answer))
                    continue
                break
        except StreamInterruptedError as exc:
            outcome.error = exc
            outcome.status = "interrupted" if answer else "failed"
        except ProviderError as exc:
            outcome.error = exc
            outcome.status = "interrupted" if answer else "failed"
        outcome.rounds = round_no
        full = "".join(answer)
        outcome.text = full.strip()
        last_round_text = full[stored_upto:].strip()
        if outcome.error is None:
            outcome.status = "complete"
            if outcome.finish_reason in ("length", "content_filter"):
                outcome.status = "interrupted" if outcome.text else "failed"
        if last_round_text:
            await self._store.add_message(
                conversation_id,
                MessageRecord(
                    role="assistant",
                    content=last_round_text,
                    tokens=estimate_tokens(last_round_text),
                    status="complete" if outcome.status == "complete" else "interrupted",
                ),
            )
        if outcome.usage is not None:
            await self._record_usage(turn, conversation_id, model, outcome.usage)
        outcome.ended_at = time.monotonic()
        return outcome

    async def _too_long_alone(
        self, user: MessageRecord, exc: ContextTooLongError
    ) -> MessageTooLongError:
        """The new message alone overflows the model: keep it stored, out of later windows."""
        if user.id is not None:
            await self._store.update_message(user.id, user.content, 0, "failed")
        return MessageTooLongError(exc.detail)

    async def _record_usage(
        self, turn: TurnInput, conversation_id: int, model: str, usage: Usage
    ) -> None:
        """Usage is bookkeeping: failing to record it must not fail the turn."""
        try:
            await self._store.record_usage(
                UsageRecord(
                    conversation_id=conversation_id,
                    chat_id=turn.key.chat_id,
                    user_id=turn.user_id,
                    model=model,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                )
            )
        except Exception:
            log.exception("could not record usage of conversation %s", conversation_id)

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
        self,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        tool_choice: str | None,
        answer: list[str],
        sink: TurnSink,
        outcome: TurnOutcome,
    ) -> StreamEnd:
        separator_pending = bool(answer)
        async for event in self._llm.stream(
            model=model, messages=messages, tools=tools, tool_choice=tool_choice
        ):
            if isinstance(event, TextDelta):
                if outcome.first_chunk_at is None:
                    outcome.first_chunk_at = time.monotonic()
                piece = event.text
                if separator_pending:
                    separator_pending = False
                    if not "".join(answer).endswith("\n\n"):
                        piece = "\n\n" + piece.lstrip("\n")
                answer.append(piece)
                sink.text(piece)
            elif isinstance(event, ReasoningDelta):
                if outcome.first_chunk_at is None:
                    outcome.first_chunk_at = time.monotonic()
                if isinstance(sink, ThinkingStatus):
                    sink.reasoning(event.text)
            elif isinstance(event, RetryWait) and isinstance(sink, ThinkingStatus):
                sink.waiting(event.seconds)
            elif isinstance(event, StreamEnd):
                if event.model and event.model != model:
                    outcome.answered_by = event.model
                return event
        return StreamEnd(finish_reason=None)

    async def _run_tools(
        self,
        conversation_id: int,
        calls: list[ToolCall],
        said: str,
        messages: list[dict[str, Any]],
        sink: TurnSink,
        language: str,
    ) -> None:
        for call in calls:
            label = self._tools.status_label(call, language)
            if label:
                sink.status(label)
        results = await self._tools.run_all(calls)
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
        await self._store.add_messages(conversation_id, [assistant, *tool_records])
        messages.append(_to_api(assistant, with_names=False))
        messages.extend(_to_api(r, with_names=False) for r in tool_records)
