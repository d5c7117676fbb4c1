"""The PostgreSQL store (asyncpg, a pool): the SQLite store's behaviour, shared by replicas.

Several processes may use one database at once, so nothing read is cached in memory (another
replica may have started a new conversation or changed a setting), and what must happen once
per conversation is serialised by a transaction-scoped advisory lock on the conversation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg

from storage import library_sql as q
from storage import media as md
from storage.migrations import MIGRATIONS
from storage.models import (
    ChatKey,
    ConversationPage,
    ForgetReport,
    MessageRecord,
    ModelUsage,
    Status,
    TurnRecord,
    TurnStats,
    UsageRecord,
)
from storage.postgres_work import PostgresWork
from storage.rows import INSERT_COLUMNS, MESSAGE_COLUMNS, insert_values, row_to_record

log = logging.getLogger(__name__)

# Advisory-lock namespaces (the first key of the two-key form).
LOCK_MIGRATE = 7300
LOCK_CONVERSATION = 7301

_PLACEHOLDERS = ", ".join(f"${i}" for i in range(2, 13))


class PostgresStore(PostgresWork):
    """Store backed by an asyncpg pool; safe for several processes sharing the database."""

    media_rows_read = 0  # media rows `recent_messages` loaded (per instance once counted)

    @classmethod
    async def open(cls, dsn: str, min_size: int = 1, max_size: int = 10) -> PostgresStore:
        """Connect a pool to `dsn` (postgresql://user:pass@host:port/db) and migrate."""
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        store = cls(pool, dsn)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection from the pool inside a transaction; rolled back on error."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _migrate(self) -> None:
        async with self._transaction() as conn:
            # Replicas starting together: one migrates, the others wait and find it done.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_MIGRATE)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            current = await conn.fetchval("SELECT MAX(version) FROM schema_version") or 0
            for version, step in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                await conn.execute(step.script("postgres"))
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)

    async def schema_version(self) -> int:
        """The version of the schema in the database."""
        value = await self._pool.fetchval("SELECT MAX(version) FROM schema_version")
        return int(value or 0)

    async def active_conversation(self, key: ChatKey) -> int:
        """The id of the key's current conversation, created when there is none."""
        sql = (
            "SELECT id FROM conversations WHERE chat_id = $1 AND thread_id = $2 "
            "AND archived_at IS NULL ORDER BY id DESC LIMIT 1"
        )
        found = await self._pool.fetchval(sql, key.chat_id, key.thread_id)
        if found is not None:
            return int(found)
        async with self._transaction() as conn:
            await self._lock_conversation(conn, key)
            found = await conn.fetchval(sql, key.chat_id, key.thread_id)
            if found is None:
                found = await conn.fetchval(
                    "INSERT INTO conversations (chat_id, thread_id, created_at) "
                    "VALUES ($1, $2, $3) RETURNING id",
                    key.chat_id,
                    key.thread_id,
                    time.time(),
                )
        return int(found)

    @staticmethod
    async def _lock_conversation(conn: asyncpg.Connection, key: ChatKey) -> None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            LOCK_CONVERSATION,
            f"{key.chat_id}:{key.thread_id}",
        )

    async def new_conversation(self, key: ChatKey) -> int:
        """Archive the key's current conversation and start a fresh one."""
        now = time.time()
        async with self._transaction() as conn:
            await self._lock_conversation(conn, key)
            await conn.execute(
                "UPDATE conversations SET archived_at = $1 "
                "WHERE chat_id = $2 AND thread_id = $3 AND archived_at IS NULL",
                now,
                key.chat_id,
                key.thread_id,
            )
            found = await conn.fetchval(
                "INSERT INTO conversations (chat_id, thread_id, created_at) "
                "VALUES ($1, $2, $3) RETURNING id",
                key.chat_id,
                key.thread_id,
                now,
            )
        return int(found)

    async def add_message(self, conversation_id: int, message: MessageRecord) -> int:
        """Append a message; returns its id."""
        if md.data_urls(message.parts):
            async with self._transaction() as conn:
                return await self._insert(conn, conversation_id, message)
        async with self._pool.acquire() as conn:
            return await self._insert(conn, conversation_id, message)

    async def add_messages(self, conversation_id: int, messages: list[MessageRecord]) -> None:
        """Append several messages in one transaction, in order."""
        if not messages:
            return
        async with self._transaction() as conn:
            for message in messages:
                await self._insert(conn, conversation_id, message)

    async def replace_from(
        self, conversation_id: int, message_id: int, content: str | None, tokens: int
    ) -> None:
        """Rewrite a message's text (None keeps it) and delete every later message."""
        async with self._transaction() as conn:
            if content is not None:
                await conn.execute(
                    "UPDATE messages SET content = $1, tokens = $2 "
                    "WHERE id = $3 AND conversation_id = $4",
                    content,
                    tokens,
                    message_id,
                    conversation_id,
                )
            await conn.execute(
                q.numbered(md.DELETE_LATER_MEDIA), conversation_id, conversation_id, message_id
            )
            await conn.execute(
                "DELETE FROM messages WHERE conversation_id = $1 AND id > $2",
                conversation_id,
                message_id,
            )

    async def set_message_status(self, message_id: int, status: Status) -> None:
        """Change a stored message's status (a "failed" user message stays out of windows)."""
        await self._pool.execute(
            "UPDATE messages SET status = $1 WHERE id = $2", status, message_id
        )

    @staticmethod
    async def _insert(conn: asyncpg.Connection, conversation_id: int, m: MessageRecord) -> int:
        """Insert one message (inside the caller's transaction when it has images)."""
        created = m.created_at or time.time()
        media_ids: list[int] = []
        for url in md.data_urls(m.parts):
            sql = q.numbered(md.INSERT_MEDIA) + " RETURNING id"
            media_id = await conn.fetchval(sql, conversation_id, created, "image", url)
            media_ids.append(int(media_id))
        stored = m if not media_ids else replace(m, parts=md.referenced(m.parts, media_ids))
        found = await conn.fetchval(
            f"INSERT INTO messages ({INSERT_COLUMNS}) VALUES ($1, {_PLACEHOLDERS}) RETURNING id",
            *insert_values(conversation_id, stored, created),
        )
        m.id = int(found)
        m.created_at = created
        if media_ids:
            await conn.execute(q.numbered(md.link_media(len(media_ids))), m.id, *media_ids)
        return m.id

    async def recent_messages(
        self, conversation_id: int, token_budget: int, max_messages: int
    ) -> list[MessageRecord]:
        """The newest messages whose tokens fit the budget, oldest first.

        The window is chosen from ids and token counts alone; only its rows are then read,
        and only their media.
        """
        keys = await self._pool.fetch(q.numbered(md.WINDOW_KEYS), conversation_id, max_messages)
        ids = md.window_ids(keys, token_budget)
        if not ids:
            return []
        rows = await self._pool.fetch(
            q.numbered(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {md.WINDOW_ROWS}"),
            conversation_id,
            ids[-1],
            ids[0],
        )
        records = [row_to_record(r) for r in rows]
        self.media_rows_read += await md.attach(records, self._load_media)
        return records

    async def _load_media(self, ids: list[int]) -> dict[int, str]:
        media = await self._pool.fetch(q.numbered(md.select_media(len(ids))), *ids)
        return {int(r["id"]): str(r["data"]) for r in media}

    async def prune_media(self, older_than_days: float) -> int:
        """Delete media stored more than `older_than_days` ago (0: none); how many went."""
        if older_than_days <= 0:
            return 0
        cutoff = time.time() - older_than_days * md.SECONDS_PER_DAY
        status = await self._pool.execute(q.numbered(md.PRUNE_MEDIA), cutoff)
        return int(str(status).rsplit(" ", 1)[-1] or 0)

    async def get_setting(self, key: ChatKey, name: str) -> str | None:
        """A per-chat setting, or None."""
        value: Any = await self._pool.fetchval(
            "SELECT value FROM chat_settings WHERE chat_id = $1 AND thread_id = $2 AND name = $3",
            key.chat_id,
            key.thread_id,
            name,
        )
        return None if value is None else str(value)

    async def set_setting(self, key: ChatKey, name: str, value: str | None) -> None:
        """Set (or with None, clear) a per-chat setting."""
        if value is None:
            await self._pool.execute(
                "DELETE FROM chat_settings WHERE chat_id = $1 AND thread_id = $2 AND name = $3",
                key.chat_id,
                key.thread_id,
                name,
            )
            return
        await self._pool.execute(
            "INSERT INTO chat_settings (chat_id, thread_id, name, value) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (chat_id, thread_id, name) DO UPDATE SET value = excluded.value",
            key.chat_id,
            key.thread_id,
            name,
            value,
        )

    async def record_usage(self, usage: UsageRecord) -> None:
        """Record the tokens of one model call."""
        await self._pool.execute(
            "INSERT INTO usage (conversation_id, chat_id, user_id, model, prompt_tokens, "
            "completion_tokens, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            usage.conversation_id,
            usage.chat_id,
            usage.user_id,
            usage.model,
            usage.prompt_tokens,
            usage.completion_tokens,
            time.time(),
        )

    async def close(self) -> None:
        """Stop listening and close the pool."""
        await self._stop_listening()
        await self._pool.close()

    async def conversations(self, key: ChatKey, offset: int, limit: int) -> ConversationPage:
        """A page of the key's saved conversations, newest first (empty archived ones left out)."""
        where = (key.chat_id, key.thread_id)
        total = await self._pool.fetchval(q.numbered(q.CONVERSATIONS_COUNT), *where)
        rows = await self._pool.fetch(q.numbered(q.CONVERSATIONS_PAGE), *where, limit, offset)
        return ConversationPage([q.summary(r) for r in rows], int(total or 0))

    async def resume_conversation(self, key: ChatKey, conversation_id: int) -> bool:
        """Make one of the key's conversations the active one again; False when it is not theirs."""
        async with self._transaction() as conn:
            await self._lock_conversation(conn, key)
            owned = await conn.fetchval(
                q.numbered(q.OWNED), conversation_id, key.chat_id, key.thread_id
            )
            if owned is None:
                return False
            await conn.execute(
                q.numbered(q.ARCHIVE_OTHERS),
                time.time(),
                key.chat_id,
                key.thread_id,
                conversation_id,
            )
            await conn.execute(q.numbered(q.REACTIVATE), conversation_id)
        return True

    async def forget(self, key: ChatKey) -> ForgetReport:
        """Delete the key's conversations, messages and settings, and reclaim their space."""
        where = (key.chat_id, key.thread_id)
        async with self._transaction() as conn:
            await self._lock_conversation(conn, key)
            report = ForgetReport(
                conversations=int(
                    await conn.fetchval(q.numbered(q.FORGET_COUNT_CONVERSATIONS), *where)
                ),
                messages=int(await conn.fetchval(q.numbered(q.FORGET_COUNT_MESSAGES), *where)),
                settings=int(await conn.fetchval(q.numbered(q.FORGET_COUNT_SETTINGS), *where)),
            )
            for statement in q.FORGET_STEPS:
                await conn.execute(q.numbered(statement), *where)
        try:
            # Autovacuum would get there too; this gives the dead rows back now.
            await self._pool.execute("VACUUM media, messages, conversations, chat_settings, inbox")
        except asyncpg.PostgresError as exc:
            log.warning("VACUUM after /forget failed: %s", exc)
        return report

    async def record_turn(self, turn: TurnRecord) -> None:
        """Record how one turn ended."""
        await self._pool.execute(q.numbered(q.INSERT_TURN), *q.turn_values(turn))

    async def usage_by_model(self, since: float, user_id: int | None = None) -> list[ModelUsage]:
        """Turns and tokens per model since `since`, of one user or (None) of everyone."""
        sql, params = q.turns_by_model(since, user_id)
        turn_rows = await self._pool.fetch(q.numbered(sql), *params)
        sql, params = q.tokens_by_model(since, user_id)
        token_rows = await self._pool.fetch(q.numbered(sql), *params)
        return q.merge_usage(turn_rows, token_rows)

    async def turn_count(
        self, since: float, *, user_id: int | None = None, chat_id: int | None = None
    ) -> int:
        """How many turns one user and/or one chat had since `since`."""
        sql, params = q.count_turns(since, user_id, chat_id)
        return int(await self._pool.fetchval(q.numbered(sql), *params) or 0)

    async def turn_stats(self, since: float) -> TurnStats:
        """Active users and chats, outcomes and first-visible times since `since`."""
        active = await self._pool.fetchrow(q.numbered(q.ACTIVE), since)
        outcomes = await self._pool.fetch(q.numbered(q.OUTCOMES), since)
        times = await self._pool.fetch(q.numbered(q.TIMES), since)
        return TurnStats(
            users=int(active[0]) if active else 0,
            chats=int(active[1]) if active else 0,
            outcomes={str(r["status"]): int(r["n"]) for r in outcomes},
            first_visible_ms=[float(r[0]) for r in times],
        )
