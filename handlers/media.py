"""Voice notes, audio, video notes, photos, albums and documents -> a turn."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError

from bot.errors import BotError, InputError
from bot.i18n import translate
from bot.media import (
    MediaLimits,
    escape_markdown,
    image_part,
    is_pdf,
    is_text_document,
    read_document,
    truncation_note,
)
from bot.ordering import Place
from bot.speech import cap_transcript, check_duration, upload_name
from handlers.access import admitted
from handlers.addressing import chat_key, is_group, language_of, thread_of
from handlers.context import BotContext, Services
from handlers.groups import answers_all, mentions_bot, replies_to_bot, strip_mention, with_quote
from handlers.notices import notify
from handlers.outcome import error_text
from handlers.turns import Question, answer

log = logging.getLogger(__name__)

OFFICIAL_API = "https://api.telegram.org"
DOWNLOAD_LIMIT_MB = 20


@dataclass
class MediaInput:
    """What a media message becomes: the turn's text, image parts, kind and shown header."""

    text: str
    kind: str
    parts: list[dict[str, Any]] = field(default_factory=list)
    header: str | None = None


async def download(services: Services, message: Message, file_id: str, size: int | None) -> bytes:
    """The file's bytes; files over the Bot API's 20 MB limit get a clear error first."""
    limited = services.settings.telegram_api_url == OFFICIAL_API
    if limited and size and size > DOWNLOAD_LIMIT_MB * 1024 * 1024:
        raise InputError(
            "error_file_too_big", size=round(size / 1024 / 1024, 1), limit=DOWNLOAD_LIMIT_MB
        )
    try:
        file = await message.get_bot().get_file(file_id)
        return bytes(await file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            raise InputError(
                "error_file_too_big", size=round((size or 0) / 1024 / 1024, 1), limit=20
            ) from exc
        raise InputError("error_download_failed", exc.message) from exc
    except TelegramError as exc:
        raise InputError("error_download_failed", exc.message) from exc


def _image_document(message: Message) -> bool:
    document = message.document
    return bool(document and (document.mime_type or "").lower().startswith("image/"))


def has_media(message: Message) -> bool:
    """Whether the message carries something `read_media` understands."""
    return bool(
        message.voice or message.audio or message.video_note or message.photo or message.document
    )


async def _transcribe(services: Services, message: Message, language: str) -> MediaInput:
    if services.speech is None:
        raise InputError("error_no_transcription")
    name: str | None = None
    if message.voice:
        kind, file_id, size = "voice", message.voice.file_id, message.voice.file_size
        mime, duration = message.voice.mime_type, message.voice.duration
    elif message.audio:
        kind, file_id, size = "audio", message.audio.file_id, message.audio.file_size
        name, mime = message.audio.file_name, message.audio.mime_type
        duration = message.audio.duration
    else:
        assert message.video_note is not None
        kind, file_id, size = "video_note", message.video_note.file_id, message.video_note.file_size
        name, mime = "video.mp4", "video/mp4"
        duration = message.video_note.duration
    filename, content_type = upload_name(kind, name, mime)
    check_duration(duration, services.settings.max_voice_seconds)
    data = await download(services, message, file_id, size)
    transcript = await services.speech.transcribe(data, filename, content_type)
    limit = services.settings.max_transcript_chars
    transcript, cut = cap_transcript(transcript, limit)
    header = f"🎤 _{escape_markdown(transcript)}_"
    if cut:
        note = translate(language, "transcript_truncated", limit=limit)
        header += f"\n\n_{escape_markdown(note)}_"
    return MediaInput(text=transcript, kind="voice", header=header)


async def _photos(services: Services, messages: list[Message], language: str) -> MediaInput:
    parts = []
    caption = ""
    for message in messages:
        if message.photo:
            largest = message.photo[-1]
            file_id, size = largest.file_id, largest.file_size
        else:
            assert message.document is not None
            file_id, size = message.document.file_id, message.document.file_size
        data = await download(services, message, file_id, size)
        parts.append(
            await image_part(data, MediaLimits.from_settings(services.settings, services.sandbox))
        )
        caption = caption or (message.caption or "")
    text = strip_mention(caption, services.bot_username) or translate(language, "photo_question")
    return MediaInput(text=text, kind="photo", parts=parts)


async def _document(services: Services, message: Message, language: str) -> MediaInput:
    document = message.document
    assert document is not None
    name, mime = document.file_name, document.mime_type
    if not (is_pdf(name, mime) or is_text_document(name, mime)):
        raise InputError("error_document_type", types="txt, md, csv, json, code, pdf")
    data = await download(services, message, document.file_id, document.file_size)
    limits = MediaLimits.from_settings(services.settings, services.sandbox)
    read = await read_document(data, name, mime, limits)
    question = strip_mention(message.caption or "", services.bot_username)
    question = question or translate(language, "document_question")
    note, key, params = truncation_note(read, limits)
    note = note if read.cut else ""
    text = f"{question}\n\nFile: {name or 'document'}\n```\n{read.text}\n```{note}"
    header = f"📄 _{escape_markdown(translate(language, key, **params))}_"
    return MediaInput(text=text, kind="document", header=header if read.cut else None)


async def read_media(services: Services, messages: list[Message], language: str) -> MediaInput:
    """Turn one media message (or an album) into the input of a turn."""
    first = messages[0]
    if len(messages) > 1 and not all(m.photo or _image_document(m) for m in messages):
        return await _album(services, messages, language)
    if first.voice or first.audio or first.video_note:
        return await _transcribe(services, first, language)
    if first.photo or _image_document(first):
        return await _photos(services, messages, language)
    if first.document:
        return await _document(services, first, language)
    raise InputError("error_unsupported")


async def _album(services: Services, messages: list[Message], language: str) -> MediaInput:
    """Every item of an album (pictures, documents, recordings), each within its limits."""
    pictures = [m for m in messages if m.photo or _image_document(m)]
    items = [await _photos(services, pictures, language)] if pictures else []
    for message in messages:
        if message not in pictures:
            items.append(await read_media(services, [message], language))
    return merge_media(items, services.settings.document_max_chars)


def merge_media(items: list[MediaInput], max_chars: int) -> MediaInput:
    """One input from an album's items; items past `max_chars` in all are left out (and said)."""
    texts = [items[0].text]
    for item in items[1:]:
        if sum(map(len, texts)) + len(item.text) > max_chars:
            left = len(items) - len(texts)
            texts.append(f"[{left} more file(s) of the album were not read: too much text.]")
            break
        texts.append(item.text)
    parts = [part for item in items for part in item.parts]
    headers = [item.header for item in items if item.header]
    kind = "photo" if parts else items[0].kind
    return MediaInput("\n\n".join(texts), kind, parts, "\n".join(headers) or None)


def sender_label(message: Message) -> str:
    """Who sent a message, for the model."""
    user = message.from_user
    return (user.full_name if user else None) or "someone"


async def _addressed(services: Services, messages: list[Message]) -> bool:
    first = messages[0]
    if not is_group(first):
        return True
    for message in messages:
        if mentions_bot(message, services.bot_username, services.bot_id):
            return True
        if replies_to_bot(message, services.bot_id):
            return True
    return await answers_all(services, first.chat.id)


async def on_media(update: Update, context: BotContext) -> None:
    """Voice, audio, video notes, photos, albums and documents."""
    message = update.effective_message
    if message is None:
        return
    services = context.services
    album = (message.chat.id, message.media_group_id) if message.media_group_id else None
    if album is not None and not services.albums.add(album, message):
        return  # the album's first message answers for all of them
    # The place in line is taken before any await, so turns keep the order of messages.
    async with services.queue.place(chat_key(message)) as place:
        messages = await services.albums.collect(album) if album is not None else [message]
        if not await _addressed(services, messages) or not await admitted(services, message):
            return
        await answer_media(services, message, messages, place)


def _question_about(media: MediaInput, asked: str, about: Message) -> str:
    """/ask about a replied media message: the question applies to that media."""
    if media.kind == "voice":
        who = sender_label(about)
        asked = asked or "What about this message?"
        return f'(In reply to a voice message from {who}: "{media.text}")\n{asked}'
    if asked:
        return asked if media.kind == "photo" else f"{asked}\n\n{media.text}"
    return media.text


async def answer_media(
    services: Services,
    message: Message,
    messages: list[Message],
    place: Place,
    question: str | None = None,
) -> None:
    """Read the media (while an earlier turn may still run), then answer it in order."""
    language = language_of(message.from_user, services.settings.default_language)
    try:
        with contextlib.suppress(TelegramError):
            await message.get_bot().send_chat_action(
                message.chat.id, ChatAction.TYPING, message_thread_id=thread_of(message)
            )
        media = await read_media(services, messages, language)
    except BotError as exc:
        log.info("media refused in chat %s: %s", message.chat.id, exc.detail)
        model = services.settings.openai_model
        await notify(services, message, error_text(exc, language, model))
        return
    except Exception:
        log.exception("reading media failed in chat %s", message.chat.id)
        await notify(services, message, translate(language, "error_download_failed"))
        return
    if question is not None:
        text = _question_about(media, question, messages[0])
    elif media.kind == "voice":
        text = with_quote(services, message, media.text)
    else:
        text = media.text
    parts = media.parts or None
    await answer(services, message, Question(text, parts, media.kind, media.header), place)
