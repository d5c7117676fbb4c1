"""The store interface the rest of the bot talks to."""

from __future__ import annotations

from typing import Protocol

from storage.models import (
    ChatKey,
    ConversationPage,
    ForgetReport,
    MessageRecord,
    ModelUsage,
    TurnRecord,
    TurnStats,
    UsageRecord,
)


class Store(Protocol):
    """Persistence for conversations, messages, per-chat settings and usage."""

    async def schema_version(self) -> int:
        """The number of the last migration step applied to the database."""
        ...

    async def active_conversation(self, key: ChatKey) -> int:
        """The id of the key's current conversation, created when there is none."""
        ...

    async def new_conversation(self, key: ChatKey) -> int:
        """Archive the key's current conversation and start a fresh one."""
        ...

    async def add_message(self, conversation_id: int, message: MessageRecord) -> int:
        """Append a message; returns its id."""
        ...

    async def add_messages(self, conversation_id: int, messages: list[MessageRecord]) -> None:
        """Append several messages in one transaction, in order."""
        ...

    async def recent_messages(
        self, conversation_id: int, token_budget: int, max_messages: int
    ) -> list[MessageRecord]:
        """The newest messages whose tokens fit the budget, oldest first."""
        ...

    async def get_setting(self, key: ChatKey, name: str) -> str | None:
        """A per-chat setting, or None."""
        ...

    async def set_setting(self, key: ChatKey, name: str, value: str | None) -> None:
        """Set (or with None, clear) a per-chat setting."""
        ...

    async def record_usage(self, usage: UsageRecord) -> None:
        """Record the tokens of one model call."""
        ...

    async def close(self) -> None:
        """Close the connection."""
        ...

    async def conversations(self, key: ChatKey, offset: int, limit: int) -> ConversationPage:
        """A page of the key's saved conversations, newest first (empty archived ones left out)."""
        ...

    async def resume_conversation(self, key: ChatKey, conversation_id: int) -> bool:
        """Make one of the key's conversations the active one again; False when it is not theirs."""
        ...

    async def forget(self, key: ChatKey) -> ForgetReport:
        """Delete the key's conversations, messages and settings, and reclaim their space."""
        ...

    async def record_turn(self, turn: TurnRecord) -> None:
        """Record how one turn ended."""
        ...

    async def usage_by_model(self, since: float, user_id: int | None = None) -> list[ModelUsage]:
        """Turns and tokens per model since `since`, of one user or (None) of everyone."""
        ...

    async def turn_count(
        self, since: float, *, user_id: int | None = None, chat_id: int | None = None
    ) -> int:
        """How many turns one user and/or one chat had since `since`."""
        ...

    async def turn_stats(self, since: float) -> TurnStats:
        """Active users and chats, outcomes and first-visible times since `since`."""
        ...
