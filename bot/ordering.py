"""One turn at a time per conversation, in arrival order; many conversations at once."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType


class _Slot:
    """A place in one key's line; entered in the order slots were taken."""

    def __init__(self, owner: TurnQueue, key: Hashable, previous: asyncio.Future[None] | None):
        self._owner = owner
        self._key = key
        self._previous = previous
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting = previous is not None and not previous.done()

    async def __aenter__(self) -> _Slot:
        previous = self._previous
        if previous is not None:
            try:
                await asyncio.shield(previous)
            except asyncio.CancelledError:
                # Keep the line intact: pass our turn on once the one before us ends.
                previous.add_done_callback(lambda _: self.release())
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def abandon(self) -> None:
        """Give up a place never entered: the next one still waits for the one before."""
        previous = self._previous
        if previous is not None and not previous.done():
            previous.add_done_callback(lambda _: self.release())
        else:
            self.release()

    def release(self) -> None:
        """Let the next slot of this key in."""
        if not self._done.done():
            self._done.set_result(None)
        self._owner._forget(self._key, self._done)


class TurnQueue:
    """Per-key FIFO: `take(key)` is synchronous, so the order is the order of the calls."""

    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    def take(self, key: Hashable) -> _Slot:
        """Reserve the next place in `key`'s line; use it with `async with`."""
        slot = _Slot(self, key, self._tails.get(key))
        self._tails[key] = slot._done
        return slot

    def _forget(self, key: Hashable, done: asyncio.Future[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]
