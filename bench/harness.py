"""The shared benchmark harness: the fakes in this process, the real bot as another process.

`bot_run()` starts FakeTelegram (its real default flood limits), FakeOpenAI and optionally a
timed FakeOpenMeteo on 127.0.0.1, then `python -m bot` in a fresh temporary directory (so no
`.env` is read) with its output in `bot.log` there, and waits until the bot long-polls.
Every wait is bounded; the bot process is always stopped (SIGINT, then SIGKILL) on the way out.
Both fakes stamp times with `time.monotonic()` in this process, so their times compare.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import math
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil
from aiohttp import web

from bot.settings import Settings
from tests.fakes.openai import FakeOpenAI, Recorded, last_user_text
from tests.fakes.openmeteo import FakeOpenMeteo
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "987654321:AAH-bench-token-abcdefghijklmnopqrstuv"
API_KEY = "sk-bench-provider-key-0123456789abcdef"
MODEL = "gpt-4o-mini"
FIRST_CHAT = 500_000_001
CHAT_PATH = "/v1/chat/completions"
MESSAGE_METHODS = frozenset({"sendMessage", "editMessageText"})
VISIBLE_METHODS = frozenset({"sendMessage", "sendMessageDraft"})
REPLY_METHODS = MESSAGE_METHODS | {"sendChatAction"}
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SAMPLE_EVERY = 0.05
SETTLE = 1.0  # seconds to keep counting calls after the last reply completed

# Every setting the bot reads; inherited variables with these names are dropped.
BOT_SETTINGS = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "PORT",
    "POLLING_TIMEOUT",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "AVAILABLE_MODELS",
    "SYSTEM_PROMPT",
    "MAX_OUTPUT_TOKENS",
    "MAX_TOKENS_PARAM",
    "TEMPERATURE",
    "REQUEST_TIMEOUT",
    "STREAM_STALL_TIMEOUT",
    "PROVIDER_MAX_RETRIES",
    "MAX_RETRY_WAIT",
    "DATABASE_URL",
    "HISTORY_TOKEN_BUDGET",
    "HISTORY_MAX_MESSAGES",
    "ALLOWED_USER_IDS",
    "ADMIN_USER_IDS",
    "ALLOWED_CHAT_IDS",
    "EDIT_INTERVAL_PRIVATE",
    "EDIT_INTERVAL_GROUP",
    "TELEGRAM_GLOBAL_RATE",
    "GROUP_MESSAGES_PER_MINUTE",
    "MAX_CONCURRENT_UPDATES",
    "DEFAULT_LANGUAGE",
    "TRANSCRIPTION_MODEL",
    "TRANSCRIPTION_BASE_URL",
    "TRANSCRIPTION_API_KEY",
    "TOOLS",
    "MAX_TOOL_ROUNDS",
    "TOOL_TIMEOUT",
    "WEATHER_API_URL",
    "GEOCODING_API_URL",
    "SEARCH_PROVIDER",
    "SEARXNG_URL",
    "TAVILY_API_KEY",
    "SEARCH_MAX_RESULTS",
    "LOG_LEVEL",
    "STREAM_MODE",
    "SHUTDOWN_GRACE",
]

_CHAT_TAG = re.compile(r"\[chat (\d+)\]")
_LOG_LINE = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): (.*)$")
_DIGITS = re.compile(r"\d+")
_TURN_LINE = re.compile(r"\bturn chat=(-?\d+) .*?\bstatus=(\w+)")

_SITE = re.compile(r"/\S*?/(?:site-packages|python3\.\d+)/")

_LIVE: set[BotProcess] = set()


# ------------------------------------------------------------------------------ small helpers


def chat_ids(count: int) -> list[int]:
    """Private chat ids (= user ids) of `count` different users."""
    return [FIRST_CHAT + i for i in range(count)]


def tagged(chat_id: int, text: str) -> str:
    """A user message that names its chat, so the provider knows whom it answers."""
    return f"[chat {chat_id}] {text}"


def chat_of(body: Any) -> int | None:
    """The chat a chat-completion request body belongs to (from the tagged user message)."""
    match = _CHAT_TAG.search(last_user_text(body)) if isinstance(body, dict) else None
    return int(match.group(1)) if match else None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean(values: Sequence[float]) -> float:
    """The mean; NaN when empty."""
    return sum(values) / len(values) if values else math.nan


def fmt(value: float | None, digits: int = 0) -> str:
    """A number for the table; '-' for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    """'p50 a / p95 b / max c' of values times scale; '-' when empty."""
    if not values:
        return "-"
    p50, p95 = percentile(values, 50) * scale, percentile(values, 95) * scale
    return f"p50 {p50:.{digits}f} / p95 {p95:.{digits}f} / max {max(values) * scale:.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned text table (right-aligned columns)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def say(text: str) -> None:
    """Progress output (stderr, so stdout holds only the results)."""
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ bot process


