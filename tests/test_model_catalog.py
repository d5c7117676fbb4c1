"""The model catalog: `*` lists the provider's chat models, cached, with a fallback."""

from __future__ import annotations

from bot.errors import ServerError
from bot.model_catalog import ModelCatalog, is_chat_model


def test_chat_models_are_told_from_others() -> None:
    assert is_chat_model("gpt-4o-mini") and is_chat_model("deepseek/deepseek-chat-v3-0324:free")
    for other in ("text-embedding-3-large", "whisper-1", "tts-1-hd", "dall-e-3", "gpt-image-1"):
        assert not is_chat_model(other)


async def test_listing_is_cached_and_survives_a_failure() -> None:
    now = [0.0]
    calls: list[int] = []
    answers: list[list[str] | Exception] = [["b", "a", "whisper-1"], ServerError("500")]

    async def listing() -> list[str]:
        calls.append(1)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    catalog = ModelCatalog(("d", "*"), "d", listing, extra=("x:y",), ttl=10, clock=lambda: now[0])
    assert await catalog.models() == ("d", "a", "b", "x:y")
    assert await catalog.models() == ("d", "a", "b", "x:y") and len(calls) == 1
    now[0] = 11
    assert await catalog.models() == ("d", "a", "b", "x:y") and len(calls) == 2
    plain = ModelCatalog(("m1", "m2"), "m1", listing)
    assert await plain.models() == ("m1", "m2")
