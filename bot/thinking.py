"""What a turn shows while no answer text flows: the model thinking, the client waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from bot.i18n import translate


class Sink(Protocol):
    """The part of a turn's sink this module writes to (see bot.conversation.TurnSink)."""

    def text(self, delta: str) -> None:
        """Append answer text."""

    def status(self, label: str) -> None:
        """Show what the bot is doing until more text arrives."""


@runtime_checkable
class ReasoningSink(Protocol):
    """A sink that can show the model's reasoning apart from the answer (collapsed)."""

    def reasoning(self, delta: str) -> None:
        """Append reasoning text, shown above the answer, never inside it."""


class ThinkingStatus:
    """Wraps a turn's sink: reasoning becomes a "thinking (N s)" status and, when asked,
    collapsed reasoning; retry waits become a "waiting" status."""

    def __init__(
        self,
        sink: Sink,
        language: str,
        show_reasoning: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = sink
        self._language = language
        self._show = show_reasoning and isinstance(sink, ReasoningSink)
        self._clock = clock
        self._started: float | None = None
        self._shown_seconds: int | None = None

    def text(self, delta: str) -> None:
        """Append answer text (the thinking status ends)."""
        self._started = None
        self.inner.text(delta)

    def status(self, label: str) -> None:
        """Show a status label."""
        self.inner.status(label)

    def reasoning(self, delta: str) -> None:
        """A piece of reasoning arrived: update the elapsed seconds, show it if asked."""
        now = self._clock()
        if self._started is None:
            self._started, self._shown_seconds = now, None
        seconds = int(now - self._started)
        if seconds != self._shown_seconds:
            self._shown_seconds = seconds
            self.inner.status(translate(self._language, "thinking", seconds=seconds))
        if self._show and isinstance(self.inner, ReasoningSink):
            self.inner.reasoning(delta)

    def waiting(self, seconds: float) -> None:
        """The client waits before asking the provider again."""
        label = translate(self._language, "waiting_retry", seconds=max(1, round(seconds)))
        self.inner.status(label)
