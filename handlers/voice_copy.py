"""The spoken copy of an answer, for chats that switched /voice on."""

from __future__ import annotations

import logging

from telegram import Message
from telegram.error import TelegramError

from bot.chat_settings import VOICE
from bot.errors import BotError
from bot.i18n import translate
from handlers.addressing import reply_target
from handlers.context import Services
from handlers.notices import notify
from storage import ChatKey

log = logging.getLogger(__name__)


async def speak_answer(
    services: Services, message: Message, key: ChatKey, text: str, language: str
) -> None:
    """Send a spoken copy of the answer when the chat switched /voice on."""
    try:
        if services.speech is None or not await services.chat_settings.get(key, VOICE):
            return
    except Exception:
        log.exception("cannot read the voice setting of chat %s", key.chat_id)
        return
    target = reply_target(message)
    try:
        audio = await services.speech.speak(text)
        await services.pacer.acquire(target.chat_id, target.is_group, urgent=True)
        await message.get_bot().send_voice(
            target.chat_id, audio, message_thread_id=target.thread_id
        )
    except (BotError, TelegramError) as exc:
        log.warning("voice copy failed in chat %s: %r", target.chat_id, exc)
        await notify(services, message, translate(language, "error_tts_failed"))
