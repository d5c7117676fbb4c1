"""How long the live reply lets the model's stream go unread (bot CPU: one read per showing,
not one per chunk), on a stub pacer and a stub bot."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from handlers.pacer import Pacer
from handlers.reply import MAX_READ_PAUSE, READ_LEAD, READ_SLICE, LiveReply, ReplyTarget
from tests.test_pacer import VirtualClock, make


class StubPacer:
    """Grants calls when `open` is set; the chat's own pace is `wait`."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.wait = 0.0
        self.waiting = 0

    async def acquire(self, *args: Any, **kw: Any) -> None:
        self.waiting += 1
        await self.open.wait()
        self.waiting -= 1

    def chat_wait(self, chat_id: int, is_group: bool) -> float:
        return self.wait

    def on_tick(self, seconds: float) -> float:
        return seconds

    def penalize(self, chat_id: int, seconds: float) -> None:
        pass


class StubBot:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_message(self, **kw: Any) -> SimpleNamespace:
        self.sent.append(kw["text"])
        return SimpleNamespace(message_id=len(self.sent))

    async def edit_message_text(self, **kw: Any) -> None:
        self.sent.append(kw["text"])


async def _settle(until: Any) -> None:
    for _ in range(50):
        if until():
            return
        await asyncio.sleep(0)
    raise AssertionError("never settled")


async def test_the_stream_waits_only_while_nothing_new_could_be_shown() -> None:
    pacer, bot = StubPacer(), StubBot()
    reply = LiveReply(bot, pacer, ReplyTarget(chat_id=1, is_group=False))  # type: ignore[arg-type]
    assert reply.read_pause() == 0.0  # nothing asked yet: read on

    reply.text("Hello")
    await _settle(lambda: pacer.waiting == 1)
    assert reply.read_pause() == READ_SLICE  # the first message waits for the budget
    pacer.wait = 1.0
    assert abs(reply.read_pause() - (1.0 - READ_LEAD)) < 1e-9  # read just before it may go
    pacer.wait = 30.0
    assert reply.read_pause() == MAX_READ_PAUSE

    pacer.wait = 0.0
    pacer.open.set()
    await _settle(lambda: bot.sent == ["Hello"] and pacer.waiting == 0)
    assert reply.read_pause() == 0.0  # idle and free to show: read on

    pacer.wait = 1.0
    await reply.finish()
    assert reply.read_pause() == 0.0  # the answer ended: nothing to wait for


async def test_a_chats_wait_is_what_is_left_of_its_pace() -> None:
    clock = VirtualClock()
    pacer = make(clock)
    assert pacer.chat_wait(7, is_group=False) == 0.0  # never seen
    await pacer.acquire(7, is_group=False, urgent=True)
    assert pacer.chat_wait(7, is_group=False) == 1.0
    clock.now += 0.4
    assert abs(pacer.chat_wait(7, is_group=False) - 0.6) < 1e-9
    clock.now += 5
    assert pacer.chat_wait(7, is_group=False) == 0.0

    for _ in range(18):  # a group's routine calls stop two short of its 20 a minute
        await pacer.acquire(-5, is_group=True, urgent=False)
    first = clock.now - 17 * 3.0  # 3 s apart
    clock.now += 3.0  # past the group's pace: now its minute holds the next routine call
    assert abs(pacer.chat_wait(-5, is_group=True) - (first + 60 - clock.now)) < 1e-6


async def test_a_call_queued_for_the_bots_budget_counts_its_place_in_the_queue() -> None:
    clock = VirtualClock()
    frozen = asyncio.Event()

    async def never(seconds: float) -> None:
        await frozen.wait()  # time stands still: the queue stays as it is

    pacer = Pacer(
        private_interval=1.0,
        group_interval=3.0,
        global_rate=10.0,
        group_per_minute=20,
        clock=clock,
        sleep=never,
    )
    for chat in (1, 2, 3):  # the bucket's burst of three
        await pacer.acquire(chat, is_group=False, urgent=False)
    queued = [asyncio.create_task(pacer.acquire(c, False, urgent=False)) for c in (4, 5, 6, 7)]
    await _settle(lambda: all(pacer.chat_wait(c, False) > 0 for c in (4, 5, 6, 7)))
    rate = 10.0 * 0.85
    assert abs(pacer.chat_wait(4, False) - 1 / rate) < 1e-6  # first in line
    assert abs(pacer.chat_wait(7, False) - 4 / rate) < 1e-6  # three ahead of it
    assert pacer.chat_wait(1, False) == 1.0  # served: only its own pace is left
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)
