"""What a provider's model has refused (a parameter, images), remembered for a while.

Keyed by (provider, model): one model's refusal never degrades another's requests, and
the memory fades so a provider that fixes its gateway gets the full request again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Key = tuple[str, str]


class CapabilityMemory:
    """Refusals per (provider, model), each forgotten `ttl` seconds after it was learned."""

    def __init__(self, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._until: dict[Key, dict[str, float]] = {}

    def refuse(self, key: Key, what: str) -> None:
        """Remember that `key` refused `what` (a parameter name, or "vision")."""
        self._until.setdefault(key, {})[what] = self._clock() + self._ttl

    def refusals(self, key: Key) -> set[str]:
        """What `key` refuses now (expired refusals are forgotten)."""
        entries = self._until.get(key)
        if not entries:
            return set()
        now = self._clock()
        for what in [w for w, until in entries.items() if until <= now]:
            del entries[what]
        return set(entries)

    def refused(self, key: Key, what: str) -> bool:
        """Whether `key` refuses `what` now."""
        return what in self.refusals(key)
