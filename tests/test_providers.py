"""The router, the providers file and the capability memory, at their own seams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.capabilities import CapabilityMemory
from bot.chunks import LLMEvent, StreamEnd, TextDelta
from bot.errors import ContextTooLongError, ProviderError, QuotaExceededError, ServerError
from bot.providers import ModelRouter, ProvidersFileError, Supports, load_providers


class Scripted:
    """A ChatModel that fails with `error` or answers `text`; records what it was asked."""

    def __init__(
        self, error: ProviderError | None = None, text: str = "ok", after: str = ""
    ) -> None:
        self.error, self.text, self.after = error, text, after
        self.calls: list[dict[str, Any]] = []

    async def stream(
        self, *, model, messages, tools=None, tool_choice=None, pause=None
    ) -> AsyncIterator[LLMEvent]:
        self.calls.append({"model": model, "tools": tools, "messages": messages})
        if self.after:
            yield TextDelta(self.after)
        if self.error is not None:
            raise self.error
        yield TextDelta(self.text)
        yield StreamEnd("stop")


async def _run(router: ModelRouter, model: str, **kw: Any) -> list[LLMEvent]:
    messages = kw.pop("messages", [{"role": "user", "content": "x"}])
    return [e async for e in router.stream(model=model, messages=messages, **kw)]


async def test_fallback_ladder() -> None:
    default, backup = Scripted(ServerError("500")), Scripted(text="from backup")
    router = ModelRouter({"": default, "b": backup}, fallbacks=("b:m2",))
    events = await _run(router, "m1")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["from backup"]
    assert isinstance(events[-1], StreamEnd) and events[-1].model == "b:m2"
    assert default.calls[0]["model"] == "m1" and backup.calls[0]["model"] == "m2"


async def test_no_fallback_for_errors_the_engine_handles_or_after_text() -> None:
    router = ModelRouter(
        {"": Scripted(ContextTooLongError("big")), "b": Scripted()}, fallbacks=("b:m",)
    )
    with pytest.raises(ContextTooLongError):
        await _run(router, "m")
    router = ModelRouter(
        {"": Scripted(QuotaExceededError("q"), after="half"), "b": Scripted()}, fallbacks=("b:m",)
    )
    with pytest.raises(QuotaExceededError):
        await _run(router, "m")


async def test_addresses_and_declared_supports() -> None:
    backup = Scripted()
    router = ModelRouter({"": Scripted(), "b": backup}, supports={"b": Supports(tools=False)})
    assert router.resolve("b:deepseek-chat") == ("b", "deepseek-chat")
    assert router.resolve("deepseek/deepseek-chat-v3-0324:free") == (
        "",
        "deepseek/deepseek-chat-v3-0324:free",
    )
    assert router.resolve("unknown:model") == ("", "unknown:model")
    await _run(router, "b:m", tools=[{"type": "function"}], tool_choice="auto")
    assert backup.calls[0]["tools"] is None


def test_capabilities_expire_and_are_per_provider_and_model() -> None:
    now = [0.0]
    memory = CapabilityMemory(ttl=60, clock=lambda: now[0])
    memory.refuse(("a", "m"), "temperature")
    assert memory.refused(("a", "m"), "temperature")
    assert not memory.refused(("a", "other"), "temperature")
    assert not memory.refused(("b", "m"), "temperature")
    now[0] = 61
    assert memory.refusals(("a", "m")) == set()


def test_providers_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[[providers]]\nname = "biz"\nbase_url = "https://bizgpt.vn/"\n'
        'chat_url = "https://bizgpt.vn/wp-json/bizcity/v1/llm/chat"\napi_key_env = "BIZ_KEY"\n'
        'models = ["openai/gpt-4o"]\nsupports = { vision = true, audio = false }\n',
        encoding="utf-8",
    )
    (spec,) = load_providers(str(path))
    assert spec.base_url == "https://bizgpt.vn" and spec.chat_url.endswith("/llm/chat")
    assert spec.supports == Supports(vision=True, audio=False)
    path.write_text('[[providers]]\nname = "a:b"\nbase_url = "x"\napi_key_env = "K"\n')
    with pytest.raises(ProvidersFileError):
        load_providers(str(path))
    assert load_providers("") == []


def test_named_provider_keys_are_redacted_from_logs(tmp_path: Path) -> None:
    from bot.providers import provider_secrets

    path = tmp_path / "p.toml"
    path.write_text('[[providers]]\nname = "b"\nbase_url = "http://x"\napi_key_env = "B_KEY"\n')
    assert provider_secrets(str(path), {"B_KEY": "sk-secret-123"}) == ["sk-secret-123"]
    assert provider_secrets(str(tmp_path / "missing.toml"), {}) == []
