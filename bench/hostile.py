"""Hostile input: what one file or one answer costs the bot, and what other chats feel meanwhile.

    python -m bench.hostile [--only png6000 pdf ...] [--timeout 60] [--bot-root DIR]

For each hostile input, a fresh bot process: first three normal chats ask one after the
other (the idle first-visible latency), then one user sends the hostile input while a
new normal chat asks every 0.25 s until the hostile chat was answered or refused.
Figures: peak RSS of the bot and of the bot with its child processes (sampled every
50 ms), CPU seconds of both, the time until the hostile chat was answered or refused,
and the normal chats' first-visible latency (message -> first text on screen).
`--bot-root` runs another copy of the code (e.g. an older commit) for a before/after.
Prints figures only, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from bench.harness import (
    FIRST_CHAT,
    BotRun,
    bot_run,
    chat_of,
    fmt,
    percentile,
    report,
    run_main,
    say,
    tagged,
)
from tests.fakes.openai import Step, Text, Texts, tool_call
from tests.fakes.search import FakeSearx
from tests.media_samples import pdf_page_tree_bomb, png_bomb

HOSTILE = FIRST_CHAT
NORMAL_ANSWER = "Hello, this is a normal short answer."
HEADERS = (
    "input",
    "outcome",
    "answer/refuse s",
    "bot peak RSS MB",
    "with children MB",
    "bot CPU s",
    "children CPU s",
    "idle vis ms",
    "vis p50 ms",
    "vis max ms",
    "normal chats",
)


def fence_answer() -> str:
    """A 43 KB answer whose code fence opens with a 4,000-character line."""
    code = "\n".join(f"line {i} " + "y" * 60 for i in range(560))
    return "Here is the code:\n\n```" + "x" * 4000 + "\n" + code + "\n```\n"


class TreeSampler:
    """Peak RSS and CPU of a process alone and with its children (sampled in a thread)."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self._proc = psutil.Process(pid)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.peak_main = 0
        self.peak_tree = 0
        self._cpu_start = (math.nan, math.nan)
        self.cpu_main = math.nan
        self.cpu_children = math.nan

    def _cpu(self) -> tuple[float, float]:
        times = self._proc.cpu_times()
        running = 0.0
        for child in self._proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                running += child_times.user + child_times.system
        waited = times.children_user + times.children_system
        return times.user + times.system, waited + running

    def _sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            main = self._proc.memory_info().rss
            tree = main
            for child in self._proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    tree += child.memory_info().rss
            self.peak_main = max(self.peak_main, main)
            self.peak_tree = max(self.peak_tree, tree)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self._sample()

    def start(self) -> None:
        """Start sampling."""
        with contextlib.suppress(psutil.Error):
            self._cpu_start = self._cpu()
        self._sample()
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; the CPU figures cover the window."""
        self._stop.set()
        self._thread.join(2)
        with contextlib.suppress(psutil.Error):
            main, children = self._cpu()
            self.cpu_main = main - self._cpu_start[0]
            self.cpu_children = children - self._cpu_start[1]


@dataclass
class Scenario:
    """One hostile input: how it is sent, and the settings it needs."""

    name: str
    send: Callable[[BotRun], None]
    settings: dict[str, str]
    finished: Callable[[str], bool] = lambda shown: "Done." in shown or "too large" in shown


def _document(data: bytes, name: str, mime: str) -> Callable[[BotRun], None]:
    def send(run: BotRun) -> None:
        """The hostile user sends the file as a document."""
        fid = run.telegram.add_file(data, f"documents/{name}")[0]
        run.telegram.user_message(
            HOSTILE,
            None,
            document={"file_id": fid, "file_unique_id": name, "file_name": name, "mime_type": mime},
            caption=tagged(HOSTILE, "What is this?"),
        )

    return send


def _text(text: str) -> Callable[[BotRun], None]:
    def send(run: BotRun) -> None:
        """The hostile user sends the text."""
        run.telegram.user_message(HOSTILE, tagged(HOSTILE, text))

    return send


def respond(body: dict[str, Any]) -> list[Step]:
    """The fake model: normal chats get a short answer; the hostile chat what its case needs."""
    chat = chat_of(body)
    if chat != HOSTILE:
        return [Text(NORMAL_ANSWER)]
    messages = body.get("messages") or []
    text = str(messages[-1].get("content")) if messages else ""
    if "fence" in text:
        answer = fence_answer()
        return [Texts([answer[i : i + 200] for i in range(0, len(answer), 200)], 0.002)]
    if "search" in text and not any(m.get("role") == "tool" for m in messages):
        return [tool_call(i, f"call_{i}", "web_search", {"query": f"q {i}"}) for i in range(50)]
    return [Text("Done.")]


async def _idle_latency(run: BotRun, chats: list[int]) -> list[float]:
    latencies = []
    for chat in chats:
        sent = time.monotonic()
        run.telegram.user_message(chat, tagged(chat, "hello"))
        with contextlib.suppress(TimeoutError):
            await run.telegram.wait_for(lambda c=chat: bool(run.telegram.bot_messages(c)), 10)
        shown = run.first_visible().get(chat)
        if shown is not None:
            latencies.append(shown - sent)
    return latencies


def _hostile_done(run: BotRun, scenario: Scenario, quiet: float) -> float | None:
    """When the hostile chat's last message call happened, once it shows its end and is quiet."""
    calls = [
        c
        for c in run.telegram.calls
        if c.chat_id == HOSTILE and c.method in ("sendMessage", "editMessageText")
    ]
    shown = "\n".join(m.text or "" for m in run.telegram.bot_messages(HOSTILE))
    if not calls or not scenario.finished(shown):
        return None
    last = max(c.time for c in calls)
    return last if time.monotonic() - last > quiet else None


