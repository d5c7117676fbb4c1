"""`python -m bot check` against each provider dialect says what works and what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import API_KEY, TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.provider_harness import DIALECT_MODELS, DIALECTS, fake_for
from tests.test_check import _check


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_check_reports_what_each_provider_has(
    dialect: str, telegram: FakeTelegram, tmp_path: Path
) -> None:
    async with fake_for(dialect) as fake:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.base_url,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_MODEL": DIALECT_MODELS[dialect],
            "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
            "ALLOWED_USER_IDS": "*",
        }
        if dialect == "bizcity":
            code, out = await _check(tmp_path, **env)
            assert code == 1 and "OPENAI_CHAT_URL" in out, out
            env["OPENAI_CHAT_URL"] = fake.chat_url
        code, out = await _check(tmp_path, **env)
    assert code == 0, out
    assert f"answers with {DIALECT_MODELS[dialect]}" in out
    if dialect == "bizcity":
        assert f"{fake.base_url}/models is missing" in out
        for path in ("/audio/transcriptions", "/audio/speech", "/images/generations"):
            assert f"WARN {fake.base_url}{path} is missing" in out, out
    else:
        assert "audio and image endpoints answer" in out, out
    assert API_KEY not in out and TOKEN not in out


async def test_check_tries_each_named_provider(
    telegram: FakeTelegram, provider, tmp_path: Path
) -> None:
    async with fake_for("bizcity") as biz:
        path = tmp_path / "providers.toml"
        path.write_text(
            f'[[providers]]\nname = "biz"\nbase_url = "{biz.base_url}"\n'
            f'chat_url = "{biz.chat_url}"\napi_key_env = "BIZ_KEY"\nmodels = ["openai/gpt-4o"]\n',
            encoding="utf-8",
        )
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.base_url,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": provider.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
            "ALLOWED_USER_IDS": "*",
            "PROVIDERS_FILE": str(path),
        }
        code, out = await _check(tmp_path, **env)
        assert code == 1 and "BIZ_KEY (the key of 'biz') is not set" in out, out
        code, out = await _check(tmp_path, **env, BIZ_KEY=API_KEY)
        assert code == 0 and "provider 'biz' answers with openai/gpt-4o" in out, out
