"""Start-up's objects leave the garbage collector's sight once the bot runs."""

from __future__ import annotations

import gc

from bot.app import settle_memory


def test_start_up_objects_are_frozen_so_full_collections_stay_short() -> None:
    before = gc.get_freeze_count()
    try:
        settle_memory()
        assert gc.get_freeze_count() > max(before, 10_000), "modules and clients are frozen"
        # What the process creates from now on is still collected.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
