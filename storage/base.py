"""The store interface the rest of the bot talks to."""

from __future__ import annotations

from typing import Protocol

from storage.models import ChatKey, MessageRecord, UsageRecord


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

    async def replace_from(
        self, conversation_id: int, message_id: int, content: str | None, tokens: int
    ) -> None:
        """Rewrite a message's text (None keeps it) and delete every later message."""
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