async def measure(scenario: Scenario, timeout: float, root: str | None) -> tuple[list[str], str]:
    """One hostile input against a fresh bot; its row and a note."""
    settings = dict(scenario.settings)
    if root:
        settings["PYTHONPATH"] = root
    searx = FakeSearx()
    await searx.start()
    settings.setdefault("SEARXNG_URL", searx.url)
    try:
        async with bot_run(settings) as run:
            run.provider.set_default(respond)
            idle = await _idle_latency(run, [FIRST_CHAT + 1000 + i for i in range(3)])
            sampler = TreeSampler(run.bot.pid)
            sampler.start()
            sent = time.monotonic()
            scenario.send(run)
            normal: dict[int, float] = {}
            next_chat = FIRST_CHAT + 2000
            done = None
            while time.monotonic() - sent < timeout and run.bot.alive:
                done = _hostile_done(run, scenario, quiet=1.5)
                if done is not None:
                    break
                if len(normal) < 40:
                    run.telegram.user_message(next_chat, tagged(next_chat, "hello"))
                    normal[next_chat] = time.monotonic()
                    next_chat += 1
                await asyncio.sleep(0.25)
            died = not run.bot.alive
            sampler.stop()
            await asyncio.sleep(2.0)  # the last normal chats may still answer
            shown = run.first_visible()
            latencies = [shown[c] - t for c, t in normal.items() if c in shown]
            unanswered = len(normal) - len(latencies)
            texts = [m.text or "" for m in run.telegram.bot_messages(HOSTILE)]
            search_calls = len([r for r in searx.requests if r.path == "/search"])
    finally:
        await searx.stop()
    outcome = f"none in {timeout:g} s" if done is None else f"{len(texts)} msg"
    if died:
        outcome = "bot died"
    row = [
        scenario.name,
        outcome,
        fmt(done - sent if done is not None else None, 2),
        fmt(sampler.peak_main / 2**20),
        fmt(sampler.peak_tree / 2**20),
        fmt(sampler.cpu_main, 2),
        fmt(sampler.cpu_children, 2),
        fmt(percentile(idle, 50) * 1000 if idle else None),
        fmt(percentile(latencies, 50) * 1000 if latencies else None),
        fmt(max(latencies) * 1000 if latencies else None),
        f"{len(latencies)}/{len(normal)}" + (f" ({unanswered} unanswered)" if unanswered else ""),
    ]
    first = texts[0][:110].replace("\n", " ") if texts else ""
    note = f"{scenario.name}: first hostile reply: {first!r}"
    if scenario.name == "tools50":
        note += f"; search requests: {search_calls}"
    return row, note


def scenarios() -> list[Scenario]:
    """Every hostile input, in the order they run."""
    return [
        Scenario("png6000", _document(png_bomb(6000), "bomb6000.png", "image/png"), {}),
        Scenario("png5400", _document(png_bomb(5400), "big5400.png", "image/png"), {}),
        Scenario("png10000", _document(png_bomb(10000), "bomb10000.png", "image/png"), {}),
        Scenario("pdf", _document(pdf_page_tree_bomb(), "bomb.pdf", "application/pdf"), {}),
        Scenario("fence", _text("give me the fence"), {}, lambda shown: "line 559" in shown),
        Scenario(
            "tools50",
            _text("search everything"),
            {"TOOLS": "search", "SEARCH_PROVIDER": "searxng"},
        ),
    ]


async def main(args: argparse.Namespace) -> None:
    """Run every hostile input in turn, then print the table."""
    rows, notes = [], []
    for scenario in scenarios():
        if args.only and scenario.name not in args.only:
            continue
        say(f"{scenario.name}: starting")
        try:
            row, note = await measure(scenario, args.timeout, args.bot_root)
        except Exception as exc:
            row = [scenario.name, "failed", *["-"] * (len(HEADERS) - 2)]
            note = f"{scenario.name}: failed: {type(exc).__name__}: {exc}"
        rows.append(row)
        notes.append(note)
        say(f"  {row}")
    title = f"hostile: one hostile input per fresh bot; code from {args.bot_root or 'this tree'}"
    report(title, HEADERS, rows, notes)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="Hostile input against the bot.")
    parser.add_argument("--only", nargs="*", default=[], help="names of inputs to run")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per input")
    parser.add_argument("--bot-root", default="", help="run the bot from this source tree")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_main(main(parse_args(sys.argv[1:])))
