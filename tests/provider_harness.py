"""A running bot against a fake provider of a chosen dialect (for the provider e2e tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from storage import ChatKey, MessageRecord
from tests.conftest import API_KEY, USER, Harness, running_bot
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram

# The model each dialect's guide uses in its examples (BizCity's ids carry the vendor).
DIALECT_MODELS = {
    "openai": "gpt-4o-mini",
    "bizcity": "openai/gpt-4o",
    "acedata": "gpt-4o",
    "lemondata": "gpt-4o",
    "aiid": "gpt-4",
}
DIALECTS = tuple(DIALECT_MODELS)


def dialect_settings(fake: FakeOpenAI) -> dict[str, Any]:
    """The settings an operator would write for this provider (from its guide)."""
    values: dict[str, Any] = {"openai_model": DIALECT_MODELS[fake.dialect.name]}
    if fake.dialect.name == "bizcity":
        values["openai_chat_url"] = fake.chat_url
    return values


@asynccontextmanager
async def running(
    telegram: FakeTelegram, provider: FakeOpenAI, db: Path, **overrides: Any
) -> AsyncIterator[Harness]:
    """The real Application against `provider`, with logs captured like the harness fixture."""
    settings = {**dialect_settings(provider), **overrides}
    async with running_bot(telegram, provider, f"sqlite:///{db}", settings) as h:
        yield h


async def stored(h: Harness, chat_id: int = USER) -> list[MessageRecord]:
    """The messages of the chat's conversation, read through the running bot's store."""
    assert h.runtime is not None
    store = h.runtime.services.store
    conversation = await store.active_conversation(ChatKey(chat_id))
    return await store.recent_messages(conversation, 10**9, 1000)


def fake_for(dialect: str) -> FakeOpenAI:
    """A fake provider of `dialect` serving the model of its guide."""
    models = (DIALECT_MODELS[dialect], "gpt-4o-mini", "deepseek/deepseek-chat-v3-0324:free")
    return FakeOpenAI(api_key=API_KEY, models=models, dialect=dialect)


@pytest.fixture(params=DIALECTS)
async def dialect_provider(request: pytest.FixtureRequest) -> AsyncIterator[FakeOpenAI]:
    """A fake provider in each dialect in turn."""
    fake = fake_for(request.param)
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.spec_violations == [], fake.spec_violations


@pytest.fixture
async def dialect_bot(
    telegram: FakeTelegram, dialect_provider: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[Harness]:
    """The real Application against the fake provider of the current dialect."""
    async with running(telegram, dialect_provider, tmp_path / "bot.db") as h:
        yield h
