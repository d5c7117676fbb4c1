"""Expiring stored images: MEDIA_RETENTION_DAYS, pruned at start-up and once a day."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from storage import Store

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 86_400.0


class MediaPruner:
    """A background task deleting media older than the retention (none when it is 0)."""

    def __init__(self, task: asyncio.Task[None] | None) -> None:
        self._task = task

    @classmethod
    def start(
        cls, store: Store, retention_days: float, interval: float = PRUNE_INTERVAL
    ) -> MediaPruner:
        """Prune now and then every `interval` seconds, until closed (0 days: do nothing)."""
        if retention_days <= 0:
            return cls(None)
        return cls(asyncio.create_task(_keep_pruning(store, retention_days, interval)))

    async def close(self) -> None:
        """Stop pruning."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _keep_pruning(store: Store, retention_days: float, interval: float) -> None:
    while True:
        try:
            gone = await store.prune_media(retention_days)
            if gone:
                log.info("pruned %d stored images older than %g days", gone, retention_days)
        except Exception:
            log.warning("pruning stored media failed", exc_info=True)
        await asyncio.sleep(interval)
