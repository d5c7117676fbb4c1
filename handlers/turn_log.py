"""The one log line per turn: what it was, how it ended, and how long each stage took."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.conversation import TurnOutcome
from handlers.reply import LiveReply
from storage import ChatKey

log = logging.getLogger("bot.turn")


@dataclass(frozen=True)
class TurnTimes:
    """Monotonic timestamps of a turn: received, started (its place came), ended."""

    received: float
    started: float
    ended: float


def _ms(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "-"
    return f"{(end - start) * 1000:.0f}ms"


def log_turn(
    outcome: TurnOutcome,
    reply: LiveReply,
    key: ChatKey,
    input_chars: int,
    times: TurnTimes,
    model: str,
) -> None:
    """Write the turn's line (and a warning when it failed)."""
    usage = outcome.usage
    log.info(
        "turn chat=%s thread=%s model=%s status=%s in=%dch history=%d out=%dch tools=%d "
        "rounds=%d tokens=%s/%s queued=%s first_chunk=%s first_visible=%s total=%s "
        "tg_calls=%d 429s=%d",
        key.chat_id,
        key.thread_id,
        model,
        outcome.status,
        input_chars,
        outcome.history_messages,
        len(outcome.text),
        outcome.tool_calls,
        outcome.rounds,
        usage.prompt_tokens if usage else "-",
        usage.completion_tokens if usage else "-",
        _ms(times.received, times.started),
        _ms(times.started, outcome.first_chunk_at),
        _ms(times.started, reply.first_visible_at),
        _ms(times.started, times.ended),
        reply.calls,
        reply.retries_after,
    )
    if outcome.error is not None and outcome.status == "failed":
        log.warning("turn failed in chat %s: %s", key.chat_id, outcome.error.detail)
