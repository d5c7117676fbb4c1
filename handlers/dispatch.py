"""From the inbox to the handlers: conversations claimed from the store, updates fed in order.

Every update is in the store before Telegram is told it arrived (handlers/intake*.py). This
loop claims whole conversations (all their pending updates, oldest first) under a lease, so
that across every replica one conversation is worked on by one process at a time; updates
that arrive meanwhile wait for the next claim. An update is marked done once handled; what a
dead process held is taken over when its lease runs out, what a stopping one held is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass

from telegram import Chat, Message, Update

from handlers.context import BotApp
from storage import Store
from storage.models import InboxBatch

log = logging.getLogger(__name__)
_MAX_ID = 2**62


@dataclass(frozen=True)
class DispatchConfig:
    """How the dispatcher claims work."""

    owner: str  # this replica's name in leases
    lease_seconds: float = 30.0
    max_conversations: int = 256  # conversations worked on at once by this replica
    idle_poll: float = 1.0  # how often to look for work nobody announced (expired leases)


def _readable(update: Update) -> bool:
    """Whether the fields handlers rely on are there (PTB does not check required fields)."""
    message = update.effective_message
    if message is not None and not isinstance(message.chat, Chat):
        return False
    query = update.callback_query
    if query is not None and not (isinstance(query.id, str) and query.id):
        return False  # it could not even be answered
    user, chat = update.effective_user, update.effective_chat
    ids = [user.id if user else 0, chat.id if chat else 0]
    if message is not None:
        ids += [message.message_id, message.message_thread_id or 0]
        if not all(_well_typed(m) for m in (message, message.reply_to_message) if m):
            return False
    return all(_fits(value) for value in ids)


def _well_typed(message: Message) -> bool:
    """Texts are strings and entity offsets and lengths integers (PTB slices with them)."""
    if any(
        text is not None and not isinstance(text, str) for text in (message.text, message.caption)
    ):
        return False
    entities = (*message.entities, *message.caption_entities)
    return all(_fits(entity.offset) and _fits(entity.length) for entity in entities)


def _fits(value: object) -> bool:
    """An integer id the store can hold (Telegram's ids have at most 52 bits)."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < _MAX_ID


class Dispatcher:
    """Claims conversations from the inbox and runs their updates through the Application."""

    def __init__(self, app: BotApp, store: Store, config: DispatchConfig) -> None:
        self._app = app
        self._store = store
        self._config = config
        self._wakeup = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self.processed = 0

    def wake(self) -> None:
        """Work has arrived: look for it now."""
        self._wakeup.set()

    async def start(self) -> None:
        """Take back what an earlier run of this replica held, then start claiming."""
        await self._store.inbox_release(self._config.owner)
        await self._store.listen_inbox(self.wake)
        self._loop = asyncio.create_task(self._claim_loop(), name="dispatch")
        self._renewer = asyncio.create_task(self._renew_loop(), name="dispatch-renew")

    async def _claim_loop(self) -> None:
        while True:
            free = self._config.max_conversations - len(self._running)
            batches: list[InboxBatch] = []
            if free > 0:
                self._wakeup.clear()
                try:
                    batches = await self._store.inbox_claim(
                        self._config.owner, self._config.lease_seconds, free
                    )
                except Exception:
                    log.exception("could not claim work from the inbox")
            for batch in batches:
                task = asyncio.create_task(self._work(batch))
                self._running.add(task)
                task.add_done_callback(self._finished)
            if not batches:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._config.idle_poll)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wakeup.set()  # a conversation became free: its newer updates may be claimed

    async def _work(self, batch: InboxBatch) -> None:
        """Handle a conversation's updates; their handlers keep the order themselves."""
        handled = [asyncio.create_task(self._handle(item.payload)) for item in batch.items]
        try:
            for item, task in zip(batch.items, handled, strict=True):
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)
                await self._done(item.update_id)
        except asyncio.CancelledError:
            for task in handled:
                task.cancel()  # unfinished: not marked done, handled again after a restart
            raise

    async def _handle(self, payload: str) -> None:
        try:
            update = Update.de_json(json.loads(payload), self._app.bot)
        except Exception:
            update = None
        if update is None or not _readable(update):
            log.warning("dropping an update that cannot be read")
            return
        await self._app.process_update(update)
        self.processed += 1

    async def _done(self, update_id: int) -> None:
        try:
            await self._store.inbox_done([update_id])
        except Exception:
            log.exception("could not mark update %s done", update_id)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.lease_seconds / 3)
            try:
                await self._store.inbox_renew(self._config.owner, self._config.lease_seconds)
            except Exception:
                log.exception("could not renew the inbox lease")

    async def stop(self, grace: float) -> None:
        """Stop claiming; let running work finish for `grace` seconds, release the rest."""
        for task in (self._loop, self._renewer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._running:
            _, unfinished = await asyncio.wait(set(self._running), timeout=grace)
            for task in unfinished:
                task.cancel()
            if unfinished:
                log.warning("stopping: %d conversations left for the next start", len(unfinished))
                await asyncio.wait(unfinished, timeout=1.0)
        with contextlib.suppress(Exception):
            await self._store.inbox_release(self._config.owner)
