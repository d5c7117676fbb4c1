"""What both stores share for shared work: grouping claimed rows, waking inbox listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable

from storage.models import ChatKey, InboxBatch, InboxItem

log = logging.getLogger(__name__)


def group_batches(rows: list[tuple[int, int, int, str]]) -> list[InboxBatch]:
    """Claimed rows (chat_id, thread_id, update_id, payload) -> batches, oldest work first."""
    by_key: dict[ChatKey, list[InboxItem]] = {}
    for chat_id, thread_id, update_id, payload in sorted(rows, key=lambda r: r[2]):
        by_key.setdefault(ChatKey(chat_id, thread_id), []).append(InboxItem(update_id, payload))
    return [InboxBatch(key, items) for key, items in by_key.items()]


def wake(listeners: list[Callable[[], None]]) -> None:
    """Call every inbox listener; one failing does not stop the others."""
    for callback in listeners:
        try:
            callback()
        except Exception:
            log.exception("inbox listener failed")
