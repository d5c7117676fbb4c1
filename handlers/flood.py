"""A flood of messages costs one turn: what arrives while a turn waits joins it.

The first message of a conversation that finds no turn waiting opens one and takes the
conversation's place; messages that arrive before that turn starts join it (each is
stored as its own message; one model call answers them all, replying to the last). A
joined message holds no place and no task. A turn takes at most `max_messages` messages
and `max_chars` characters; what comes after opens the next turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import Message

from storage import ChatKey


@dataclass
class WaitingTurn:
    """Messages that one turn will answer together."""

    messages: list[Message] = field(default_factory=list)
    chars: int = 0
    closed: bool = False


class FloodGate:
    """The waiting turn of each conversation, if any."""

    def __init__(self, max_messages: int, max_chars: int) -> None:
        self._max_messages = max_messages
        self._max_chars = max_chars
        self._waiting: dict[ChatKey, WaitingTurn] = {}

    def join(self, key: ChatKey, message: Message) -> bool:
        """Add the message to the conversation's waiting turn; False when there is none
        (or it is full): then the caller opens a turn of its own."""
        waiting = self._waiting.get(key)
        size = len(message.text or message.caption or "")
        if waiting is None or waiting.closed:
            return False
        if len(waiting.messages) >= self._max_messages or waiting.chars + size > self._max_chars:
            return False
        waiting.messages.append(message)
        waiting.chars += size
        return True

    def open(self, key: ChatKey, message: Message) -> WaitingTurn:
        """Open the conversation's waiting turn with its first message."""
        waiting = WaitingTurn([message], len(message.text or message.caption or ""))
        self._waiting[key] = waiting
        return waiting

    def close(self, key: ChatKey, waiting: WaitingTurn) -> list[Message]:
        """The turn starts: nothing joins it any more; its messages, in arrival order."""
        waiting.closed = True
        if self._waiting.get(key) is waiting:
            del self._waiting[key]
        return waiting.messages
