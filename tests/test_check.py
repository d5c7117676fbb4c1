"""`python -m bot check` against the fakes, as a user would run it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.conftest import API_KEY, TOKEN
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]


async def _check(tmp_path: Path, **env: str) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "TELEGRAM"))}
    environment.update(env)
    environment["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_check_passes_and_fails_in_plain_words(
    telegram: FakeTelegram, provider: FakeOpenAI, tmp_path: Path
) -> None:
    good = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": provider.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db/bot.db",
        "ALLOWED_USER_IDS": "*",
    }
    code, out = await _check(tmp_path, **good)
    assert code == 0, out
    assert "@test_llm_bot" in out and "All good." in out
    assert (tmp_path / "db" / "bot.db").exists()

    code, out = await _check(tmp_path, **{**good, "OPENAI_API_KEY": "sk-wrong"})
    assert code == 1 and "rejected OPENAI_API_KEY" in out

    code, out = await _check(tmp_path, **{**good, "TELEGRAM_BOT_TOKEN": "1:wrongtokenvalue"})
    assert code == 1 and "Telegram rejected the token" in out

    code, out = await _check(tmp_path, **{**good, "OPENAI_MODEL": "no-such-model"})
    assert code == 1 and "OPENAI_MODEL" in out

    code, out = await _check(tmp_path, DATABASE_URL="sqlite:///x.db")
    assert code == 1 and "TELEGRAM_BOT_TOKEN is missing" in out
    for text in (out,):
        assert TOKEN not in text and API_KEY not in text
