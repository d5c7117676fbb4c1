"""Telegram's budgets shared by replicas through the database: two pacers never exceed one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from handlers.pacer import Pacer
from storage import open_store
from tests.databases import fresh_database_url


async def test_two_replicas_stay_within_the_bots_budget_together(tmp_path: Path) -> None:
    async with fresh_database_url("postgres", tmp_path) as url:
        stores = [await open_store(url), await open_store(url)]
        try:
            sent: list[float] = []

            def pacer(store: object) -> Pacer:
                async def shared(bucket: str, window: float, limit: int) -> float:
                    return await store.take_rate_tokens(bucket, None, window, limit)  # type: ignore[attr-defined]

                return Pacer(
                    private_interval=0.05,
                    group_interval=0.1,
                    global_rate=20.0,
                    group_per_minute=20,
                    shared=shared,
                )

            pacers = [pacer(store) for store in stores]

            async def send(p: Pacer, chat_id: int) -> None:
                await p.acquire(chat_id, is_group=False, urgent=True)
                sent.append(time.monotonic())

            await asyncio.wait_for(
                asyncio.gather(*(send(pacers[i % 2], 1000 + i) for i in range(40))), 20
            )
            sent.sort()
            limit = int(20.0 * 0.85)
            worst = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
            # Alone, each pacer would allow `limit` a second: 2 x limit together (34). Shared,
            # the database allows `limit` (17) by its own clock; what a local clock sees on
            # top is the delay between a call's grant and its sending, which reached 0.35 s
            # on a loaded CI machine (23 in one second). 1.5 x limit tells shared from not.
            assert worst <= limit * 1.5, f"{worst} calls in one second for a budget of {limit}"
            assert sent[-1] - sent[0] >= 40 / limit - 1.5, "the replicas waited for each other"
        finally:
            for store in stores:
                await store.close()
