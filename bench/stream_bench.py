"""Streaming under load: N users ask at the same moment, each answer streams ~300 tokens.

    python -m bench.stream_bench [--chats 1 100 500] [--tokens 300] [--delay 0.01]
    python -m bench.stream_bench --chats 1 100 --baseline /work/wt-before   # before/after

One row per N, each with a fresh bot process; bench/README.md says what each figure means.
Prints figures only, asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.harness import (
    MESSAGE_METHODS,
    REPLY_METHODS,
    BotRun,
    ResourceSampler,
    bot_run,
    chat_ids,
    fmt,
    mean,
    percentile,
    report,
    run_all,
    run_main,
    run_notes,
    say,
    spread,
    tagged,
)
from tests.fakes.openai import Step, Texts

STORY = (
    "the quick brown fox jumps over a lazy dog while streaming tokens arrive one by one "
    "and every chat waits for its answer to grow steadily until the reply is done"
)
WORDS = STORY.split()
MARKUP_METHODS = MESSAGE_METHODS | {"editMessageReplyMarkup"}

HEADERS = (
    "code",
    "N",
    "complete",
    "wall s",
    "vis p50 ms",
    "vis p95 ms",
    "vis max ms",
    "calls/reply",
    "max",
    "msg calls",
    "max",
    "429s",
    "bot CPU s",
    "CPU ms/reply",
    "peak RSS MB",
)


def answer_parts(tokens: int) -> list[str]:
    """`tokens` one-word deltas forming sentences of 15 words."""
    parts = []
    for i in range(tokens):
        word = WORDS[i % len(WORDS)]
        if i % 15 == 0:
            word = word.capitalize()
        if i % 15 == 14 or i == tokens - 1:
            word += "."
        parts.append(word if i == 0 else f" {word}")
    return parts


@dataclass
class Source:
    """Where the bot's code comes from ('' = this tree), its label, and per-N message calls."""

    root: str = ""
    label: str = "here"
    msg_calls: dict[int, float] = field(default_factory=dict)  # N -> mean msg calls per reply
    marked: dict[int, float] = field(default_factory=dict)  # N -> mean calls with buttons


def markup_calls(run: BotRun, chats: list[int]) -> list[int]:
    """Per chat, message calls that carried an inline keyboard (reply_markup)."""
    wanted = set(chats)
    counts = dict.fromkeys(chats, 0)
    for call in run.telegram.calls:
        params = call.params if isinstance(call.params, dict) else {}
        if call.chat_id in wanted and call.method in MARKUP_METHODS and params.get("reply_markup"):
            counts[call.chat_id] += 1
    return [counts[c] for c in chats]


