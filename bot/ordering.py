"""One turn at a time per conversation, in arrival order; many conversations at once.

async with queue.place(key) as place:   # taken at once: the order of the calls
    if not wanted:
        return                           # leaving passes the turn on, never leaks
    await place.ready()                  # waits for the turns before this one
    ...                                  # this conversation's turn
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType


class Place:
    """A place in one key's line; leaving it (however) lets the next place in."""

    def __init__(self, owner: TurnQueue, key: Hashable, previous: asyncio.Future[None] | None):
        self._owner = owner
        self._key = key
        self._previous = previous
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def waiting(self) -> bool:
        """Whether an earlier turn of the same key is still running or queued."""
        return self._previous is not None and not self._previous.done()

    async def ready(self) -> None:
        """Wait until every earlier place of this key has been left."""
        if self._previous is not None:
            await asyncio.shield(self._previous)

    async def __aenter__(self) -> Place:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._leave()

    def _leave(self) -> None:
        previous = self._previous
        if previous is not None and not previous.done():
            # Left before our turn came: the next one still waits for the one before us.
            previous.add_done_callback(lambda _: self._release())
        else:
            self._release()

    def _release(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
        self._owner._forget(self._key, self._done)


class TurnQueue:
    """Per-key FIFO: `place(key)` is synchronous, so the order is the order of the calls."""

    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    def place(self, key: Hashable) -> Place:
        """Reserve the next place in `key`'s line; hold it with `async with`."""
        place = Place(self, key, self._tails.get(key))
        self._tails[key] = place._done
        return place

    def busy(self, key: Hashable) -> bool:
        """Whether any place of `key` is held."""
        return key in self._tails

    def _forget(self, key: Hashable, done: asyncio.Future[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]
