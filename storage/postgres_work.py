"""The PostgreSQL side of shared work: inbox, turn progress, leases, rate budgets.

Replicas share these tables. Claiming takes a transaction-scoped advisory lock per
conversation (`pg_try_advisory_xact_lock`, skipping those another claimer holds, like
SKIP LOCKED) and then re-checks, in a new statement, that no live claim exists: two claimers
never get the same conversation. `inbox_put` sends NOTIFY so listening replicas wake.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import asyncpg

from storage.models import ChatKey, InboxBatch, ReceivedUpdate, TurnProgress
from storage.work import group_batches, wake

log = logging.getLogger(__name__)

CHANNEL = "bot_inbox"
STOP_CHANNEL = "bot_stop"
LOCK_CLAIM = 7302

_PUT = """
WITH added AS (
    INSERT INTO inbox (update_id, chat_id, thread_id, payload, received_at)
    SELECT u, c, t, p, $5 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
        AS batch(u, c, t, p)
    ON CONFLICT (update_id) DO NOTHING RETURNING update_id
)
SELECT pg_notify($6, update_id::text) FROM added
"""

_CANDIDATES = """
SELECT chat_id, thread_id FROM inbox WHERE done_at IS NULL
GROUP BY chat_id, thread_id
HAVING COALESCE(MAX(lease_until), 0) <= $1
ORDER BY MIN(update_id) LIMIT $2
"""

# Lock the first free candidates, skipping those with a live claim committed since the
# candidates were read (checked before trying the lock, held to the end of the transaction).
_LOCK_FREE = """
SELECT c.chat_id, c.thread_id FROM unnest($1::bigint[], $2::bigint[]) AS c (chat_id, thread_id)
WHERE CASE
    WHEN EXISTS (
        SELECT 1 FROM inbox AS j
        WHERE j.chat_id = c.chat_id AND j.thread_id = c.thread_id
          AND j.done_at IS NULL AND j.lease_until > $5
    ) THEN false
    ELSE pg_try_advisory_xact_lock($3, hashtext(c.chat_id::text || ':' || c.thread_id::text))
END
LIMIT $4
"""

# Under the locks, in a new statement (a fresh snapshot): claim what is still unclaimed.
_CLAIM = """
UPDATE inbox AS i SET owner = $1, lease_until = $2
WHERE i.done_at IS NULL
  AND (i.chat_id, i.thread_id) IN (SELECT * FROM unnest($4::bigint[], $5::bigint[]))
  AND NOT EXISTS (
      SELECT 1 FROM inbox AS j
      WHERE j.chat_id = i.chat_id AND j.thread_id = i.thread_id
        AND j.done_at IS NULL AND j.lease_until > $3
  )
RETURNING i.chat_id, i.thread_id, i.update_id, i.payload
"""

_MORE = """
UPDATE inbox AS i SET owner = $1, lease_until = $2
WHERE i.done_at IS NULL AND i.owner IS NULL
  AND (i.chat_id, i.thread_id) IN (
      SELECT chat_id, thread_id FROM inbox WHERE owner = $1 AND done_at IS NULL
  )
