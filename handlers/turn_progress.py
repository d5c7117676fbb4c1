"""A running turn's progress in the store, so a turn cut by a crash is finished honestly.

While a turn runs, the store holds which Telegram message it answers, the stored question
and the messages of its live reply. When the same question is handled again (the process
died and its update came back from the inbox), the answer replaces the half-written reply in
place, says that a restart interrupted it, and the question is not stored twice; a question
whose turn had ended (the process died before marking its update done) is not answered
again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass, field

from storage import ChatKey, Store

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What is recorded of a running turn."""

    question_message_id: int
    user_message_id: int | None = None
    message_ids: list[int] = field(default_factory=list)
    answered: bool = False  # the turn ended; its update may not be marked done yet
    asker_id: int | None = None  # who may stop it from another replica (with the admins)


class ProgressRecorder:
    """Keeps one conversation's progress row up to date, one write at a time."""

    def __init__(self, store: Store, key: ChatKey, progress: Progress) -> None:
        self._store = store
        self._key = key
        self.progress = progress
        self._writing: asyncio.Task[None] | None = None
        self._dirty = False

    @classmethod
    async def begin(
        cls, store: Store, key: ChatKey, question_message_id: int, asker_id: int | None
    ) -> tuple[ProgressRecorder, Progress | None]:
        """Start recording; also the progress an earlier run left for this question (cut by a
        restart, or `answered` when the process died before its update was marked done)."""
        earlier = await recorded_turn(store, key)
        left = earlier if earlier and earlier.question_message_id == question_message_id else None
        recorder = cls(store, key, Progress(question_message_id, asker_id=asker_id))
        if left is not None and not left.answered:
            recorder.progress.message_ids = list(left.message_ids)
            recorder.progress.user_message_id = left.user_message_id
        # Nothing is written yet: the row is written once there is something to finish
        # (the stored question, the reply's messages); a row left for another question
        # is ignored by the comparison above.
        return recorder, left

    def question_stored(self, user_message_id: int) -> None:
        """The engine stored the question under this id."""
        self.progress.user_message_id = user_message_id
        self._schedule()

    def messages_shown(self, message_ids: list[int]) -> None:
        """The live reply now shows the answer in these messages."""
        if message_ids != self.progress.message_ids:
            self.progress.message_ids = list(message_ids)
            self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._dirty:
            self._dirty = False
            await self._write()

    async def _write(self) -> None:
        try:
            await self._store.save_turn_progress(
                self._key.chat_id, self._key.thread_id, [], json.dumps(asdict(self.progress))
            )
        except Exception:
            log.exception("could not record the turn progress of chat %s", self._key.chat_id)

    async def end(self) -> None:
        """The turn ended: recorded as answered, so that its update, handled again because
        the process died before marking it done, is not answered a second time. The row
        stays until the conversation's next turn writes its own."""
        if self._writing is not None:
            self._dirty = False
            await self._writing
        self.progress.answered = True
        await self._write()


async def recorded_turn(store: Store, key: ChatKey) -> Progress | None:
    """What is recorded of the conversation's latest turn (running, cut by a restart, or
    answered), or None (nothing, or unreadable: logged)."""
    try:
        found = await store.load_turn_progress(key.chat_id, key.thread_id)
        return Progress(**json.loads(found.state)) if found is not None else None
    except Exception:
        log.exception("could not read the turn progress of chat %s", key.chat_id)
        return None


async def unfinished_turn(store: Store, key: ChatKey) -> Progress | None:
    """The conversation's turn that is recorded as running (on some replica), or None."""
    progress = await recorded_turn(store, key)
    return progress if progress is not None and not progress.answered else None
