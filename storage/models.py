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
class ReceivedUpdate:
    """An update as it enters the inbox: its id, its conversation, its payload (JSON text)."""

    update_id: int
    key: ChatKey
    payload: str


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


@dataclass(frozen=True)
class ConversationSummary:
    """One saved conversation as /history lists it."""

    id: int
    created_at: float
    title: str
    messages: int
    active: bool


@dataclass(frozen=True)
class ConversationPage:
    """A page of a chat's saved conversations (newest first) and how many there are in all."""

    items: list[ConversationSummary]
    total: int


@dataclass(frozen=True)
class ForgetReport:
    """What /forget deleted."""

    conversations: int
    messages: int
    settings: int


@dataclass(frozen=True)
class TurnRecord:
    """How one turn ended, for /usage, /stats and quotas (numbers only, no content)."""

    chat_id: int
    thread_id: int
    user_id: int | None
    model: str
    status: str
    first_visible_ms: float | None
    created_at: float


@dataclass(frozen=True)
class ModelUsage:
    """Turns and tokens of one model over a period."""

    model: str
    messages: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class TurnStats:
    """Bot-wide figures over a period: who was active, how turns ended, how fast text showed."""

    users: int
    chats: int
    outcomes: dict[str, int]
    first_visible_ms: list[float]
