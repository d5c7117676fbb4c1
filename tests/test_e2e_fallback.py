"""Several providers (PROVIDERS_FILE), `provider:model` addresses and FALLBACK_MODELS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import USER, Harness
from tests.fakes.openai import (
    FakeOpenAI,
    HttpError,
    Text,
    Texts,
    insufficient_quota,
    server_error,
)

BACKUP_KEY = "sk-backup-provider-key-0123456789"


@pytest.fixture
async def backup(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeOpenAI]:
    monkeypatch.setenv("BACKUP_API_KEY", BACKUP_KEY)
    fake = FakeOpenAI(api_key=BACKUP_KEY, models=("deepseek-chat", "deepseek-reasoner"))
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.spec_violations == [], fake.spec_violations


@pytest.fixture
async def routed(harness: Harness, backup: FakeOpenAI, tmp_path: Path) -> Harness:
    path = tmp_path / "providers.toml"
    path.write_text(
        f"""
[[providers]]
name = "backup"
base_url = "{backup.base_url}"
api_key_env = "BACKUP_API_KEY"
models = ["deepseek-chat", "deepseek-reasoner"]
supports = {{ vision = false, tools = true, token_param = "max_tokens" }}
""",
        encoding="utf-8",
    )
    await harness.restart(
        providers_file=str(path),
        fallback_models="backup:deepseek-chat",
        available_models="gpt-4o-mini,gpt-4.1,backup:deepseek-chat,backup:deepseek-reasoner",
        provider_max_retries=2,
    )
    return harness


async def _turn(h: Harness, text: str = "hi") -> str:
    h.say(text)
    done = h.turns_done(USER) + 1
    return (await h.answer(turns=done, count=len(h.telegram.bot_messages(USER)) or 1))[-1]


async def test_server_errors_on_the_first_provider_fall_back_with_a_footer(
    routed: Harness, backup: FakeOpenAI
) -> None:
    for _ in range(3):
        routed.provider.script(server_error(500))
    backup.script(Texts(["From ", "the backup."]))
    text = await _turn(routed)
    assert text.startswith("From the backup.")
    assert "Answered by backup:deepseek-chat (gpt-4o-mini was unavailable)" in text
    assert len(routed.provider.chat_requests()) == 3
    (request,) = backup.chat_requests()
    assert request["model"] == "deepseek-chat"
    loud = [line for line in routed.log_lines if "FAILED before any text" in line]
    assert loud and "ServerError" in loud[0] and "backup:deepseek-chat" in loud[0]
    assert [r.content for r in await _stored(routed)][-1] == "From the backup."


async def test_out_of_quota_falls_back_at_once_and_the_log_names_the_quota(
    routed: Harness, backup: FakeOpenAI
) -> None:
    routed.provider.script(insufficient_quota())
    backup.script(Text("Still here."))
    text = await _turn(routed)
    assert text.startswith("Still here.") and "Answered by backup:deepseek-chat" in text
    assert len(routed.provider.chat_requests()) == 1
    loud = [line for line in routed.log_lines if "FAILED before any text" in line]
    assert loud and "QuotaExceededError" in loud[0] and "insufficient_quota" in loud[0]
    assert not any(BACKUP_KEY in line for line in routed.log_lines)


async def test_no_fallback_once_text_was_shown(routed: Harness, backup: FakeOpenAI) -> None:
    from tests.fakes.openai import Drop

    routed.provider.script(Text("Half"), Drop())
    text = await _turn(routed)
    assert text.startswith("Half") and "interrupted" in text
    assert backup.chat_requests() == []


async def test_no_footer_when_the_chosen_model_answers(routed: Harness, backup: FakeOpenAI) -> None:
    routed.provider.script(Text("Plain."))
    assert await _turn(routed) == "Plain."
    assert backup.chat_requests() == []


async def test_model_of_a_named_provider_by_address(routed: Harness, backup: FakeOpenAI) -> None:
    routed.say("/model backup:deepseek-reasoner")
    assert "backup:deepseek-reasoner" in (await routed.notice())[0]
    backup.script(Text("reasoner here"))
    assert await _turn(routed) == "reasoner here"
    assert backup.chat_requests()[-1]["model"] == "deepseek-reasoner"
    assert routed.provider.chat_requests() == []


async def test_refused_parameter_is_remembered_per_provider_and_model(
    routed: Harness, backup: FakeOpenAI
) -> None:
    await routed.restart(temperature=0.5)
    refusal = HttpError(
        400,
        "Unsupported parameter: 'temperature' is not supported with this model.",
        code="unsupported_parameter",
        param="temperature",
    )
    routed.provider.script(refusal)
    routed.provider.script(Text("one"))
    await _turn(routed)
    routed.provider.script(Text("two"))
    await _turn(routed, "again")
    first, second, third = routed.provider.chat_requests()
    assert first["temperature"] == 0.5 and "temperature" not in second
    assert "temperature" not in third, "remembered for gpt-4o-mini"
    routed.say("/model gpt-4.1")
    await routed.notice(count=3)
    routed.provider.script(Text("three"))
    await _turn(routed, "other model")
    assert routed.provider.chat_requests()[-1]["temperature"] == 0.5, "not for gpt-4.1"
    routed.say("/model backup:deepseek-chat")
    await routed.notice(count=5)
    backup.script(Text("four"))
    await _turn(routed, "other provider")
    assert backup.chat_requests()[-1]["temperature"] == 0.5


async def _stored(h: Harness):
    from tests.provider_harness import stored

    return await stored(h)
