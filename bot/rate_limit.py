"""A sliding-window limit per key (a user's messages a minute), kept in memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindow:
    """At most `limit` events per `window` seconds for each key (0 = no limit)."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._told: dict[Hashable, float] = {}

    def allow(self, key: Hashable) -> bool:
        """Count an event for `key`; False when it is over the limit (then it is not counted)."""
        if self._limit <= 0:
            return True
        now = self._clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self._window:
            events.popleft()
        if len(events) >= self._limit:
            return False
        events.append(now)
        if len(self._events) > 100_000:
            recent = now - self._window
            self._events = {k: v for k, v in self._events.items() if v and v[-1] > recent}
        return True

    def first_refusal(self, key: Hashable) -> bool:
        """Whether this is the first refusal of `key` in the current window (tell them once)."""
        now = self._clock()
        if self._told.get(key, -1e18) > now - self._window:
            return False
        self._told[key] = now
        return True
