"""Short notices in reply to a message (command answers, refusals, errors)."""

from __future__ import annotations

import contextlib
import logging

from telegram import Message, Update

from bot.i18n import translate
from handlers.addressing import language_of, reply_target
from handlers.context import Services
from handlers.reply import send_text

log = logging.getLogger(__name__)


async def notify(services: Services, message: Message, text: str) -> None:
    """Send a short notice in reply to `message`, paced like every other message."""
    await send_text(message.get_bot(), services.pacer, reply_target(message), text)


async def tell_about_error(services: Services, update: Update) -> None:
    """After an unexpected failure, a short translated word instead of silence."""
    if update.callback_query is not None:
        with contextlib.suppress(Exception):
            await update.callback_query.answer()
        return
    message = update.message  # edits and others fail quietly: nothing new was asked
    if message is None or message.chat is None:
        return
    language = language_of(message.from_user, services.settings.default_language)
    try:
        await notify(services, message, translate(language, "error_unexpected"))
    except Exception:
        logging.getLogger(__name__).warning(
            "could not tell chat %s about an error", message.chat.id
        )
