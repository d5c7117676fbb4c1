"""Plain records the store reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
Status = Literal["complete", "interrupted", "failed"]


@dataclass(frozen=True)
class ChatKey:
    """One conversation slot: a chat, or one forum topic of a chat (thread_id 0 = none)."""

    chat_id: int
    thread_id: int = 0


@dataclass
class MessageRecord:
    """One stored message of a conversation, in the shape of the Chat Completions API."""

    role: Role
    content: str = ""
    tokens: int = 0
    parts: list[dict[str, Any]] | None = None
    sender: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    kind: str = "text"
    status: Status = "complete"
    id: int | None = None
    created_at: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UsageRecord:
    """Tokens one model call used."""

    conversation_id: int
    chat_id: int
    user_id: int | None
    model: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class InboxItem:
    """One received update waiting in the inbox: its id and its payload (JSON text)."""

    update_id: int
    payload: str


@dataclass(frozen=True)
class InboxBatch:
    """A claimed conversation with all its pending updates, in update_id order."""

    key: ChatKey
    items: list[InboxItem]

    @property
    def update_ids(self) -> list[int]:
        """The ids of the batch's updates, in order."""
        return [item.update_id for item in self.items]


@dataclass(frozen=True)
class TurnProgress:
    """A running turn's progress: the updates it answers and its live reply's state (JSON)."""

    key: ChatKey
    update_ids: list[int]
    state: str
    updated_at: float