class BotProcess:
    """`python -m bot` in its own directory, output to `bot.log` there."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        python: str = sys.executable,
        *,
        profile: bool = False,
    ) -> None:
        self.workdir = workdir
        self.env = env
        self.python = python
        self.profile_path = workdir / "bot.prof" if profile else None
        self.log_path = workdir / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Start the process."""
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self._command(),
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        _LIVE.add(self)

    def _command(self) -> list[str]:
        if self.profile_path is None:
            return [self.python, "-m", "bot"]
        return [self.python, "-m", "cProfile", "-o", str(self.profile_path), "-m", "bot"]

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status, once it ended."""
        return None if self.proc is None else self.proc.poll()

    async def stop(self) -> None:
        """Ask the bot to stop (SIGINT, as Ctrl-C), waiting without blocking the fakes."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), STOP_TIMEOUT)
        self.kill()

    def kill(self) -> None:
        """Kill the process if it still runs, and close the log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        _LIVE.discard(self)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the bot's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def kill_all() -> None:
    """Kill every bot process this harness started (safety net for interrupted runs)."""
    for process in list(_LIVE):
        process.kill()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the harness dies, however it dies (Linux)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run_main(main: Coroutine[Any, Any, None]) -> None:
    """asyncio.run(main), where SIGTERM stops it like Ctrl-C; bot processes are always killed."""

    async def guarded() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
                loop.add_signal_handler(signal.SIGINT, task.cancel)
        await main

    try:
        asyncio.run(guarded())
    except asyncio.CancelledError:
        say("interrupted; the bot processes were stopped")
    finally:
        kill_all()


class ResourceSampler:
    """CPU seconds (user+system) of a process over a window, and its peak RSS (sampled)."""

    def __init__(self, pid: int, every: float = SAMPLE_EVERY) -> None:
        self._proc = psutil.Process(pid)
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_rss = 0
        self.samples = 0
        self.cpu_start = math.nan
        self.cpu_end = math.nan
        self._threads_start: dict[int, float] = {}
        self._threads_end: dict[int, float] = {}

    def _cpu(self) -> float:
        times = self._proc.cpu_times()
        return float(times.user + times.system)

    def _threads(self) -> dict[int, float]:
        with contextlib.suppress(psutil.Error):
            return {t.id: t.user_time + t.system_time for t in self._proc.threads()}
        return {}

    def _sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, self._proc.memory_info().rss)
            self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self._sample()

    def start(self) -> None:
        """Start the window."""
        with contextlib.suppress(psutil.Error):
            self.cpu_start = self._cpu()
        self._threads_start = self._threads()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the window."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._sample()
        with contextlib.suppress(psutil.Error):
            self.cpu_end = self._cpu()
        self._threads_end = self._threads()

    @property
    def other_threads_seconds(self) -> float:
        """CPU seconds of the window spent outside the main thread (aiosqlite, executors)."""
        main = self._proc.pid
        return sum(
            cpu - self._threads_start.get(tid, 0.0)
            for tid, cpu in self._threads_end.items()
            if tid != main
        )

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds spent in the window (NaN if the process vanished)."""
        return self.cpu_end - self.cpu_start

    @property
    def peak_rss_mb(self) -> float:
        """Peak resident memory in MiB."""
        return self.peak_rss / (1024 * 1024)


# ------------------------------------------------------------------------------ log reading


class LogWatcher:
    """Reads the bot's log as it grows; notes which chats finished a turn (one line per turn)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pos = 0
        self._rest = b""
        self.turns: dict[int, str] = {}

    def poll(self) -> None:
        """Read what was appended since the last call."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._pos)
                data = handle.read()
        except OSError:
            return
        self._pos += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            match = _TURN_LINE.search(line)
            if match:
                self.turns[int(match.group(1))] = match.group(2)


