"""The SQLite store (aiosqlite, WAL mode, versioned schema)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiosqlite

from storage import library_sql as q
from storage import media as md
from storage.migrations import MIGRATIONS, statements
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
from storage.rows import INSERT_COLUMNS, MESSAGE_COLUMNS, insert_values, row_to_record
from storage.sqlite_work import SQLiteWork, all_rows, one_row

SETTINGS_CACHE_SIZE = 20_000  # chats (and topics) whose settings stay in memory


def _ensure_parent(path: str) -> None:
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


async def _reclaimable(db: aiosqlite.Connection) -> None:
    """Deleted rows are overwritten and their pages can be given back (/forget)."""
    await db.execute("PRAGMA secure_delete=ON")
    row = await one_row(db, "PRAGMA auto_vacuum")
    if row is not None and int(row[0]) != 2:
        # Switching an existing database to incremental auto-vacuum takes one VACUUM.
        await db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        await db.execute("VACUUM")


class SQLiteStore(SQLiteWork):
    """Store backed by one aiosqlite connection; writes are serialised by a lock."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._write_lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._active: dict[ChatKey, int] = {}
        # Per-chat settings are read on every turn and written rarely: keep the recent ones.
        self._settings: OrderedDict[ChatKey, dict[str, str]] = OrderedDict()  # by chat
        self._setting_writes = 0
        self.media_rows_read = 0

    @classmethod
    async def open(cls, path: str) -> SQLiteStore:
        """Open (creating when needed) the database at `path` and migrate it."""
        if path != ":memory:":
            await asyncio.to_thread(_ensure_parent, path)
        db = await aiosqlite.connect(path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        await _reclaimable(db)
        store = cls(db)
        await store._migrate()
        return store

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE) under the write lock; rolled back on error."""
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise

    async def _migrate(self) -> None:
        await self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
        current = await self.schema_version()
        for version, step in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            async with self._transaction() as db:
                for statement in statements(step.script("sqlite")):
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    async def schema_version(self) -> int:
        """The version of the schema in the database."""
        row = await one_row(self._db, "SELECT MAX(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    async def active_conversation(self, key: ChatKey) -> int:
        """The id of the key's current conversation, created when there is none."""
        cached = self._active.get(key)
        if cached is not None:
            return cached
        async with self._write_lock:
            sql = (
                "SELECT id FROM conversations WHERE chat_id = ? AND thread_id = ? "
                "AND archived_at IS NULL ORDER BY id DESC LIMIT 1"
            )
            row = await one_row(self._db, sql, (key.chat_id, key.thread_id))
            if row is not None:
                conversation_id = int(row[0])
            else:
                cur = await self._db.execute(
                    "INSERT INTO conversations (chat_id, thread_id, created_at) VALUES (?, ?, ?)",
                    (key.chat_id, key.thread_id, time.time()),
                )
                conversation_id = int(cur.lastrowid or 0)
            self._active[key] = conversation_id
            return conversation_id

    async def new_conversation(self, key: ChatKey) -> int:
        """Archive the key's current conversation and start a fresh one."""
        now = time.time()
        async with self._transaction() as db:
            await db.execute(
                "UPDATE conversations SET archived_at = ? "
                "WHERE chat_id = ? AND thread_id = ? AND archived_at IS NULL",
                (now, key.chat_id, key.thread_id),
            )
            cur = await db.execute(
                "INSERT INTO conversations (chat_id, thread_id, created_at) VALUES (?, ?, ?)",
                (key.chat_id, key.thread_id, now),
            )
            conversation_id = int(cur.lastrowid or 0)
            self._active[key] = conversation_id
        return conversation_id

    async def add_message(self, conversation_id: int, message: MessageRecord) -> int:
        """Append a message; returns its id."""
        if md.data_urls(message.parts):
            async with self._transaction():
                return await self._insert(conversation_id, message)
        async with self._write_lock:
            return await self._insert(conversation_id, message)

    async def add_messages(self, conversation_id: int, messages: list[MessageRecord]) -> None:
        """Append several messages in one transaction, in order."""
        if not messages:
            return
        async with self._transaction():
            for message in messages:
                await self._insert(conversation_id, message)

    async def replace_from(
        self, conversation_id: int, message_id: int, content: str | None, tokens: int
    ) -> None:
        """Rewrite a message's text (None keeps it) and delete every later message."""
        async with self._transaction() as db:
            if content is not None:
                await db.execute(
                    "UPDATE messages SET content = ?, tokens = ? "
                    "WHERE id = ? AND conversation_id = ?",
                    (content, tokens, message_id, conversation_id),
                )
            await db.execute(md.DELETE_LATER_MEDIA, (conversation_id, conversation_id, message_id))
            await db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND id > ?",
                (conversation_id, message_id),
            )

    async def set_message_status(self, message_id: int, status: Status) -> None:
        """Change a stored message's status (a "failed" user message stays out of windows)."""
        async with self._transaction() as db:
            await db.execute("UPDATE messages SET status = ? WHERE id = ?", (status, message_id))

    async def _insert(self, conversation_id: int, m: MessageRecord) -> int:
        """Insert one message (inside the caller's transaction when it has images)."""
        created = m.created_at or time.time()
        media_ids: list[int] = []
        for url in md.data_urls(m.parts):
            cur = await self._db.execute(md.INSERT_MEDIA, (conversation_id, created, "image", url))
            media_ids.append(int(cur.lastrowid or 0))
        stored = m if not media_ids else replace(m, parts=md.referenced(m.parts, media_ids))
        cur = await self._db.execute(
            f"INSERT INTO messages ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            insert_values(conversation_id, stored, created),
        )
        m.id = int(cur.lastrowid or 0)
        m.created_at = created
        if media_ids:
            await self._db.execute(md.link_media(len(media_ids)), (m.id, *media_ids))
        return m.id

    async def recent_messages(
        self, conversation_id: int, token_budget: int, max_messages: int
    ) -> list[MessageRecord]:
        """The newest messages whose tokens fit the budget, oldest first.

        The window is chosen from the (conversation_id, id, tokens) index alone, stopping
        after `max_messages` rows; only its rows are then read, and only their media.
        """
        ids = md.window_ids(
            await all_rows(self._db, md.WINDOW_KEYS, (conversation_id, max_messages)),
            token_budget,
        )
        if not ids:
            return []
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {md.WINDOW_ROWS}"
        rows = await all_rows(self._db, sql, (conversation_id, ids[-1], ids[0]))
        records = [row_to_record(r) for r in rows]
        self.media_rows_read += await md.attach(records, self._load_media)
        return records

    async def _load_media(self, ids: list[int]) -> dict[int, str]:
        rows = await all_rows(self._db, md.select_media(len(ids)), ids)
        return {int(r[0]): str(r[1]) for r in rows}

    async def prune_media(self, older_than_days: float) -> int:
        """Delete media stored more than `older_than_days` ago (0: none); how many went."""
        if older_than_days <= 0:
            return 0
        cutoff = time.time() - older_than_days * md.SECONDS_PER_DAY
        async with self._write_lock:
            cur = await self._db.execute(md.PRUNE_MEDIA, (cutoff,))
        return int(cur.rowcount or 0)

    async def get_setting(self, key: ChatKey, name: str) -> str | None:
        """A per-chat setting, or None."""
        return (await self._chat_settings(key)).get(name)

    async def _chat_settings(self, key: ChatKey) -> dict[str, str]:
        """Every setting of a chat (or topic), read in one query on its first use."""
        known = self._settings.get(key)
        if known is not None:
            self._settings.move_to_end(key)
            return known
        writes = self._setting_writes
        sql = "SELECT name, value FROM chat_settings WHERE chat_id = ? AND thread_id = ?"
        rows = await all_rows(self._db, sql, (key.chat_id, key.thread_id))
        known = {str(row[0]): str(row[1]) for row in rows}
        if writes == self._setting_writes:  # else a write came in meanwhile: read again later
            self._settings[key] = known
            while len(self._settings) > SETTINGS_CACHE_SIZE:
                self._settings.popitem(last=False)
        return known

    async def set_setting(self, key: ChatKey, name: str, value: str | None) -> None:
        """Set (or with None, clear) a per-chat setting."""
        async with self._write_lock:
            if value is None:
                await self._db.execute(
                    "DELETE FROM chat_settings WHERE chat_id = ? AND thread_id = ? AND name = ?",
                    (key.chat_id, key.thread_id, name),
                )
            else:
                await self._db.execute(
                    "INSERT INTO chat_settings (chat_id, thread_id, name, value) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, thread_id, name) "
                    "DO UPDATE SET value = excluded.value",
                    (key.chat_id, key.thread_id, name, value),
                )
            self._setting_writes += 1
            known = self._settings.get(key)
            if known is not None:
                if value is None:
                    known.pop(name, None)
                else:
                    known[name] = value

    async def record_usage(self, usage: UsageRecord) -> None:
        """Record the tokens of one model call."""
        async with self._write_lock:
            await self._db.execute(
                "INSERT INTO usage (conversation_id, chat_id, user_id, model, prompt_tokens, "
                "completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    usage.conversation_id,
                    usage.chat_id,
                    usage.user_id,
                    usage.model,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    time.time(),
                ),
            )

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def _scalar(self, sql: str, params: tuple[object, ...] | list[object]) -> int:
        row = await one_row(self._db, sql, params)
        return int(row[0]) if row and row[0] is not None else 0

    async def conversations(self, key: ChatKey, offset: int, limit: int) -> ConversationPage:
        """A page of the key's saved conversations, newest first (empty archived ones left out)."""
        where = (key.chat_id, key.thread_id)
        total = await self._scalar(q.CONVERSATIONS_COUNT, where)
        rows = await all_rows(self._db, q.CONVERSATIONS_PAGE, (*where, limit, offset))
        return ConversationPage([q.summary(r) for r in rows], total)

    async def resume_conversation(self, key: ChatKey, conversation_id: int) -> bool:
        """Make one of the key's conversations the active one again; False when it is not theirs."""
        async with self._transaction() as db:
            if not await self._scalar(q.OWNED, (conversation_id, key.chat_id, key.thread_id)):
                return False
            await db.execute(
                q.ARCHIVE_OTHERS, (time.time(), key.chat_id, key.thread_id, conversation_id)
            )
            await db.execute(q.REACTIVATE, (conversation_id,))
            self._active[key] = conversation_id
        return True

    async def forget(self, key: ChatKey) -> ForgetReport:
        """Delete the key's conversations, messages and settings, and reclaim their space."""
        where = (key.chat_id, key.thread_id)
        async with self._transaction() as db:
            report = ForgetReport(
                conversations=await self._scalar(q.FORGET_COUNT_CONVERSATIONS, where),
                messages=await self._scalar(q.FORGET_COUNT_MESSAGES, where),
                settings=await self._scalar(q.FORGET_COUNT_SETTINGS, where),
            )
            for statement in q.FORGET_STEPS:
                await db.execute(statement, where)
            self._active.pop(key, None)
            self._settings.pop(key, None)
        async with self._write_lock:
            # Each step of incremental_vacuum frees one page, and execute() steps once:
            # executescript runs it to the end. The WAL still holds the deleted pages' old
            # contents until it is checkpointed.
            await self._db.executescript("PRAGMA incremental_vacuum;")
            await all_rows(self._db, "PRAGMA wal_checkpoint(TRUNCATE)")
        return report

    async def record_turn(self, turn: TurnRecord) -> None:
        """Record how one turn ended."""
        async with self._write_lock:
            await self._db.execute(q.INSERT_TURN, q.turn_values(turn))

    async def usage_by_model(self, since: float, user_id: int | None = None) -> list[ModelUsage]:
        """Turns and tokens per model since `since`, of one user or (None) of everyone."""
        sql, params = q.turns_by_model(since, user_id)
        turn_rows = await all_rows(self._db, sql, params)
        sql, params = q.tokens_by_model(since, user_id)
        token_rows = await all_rows(self._db, sql, params)
        return q.merge_usage(turn_rows, token_rows)

    async def turn_count(
        self, since: float, *, user_id: int | None = None, chat_id: int | None = None
    ) -> int:
        """How many turns one user and/or one chat had since `since`."""
        sql, params = q.count_turns(since, user_id, chat_id)
        return await self._scalar(sql, params)

    async def turn_stats(self, since: float) -> TurnStats:
        """Active users and chats, outcomes and first-visible times since `since`."""
        active = await one_row(self._db, q.ACTIVE, (since,))
        outcome_rows = await all_rows(self._db, q.OUTCOMES, (since,))
        outcomes = {str(r["status"]): int(r["n"]) for r in outcome_rows}
        times = [float(r[0]) for r in await all_rows(self._db, q.TIMES, (since,))]
        users, chats = (int(active[0]), int(active[1])) if active else (0, 0)
        return TurnStats(users, chats, outcomes, times)