async def measure(
    count: int,
    tokens: int,
    delay: float,
    timeout: float,
    keep: bool,
    mode: str = "edit",
    source: Source | None = None,
    profile: bool = False,
) -> tuple[list[str], list[str]]:
    """Run one N with a fresh bot; returns its table row and notes."""
    source = source or Source()
    parts = answer_parts(tokens)
    expected = "".join(parts).strip()

    def respond(body: dict[str, Any]) -> list[Step]:
        return [Texts(parts, delay)]

    chats = chat_ids(count)
    begun = time.monotonic()
    async with bot_run({"STREAM_MODE": mode}, keep=keep, root=source.root, profile=profile) as run:
        run.provider.set_default(respond)
        say(f"N={count}: bot polling after {time.monotonic() - begun:.1f} s; sending")
        sampler = ResourceSampler(run.bot.pid)
        sampler.start()
        try:
            sent_at = run.send(
                {chat: tagged(chat, "Tell me a long story, please.") for chat in chats}
            )
            replies = await run.wait_replies(dict.fromkeys(chats, expected), sent_at, timeout)
        finally:
            sampler.stop()
    say(f"N={count}: finished after {time.monotonic() - begun:.1f} s (bot start and stop included)")

    requests = run.chat_requests()
    visible = run.first_visible()
    counts = run.call_counts(chats)
    overheads, started, rates = [], [], []
    to_visible = [visible[c] - sent_at for c in chats if c in visible]
    to_done = [t - sent_at for t in replies.done.values()]
    end_to_done = []
    for chat in chats:
        records = requests.get(chat)
        if not records:
            continue
        first = records[0]
        started.append(first.time - sent_at)
        if first.first_content_at is None or first.last_chunk_at is None:
            continue
        if chat in visible:
            overheads.append(visible[chat] - first.first_content_at)
        if first.last_chunk_at > first.first_content_at:
            rates.append((tokens - 1) / (first.last_chunk_at - first.first_content_at))
        if chat in replies.done:
            end_to_done.append(replies.done[chat] - first.last_chunk_at)
    all_calls = [sum(counts[c][m] for m in REPLY_METHODS) for c in chats]
    msg_calls = [counts[c]["sendMessage"] + counts[c]["editMessageText"] for c in chats]
    marked = markup_calls(run, chats)
    source.msg_calls[count] = mean(msg_calls)
    source.marked[count] = mean(marked)
    row = [
        str(count),
        f"{len(replies.done)}/{count}",
        fmt(replies.last_done - sent_at, 1),
        fmt(percentile(overheads, 50) * 1000),
        fmt(percentile(overheads, 95) * 1000),
        fmt(max(overheads) * 1000 if overheads else None),
        fmt(mean(all_calls), 1),
        str(max(all_calls, default=0)),
        fmt(mean(msg_calls), 1),
        str(max(msg_calls, default=0)),
        str(len(run.telegram.rate_limited)),
        fmt(sampler.cpu_seconds, 2),
        fmt(sampler.cpu_seconds / count * 1000, 1),
        fmt(sampler.peak_rss_mb, 1),
    ]
    notes = run_notes(f"{source.label} N={count}", run, replies)
    target = fmt(1 / delay if delay else None)
    notes += [
        f"  provider requests: {len(started)}/{count} chats, arrived {spread(started, 1000, 0)} ms "
        f"after the messages were sent; the fake wrote the streams at {spread(rates, 1, 0)} "
        f"tokens/s (target {target})",
        f"  as users see it: message -> first text {spread(to_visible)} s; "
        f"message -> complete {spread(to_done)} s",
        f"  provider's last chunk -> complete text: {spread(end_to_done)} s",
        f"  bot CPU per streamed chunk: {fmt(sampler.cpu_seconds / (count * tokens) * 1e6)} us "
        f"({fmt(sampler.cpu_seconds, 1)} s for {count * tokens} chunks); "
        f"RSS samples taken: {sampler.samples}; of the CPU, threads other than the main one "
        f"(aiosqlite, executors): {fmt(sampler.other_threads_seconds / count * 1000, 1)} "
        "ms per reply",
        f"  buttons: message calls carrying an inline keyboard per reply {fmt(mean(marked), 1)}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
    if run.profile:
        notes += ["  bot profile (cProfile, the whole process life):", *run.profile]
    per_chat = [n for n in (len(r) for r in requests.values()) if n != 1]
    if per_chat:
        notes.append(f"  {len(per_chat)} chats sent more than one provider request")
    methods = sorted({m for c in counts.values() for m in c} - {"sendMessage", "editMessageText"})
    if set(methods) - {"sendChatAction"}:
        notes.append(f"  other per-chat methods: {methods}")
    if run.telegram.rate_limited:
        by_method: dict[str, int] = {}
        for method, _, _ in run.telegram.rate_limited:
            by_method[method] = by_method.get(method, 0) + 1
        notes.append(f"  429s by method: {by_method}")
    return row, notes


def compare(here: Source, base: Source) -> list[str]:
    """Issue 10's check: message calls per reply with buttons (here) and without (baseline)."""
    out = [f"calls per reply, {here.label} vs {base.label} ({base.root}):"]
    for count, calls in here.msg_calls.items():
        before = base.msg_calls.get(count, math.nan)
        out.append(
            f"  N={count}: sendMessage+editMessageText per reply {fmt(calls, 2)} here "
            f"({fmt(here.marked[count], 1)} of them with buttons) vs {fmt(before, 2)} "
            f"baseline ({fmt(base.marked.get(count, math.nan), 1)} with buttons)"
        )
    return out


async def run_one(
    args: argparse.Namespace, source: Source, count: int, timeout: float
) -> tuple[list[str], list[str]]:
    """One N of one source, with the command line's options."""
    return await measure(
        count, args.tokens, args.delay, timeout, args.keep, args.mode, source, args.profile
    )


async def main(args: argparse.Namespace) -> None:
    """Run every N in turn (and with --baseline the other tree too), then print everything."""
    sources = [Source()]
    if args.baseline:
        sources.append(Source(root=args.baseline, label="base"))
    rows: list[list[str]] = []
    notes: list[str] = []
    for source in sources:
        more_rows, more_notes = await run_all(
            args.chats,
            HEADERS[1:],
            functools.partial(run_one, args, source),
            lambda count: args.timeout or 120 + count * 0.5 + args.tokens * args.delay * 3,
        )
        rows += [[source.label, *r] for r in more_rows]
        notes += more_notes
    if args.baseline:
        notes += compare(sources[0], sources[1])
    rate = f"~{1 / args.delay:.0f} tokens/s" if args.delay else "no delay"
    title = (
        f"stream_bench: {args.tokens} one-word chunks per answer, {args.delay * 1000:g} ms apart "
        f"({rate}); STREAM_MODE={args.mode}; fake Telegram with its default flood limits"
    )
    report(title, HEADERS, rows, notes)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="Streaming replies under load.")
    parser.add_argument("--chats", type=int, nargs="+", default=[1, 100, 500])
    parser.add_argument("--tokens", type=int, default=300, help="chunks (tokens) per answer")
    parser.add_argument("--delay", type=float, default=0.01, help="seconds between chunks")
    parser.add_argument("--timeout", type=float, default=0, help="seconds per N (0 = auto)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (bot.log)")
    parser.add_argument(
        "--mode", choices=("edit", "draft"), default="edit", help="the bot's STREAM_MODE"
    )
    parser.add_argument(
        "--profile", action="store_true", help="run the bot under cProfile, print its top costs"
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="also run the bot from this source tree (e.g. a worktree of an older commit, "
        "with its own .venv) and compare calls per reply",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_main(main(parse_args(sys.argv[1:])))
