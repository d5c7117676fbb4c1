"""Groups: when a message is meant for the bot, who may change settings, and quoted context."""

from __future__ import annotations

import logging
import re

from telegram import Bot, Message, MessageEntity
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.chat_settings import ANSWER_ALL
from handlers.access import is_admin
from handlers.addressing import is_group
from handlers.context import Services
from storage import ChatKey

log = logging.getLogger(__name__)

QUOTE_LIMIT = 3000


def message_text(message: Message) -> str:
    """The text or caption of a message."""
    return message.text or message.caption or ""


def mentions_bot(message: Message, username: str, bot_id: int) -> bool:
    """Whether the text or caption mentions the bot (@username, or a text mention of it)."""
    if not username:
        return False
    wanted = f"@{username}".lower()
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value.lower() == wanted:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            return True
    return False


def real_reply(message: Message) -> Message | None:
    """The message this one replies to, ignoring the topic-creation "reply" of forum topics."""
    replied = message.reply_to_message
    if replied is None:
        return None
    if message.is_topic_message and replied.message_id == message.message_thread_id:
        return None
    return replied


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """Whether the message is a reply to one of the bot's own messages."""
    replied = real_reply(message)
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def strip_mention(text: str, username: str) -> str:
    """The text without the @botname mention (spacing and indentation kept)."""
    if username:
        text = re.sub(rf"(?<!\w)@{re.escape(username)}\b[ \t]?", "", text, flags=re.IGNORECASE)
    return text.strip()


def quoted(message: Message | None, bot_id: int) -> str | None:
    """A line that shows the model which message the user refers to."""
    if message is None:
        return None
    text = message_text(message).strip()
    if not text:
        return None
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT] + "…"
    author = message.from_user
    if author is not None and author.id == bot_id:
        who = "you (the assistant)"
    else:
        who = (
            (author.full_name if author else None)
            or (message.sender_chat.title if message.sender_chat else None)
            or "someone"
        )
    return f'(In reply to {who}: "{text}")'


def with_quote(services: Services, message: Message, text: str) -> str:
    """The user's text, preceded by the message it replies to (when that is someone else's)."""
    replied = real_reply(message)
    if replied is None or (replied.from_user and replied.from_user.id == services.bot_id):
        return text
    context_line = quoted(replied, services.bot_id)
    return f"{context_line}\n{text}" if context_line else text


async def answers_all(services: Services, chat_id: int) -> bool:
    """Whether a group's admins switched it to answer every message."""
    return await services.chat_settings.get(ChatKey(chat_id), ANSWER_ALL)


async def may_change_settings(services: Services, message: Message) -> bool:
    """Private chats: the user. Groups: the group's Telegram admins and the bot's admins."""
    if not is_group(message):
        return True
    user = message.from_user
    if is_admin(user.id if user else None, services.settings.admin_user_ids):
        return True
    if message.sender_chat is not None and message.sender_chat.id == message.chat.id:
        return True  # an anonymous group admin
    if user is None:
        return False
    return await is_group_admin(message.get_bot(), message.chat.id, user.id)


async def is_group_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Whether the user administers the group (asked of Telegram; False when it cannot say)."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.warning("cannot check admin rights in %s: %s", chat_id, exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
