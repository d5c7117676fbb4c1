"""The bot's own time around a tool call: N users ask for the weather at the same moment.

    python -m bench.tool_bench [--chats 1 50] [--tokens 30] [--delay 0.01]

The provider's first answer streams a get_weather tool call in fragments; the bot asks the
fake Open-Meteo (geocoding, then forecast) and sends the result back; the second answer
streams a short text. Figure: the time from the provider's last chunk of the first answer to
the arrival of the second request, minus the time the fake Open-Meteo spent answering that
chat. One row per N, each with a fresh bot process; prints figures only, asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from typing import Any

from bench.harness import (
    FIRST_CHAT,
    REPLY_METHODS,
    ResourceSampler,
    TimedOpenMeteo,
    bot_run,
    chat_ids,
    chat_of,
    fmt,
    mean,
    percentile,
    report,
    run_all,
    run_main,
    run_notes,
    say,
    tagged,
)
from bench.stream_bench import answer_parts
from tests.fakes.openai import Step, Texts, tool_call
from tests.fakes.openmeteo import DEFAULT_PLACES
from tests.fakes.telegram import StoredMessage

HEADERS = (
    "N",
    "complete",
    "wall s",
    "tool ovh p50 ms",
    "p95 ms",
    "max ms",
    "meteo p50 ms",
    "calls/reply",
    "429s",
    "bot CPU s",
    "peak RSS MB",
)


def place_name(chat_id: int) -> str:
    """A place only this chat asks about (a fixed width, so no name prefixes another)."""
    return f"Benchville {chat_id - FIRST_CHAT:05d}"


def bench_places(chats: list[int]) -> list[dict[str, Any]]:
    """One geocodable place per chat, each at its own coordinates."""
    template = DEFAULT_PLACES[0]
    places = []
    for i, chat in enumerate(chats):
        places.append(
            {
                **template,
                "id": 3_000_000 + i * 10,
                "name": place_name(chat),
                "latitude": round(-60 + i * 0.01, 4),
                "longitude": round(-150 + i * 0.01, 4),
                "country": "Benchland",
                "admin1": "Bench",
                "_aliases": (),
            }
        )
    return places


def meteo_time(meteo: TimedOpenMeteo, places: list[dict[str, Any]]) -> dict[int, float]:
    """Seconds the fake Open-Meteo spent in its handlers, per chat."""
    by_name = {p["name"]: FIRST_CHAT + i for i, p in enumerate(places)}
    by_point = {(p["latitude"], p["longitude"]): FIRST_CHAT + i for i, p in enumerate(places)}
    spent: dict[int, float] = defaultdict(float)
    for endpoint, query, start, end in meteo.handled:
        chat: int | None
        if endpoint == "search":
            chat = by_name.get(query.get("name", ""))
        else:
            try:
                point = (round(float(query["latitude"]), 4), round(float(query["longitude"]), 4))
            except (KeyError, ValueError):
                continue
            chat = by_point.get(point)
        if chat is not None:
            spent[chat] += end - start
    return spent


def showed_status(messages: list[StoredMessage], place: str) -> bool:
    """Whether any version of the bot's messages named the place (the tool's status line)."""
    return any(place in (text or "") for m in messages for text, _ in m.history)


async def measure(
    count: int, tokens: int, delay: float, timeout: float, keep: bool
) -> tuple[list[str], list[str]]:
    """Run one N with a fresh bot; returns its table row and notes."""
    parts = answer_parts(tokens)
    expected = "".join(parts).strip()

    def respond(body: dict[str, Any]) -> list[Step]:
        messages = body.get("messages") or []
        if any(isinstance(m, dict) and m.get("role") == "tool" for m in messages):
            return [Texts(parts, delay)]
        chat = chat_of(body) or 0
        arguments = {"location": place_name(chat), "days": 2}
        return [tool_call(0, f"call_{chat}", "get_weather", arguments, split=4, delay=delay)]

    chats = chat_ids(count)
    places = bench_places(chats)
    meteo = TimedOpenMeteo(places)
    begun = time.monotonic()
    async with bot_run({"TOOLS": "weather"}, meteo=meteo, keep=keep) as run:
        run.provider.set_default(respond)
        say(f"N={count}: bot polling after {time.monotonic() - begun:.1f} s; sending")
        sampler = ResourceSampler(run.bot.pid)
        sampler.start()
        try:
            texts = {c: tagged(c, f"What's the weather in {place_name(c)}?") for c in chats}
            sent_at = run.send(texts)
            replies = await run.wait_replies(dict.fromkeys(chats, expected), sent_at, timeout)
        finally:
            sampler.stop()
    say(f"N={count}: finished after {time.monotonic() - begun:.1f} s (bot start and stop included)")

    requests = run.chat_requests()
    spent = meteo_time(meteo, places)
    counts = run.call_counts(chats)
    overheads, meteo_ms, gaps = [], [], []
    no_tools_sent = 0
    for chat in chats:
        records = requests.get(chat) or []
        if records and not records[0].json.get("tools"):
            no_tools_sent += 1
        if len(records) < 2 or records[0].last_chunk_at is None:
            continue
        gap = records[1].time - records[0].last_chunk_at
        gaps.append(gap)
        meteo_ms.append(spent.get(chat, 0.0))
        overheads.append(gap - spent.get(chat, 0.0))
    all_calls = [sum(counts[c][m] for m in REPLY_METHODS) for c in chats]
    row = [
        str(count),
        f"{len(replies.done)}/{count}",
        fmt(replies.last_done - sent_at, 1),
        fmt(percentile(overheads, 50) * 1000),
        fmt(percentile(overheads, 95) * 1000),
        fmt(max(overheads, default=math.nan) * 1000),
        fmt(percentile(meteo_ms, 50) * 1000, 1),
        fmt(mean(all_calls), 1),
        str(len(run.telegram.rate_limited)),
        fmt(sampler.cpu_seconds, 2),
        fmt(sampler.peak_rss_mb, 1),
    ]
    notes = run_notes(f"N={count}", run, replies)
    rounds: dict[int, int] = defaultdict(int)
    for records in requests.values():
        rounds[len(records)] += 1
    notes.append(
        f"  provider requests per chat: {dict(sorted(rounds.items()))}; "
        f"Open-Meteo calls: {len(meteo.handled)} (expected {2 * count}); "
        f"raw gap p50 {fmt(percentile(gaps, 50) * 1000)} ms"
    )
    if no_tools_sent:
        notes.append(f"  {no_tools_sent} first requests carried no tools")
    statuses = sum(1 for c in chats if showed_status(run.telegram.bot_messages(c), place_name(c)))
    notes.append(f"  chats whose reply showed the tool status while it ran: {statuses}/{count}")
    return row, notes


async def main(args: argparse.Namespace) -> None:
    """Run every N in turn, then print the table and the notes."""
    rows, notes = await run_all(
        args.chats,
        HEADERS,
        lambda count, timeout: measure(count, args.tokens, args.delay, timeout, args.keep),
        lambda count: args.timeout or 120 + count * 0.5,
    )
    title = (
        f"tool_bench: get_weather call streamed in fragments, then {args.tokens} one-word chunks "
        f"{args.delay * 1000:g} ms apart; fake Telegram with its default flood limits"
    )
    report(title, HEADERS, rows, notes)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="The bot's overhead around a tool call.")
    parser.add_argument("--chats", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--tokens", type=int, default=30, help="chunks of the final answer")
    parser.add_argument("--delay", type=float, default=0.01, help="seconds between chunks")
    parser.add_argument("--timeout", type=float, default=0, help="seconds per N (0 = auto)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (bot.log)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_main(main(parse_args(sys.argv[1:])))