RETURNING i.chat_id, i.thread_id, i.update_id, i.payload
"""

_LEAD = """
INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.owner = excluded.owner OR leases.expires_at <= $4
RETURNING owner
"""


def _count(status: str) -> int:
    """The row count of a command status such as 'UPDATE 3'."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresWork:
    """Inbox, turn progress, leases and rate budgets on the PostgreSQL store's pool."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._listeners: list[Callable[[], None]] = []
        self._stop_listeners: list[Callable[[ChatKey, str], None]] = []
        self._listen_conn: asyncpg.Connection | None = None

    if TYPE_CHECKING:

        def _transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]: ...

    async def inbox_put(self, update_id: int, chat_id: int, thread_id: int, payload: str) -> bool:
        """Store a received update and NOTIFY; False when update_id is already there."""
        received = ReceivedUpdate(update_id, ChatKey(chat_id, thread_id), payload)
        return await self.inbox_put_many([received]) == 1

    async def inbox_put_many(self, updates: Sequence[ReceivedUpdate]) -> int:
        """Store a batch of received updates in one statement and NOTIFY; how many were new."""
        if not updates:
            return 0
        rows = await self._pool.fetch(
            _PUT,
            [u.update_id for u in updates],
            [u.key.chat_id for u in updates],
            [u.key.thread_id for u in updates],
            [u.payload for u in updates],
            time.time(),
            CHANNEL,
        )
        return len(rows)

    async def inbox_claim(
        self, owner: str, lease_seconds: float, max_conversations: int
    ) -> list[InboxBatch]:
        """Claim up to `max_conversations` unclaimed conversations with their pending items."""
        now = time.time()
        async with self._transaction() as conn:
            # Over-fetch: candidates another claimer is taking right now are skipped, and
            # only the first `max_conversations` free ones are locked.
            candidates = await conn.fetch(_CANDIDATES, now, max(64, max_conversations * 4))
            if not candidates:
                return []
            free = await conn.fetch(
                _LOCK_FREE,
                [c[0] for c in candidates],
                [c[1] for c in candidates],
                LOCK_CLAIM,
                max_conversations,
                now,
            )
            if not free:
                return []
            rows = await conn.fetch(
                _CLAIM,
                owner,
                now + lease_seconds,
                now,
                [f[0] for f in free],
                [f[1] for f in free],
            )
        return group_batches([(r[0], r[1], r[2], r[3]) for r in rows])

    async def inbox_more(self, owner: str, lease_seconds: float) -> list[InboxBatch]:
        """Claim the new updates of conversations owner already works on."""
        rows = await self._pool.fetch(_MORE, owner, time.time() + lease_seconds)
        return group_batches([(r[0], r[1], r[2], r[3]) for r in rows])

    async def inbox_done(self, update_ids: list[int]) -> None:
        """Mark updates processed."""
        await self._pool.execute(
            "UPDATE inbox SET done_at = $1, owner = NULL, lease_until = NULL "
            "WHERE update_id = ANY($2::bigint[])",
            time.time(),
            update_ids,
        )

    async def inbox_renew(self, owner: str, lease_seconds: float) -> int:
        """Extend owner's claims; the number of items it still holds."""
        status = await self._pool.execute(
            "UPDATE inbox SET lease_until = $1 WHERE owner = $2 AND done_at IS NULL",
            time.time() + lease_seconds,
            owner,
        )
        return _count(status)

    async def inbox_release(self, owner: str) -> None:
        """Give up owner's claims unfinished."""
        await self._pool.execute(
            "UPDATE inbox SET owner = NULL, lease_until = NULL "
            "WHERE owner = $1 AND done_at IS NULL",
            owner,
        )

    async def inbox_prune(self, older_than_seconds: float) -> int:
        """Delete updates processed more than `older_than_seconds` ago."""
        status = await self._pool.execute(
            "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < $1",
            time.time() - older_than_seconds,
        )
        return _count(status)

    async def listen_inbox(self, callback: Callable[[], None]) -> None:
        """Call `callback` on every NOTIFY of a put, from any replica (LISTEN)."""
        self._listeners.append(callback)
        await self._listen()

    async def _listen(self) -> None:
        """Open the connection every LISTEN goes through, once, with both channels on it."""
        if self._listen_conn is not None:
            return
        self._listen_conn = await asyncpg.connect(self._dsn)
        self._listen_conn.add_termination_listener(self._on_lost)
        await self._listen_conn.add_listener(CHANNEL, self._on_notify)
        await self._listen_conn.add_listener(STOP_CHANNEL, self._on_stop)

    def _on_notify(self, *_: Any) -> None:
        wake(self._listeners)

    def _on_stop(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        chat_id, thread_id, token = payload.split(" ", 2)
        for callback in self._stop_listeners:
            callback(ChatKey(int(chat_id), int(thread_id)), token)

    async def publish_stop(self, key: ChatKey, token: str) -> bool:
        """NOTIFY every replica: the one running the answer `token` stops it."""
        payload = f"{key.chat_id} {key.thread_id} {token}"
        await self._pool.execute("SELECT pg_notify($1, $2)", STOP_CHANNEL, payload)
        return True

    async def listen_stops(self, callback: Callable[[ChatKey, str], None]) -> None:
        """Call `callback(key, token)` on every published stop, from any replica."""
        self._stop_listeners.append(callback)
        await self._listen()

    def _on_lost(self, _: Any) -> None:
        log.warning("the LISTEN connection to PostgreSQL closed: new updates are found by polling")

    async def _stop_listening(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        if conn is not None:
            conn.remove_termination_listener(self._on_lost)
            try:
                await conn.close(timeout=2)
            except Exception:  # a dead connection: nothing more to close
                log.debug("closing the LISTEN connection failed", exc_info=True)

    async def save_turn_progress(
        self, chat_id: int, thread_id: int, update_ids: list[int], state: str
    ) -> None:
        """Record the running turn of a conversation."""
        await self._pool.execute(
            "INSERT INTO turn_progress (chat_id, thread_id, update_ids, state, updated_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chat_id, thread_id) DO UPDATE SET "
            "update_ids = excluded.update_ids, state = excluded.state, "
            "updated_at = excluded.updated_at",
            chat_id,
            thread_id,
            json.dumps(update_ids),
            state,
            time.time(),
        )

    async def load_turn_progress(self, chat_id: int, thread_id: int) -> TurnProgress | None:
        """The recorded progress of the conversation's turn, or None."""
        row = await self._pool.fetchrow(
            "SELECT update_ids, state, updated_at FROM turn_progress "
            "WHERE chat_id = $1 AND thread_id = $2",
            chat_id,
            thread_id,
        )
        if row is None:
            return None
        return TurnProgress(ChatKey(chat_id, thread_id), json.loads(row[0]), row[1], row[2])

    async def try_lead(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Take or renew the named lease; True if owner holds it."""
        now = time.time()
        held = await self._pool.fetchval(_LEAD, name, owner, now + lease_seconds, now)
        return held is not None

    async def resign_lead(self, name: str, owner: str) -> None:
        """Give up the named lease if owner holds it."""
        await self._pool.execute("DELETE FROM leases WHERE name = $1 AND owner = $2", name, owner)

    async def take_rate_tokens(
        self, bucket: str, now: float | None, window: float, limit: int
    ) -> float:
        """0 if a call in `bucket` may go now (and count it), else seconds to wait."""
        wait = await self._pool.fetchval(
            "SELECT take_rate_tokens($1, $2, $3, $4)", bucket, now, window, limit
        )
        return float(wait)
