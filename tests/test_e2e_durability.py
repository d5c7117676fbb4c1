"""Nothing lost: updates stored before they are confirmed, answered once, in order, across
a killed process, a graceful stop, webhook retries and several replicas."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.app import BotRuntime
from handlers.intake import derive_webhook_secret
from storage import sqlite_path
from tests.conftest import API_KEY, MODEL, TOKEN, USER, Harness, make_settings
from tests.databases import fresh_database_url
from tests.fakes.openai import FakeOpenAI, Text, Texts
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _post(port: int, path: str, update: dict[str, Any], secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}{path}", json=update, headers=headers) as response,
    ):
        return response.status


async def test_a_webhook_retry_is_answered_once(harness: Harness) -> None:
    port = _free_port()
    await harness.restart(webhook_url=f"http://127.0.0.1:{port}/hooks/tg", port=port)
    assert harness.telegram.webhook is not None
    harness.provider.set_default(lambda body: [Text("once")])
    harness.say("hello")
    update = harness.telegram.updates[-1]
    secret = derive_webhook_secret(TOKEN)
    assert await _post(port, "/hooks/tg", update, secret) == 200
    assert await _post(port, "/hooks/tg", update, secret) == 200, "Telegram retries"
    assert await harness.answer() == ["once"]
    await asyncio.sleep(0.5)
    assert len(harness.provider.chat_requests()) == 1


async def test_a_forged_webhook_post_is_refused_and_never_processed(harness: Harness) -> None:
    port = _free_port()
    await harness.restart(webhook_url=f"http://127.0.0.1:{port}/hooks/tg", port=port)
    harness.say("forged from an admin")
    update = harness.telegram.updates[-1]
    assert await _post(port, "/hooks/tg", update, None) == 403
    assert await _post(port, "/hooks/tg", update, "guessed-secret") == 403
    await asyncio.sleep(0.5)
    assert harness.provider.chat_requests() == []
    assert harness.telegram.bot_messages(USER) == []


# ---------------------------------------------------------------- a real process, killed


def _bot_env(telegram: FakeTelegram, provider: FakeOpenAI, url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PTB_TIMEDELTA": "1",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": provider.base_url,
        "OPENAI_MODEL": MODEL,
        "DATABASE_URL": url,
        "ALLOWED_USER_IDS": "*",
        "EDIT_INTERVAL_PRIVATE": "0.25",
        "POLLING_TIMEOUT": "1",
        "TOOLS": "none",
        "REPLICA_ID": "bot-under-test",
        "SHUTDOWN_GRACE": "8",
    }


async def _start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeOpenAI]]:
    telegram = FakeTelegram(TOKEN, private_rate=5.0, private_burst=3, group_rate=2.5)
    provider = FakeOpenAI(api_key=API_KEY, models=(MODEL,))
    await telegram.start()
    await provider.start()
    yield telegram, provider
    await provider.stop()
    await telegram.stop()


async def test_killed_mid_stream_the_question_is_answered_after_the_restart(
    fakes: tuple[FakeTelegram, FakeOpenAI], tmp_path: Path
) -> None:
    telegram, provider = fakes
    env = _bot_env(telegram, provider, f"sqlite:///{tmp_path / 'bot.db'}")
    provider.script(Texts([f"slow{i} " for i in range(500)], delay=0.02))
    process = await _start_bot(env, tmp_path / "bot.log")
    try:
        telegram.user_message(USER, "tell me a long story")
        await telegram.wait_for(lambda: "slow5" in (telegram.last_text(USER) or ""), timeout=20)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        partial = telegram.bot_messages(USER)[0]
        telegram.user_message(USER, "are you there?")  # sent while the bot is down
        provider.set_default(lambda body: [Text("answer to: " + body["messages"][-1]["content"])])
        process = await _start_bot(env, tmp_path / "bot.log")
        await telegram.wait_for(lambda: len(telegram.bot_messages(USER)) >= 2, timeout=20)
        await telegram.wait_idle(USER, quiet=0.5, timeout=10)
        texts = [m.text or "" for m in telegram.bot_messages(USER)]
        assert telegram.bot_messages(USER)[0].message_id == partial.message_id
        assert "restart interrupted this answer" in texts[0]
        assert texts[0].endswith("answer to: tell me a long story")
        assert texts[1] == "answer to: are you there?"
        assert len(texts) == 2
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_lets_turns_finish_or_leaves_them_for_the_next_start(
    fakes: tuple[FakeTelegram, FakeOpenAI], tmp_path: Path
) -> None:
    telegram, provider = fakes
    env = _bot_env(telegram, provider, f"sqlite:///{tmp_path / 'bot.db'}")
    env["SHUTDOWN_GRACE"] = "3"
    chats = [USER + i for i in range(3)]
    provider.set_default(lambda body: [Texts([f"w{i} " for i in range(600)], delay=0.02)])
    process = await _start_bot(env, tmp_path / "bot.log")
    try:
        for chat in chats:
            telegram.user_message(chat, "first")
        for chat in chats[:2]:
            telegram.user_message(chat, "second")  # queued behind the running turns
        await telegram.wait_for(
            lambda: all(telegram.bot_messages(chat) for chat in chats), timeout=20
        )
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 10)
        assert time.monotonic() - started < 10
        provider.set_default(lambda body: [Text("done: " + body["messages"][-1]["content"])])
        process = await _start_bot(env, tmp_path / "bot.log")
        for chat in chats:
            wanted = ["done: first", "done: second"] if chat in chats[:2] else ["done: first"]
            await telegram.wait_for(
                lambda chat=chat, wanted=wanted: (
                    [(m.text or "").rsplit("\n\n", 1)[-1] for m in telegram.bot_messages(chat)]
                    == wanted
                ),
                timeout=20,
            )
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# ---------------------------------------------------------------- replicas


Deliver = Callable[[int], Awaitable[int]]


@asynccontextmanager
async def _replicas(
    telegram: FakeTelegram, provider: FakeOpenAI, tmp_path: Path, count: int
) -> AsyncIterator[Deliver]:
    """`count` webhook replicas on one new PostgreSQL database; yields a function that
    delivers Telegram's newest update to replica i the way Telegram does (its status)."""
    async with fresh_database_url("postgres", tmp_path) as url:
        ports = [_free_port() for _ in range(count)]
        secret = derive_webhook_secret(TOKEN)

        async def deliver(i: int) -> int:
            return await _post(ports[i], "/tg", telegram.updates[-1], secret)

        async with _running(telegram, provider, url, ports):
            yield deliver


