"""From the inbox to the handlers: conversations claimed from the store, updates fed in order.

Every update is in the store before Telegram is told it arrived (handlers/intake*.py). This
loop claims whole conversations (all their pending updates, oldest first) under a lease, so
that across every replica one conversation is worked on by one process at a time; updates
of it that arrive meanwhile are claimed by the same process and handed to the same worker
(so an album's pictures, or a flood of messages, meet in one turn). An update is marked
done once handled, in order; what a dead process held is taken over when its lease runs
out, what a stopping one held is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass

from telegram import Chat, Message, Update

from handlers.context import BotApp
from storage import ChatKey, Store
from storage.models import InboxBatch, InboxItem

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


class _Conversation:
    """One conversation being worked on: updates arrived, and those being handled."""

    def __init__(self) -> None:
        self._new: deque[InboxItem] = deque()
        self.handling: deque[tuple[int, asyncio.Task[None]]] = deque()
        self._arrived = asyncio.Event()

    def arrive(self, items: list[InboxItem]) -> None:
        """More updates of this conversation were claimed."""
        self._new.extend(items)
        self._arrived.set()

    def take_new(self) -> list[InboxItem]:
        """The updates that arrived since the last call."""
        items = list(self._new)
        self._new.clear()
        self._arrived.clear()
        return items

    async def next_event(self, task: asyncio.Task[None]) -> None:
        """Wait until `task` ends or more updates arrive."""
        arrived = asyncio.ensure_future(self._arrived.wait())
        try:
            await asyncio.wait({task, arrived}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrived.cancel()


class Dispatcher:
    """Claims conversations from the inbox and runs their updates through the Application."""

    def __init__(self, app: BotApp, store: Store, config: DispatchConfig) -> None:
        self._app = app
        self._store = store
        self._config = config
        self._wakeup = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._working: dict[ChatKey, _Conversation] = {}
        self._loop: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._full = False  # the last claim was skipped: every worker slot was taken
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
            self._wakeup.clear()
            try:
                await self._hand_over(await self._store.inbox_more(*self._claim_args()))
                free = self._config.max_conversations - len(self._working)
                self._full = free <= 0
                batches = []
                if free > 0:
                    owner, lease = self._claim_args()
                    batches = await self._store.inbox_claim(owner, lease, free)
                await self._hand_over(batches)
            except Exception:
                log.exception("could not claim work from the inbox")
                batches = []
            if not batches:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._config.idle_poll)

    def _claim_args(self) -> tuple[str, float]:
        return self._config.owner, self._config.lease_seconds

    async def _hand_over(self, batches: list[InboxBatch]) -> None:
        """Give each conversation's updates to its worker, starting one where none runs."""
        for batch in batches:
            conversation = self._working.get(batch.key)
            if conversation is None:
                conversation = self._working[batch.key] = _Conversation()
                task = asyncio.create_task(self._work(batch.key, conversation))
                self._running.add(task)
                task.add_done_callback(self._finished)
            conversation.arrive(batch.items)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._full:
            self._wakeup.set()  # a worker slot became free: claim what waited for one
        # Otherwise nothing waits: what arrives for a conversation is claimed when its
        # arrival wakes the loop, by the worker that has it or by a new one.

    async def _work(self, key: ChatKey, conversation: _Conversation) -> None:
        """Handle a conversation's updates as they come (their handlers keep the order);
        each is marked done once handled, in order."""
        try:
            while True:
                for item in conversation.take_new():
                    task = asyncio.create_task(self._handle(item.payload))
                    conversation.handling.append((item.update_id, task))
                if not conversation.handling:
                    del self._working[key]  # nothing awaited since the check: none can arrive
                    return
                update_id, task = conversation.handling[0]
                await conversation.next_event(task)
                if task.done():
                    conversation.handling.popleft()
                    await self._done(update_id)
        except asyncio.CancelledError:
            for _, task in conversation.handling:
                task.cancel()  # unfinished: not marked done, handled again after a restart
            self._working.pop(key, None)
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
