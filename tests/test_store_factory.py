"""DATABASE_URL -> the store: the factory, the settings that carry it, the doctor's check."""

from __future__ import annotations

import pytest

from bot.check import check_database
from bot.settings import Settings
from storage import PostgresStore, SQLiteStore, open_store, sqlite_path
from tests.conftest import API_KEY, TOKEN


def _settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,
        openai_api_key=API_KEY,
        database_url=database_url,
    )


def test_sqlite_urls_map_to_paths() -> None:
    assert sqlite_path("sqlite:///data/bot.db") == "data/bot.db"
    assert sqlite_path("sqlite:////var/lib/bot.db") == "/var/lib/bot.db"
    assert sqlite_path("sqlite://:memory:") == ":memory:"
    with pytest.raises(ValueError, match="not a SQLite URL"):
        sqlite_path("mysql://u:p@h/db")


def test_settings_take_postgres_urls_and_hide_the_password() -> None:
    default = _settings("sqlite:///data/bot.db")
    assert default.database_path == "data/bot.db" and default.database_label == "data/bot.db"
    pg = _settings("postgresql://bot:sekrit-pass@db.internal:5433/bot")
    assert pg.database_label == "postgresql://bot@db.internal:5433/bot"
    assert "sekrit-pass" in pg.secrets, "the password is redacted from logs"
    assert _settings("postgres://u:pw@h/db").database_label == "postgres://u@h/db"
    with pytest.raises(ValueError, match="postgresql://"):
        _settings("mysql://u:p@h/db")


async def test_open_store_picks_the_backend(database_url: str) -> None:
    store = await open_store(database_url)
    expected = PostgresStore if database_url.startswith("postgres") else SQLiteStore
    assert isinstance(store, expected)
    await store.close()


async def test_check_opens_the_database_it_is_given(database_url: str) -> None:
    ok, line = await check_database(_settings(database_url))
    assert ok and "is ready (schema version" in line, line


async def test_check_says_when_postgres_cannot_be_reached() -> None:
    ok, line = await check_database(_settings("postgresql://bot:sekrit-pass@127.0.0.1:1/bot"))
    assert not ok and "cannot open the database postgresql://bot@127.0.0.1:1/bot" in line
    assert "sekrit-pass" not in line