@dataclass
class LogSummary:
    """What the bot's log says, in counts."""

    lines: int = 0
    levels: Counter[str] = field(default_factory=Counter)
    tracebacks: int = 0
    turn_statuses: Counter[str] = field(default_factory=Counter)
    patterns: Counter[str] = field(default_factory=Counter)  # warnings and errors, digits -> N
    unparsed: list[str] = field(default_factory=list)

    def describe(self, limit: int = 8) -> list[str]:
        """Readable lines about the log."""
        levels = ", ".join(f"{k}={v}" for k, v in sorted(self.levels.items()))
        turns = ", ".join(f"{k}={v}" for k, v in sorted(self.turn_statuses.items())) or "none"
        out = [f"{self.lines} lines ({levels}); tracebacks={self.tracebacks}; turns: {turns}"]
        for pattern, count in self.patterns.most_common(limit):
            out.append(f"  {count:>5} x {pattern[:160]}")
        for line in self.unparsed[:limit]:
            out.append(f"  unformatted line: {line[:160]}")
        return out


def summarize_log(text: str) -> LogSummary:
    """Count levels, turn statuses and distinct warning/error messages of a bot log."""
    summary = LogSummary()
    for line in text.splitlines():
        if not line.strip():
            continue
        summary.lines += 1
        match = _LOG_LINE.match(line)
        if match is None:
            if line.startswith("Traceback"):
                summary.tracebacks += 1
            elif len(summary.unparsed) < 20 and not line.startswith((" ", "\t")):
                summary.unparsed.append(line)
            continue
        level, logger, message = match.groups()
        summary.levels[level] += 1
        turn = _TURN_LINE.search(message)
        if turn:
            summary.turn_statuses[turn.group(2)] += 1
        if level in ("WARNING", "ERROR", "CRITICAL"):
            summary.patterns[f"{level} {logger}: {_DIGITS.sub('N', message)}"] += 1
    return summary


class LoopLag:
    """How late this process's event loop wakes up: the fakes' own added latency."""

    def __init__(self, every: float = 0.01) -> None:
        self._every = every
        self._task: asyncio.Task[None] | None = None
        self.samples: list[float] = []

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(self._every)
            self.samples.append(time.monotonic() - start - self._every)

    def start(self) -> None:
        """Start sampling."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ------------------------------------------------------------------------------ fakes


class TimedOpenMeteo(FakeOpenMeteo):
    """FakeOpenMeteo that also records when each of its handlers started and ended."""

    def __init__(self, places: list[dict[str, Any]] | None = None) -> None:
        super().__init__(places)
        self.handled: list[tuple[str, dict[str, str], float, float]] = []

    async def _search(self, request: web.Request) -> web.Response:
        start = time.monotonic()
        try:
            return await super()._search(request)
        finally:
            self.handled.append(("search", dict(request.query), start, time.monotonic()))

    async def _forecast(self, request: web.Request) -> web.Response:
        start = time.monotonic()
        try:
            return await super()._forecast(request)
        finally:
            self.handled.append(("forecast", dict(request.query), start, time.monotonic()))


def bot_env(settings: dict[str, str], root: Path = ROOT) -> dict[str, str]:
    """The bot's environment: ours without any bot setting, plus `settings`."""
    dropped = set(BOT_SETTINGS) | {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in dropped}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


@dataclass
class Replies:
    """How the replies ended: completion times, wrong final texts, and the chats still open."""

    sent_at: float
    done: dict[int, float] = field(default_factory=dict)  # chat -> time of the completing call
    wrong: dict[int, str] = field(default_factory=dict)  # turn ended, final text differs
    incomplete: set[int] = field(default_factory=set)
    bot_died: bool = False
    loop_lag: list[float] = field(default_factory=list)  # this process's loop, while waiting

    @property
    def last_done(self) -> float:
        """When the last reply was complete (NaN when none was)."""
        return max(self.done.values()) if self.done else math.nan


