"""The pacer's decisions, on a virtual clock."""

from __future__ import annotations

import asyncio
import itertools
import math
import time

import pytest

from handlers.pacer import Pacer, on_tick


class VirtualClock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def make(clock: VirtualClock, **kw: float) -> Pacer:
    args = dict(private_interval=1.0, group_interval=3.0, global_rate=30.0, group_per_minute=20)
    args.update(kw)
    return Pacer(clock=clock, sleep=clock.sleep, **args)  # type: ignore[arg-type]


async def test_first_call_is_immediate_then_one_per_interval() -> None:
    clock = VirtualClock()
    pacer = make(clock)
    times = []
    for _ in range(4):
        await pacer.acquire(1, is_group=False, urgent=False)
        times.append(clock.now)
    assert times == [0.0, 1.0, 2.0, 3.0]


async def test_group_interval_and_rolling_minute() -> None:
    clock = VirtualClock()
    pacer = make(clock, group_interval=0.5, group_per_minute=20)
    times = []
    for _ in range(25):
        await pacer.acquire(-100, is_group=True, urgent=True)
        times.append(clock.now)
    for i in range(len(times)):
        in_window = [t for t in times if times[i] - 60 < t <= times[i]]
        assert len(in_window) <= 20


async def test_routine_edits_leave_room_for_urgent_messages_in_groups() -> None:
    clock = VirtualClock()
    pacer = make(clock, group_interval=0.1, group_per_minute=20)
    for _ in range(18):
        await pacer.acquire(-5, is_group=True, urgent=False)
    start = clock.now
    await pacer.acquire(-5, is_group=True, urgent=True)
    assert clock.now - start < 1.0  # the reserve is there for the final text
    routine_start = clock.now
    await pacer.acquire(-5, is_group=True, urgent=False)
    assert clock.now - routine_start > 30  # routine edits wait for the window


async def test_penalty_delays_only_that_chat() -> None:
    clock = VirtualClock()
    pacer = make(clock)
    await pacer.acquire(1, is_group=False, urgent=True)
    pacer.penalize(1, 7)
    await pacer.acquire(2, is_group=False, urgent=True)
    assert clock.now < 1
    await pacer.acquire(1, is_group=False, urgent=True)
    assert clock.now >= 7


async def test_global_budget_spreads_many_chats_and_serves_urgent_first() -> None:
    clock = VirtualClock()
    pacer = make(clock, global_rate=10.0)
    order: list[str] = []

    async def one(chat: int, urgent: bool) -> None:
        await pacer.acquire(chat, is_group=False, urgent=urgent)
        order.append("urgent" if urgent else "routine")

    tasks = [one(i, urgent=False) for i in range(20)] + [one(100 + i, True) for i in range(5)]
    await asyncio.gather(*tasks)
    assert clock.now >= (25 - 3) / 8.5 - 0.01  # 85 % of 10/s after a burst of 3
    # urgent ones that had to wait were served before the routine ones still waiting
    assert order[-1] == "routine"
    assert order.index("urgent") < 15


def test_a_wait_ends_on_the_next_tick() -> None:
    assert on_tick(0.33, now=10.0, tick=0.1) == pytest.approx(0.4)
    assert on_tick(0.3, now=10.0, tick=0.1) == pytest.approx(0.3)  # already on a tick
    assert on_tick(0.01, now=10.05, tick=0.1) == pytest.approx(0.05)
    assert on_tick(0.25, now=3.0, tick=0.0) == 0.25  # no tick: as due
    assert on_tick(0.0, now=3.07, tick=0.1) == 0.0  # nothing to wait for: no wait


def _clusters(times: list[float], gap: float) -> int:
    ordered = sorted(times)
    return 1 + sum(1 for a, b in itertools.pairwise(ordered) if b - a > gap)


async def test_chats_due_at_different_moments_wake_together_on_the_tick() -> None:
    tick = 0.5
    pacer = Pacer(
        private_interval=0.5, group_interval=3.0, global_rate=30.0, group_per_minute=20, tick=tick
    )
    due: dict[int, float] = {}
    for chat in range(1, 6):  # each chat's next slot comes a little after the one before
        await pacer.acquire(chat, is_group=False, urgent=True)
        due[chat] = time.monotonic() + 0.5
        await asyncio.sleep(0.02)
    woke: dict[int, float] = {}

    async def edit(chat: int) -> None:
        await pacer.acquire(chat, is_group=False, urgent=False)
        woke[chat] = time.monotonic()

    await asyncio.gather(*(edit(chat) for chat in due))
    assert all(woke[chat] >= due[chat] - 0.005 for chat in due), "no call goes before its slot"
    # Five moments a few ms apart fall on one or two ticks: that many wake-ups, not five.
    ticks = {math.ceil(moment / tick) for moment in due.values()}
    assert len(ticks) <= 2
    assert _clusters(list(woke.values()), gap=0.02) <= len(ticks)
