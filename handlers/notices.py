"""Short notices in reply to a message (command answers, refusals, errors)."""

from __future__ import annotations

from telegram import Message

from handlers.addressing import reply_target
from handlers.context import Services
from handlers.reply import send_text


async def notify(services: Services, message: Message, text: str) -> None:
    """Send a short notice in reply to `message`, paced like every other message."""
    await send_text(message.get_bot(), services.pacer, reply_target(message), text)