@dataclass
class BotRun:
    """A running bot with its fakes."""

    telegram: FakeTelegram
    provider: FakeOpenAI
    bot: BotProcess
    workdir: Path
    meteo: TimedOpenMeteo | None = None
    log_text: str = ""  # the whole log, filled in when the run ends
    profile: list[str] = field(default_factory=list)  # top functions, with profile=True

    async def wait_polling(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait until the bot long-polls (a getUpdates call reached the fake)."""
        deadline = time.monotonic() + timeout
        while not any(c.method == "getUpdates" for c in self.telegram.calls):
            if not self.bot.alive:
                raise RuntimeError(
                    f"the bot exited ({self.bot.returncode}) before polling:\n{self.bot.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not poll within {timeout:g} s")
            await asyncio.sleep(0.05)

    def send(self, texts: dict[int, str]) -> float:
        """Every user sends their message at the same moment; returns that moment."""
        sent_at = time.monotonic()
        for chat_id, text in texts.items():
            self.telegram.user_message(chat_id, text, first_name=f"User {chat_id - FIRST_CHAT}")
        return sent_at

    def _shown(self, chat_id: int) -> str | None:
        messages = self.telegram.bot_messages(chat_id)
        if not messages:
            return None
        if len(messages) == 1:
            return messages[0].text
        return "\n\n".join(m.text or "" for m in messages)

    @staticmethod
    def _matches(shown: str | None, expected: str) -> bool:
        if shown is None:
            return False
        # One message: exact. A reply split over several messages: the same words.
        return shown == expected or shown.split() == expected.split()

    async def wait_replies(
        self, expected: dict[int, str], sent_at: float, timeout: float
    ) -> Replies:
        """Wait until each chat shows its expected text, its turn ended otherwise, or timeout."""
        replies = Replies(sent_at=sent_at)
        lag = LoopLag()
        lag.start()
        try:
            await self._wait_replies(replies, expected, timeout)
        finally:
            await lag.stop()
            replies.loop_lag = lag.samples
        await asyncio.sleep(SETTLE)  # trailing calls (a last chat action) still count
        return replies

    async def _wait_replies(
        self, replies: Replies, expected: dict[int, str], timeout: float
    ) -> None:
        watcher = LogWatcher(self.bot.log_path)
        pending = set(expected)
        last_ok: dict[int, float] = {}
        last_any: dict[int, float] = {}
        scanned = 0
        deadline = replies.sent_at + timeout
        while pending:
            calls = self.telegram.calls
            for call in calls[scanned:]:
                if call.chat_id is None:
                    continue
                last_any[call.chat_id] = call.time
                if call.method in MESSAGE_METHODS and call.error is None:
                    last_ok[call.chat_id] = call.time
            scanned = len(calls)
            self.provider.emitted_chunks.clear()  # only memory; nothing here reads them
            watcher.poll()
            now = time.monotonic()
            for chat_id in list(pending):
                shown = self._shown(chat_id)
                if self._matches(shown, expected[chat_id]):
                    replies.done[chat_id] = last_ok.get(chat_id, now)
                    pending.discard(chat_id)
                elif chat_id in watcher.turns and now - last_any.get(chat_id, 0.0) > 3.0:
                    replies.wrong[chat_id] = shown or ""
                    pending.discard(chat_id)
            if not pending:
                break
            if not self.bot.alive:
                replies.bot_died = True
                break
            if now > deadline:
                break
            await asyncio.sleep(0.1)
        replies.incomplete = pending

    # -- what the fakes saw ------------------------------------------------------------------

    def chat_requests(self) -> dict[int, list[Recorded]]:
        """Chat-completion requests per chat, in arrival order."""
        found: dict[int, list[Recorded]] = defaultdict(list)
        for record in self.provider.requests:
            if record.path == CHAT_PATH:
                chat = chat_of(record.json)
                if chat is not None:
                    found[chat].append(record)
        return found

    def first_visible(self) -> dict[int, float]:
        """Per chat, when the fake received the first successful sendMessage or draft."""
        seen: dict[int, float] = {}
        for call in self.telegram.calls:
            if call.method in VISIBLE_METHODS and call.error is None and call.chat_id is not None:
                seen.setdefault(call.chat_id, call.time)
        return seen

    def call_counts(self, chats: Sequence[int]) -> dict[int, Counter[str]]:
        """Per chat, calls received by method (429-rejected calls included)."""
        wanted = set(chats)
        counts: dict[int, Counter[str]] = {chat: Counter() for chat in chats}
        for call in self.telegram.calls:
            if call.chat_id in wanted:
                counts[call.chat_id][call.method] += 1
        return counts


def profile_top(path: Path | None, limit: int = 25) -> list[str]:
    """The functions with the most own time (and cumulative time) in a cProfile dump."""
    if path is None or not path.exists():
        return []
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    text = _SITE.sub("", out.getvalue())
    return [line for line in text.splitlines() if line.strip()]


def bot_source(settings: dict[str, str], root: str) -> tuple[dict[str, str], str]:
    """The environment and interpreter for the bot: this tree, or `root` (and its .venv)."""
    if not root:
        return bot_env(settings), sys.executable
    tree = Path(root).resolve()
    venv_python = tree / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    return bot_env(settings, tree), python


@contextlib.asynccontextmanager
async def bot_run(
    settings: dict[str, str] | None = None,
    meteo: TimedOpenMeteo | None = None,
    keep: bool = False,
    root: str = "",
    profile: bool = False,
) -> AsyncIterator[BotRun]:
    """Fakes + a fresh bot process in a fresh directory; everything is stopped on exit.

    `root`: run the bot from another source tree (with its own `.venv` if it has one).
    `profile`: run it under cProfile; `BotRun.profile` holds the top functions afterwards.
    """
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    telegram = FakeTelegram(TOKEN)  # real defaults: private 1/s burst 3, 30/s, 20/min groups
    provider = FakeOpenAI(api_key=API_KEY, models=(MODEL,))
    started: list[Any] = []
    bot: BotProcess | None = None
    run: BotRun | None = None
    try:
        for fake in (telegram, provider, meteo):
            if fake is not None:
                await fake.start()
                started.append(fake)
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.base_url,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": provider.base_url,
            "OPENAI_MODEL": MODEL,
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "ALLOWED_USER_IDS": "*",
            "TOOLS": "none",
            "LOG_LEVEL": "INFO",
            "POLLING_TIMEOUT": "1",
        }
        if meteo is not None:
            env["WEATHER_API_URL"] = meteo.weather_url
            env["GEOCODING_API_URL"] = meteo.geocoding_url
        env.update(settings or {})
        bot = BotProcess(workdir, *bot_source(env, root), profile=profile)
        bot.start()
        run = BotRun(telegram, provider, bot, workdir, meteo)
        await run.wait_polling()
        yield run
    finally:
        try:
            if bot is not None:
                await bot.stop()
        finally:
            if bot is not None:
                bot.kill()
                if run is not None:
                    run.log_text = bot.log_path.read_text(encoding="utf-8", errors="replace")
                    run.profile = profile_top(bot.profile_path)
            for fake in reversed(started):
                with contextlib.suppress(Exception):
                    await fake.stop()
            if keep:
                say(f"  kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)


def run_notes(label: str, run: BotRun, replies: Replies) -> list[str]:
    """Lines about a finished run: the bot's log, odd endings, spec violations, fake latency."""
    notes = [
        f"{label}: bot log: {line}" if i == 0 else line
        for i, line in enumerate(summarize_log(run.log_text).describe())
    ]
    if replies.wrong:
        chat, text = next(iter(replies.wrong.items()))
        notes.append(
            f"  {len(replies.wrong)} replies ended with another text, e.g. chat {chat}: "
            f"{text[:120]!r}"
        )
    if replies.incomplete:
        notes.append(f"  {len(replies.incomplete)} replies incomplete when the wait ended")
    if replies.bot_died:
        notes.append(f"  the bot process died during the run (exit {run.bot.returncode})")
    violations = run.telegram.spec_violations + run.provider.spec_violations
    if violations:
        notes.append(f"  spec violations: {len(violations)}, e.g. {violations[0]}")
    untagged = [r for r in run.provider.requests if r.path == CHAT_PATH and chat_of(r.json) is None]
    if untagged:
        notes.append(f"  {len(untagged)} chat requests named no chat")
    if replies.loop_lag:
        notes.append(
            f"  fakes' event loop lag: p99 {percentile(replies.loop_lag, 99) * 1000:.0f} ms, "
            f"max {max(replies.loop_lag) * 1000:.0f} ms"
        )
    return notes


Measure = Callable[[int, float], Awaitable[tuple[list[str], list[str]]]]


async def run_all(
    counts: Sequence[int], headers: Sequence[str], measure: Measure, timeout: Callable[[int], float]
) -> tuple[list[list[str]], list[str]]:
    """One row (and notes) per N, in turn; a run that could not even start still gets its row."""
    rows: list[list[str]] = []
    notes: list[str] = []
    for count in counts:
        try:
            row, more = await measure(count, timeout(count))
        except Exception as exc:
            row = [str(count), "failed", *["-"] * (len(headers) - 2)]
            more = [f"N={count}: failed: {type(exc).__name__}: {exc}"]
        rows.append(row)
        notes += more
        say(table(headers, [row]))
    return rows, notes


def report(title: str, headers: Sequence[str], rows: list[list[str]], notes: list[str]) -> None:
    """Print the title, the table and the notes."""
    print(title)
    print(table(headers, rows))
    print()
    print("\n".join(notes))
