"""Albums: photos sharing a media_group_id arrive as separate updates and become one turn."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class AlbumCollector(Generic[T]):
    """Groups items by album id until no new item came for `wait` seconds."""

    def __init__(self, wait: float) -> None:
        self._wait = wait
        self._albums: dict[Hashable, list[T]] = {}
        self._arrived: dict[Hashable, asyncio.Event] = {}

    def add(self, album: Hashable, item: T) -> bool:
        """Add an item; True for the album's first item (whose handler collects the rest)."""
        items = self._albums.get(album)
        if items is not None:
            items.append(item)
            self._arrived[album].set()
            return False
        self._albums[album] = [item]
        self._arrived[album] = asyncio.Event()
        return True

    async def collect(self, album: Hashable) -> list[T]:
        """Wait until the album is complete and return its items in arrival order."""
        arrived = self._arrived[album]
        while True:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), self._wait)
            except TimeoutError:
                break
        self._arrived.pop(album, None)
        return self._albums.pop(album, [])
