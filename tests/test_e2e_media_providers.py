"""Voice, spoken answers and pictures can each come from a provider of PROVIDERS_FILE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import USER, Harness
from tests.fakes.openai import FakeOpenAI, Text
from tests.media_samples import ogg_opus_voice, photo

MEDIA_KEY = "sk-media-provider-key-0123456789"


@pytest.fixture
async def media(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeOpenAI]:
    monkeypatch.setenv("MEDIA_API_KEY", MEDIA_KEY)
    fake = FakeOpenAI(api_key=MEDIA_KEY, models=("gpt-image-1",))
    await fake.start()
    yield fake
    await fake.stop()


async def test_tts_images_and_transcription_from_their_own_provider(
    harness: Harness, media: FakeOpenAI, tmp_path: Path
) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(
        f'[[providers]]\nname = "media"\nbase_url = "{media.base_url}"\n'
        'api_key_env = "MEDIA_API_KEY"\nmodels = []\n',
        encoding="utf-8",
    )
    await harness.restart(
        providers_file=str(path),
        transcription_provider="media",
        tts_provider="media",
        image_provider="media",
    )
    png = photo(32, 32, "PNG")
    media.script_image(png)
    harness.say("/image a square")
    await harness.telegram.wait_for(lambda: harness.telegram.calls_for("sendPhoto", USER))
    media.script_transcription("hello from voice")
    voice = ogg_opus_voice()
    voice_id, unique = harness.telegram.add_file(voice, "voice/v.oga")
    harness.provider.script(Text("heard you"))
    harness.telegram.user_message(
        USER,
        None,
        voice={
            "file_id": voice_id,
            "file_unique_id": unique,
            "duration": 1,
            "mime_type": "audio/ogg",
            "file_size": len(voice),
        },
    )
    await harness.telegram.wait_for(lambda: harness.provider.chat_requests() != [])
    harness.say("/voice")
    await harness.telegram.wait_for(
        lambda: any("voice copy" in (m.text or "") for m in harness.telegram.bot_messages(USER))
    )
    harness.provider.script(Text("Spoken."))
    harness.say("talk")
    await harness.telegram.wait_for(lambda: harness.telegram.calls_for("sendVoice", USER))
    paths = [r.path for r in media.requests]
    assert "/v1/images/generations" in paths
    assert "/v1/audio/transcriptions" in paths
    assert "/v1/audio/speech" in paths
    main = {r.path for r in harness.provider.requests}
    assert main == {"/v1/chat/completions"}
