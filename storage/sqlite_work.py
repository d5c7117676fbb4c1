"""The SQLite side of shared work: inbox, turn progress, leases, rate budgets.

One process owns a SQLite database, so the write lock plus SQLite's own single writer make
every step atomic; the same tables and semantics as on PostgreSQL keep the callers' code
the same on both.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import aiosqlite

from storage.models import ChatKey, InboxBatch, ReceivedUpdate, TurnProgress
from storage.work import group_batches, wake


async def one_row(
    db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> sqlite3.Row | None:
    """The first row of a query, in one trip to the database thread (a cursor read and
    closed costs three, about 50 µs each)."""
    for row in await db.execute_fetchall(sql, tuple(params)):
        return row
    return None


async def all_rows(
    db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> list[sqlite3.Row]:
    """Every row of a query, in one trip to the database thread."""
    return list(await db.execute_fetchall(sql, tuple(params)))


_PUT = (
    "INSERT INTO inbox (update_id, chat_id, thread_id, payload, received_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING"
)

_CLAIM = """
UPDATE inbox SET owner = ?, lease_until = ?
WHERE done_at IS NULL AND (chat_id, thread_id) IN (
    SELECT chat_id, thread_id FROM inbox WHERE done_at IS NULL
    GROUP BY chat_id, thread_id
    HAVING COALESCE(MAX(lease_until), 0) <= ?
    ORDER BY MIN(update_id) LIMIT ?
)
RETURNING chat_id, thread_id, update_id, payload
"""

_MORE = """
UPDATE inbox SET owner = ?, lease_until = ?
WHERE done_at IS NULL AND owner IS NULL AND (chat_id, thread_id) IN (
    SELECT chat_id, thread_id FROM inbox WHERE owner = ? AND done_at IS NULL
)
RETURNING chat_id, thread_id, update_id, payload
"""

_LEAD = """
INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.owner = excluded.owner OR leases.expires_at <= ?
RETURNING owner
"""


class SQLiteWork:
    """Inbox, turn progress, leases and rate budgets on the SQLite store's connection."""

    _db: aiosqlite.Connection
    _write_lock: asyncio.Lock
    _listeners: list[Callable[[], None]]

    if TYPE_CHECKING:

        def _transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]: ...

    async def inbox_put(self, update_id: int, chat_id: int, thread_id: int, payload: str) -> bool:
        """Store a received update; False when update_id is already there."""
        received = ReceivedUpdate(update_id, ChatKey(chat_id, thread_id), payload)
        return await self.inbox_put_many([received]) == 1

    async def inbox_put_many(self, updates: Sequence[ReceivedUpdate]) -> int:
        """Store a batch of received updates in one trip to the database thread (each row
        committed on its own: no BEGIN and COMMIT trips); how many were new."""
        now = time.time()
        rows = [(u.update_id, u.key.chat_id, u.key.thread_id, u.payload, now) for u in updates]
        if not rows:
            return 0
        async with self._write_lock:
            cur = await self._db.executemany(_PUT, rows)
            added = max(cur.rowcount, 0)
        if added:
            wake(self._listeners)
        return added

    async def inbox_claim(
        self, owner: str, lease_seconds: float, max_conversations: int
    ) -> list[InboxBatch]:
        """Claim up to `max_conversations` unclaimed conversations with their pending items."""
        now = time.time()
        async with self._write_lock:
            rows = await all_rows(
                self._db, _CLAIM, (owner, now + lease_seconds, now, max_conversations)
            )
        return group_batches([(r[0], r[1], r[2], r[3]) for r in rows])

    async def inbox_more(self, owner: str, lease_seconds: float) -> list[InboxBatch]:
        """Claim the new updates of conversations owner already works on."""
        async with self._write_lock:
            rows = await all_rows(self._db, _MORE, (owner, time.time() + lease_seconds, owner))
        return group_batches([(r[0], r[1], r[2], r[3]) for r in rows])

    async def inbox_done(self, update_ids: list[int]) -> None:
        """Mark updates processed."""
        async with self._write_lock:
            await self._db.execute(
                "UPDATE inbox SET done_at = ?, owner = NULL, lease_until = NULL "
                "WHERE update_id IN (SELECT value FROM json_each(?))",
                (time.time(), json.dumps(update_ids)),
            )

    async def inbox_renew(self, owner: str, lease_seconds: float) -> int:
        """Extend owner's claims; the number of items it still holds."""
        async with self._write_lock:
            cur = await self._db.execute(
                "UPDATE inbox SET lease_until = ? WHERE owner = ? AND done_at IS NULL",
                (time.time() + lease_seconds, owner),
            )
            return max(cur.rowcount, 0)

    async def inbox_release(self, owner: str) -> None:
        """Give up owner's claims unfinished."""
        async with self._write_lock:
            await self._db.execute(
                "UPDATE inbox SET owner = NULL, lease_until = NULL "
                "WHERE owner = ? AND done_at IS NULL",
                (owner,),
            )

    async def inbox_prune(self, older_than_seconds: float) -> int:
        """Delete updates processed more than `older_than_seconds` ago."""
        async with self._write_lock:
            cur = await self._db.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?",
                (time.time() - older_than_seconds,),
            )
            return max(cur.rowcount, 0)

    async def listen_inbox(self, callback: Callable[[], None]) -> None:
        """Call `callback` when this process puts an update (SQLite has one process)."""
        self._listeners.append(callback)

    async def publish_stop(self, key: ChatKey, token: str) -> bool:
        """No other process can be running the answer (SQLite has one process)."""
        return False

    async def listen_stops(self, callback: Callable[[ChatKey, str], None]) -> None:
        """Nothing to listen to: stops never come from another process."""

    async def save_turn_progress(
        self, chat_id: int, thread_id: int, update_ids: list[int], state: str
    ) -> None:
        """Record the running turn of a conversation."""
        async with self._write_lock:
            await self._db.execute(
                "INSERT INTO turn_progress (chat_id, thread_id, update_ids, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, thread_id) DO UPDATE SET "
                "update_ids = excluded.update_ids, state = excluded.state, "
                "updated_at = excluded.updated_at",
                (chat_id, thread_id, json.dumps(update_ids), state, time.time()),
            )

    async def load_turn_progress(self, chat_id: int, thread_id: int) -> TurnProgress | None:
        """The recorded progress of the conversation's turn, or None."""
        row = await one_row(
            self._db,
            "SELECT update_ids, state, updated_at FROM turn_progress "
            "WHERE chat_id = ? AND thread_id = ?",
            (chat_id, thread_id),
        )
        if row is None:
            return None
        return TurnProgress(ChatKey(chat_id, thread_id), json.loads(row[0]), row[1], row[2])

    async def try_lead(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Take or renew the named lease; True if owner holds it."""
        now = time.time()
        async with self._write_lock:
            return (
                await one_row(self._db, _LEAD, (name, owner, now + lease_seconds, now)) is not None
            )

    async def resign_lead(self, name: str, owner: str) -> None:
        """Give up the named lease if owner holds it."""
        async with self._write_lock:
            await self._db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    async def take_rate_tokens(
        self, bucket: str, now: float | None, window: float, limit: int
    ) -> float:
        """0 if a call in `bucket` may go now (and count it), else seconds to wait."""
        async with self._transaction() as db:
            now = time.time() if now is None else now
            await db.execute(
                "DELETE FROM rate_events WHERE bucket = ? AND taken_at <= ?",
                (bucket, now - window),
            )
            rows = await all_rows(
                db, "SELECT taken_at FROM rate_events WHERE bucket = ? ORDER BY taken_at", (bucket,)
            )
            taken = [row[0] for row in rows]
            if len(taken) < limit:
                await db.execute(
                    "INSERT INTO rate_events (bucket, taken_at) VALUES (?, ?)", (bucket, now)
                )
                return 0.0
        return float(max(taken[len(taken) - limit] + window - now, 0.001))
