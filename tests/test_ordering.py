"""Conversation places: one turn at a time per key, in order, and no place can leak."""

from __future__ import annotations

import asyncio

import pytest

from bot.ordering import TurnQueue


async def test_places_run_in_the_order_they_were_taken() -> None:
    queue = TurnQueue()
    done: list[int] = []

    async def turn(i: int, delay: float) -> None:
        async with queue.place("chat") as place:
            await place.ready()
            await asyncio.sleep(delay)
            done.append(i)

    await asyncio.gather(turn(1, 0.03), turn(2, 0.0), turn(3, 0.01))
    assert done == [1, 2, 3]
    assert not queue.busy("chat")


async def test_a_place_left_by_an_error_before_its_turn_does_not_freeze_the_chat() -> None:
    # Regression: a failure between taking a place and entering it used to leave the
    # place held forever, so every later message of the chat waited without end.
    queue = TurnQueue()
    first_may_end = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with queue.place("chat") as place:
            await place.ready()
            await first_may_end.wait()
            order.append("first")

    async def broken() -> None:
        async with queue.place("chat"):
            raise RuntimeError("failed before its turn")

    async def third() -> None:
        async with queue.place("chat") as place:
            await place.ready()
            order.append("third")

    running = asyncio.create_task(first())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await broken()
    last = asyncio.create_task(third())
    await asyncio.sleep(0.01)
    assert order == [], "the third waits for the first, not only for the broken one"
    first_may_end.set()
    await asyncio.wait_for(asyncio.gather(running, last), 1)
    assert order == ["first", "third"]
    assert not queue.busy("chat")


async def test_a_place_cancelled_while_waiting_passes_the_turn_on() -> None:
    queue = TurnQueue()
    release = asyncio.Event()

    async def holder() -> None:
        async with queue.place("chat") as place:
            await place.ready()
            await release.wait()

    async def waiter() -> None:
        async with queue.place("chat") as place:
            await place.ready()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await held
    async with queue.place("chat") as place:
        await asyncio.wait_for(place.ready(), 1)
    assert not queue.busy("chat")