@asynccontextmanager
async def _running(
    telegram: FakeTelegram, provider: FakeOpenAI, url: str, ports: list[int]
) -> AsyncIterator[None]:
    """A webhook replica on each port, stopped on the way out."""
    runtimes = []
    try:
        for i, port in enumerate(ports):
            settings = make_settings(
                telegram,
                provider,
                url,
                webhook_url=f"http://127.0.0.1:{port}/tg",
                port=port,
                replica_id=f"replica-{i}",
                max_retry_wait=1.0,
            )
            runtime = BotRuntime(settings)
            await runtime.start()
            runtimes.append(runtime)
        yield
    finally:
        for runtime in runtimes:
            await runtime.stop(grace=1)


@pytest.mark.parametrize("replicas", [2, 3])
async def test_replicas_keep_each_conversations_order(
    telegram: FakeTelegram, provider: FakeOpenAI, tmp_path: Path, replicas: int
) -> None:
    async with _replicas(telegram, provider, tmp_path, replicas) as deliver:
        provider.set_default(
            lambda body: [Texts(["re: ", body["messages"][-1]["content"]], delay=0.05)]
        )
        words = {USER: [f"a{i}" for i in range(6)], USER + 1: [f"b{i}" for i in range(6)]}
        sent = 0
        for i in range(6):
            for user in words:  # each message to the next replica, 20 ms apart
                telegram.user_message(user, words[user][i])
                assert await deliver(sent % replicas) == 200
                sent += 1
                await asyncio.sleep(0.02)
        for user, said in words.items():
            done = lambda u=user, t=f"re: {said[-1]}": telegram.last_text(u) == t  # noqa: E731
            await telegram.wait_for(done, timeout=30)
            await telegram.wait_idle(user, quiet=0.5, timeout=10)
            _assert_answered_in_order(telegram, provider, user, said)


async def _stop_on_replica(
    telegram: FakeTelegram, provider: FakeOpenAI, tmp_path: Path, stop: Callable[[], None], on: int
) -> None:
    """A long answer runs on replica 0; `stop()` makes the update that stops it, delivered to
    replica `on`: the answer ends stopped, long before its end."""
    async with _replicas(telegram, provider, tmp_path, 2) as deliver:
        provider.set_default(lambda body: [Texts([f"w{i} " for i in range(400)], delay=0.02)])
        telegram.user_message(USER, "write a lot")
        assert await deliver(0) == 200
        await telegram.wait_for(lambda: "w5" in (telegram.last_text(USER) or ""), timeout=10)
        stop()
        assert await deliver(on) == 200
        stopped = lambda: (telegram.last_text(USER) or "").endswith("⏹ Stopped.")  # noqa: E731
        await telegram.wait_for(stopped, timeout=5)
        assert "w399" not in (telegram.last_text(USER) or "")


