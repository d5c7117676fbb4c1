"""The store interface the rest of the bot talks to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from storage.models import (
    ChatKey,
    ConversationPage,
    ForgetReport,
    InboxBatch,
    MessageRecord,
    ModelUsage,
    ReceivedUpdate,
    Status,
    TurnProgress,
    TurnRecord,
    TurnStats,
    UsageRecord,
)


class Store(Protocol):
    """Persistence for conversations, messages, per-chat settings and usage, plus the work
    shared by replicas: the inbox of updates, turn progress, the polling leader, rate budgets.

    Times are Unix seconds from the caller's clock (`time.time()`); replicas sharing a
    PostgreSQL database are assumed to keep their clocks in step (NTP), well within a lease.
    """

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

    async def set_message_status(self, message_id: int, status: Status) -> None:
        """Change a stored message's status (a "failed" user message stays out of windows)."""
        ...

    async def recent_messages(
        self, conversation_id: int, token_budget: int, max_messages: int
    ) -> list[MessageRecord]:
        """The newest messages whose tokens fit the budget, oldest first."""
        ...

    async def prune_media(self, older_than_days: float) -> int:
        """Delete media stored more than `older_than_days` ago (0: none); how many went.

        Their messages then read with a "[image expired]" text part in each image's place.
        """
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

    async def inbox_put(self, update_id: int, chat_id: int, thread_id: int, payload: str) -> bool:
        """Store a received update; False (and nothing changes) when update_id is already there.

        Commits before returning, so the caller may then acknowledge the update to Telegram.
        Wakes the inbox listeners (PostgreSQL: NOTIFY to every replica; SQLite: this process).
        """
        ...

    async def inbox_put_many(self, updates: Sequence[ReceivedUpdate]) -> int:
        """Store several received updates (part of a getUpdates batch) in one call, as
        `inbox_put` does each; how many were new."""
        ...

    async def inbox_more(self, owner: str, lease_seconds: float) -> list[InboxBatch]:
        """The unclaimed pending updates of conversations `owner` holds a claim on now,
        claimed for it too: updates that arrived while their conversation was worked on."""
        ...

    async def inbox_claim(
        self, owner: str, lease_seconds: float, max_conversations: int
    ) -> list[InboxBatch]:
        """Claim up to `max_conversations` conversations for `owner` until now + lease.

        Only conversations no one holds a live claim on are taken (one turn at a time per
        conversation across processes); a claim whose lease expired is taken over with its
        unfinished items. Each batch holds all the conversation's pending items in update_id
        order; items arriving later are not added to it: they come with the next claim.
        Concurrent claimers never get the same conversation. Oldest work first.
        """
        ...

    async def inbox_done(self, update_ids: list[int]) -> None:
        """Mark updates processed; they stay (for duplicate detection) until pruned."""
        ...

    async def inbox_renew(self, owner: str, lease_seconds: float) -> int:
        """Extend all of owner's claims to now + lease; the number of items it still holds."""
        ...

    async def inbox_release(self, owner: str) -> None:
        """Give up all of owner's claims unfinished, for others to take now (graceful stop)."""
        ...

    async def inbox_prune(self, older_than_seconds: float) -> int:
        """Delete updates processed more than `older_than_seconds` ago; how many went."""
        ...

    async def listen_inbox(self, callback: Callable[[], None]) -> None:
        """Call `callback` (no arguments, from the event loop) when an update is put.

        PostgreSQL: LISTEN/NOTIFY on a connection of its own, so a put on any replica wakes
        every replica. SQLite: only puts by this process wake it. Either way notices are a
        hint to claim soon, not a guarantee: callers still poll `inbox_claim` now and then
        (expired leases make no notice). Listening ends with `close()`.
        """
        ...

    async def publish_stop(self, key: ChatKey, token: str) -> bool:
        """Ask the process running the conversation's answer `token` to stop it.

        PostgreSQL: NOTIFY to every replica (the one running it stops it); True. SQLite: one
        process runs everything, so no other can be running it; False.
        """
        ...

    async def listen_stops(self, callback: Callable[[ChatKey, str], None]) -> None:
        """Call `callback(key, token)` (from the event loop) for every stop any replica
        publishes. SQLite: never called. Listening ends with `close()`."""
        ...

    async def save_turn_progress(
        self, chat_id: int, thread_id: int, update_ids: list[int], state: str
    ) -> None:
        """Record the running turn of a conversation: the updates it answers, its state (JSON)."""
        ...

    async def load_turn_progress(self, chat_id: int, thread_id: int) -> TurnProgress | None:
        """The recorded progress of the conversation's turn, or None: left by a crash, or
        by a turn that ended (then marked answered)."""
        ...

    async def try_lead(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Take or renew the named lease (e.g. "polling") to now + lease; True if owner has it."""
        ...

    async def resign_lead(self, name: str, owner: str) -> None:
        """Give up the named lease if owner holds it, so another may take it at once."""
        ...

    async def take_rate_tokens(
        self, bucket: str, now: float | None, window: float, limit: int
    ) -> float:
        """0 if a call in `bucket` may go now (and count it), else seconds to wait.

        A sliding window: at most `limit` calls counted in any `window` seconds, across every
        process sharing the database (PostgreSQL: serialised per bucket by an advisory lock).
        A refused call is not counted. `now` None: the moment the call is granted, by the
        database's clock (what replicas must use: a time taken before waiting for a connection
        is stale by then); a number: that time (tests).
        """
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
