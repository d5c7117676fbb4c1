"""Text (and, for now, unsupported) messages -> a turn."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.i18n import translate
from handlers.access import Access, check_access
from handlers.context import Services, get_services
from handlers.groups import (
    answers_all,
    mentions_bot,
    message_text,
    quoted,
    real_reply,
    replies_to_bot,
    strip_mention,
)
from handlers.turns import chat_key, language_of, notify, run_turn

log = logging.getLogger(__name__)

ACCESS_NOTICE = "access_notice"


def access_of(services: Services, message: Message) -> Access:
    """The access decision for the sender of `message` in its chat."""
    settings = services.settings
    user = message.from_user
    return check_access(
        user_id=user.id if user else None,
        chat_id=message.chat.id,
        is_private=message.chat.type == ChatType.PRIVATE,
        allowed_users=settings.allowed_user_ids,
        admins=settings.admin_user_ids,
        allowed_chats=settings.allowed_chat_ids,
    )


async def refuse_once(services: Services, message: Message, access: Access) -> None:
    """Tell a user (or a group) once that the bot is not for them, with the id to add."""
    from storage import ChatKey

    key = ChatKey(message.chat.id)
    if await services.store.get_setting(key, ACCESS_NOTICE):
        return
    await services.store.set_setting(key, ACCESS_NOTICE, "sent")
    language = language_of(message.from_user, services.settings.default_language)
    if access is Access.USER_DENIED:
        user_id = message.from_user.id if message.from_user else 0
        text = translate(language, "not_allowed_user", user_id=user_id)
    else:
        text = translate(language, "not_allowed_chat", chat_id=message.chat.id)
    log.info(
        "refused chat=%s user=%s (%s)",
        message.chat.id,
        message.from_user.id if message.from_user else None,
        access.value,
    )
    await notify(services, message, text)


async def admitted(services: Services, message: Message) -> bool:
    """Whether the sender may use the bot here; refuses (once) when not."""
    access = access_of(services, message)
    if access is Access.ALLOWED:
        return True
    await refuse_once(services, message, access)
    return False


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every text message in a private chat is answered."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    services = get_services(context)
    if await admitted(services, message):
        await run_turn(services, message, message.text)


def with_quote(services: Services, message: Message, text: str) -> str:
    """The user's text, preceded by the message it replies to (when that is someone else's)."""
    replied = real_reply(message)
    if replied is None or (replied.from_user and replied.from_user.id == services.bot_id):
        return text
    context_line = quoted(replied, services.bot_id)
    return f"{context_line}\n{text}" if context_line else text


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups: answer mentions, replies to the bot, and everything when switched on."""
    message = update.effective_message
    if message is None:
        return
    services = get_services(context)
    # The place in line is taken before any await, so turns keep the order of messages.
    slot = services.queue.take(chat_key(message))
    try:
        addressed = mentions_bot(message, services.bot_username, services.bot_id) or replies_to_bot(
            message, services.bot_id
        )
        text = strip_mention(message_text(message), services.bot_username)
        wanted = addressed or await answers_all(services, message.chat.id)
        if not wanted or not await admitted(services, message) or not text:
            slot.abandon()
            return
    except BaseException:
        slot.abandon()
        raise
    await run_turn(services, message, with_quote(services, message, text), slot=slot)


async def on_private_unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Messages the bot cannot read get a short explanation instead of silence."""
    message = update.effective_message
    if message is None:
        return
    services = get_services(context)
    if await admitted(services, message):
        language = language_of(message.from_user, services.settings.default_language)
        await notify(services, message, translate(language, "error_unsupported"))