@pytest.mark.parametrize("pressed_on", [0, 1])
async def test_stop_works_whichever_replica_gets_the_press(
    telegram: FakeTelegram, provider: FakeOpenAI, tmp_path: Path, pressed_on: int
) -> None:
    def press() -> None:
        (message,) = telegram.bot_messages(USER)
        (stop,) = telegram.buttons(USER, message.message_id)
        telegram.press_button(USER, message.message_id, stop["callback_data"])

    await _stop_on_replica(telegram, provider, tmp_path, press, pressed_on)
    assert telegram.callback_answers()[-1].get("text") == "Stopping…"


@pytest.mark.parametrize("typed_on", [0, 1])
async def test_a_typed_stop_works_whichever_replica_gets_it(
    telegram: FakeTelegram, provider: FakeOpenAI, tmp_path: Path, typed_on: int
) -> None:
    await _stop_on_replica(
        telegram, provider, tmp_path, lambda: telegram.user_message(USER, "/stop"), typed_on
    )
    assert len(telegram.bot_messages(USER)) == 1, "no 'nothing to stop' notice"


def _assert_answered_in_order(
    telegram: FakeTelegram, provider: FakeOpenAI, user: int, words: list[str]
) -> None:
    # Messages arriving during a turn are answered together with the next one, so there
    # are fewer answers than messages, but never one out of order.
    texts = [m.text for m in telegram.bot_messages(user)]
    answered = [t.removeprefix("re: ") for t in texts if t]
    assert answered == sorted(answered) and answered[0] == words[0]
    asked = [
        [m["content"] for m in r["messages"] if m["role"] == "user"]
        for r in provider.chat_requests()
    ]
    mine = [a for a in asked if a and a[0] == words[0]]
    assert all(a == words[: len(a)] for a in mine), "never a message out of order"
    assert mine[-1] == words, "every message once, in order, in the history"


async def test_a_telegram_outage_loses_nothing(harness: Harness) -> None:
    harness.provider.set_default(lambda body: [Text("got " + body["messages"][-1]["content"])])
    harness.say("before")
    assert await harness.answer() == ["got before"]
    harness.telegram.fail_next("getUpdates", 502, "Bad Gateway", times=2)
    harness.telegram.hang_next("getUpdates", 2.0)
    failed = lambda: [c for c in harness.telegram.calls_for("getUpdates") if c.error]  # noqa: E731
    await harness.telegram.wait_for(failed, timeout=10)
    for text in ("during one", "during two"):
        harness.telegram.user_message(USER + 1, text)
    await harness.telegram.wait_for(
        lambda: len(harness.telegram.bot_messages(USER + 1)) >= 1, timeout=30
    )
    await harness.telegram.wait_idle(USER + 1, quiet=1.0, timeout=20)
    answered = [m.text for m in harness.telegram.bot_messages(USER + 1)]
    assert answered and answered[-1] == "got during two"
    asked = [r["messages"][-1]["content"] for r in harness.provider.chat_requests()]
    assert asked.count("during two") == 1, "answered once"
    stored = [m.content for m in await harness.stored(USER + 1) if m.role == "user"]
    assert stored == ["during one", "during two"], "nothing lost"
    assert len(failed()) >= 2, "the outage really happened"


async def _run_sql(database_url: str, sql: str, *args: Any) -> list[Any]:
    """One statement on a connection of its own; the rows it returns."""
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db:
            rows = db.execute(sql.replace("$1", "?"), args).fetchall()
            db.commit()
            return rows
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_a_question_answered_just_before_a_crash_is_not_answered_twice(
    harness: Harness,
) -> None:
    harness.provider.set_default(lambda body: [Text("only once")])
    harness.say("hello")
    update_id = harness.telegram.updates[-1]["update_id"]
    assert await harness.answer() == ["only once"]
    await harness.stop()
    # What a process that died between the end of the turn and marking its update leaves:
    undone = "UPDATE inbox SET done_at = NULL, owner = NULL, lease_until = NULL"
    await _run_sql(harness.database_url, undone + " WHERE update_id = $1", update_id)

    await harness.start()
    done = "SELECT update_id FROM inbox WHERE done_at IS NOT NULL AND update_id = $1"
    deadline = time.monotonic() + 10
    while not await _run_sql(harness.database_url, done, update_id):
        assert time.monotonic() < deadline, "the update came back and was never handled"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert len(harness.provider.chat_requests()) == 1
    assert [m.text for m in harness.telegram.bot_messages(USER)] == ["only once"]
