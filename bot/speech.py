"""Speech: transcription of voice notes and audio, and spoken copies of answers."""

from __future__ import annotations

import logging
import mimetypes
from datetime import timedelta

import openai

from bot.errors import InputError, ProviderError
from bot.provider_errors import map_status_error

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
SUPPORTED = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")
_BY_TYPE = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/aac": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/webm": "webm",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
_TYPE_OF = {
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "mpeg": "audio/mpeg",
    "mpga": "audio/mpeg",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "webm": "audio/webm",
}
MAX_SPEECH_CHARS = 4096


def upload_name(kind: str, file_name: str | None, mime_type: str | None) -> tuple[str, str]:
    """The file name and content type every transcription model accepts for this audio.

    Telegram voice notes are OGG/Opus with a `.oga` path, which several models
    reject by name: they go up as `voice.ogg`, `audio/ogg`.
    """
    if kind == "voice":
        return "voice.ogg", "audio/ogg"
    extension = ""
    if file_name and "." in file_name:
        extension = file_name.rsplit(".", 1)[1].lower()
    if extension == "oga" or extension == "opus":
        extension = "ogg"
    if extension not in SUPPORTED:
        extension = _BY_TYPE.get((mime_type or "").lower(), "")
    if not extension and mime_type:
        guessed = mimetypes.guess_extension(mime_type) or ""
        extension = guessed.lstrip(".")
    if extension not in SUPPORTED:
        raise InputError("error_audio_format", formats=", ".join(SUPPORTED))
    stem = "video_note" if kind == "video_note" else "audio"
    return f"{stem}.{extension}", _TYPE_OF.get(extension, mime_type or "application/octet-stream")


class SpeechClient:
    """Transcribes audio and speaks answers through an OpenAI-compatible provider."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        transcription_model: str,
        speech_model: str,
        speech_voice: str,
        speech_client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self._client = client
        self._speech_client = speech_client or client  # TTS may come from another provider
        self._transcription_model = transcription_model
        self._speech_model = speech_model
        self._speech_voice = speech_voice

    async def transcribe(self, audio: bytes, filename: str, content_type: str) -> str:
        """The text spoken in `audio`; InputError for what the user can fix or must know."""
        if not audio:
            raise InputError("error_audio_empty")
        if len(audio) > MAX_UPLOAD_BYTES:
            raise InputError("error_audio_too_big", size=len(audio) // (1024 * 1024), limit=25)
        try:
            result = await self._client.audio.transcriptions.create(
                model=self._transcription_model,
                file=(filename, audio, content_type),
            )
        except openai.APIStatusError as exc:
            raise self._map(exc) from exc
        except openai.APITimeoutError as exc:
            raise InputError("error_transcription_failed", str(exc)) from exc
        except openai.APIConnectionError as exc:
            raise InputError("error_transcription_failed", str(exc)) from exc
        text = (result.text if hasattr(result, "text") else str(result)).strip()
        if not text:
            raise InputError("error_empty_transcript")
        return text

    @staticmethod
    def _map(exc: openai.APIStatusError) -> Exception:
        if exc.status_code in (404, 405, 501):
            return InputError("error_no_transcription", str(exc.message))
        if exc.status_code in (400, 413, 415, 422):
            message = str(exc.message).lower()
            if exc.status_code == 413 or ("size" in message and "exceed" in message):
                return InputError("error_audio_too_big", str(exc.message), size="?", limit=25)
            return InputError("error_audio_broken", str(exc.message))
        error: ProviderError = map_status_error(exc)
        return error

    async def speak(self, text: str) -> bytes:
        """An OGG/Opus voice note of `text` (cut to the endpoint's 4096-character limit)."""
        try:
            response = await self._speech_client.audio.speech.create(
                model=self._speech_model,
                voice=self._speech_voice,
                input=text[:MAX_SPEECH_CHARS],
                response_format="opus",
            )
        except openai.APIStatusError as exc:
            raise map_status_error(exc) from exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise InputError("error_tts_failed", str(exc)) from exc
        return bytes(response.content)


def check_duration(duration: float | timedelta | None, limit: int) -> None:
    """Refuse a recording longer than `limit` seconds (Telegram tells it before any download)."""
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration or 0)
    if seconds > limit:
        raise InputError("error_voice_too_long", seconds=round(seconds), limit=limit)


def cap_transcript(text: str, limit: int) -> tuple[str, bool]:
    """The transcript cut to `limit` characters (at a word when one is near), and whether it was."""
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ", limit * 9 // 10)
    return (cut[:space] if space > 0 else cut).rstrip() + "…", True
