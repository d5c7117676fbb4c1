"""Settings: the contract's names, parsing, and plain-words errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.check import explain_settings_error
from bot.settings import Settings

REQUIRED = {"TELEGRAM_BOT_TOKEN": "123:abcdefghijkl", "OPENAI_API_KEY": "sk-x"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith(("TELEGRAM_", "OPENAI_", "ALLOWED_", "ADMIN_", "TOOLS", "DATABASE_")):
            monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_design_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in REQUIRED.items():
        monkeypatch.setenv(k, v)
    s = Settings()  # type: ignore[call-arg]
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.openai_base_url == "https://api.openai.com/v1"
    assert s.openai_model == "gpt-4o-mini"
    assert s.database_url == "sqlite:///data/bot.db"
    assert s.database_path == "data/bot.db"
    assert s.allowed_user_ids == frozenset()
    assert s.transcription_model == "whisper-1"
    assert s.weather_api_url == "https://api.open-meteo.com/v1"
    assert s.geocoding_api_url == "https://geocoding-api.open-meteo.com/v1"
    assert s.search_provider == "auto"
    assert s.searxng_url == ""


def test_env_example_loads_once_filled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / ".env.example"
    text = example.read_text()
    text = text.replace("TELEGRAM_BOT_TOKEN=\n", "TELEGRAM_BOT_TOKEN=1:abcdefghijk\n")
    text = text.replace("OPENAI_API_KEY=\n", "OPENAI_API_KEY=sk-1\n")
    (tmp_path / ".env").write_text(text)
    s = Settings()  # type: ignore[call-arg]
    assert s.max_output_tokens is None
    assert s.tools == ("weather", "search")
    fields = {name.upper() for name in Settings.model_fields}
    named = {line.split("=")[0].lstrip("# ").strip() for line in text.splitlines() if "=" in line}
    assert fields <= named | {"SYSTEM_PROMPT"}, fields - named


def test_id_lists_and_star(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in REQUIRED.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("ALLOWED_USER_IDS", "1, 2,3")
    monkeypatch.setenv("ALLOWED_CHAT_IDS", "*")
    monkeypatch.setenv("TOOLS", "none")
    s = Settings()  # type: ignore[call-arg]
    assert s.allowed_user_ids == frozenset({1, 2, 3})
    assert s.allowed_chat_ids == "*"
    assert s.tools == ()


def test_errors_are_explained_in_plain_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    monkeypatch.setenv("ALLOWED_USER_IDS", "12,abc")
    with pytest.raises(ValidationError) as info:
        Settings()  # type: ignore[call-arg]
    lines = explain_settings_error(info.value)
    text = "\n".join(lines)
    assert "TELEGRAM_BOT_TOKEN does not look like a bot token" in text
    assert "OPENAI_API_KEY is missing" in text
    assert "'abc' is not a numeric Telegram id" in text
