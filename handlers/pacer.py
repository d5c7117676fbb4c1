"""When each chat may send its next message or edit, under Telegram's flood limits.

Three budgets apply to every message-producing call: a per-chat interval
(about 1 s in private chats, 3 s in groups), a per-group rolling minute
(20 messages), and one global bucket for the whole bot (about 30 a second).
Urgent calls (a reply's first message, a continuation, the final text) go
before routine progress edits when the global bucket is short.

Waits end on a shared tick (`TICK`): with a hundred replies streaming, their edits, the
bot's queue and the pauses of their model streams wake the process together, ten times a
second, instead of each at its own moment (a third less CPU per reply, measured).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
# take(bucket, window seconds, limit) -> 0 when a call may go now (and is counted), else the wait
SharedTake = Callable[[str, float, int], Awaitable[float]]

GROUP_WINDOW = 60.0
ROUTINE_RESERVE = 2
GLOBAL_MARGIN = 0.85
TICK = 0.1  # seconds; the grid waits end on (0: each wait ends when it is due)


def on_tick(seconds: float, now: float, tick: float) -> float:
    """`seconds` from `now`, lengthened to end on the next multiple of `tick`."""
    if tick <= 0 or seconds <= 0:
        return seconds
    # The small slack keeps a wait that already ends on a tick from taking the next one.
    return max(math.ceil((now + seconds) / tick - 1e-6) * tick - now, 0.0)


@dataclass
class _ChatState:
    next_at: float = 0.0
    expected_at: float = 0.0  # the earliest a call waiting for the bot's budget can go
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    window: deque[float] = field(default_factory=deque)
    users: int = 0


class GlobalBucket:
    """A token bucket shared by the whole bot; urgent waiters are served first."""

    def __init__(
        self, rate: float, burst: float, clock: Clock, sleep: Sleep, tick: float = 0.0
    ) -> None:
        self._rate = rate
        self._tick = tick
        self._burst = max(burst, 1.0)
        self._tokens = self._burst
        self._updated = clock()
        self._clock = clock
        self._sleep = sleep
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def expected_wait(self, urgent: bool) -> float:
        """At least how long a call queued now waits for its token (an urgent call queued
        later still goes first)."""
        self._refill()
        ahead = sum(1 for p, _, f in self._waiters if not f.done() and (p == 0 or not urgent))
        return max(ahead + 1 - self._tokens, 0.0) / self._rate

    async def acquire(self, urgent: bool) -> None:
        """Take one token, waiting for it when the bucket is empty."""
        self._refill()
        if not self._waiters and self._tokens >= 1 - 1e-9:
            self._tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (0 if urgent else 1, next(self._seq), future))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        await future

    async def _dispatch(self) -> None:
        while self._waiters:
            self._refill()
            if self._tokens < 1 - 1e-9:
                due = max((1 - self._tokens) / self._rate, 0.001)
                await self._sleep(on_tick(due, self._updated, self._tick))
                continue
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self._tokens -= 1
            future.set_result(None)


class Pacer:
    """Decides when a chat's next message or edit may go out."""

    def __init__(
        self,
        *,
        private_interval: float,
        group_interval: float,
        global_rate: float,
        group_per_minute: int,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        shared: SharedTake | None = None,
        tick: float = 0.0,
    ) -> None:
        self._shared = shared  # the budgets of every replica, kept in the database
        self._tick = tick
        self._global_limit = max(1, int(global_rate * GLOBAL_MARGIN))
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._group_per_minute = group_per_minute
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[int, _ChatState] = {}
        self._calls = 0
        # Stay under Telegram's figure, with a small burst: a busy process sends late, and
        # late requests bunch up on arrival, so the margin must absorb them.
        rate = global_rate * GLOBAL_MARGIN
        self._global = GlobalBucket(rate, max(3.0, rate / 5), clock, sleep, tick)

    def interval(self, is_group: bool) -> float:
        """The minimum time between two calls in one chat."""
        return self._group_interval if is_group else self._private_interval

    def on_tick(self, seconds: float) -> float:
        """A wait of `seconds` from now, ending on the pacer's tick (see the module doc)."""
        return on_tick(seconds, self._clock(), self._tick)

    def _state(self, chat_id: int) -> _ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            state = self._chats[chat_id] = _ChatState()
        return state

    def _window_wait(self, state: _ChatState, now: float, urgent: bool) -> float:
        while state.window and state.window[0] <= now - GROUP_WINDOW:
            state.window.popleft()
        allowed = self._group_per_minute - (0 if urgent else ROUTINE_RESERVE)
        if len(state.window) < max(allowed, 1):
            return 0.0
        return state.window[-max(allowed, 1)] + GROUP_WINDOW - now

    def chat_wait(self, chat_id: int, is_group: bool) -> float:
        """Seconds until this chat's next routine call can go, at the earliest: its own pace,
        a group's minute, and the place of a waiting call in the bot's queue."""
        state = self._chats.get(chat_id)
        if state is None:
            return 0.0
        now = self._clock()
        wait = max(state.next_at, state.expected_at) - now
        if is_group:
            wait = max(wait, self._window_wait(state, now, urgent=False))
        return max(wait, 0.0)

    async def acquire(
        self, chat_id: int, is_group: bool, urgent: bool, counted: bool = True
    ) -> None:
        """Wait until a call in this chat fits every budget, and take the slot.

        `counted=False` (drafts) skips the bot-wide message budget; the chat's own
        pace still applies.
        """
        state = self._state(chat_id)
        state.users += 1
        try:
            async with state.lock:
                while True:
                    now = self._clock()
                    wait = state.next_at - now
                    if is_group:
                        wait = max(wait, self._window_wait(state, now, urgent))
                    if wait <= 0:
                        break
                    await self._sleep(on_tick(wait, now, self._tick))
                if counted:
                    state.expected_at = self._clock() + self._global.expected_wait(urgent)
                    await self._global.acquire(urgent)
                if self._shared is not None:
                    await self._take_shared(chat_id, is_group, counted)
                now = self._clock()
                state.next_at = max(state.next_at, now + self.interval(is_group))
                if is_group:
                    state.window.append(now)
        finally:
            state.users -= 1
            self._calls += 1
            if self._calls % 1000 == 0:
                self._sweep()

    async def count(self, chat_id: int, is_group: bool) -> None:
        """Take the bot-wide budget for a call whose chat slot was taken uncounted: a draft's
        slot that goes to the final message instead (it comes first among waiting calls)."""
        await self._global.acquire(True)
        if self._shared is not None:
            await self._take_shared(chat_id, is_group, counted=True, own_pace=False)

    async def _take_shared(
        self, chat_id: int, is_group: bool, counted: bool, own_pace: bool = True
    ) -> None:
        """Wait for the replicas' shared budgets: the bot's second, the group's minute,
        the chat's pace."""
        assert self._shared is not None
        budgets = [(f"chat:{chat_id}", self.interval(is_group) * 0.95, 1)] if own_pace else []
        if is_group and counted:
            budgets.append((f"group:{chat_id}", GROUP_WINDOW, self._group_per_minute))
        if counted:
            budgets.append(("bot", 1.0, self._global_limit))
        for bucket, window, limit in budgets:
            while (wait := await self._shared(bucket, window, limit)) > 0:
                await self._sleep(wait)

    def _sweep(self) -> None:
        """Forget chats with nothing pending, so memory does not grow with every chat ever seen."""
        now = self._clock()
        idle = [
            chat_id
            for chat_id, state in self._chats.items()
            if state.users == 0
            and state.next_at < now
            and (not state.window or state.window[-1] <= now - GROUP_WINDOW)
        ]
        for chat_id in idle:
            del self._chats[chat_id]

    def penalize(self, chat_id: int, seconds: float) -> None:
        """Telegram said 429 for this chat: nothing goes there for `seconds`."""
        state = self._state(chat_id)
        state.next_at = max(state.next_at, self._clock() + seconds)
