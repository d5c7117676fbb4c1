"""Fixtures: fake Telegram and provider servers on 127.0.0.1, and the real bot against them."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.app import BotRuntime
from bot.conversation import TurnOutcome
from bot.logs import RedactingFormatter, quiet_libraries
from bot.settings import Settings
from storage import ChatKey, MessageRecord, Store
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram

os.environ.setdefault("PTB_TIMEDELTA", "1")

TOKEN = "123456789:AAE-test-token-SECRET_abcdefghijklmnop"
API_KEY = "sk-test-provider-key-SECRET-0123456789"
MODEL = "gpt-4o-mini"
USER = 4242


def make_settings(
    telegram: FakeTelegram, provider: FakeOpenAI, url: str, **overrides: Any
) -> Settings:
    """Settings pointing the bot at the fakes, with test-friendly timings."""
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": telegram.base_url,
        "openai_api_key": API_KEY,
        "openai_base_url": provider.base_url,
        "openai_model": MODEL,
        "database_url": url,
        "allowed_user_ids": "*",
        "edit_interval_private": 0.25,
        "edit_interval_group": 0.5,
        "polling_timeout": 1,
        "stream_stall_timeout": 2.0,
        "max_retry_wait": 5.0,
        "tools": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Harness:
    """A running bot with its fakes; `restart()` keeps the same database."""

    telegram: FakeTelegram
    provider: FakeOpenAI
    database_url: str
    overrides: dict[str, Any]
    runtime: BotRuntime | None = None
    log_lines: list[str] = field(default_factory=list)
    log_output: list[str] = field(default_factory=list)  # as the bot prints them (redacted)
    finished: Counter[int] = field(default_factory=Counter)

    async def start(self, **overrides: Any) -> BotRuntime:
        """Start the bot (again), optionally with other settings."""
        self.overrides.update(overrides)
        settings = make_settings(self.telegram, self.provider, self.database_url, **self.overrides)
        self.runtime = BotRuntime(settings)
        await self.runtime.start()
        self.runtime.services.turn_listeners.append(self._turn_ended)
        return self.runtime

    def _turn_ended(self, key: ChatKey, outcome: TurnOutcome) -> None:
        self.finished[key.chat_id] += 1

    @property
    def store(self) -> Store:
        """The running bot's store."""
        assert self.runtime is not None, "the bot is not running"
        return self.runtime.services.store

    async def stored(self, chat_id: int = USER, thread_id: int = 0) -> list[MessageRecord]:
        """Every message of the chat's active conversation, read through the store."""
        conversation = await self.store.active_conversation(ChatKey(chat_id, thread_id))
        return await self.store.recent_messages(conversation, 10**9, 10**6)

    async def stop(self) -> None:
        """Stop the bot if it runs."""
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self, **overrides: Any) -> BotRuntime:
        """Stop and start with the same database."""
        await self.stop()
        return await self.start(**overrides)

    def say(self, text: str, chat_id: int = USER, **kw: Any) -> dict[str, Any]:
        """A user sends a message."""
        return self.telegram.user_message(chat_id, text, **kw)

    def turns_done(self, chat_id: int) -> int:
        """How many turns in this chat have ended (told by the running application)."""
        return self.finished[chat_id]

    async def answer(
        self, chat_id: int = USER, count: int = 1, timeout: float = 10.0, turns: int | None = None
    ) -> list[str]:
        """Wait until the chat has `count` bot messages and `turns` finished turns; the texts."""
        await self.telegram.wait_for(
            lambda: len(self.telegram.bot_messages(chat_id)) >= count, timeout=timeout
        )
        if turns is None:
            turns = 1
        await self.telegram.wait_for(lambda: self.turns_done(chat_id) >= turns, timeout=timeout)
        await self.telegram.wait_idle(chat_id, quiet=0.1, timeout=timeout)
        return [m.text or "" for m in self.telegram.bot_messages(chat_id)]

    async def notice(self, chat_id: int = USER, count: int = 1, timeout: float = 10.0) -> list[str]:
        """Wait for `count` bot messages that are not turns (notices, command answers)."""
        await self.telegram.wait_for(
            lambda: len(self.telegram.bot_messages(chat_id)) >= count, timeout=timeout
        )
        await self.telegram.wait_idle(chat_id, quiet=0.3, timeout=timeout)
        return [m.text or "" for m in self.telegram.bot_messages(chat_id)]


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str], secrets: list[str], output: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.output = output
        self.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s", secrets))
        self.raw = logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        # Keep the unredacted text: tests check that nothing secret was logged at all.
        try:
            self.sink.append(self.raw.format(record))
        except Exception:  # pragma: no cover
            self.sink.append(record.getMessage())
        # And the line as the bot's own log handler prints it, through the redacting formatter.
        record.exc_text = None
        self.output.append(self.format(record))


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    """A fake Bot API server with real flood limits."""
    fake = FakeTelegram(TOKEN, private_rate=5.0, private_burst=3, group_rate=2.5)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def provider() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI-compatible provider."""
    fake = FakeOpenAI(api_key=API_KEY, models=(MODEL, "gpt-4.1", "deepseek-chat"))
    await fake.start()
    yield fake
    await fake.stop()


@asynccontextmanager
async def running_bot(
    telegram: FakeTelegram, provider: FakeOpenAI, url: str, overrides: dict[str, Any]
) -> AsyncIterator[Harness]:
    """The real Application against the fakes, its logs captured (raw and as printed)."""
    h = Harness(telegram, provider, url, dict(overrides))
    handler = _ListHandler(h.log_lines, [TOKEN, API_KEY], h.log_output)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    quiet_libraries()
    await h.start()
    try:
        yield h
    finally:
        await h.stop()
        root.removeHandler(handler)
        root.setLevel(previous)
    assert telegram.spec_violations == [], telegram.spec_violations


@pytest.fixture
async def harness(  # the database_url fixture comes from tests/databases.py
    telegram: FakeTelegram,
    provider: FakeOpenAI,
    database_url: str,  # noqa: F811
) -> AsyncIterator[Harness]:
    """The real Application running against both fakes."""
    async with running_bot(telegram, provider, database_url, {}) as h:
        yield h
    assert provider.spec_violations == [], provider.spec_violations


from tests.databases import database_url, fresh_database_url, store  # noqa: E402, F401
