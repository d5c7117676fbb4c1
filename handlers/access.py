"""Who may use the bot, and where: the decision, and the gate that refuses once."""

from __future__ import annotations

import logging
from enum import Enum

from telegram import Message, User
from telegram.constants import ChatType

from bot.chat_settings import ACCESS_NOTICE_SENT
from bot.i18n import translate
from bot.settings import EVERYONE, IdSet
from handlers.addressing import language_of
from handlers.context import Services
from handlers.notices import notify
from storage import ChatKey

log = logging.getLogger(__name__)


class Access(Enum):
    """The outcome of an access check."""

    ALLOWED = "allowed"
    USER_DENIED = "user_denied"
    CHAT_DENIED = "chat_denied"


def _contains(ids: IdSet, value: int) -> bool:
    return ids == EVERYONE or (not isinstance(ids, str) and value in ids)


def check_access(
    *,
    user_id: int | None,
    chat_id: int,
    is_private: bool,
    allowed_users: IdSet,
    admins: IdSet,
    allowed_chats: IdSet,
) -> Access:
    """Private chats: allowed users and admins. Groups: every member of an allowed group;
    the bot's admins everywhere."""
    if user_id is not None and _contains(admins, user_id) and admins != EVERYONE:
        return Access.ALLOWED
    if is_private:
        if user_id is not None and _contains(allowed_users, user_id):
            return Access.ALLOWED
        return Access.USER_DENIED
    if _contains(allowed_chats, chat_id):
        return Access.ALLOWED
    return Access.CHAT_DENIED


def is_admin(user_id: int | None, admins: IdSet) -> bool:
    """Whether the user is one of the bot's admins (a `*` never makes everyone admin)."""
    return user_id is not None and admins != EVERYONE and _contains(admins, user_id)


def access_of(services: Services, message: Message, by: User | None = None) -> Access:
    """The access decision for the sender of `message` (or `by`, who pressed) in its chat."""
    settings = services.settings
    user = by if by is not None else message.from_user
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
    key = ChatKey(message.chat.id)
    if await services.chat_settings.get(key, ACCESS_NOTICE_SENT):
        return
    await services.chat_settings.set(key, ACCESS_NOTICE_SENT, True)
    language = language_of(message.from_user, services.settings.default_language)
    user_id = message.from_user.id if message.from_user else None
    if access is Access.USER_DENIED:
        text = translate(language, "not_allowed_user", user_id=user_id or 0)
    else:
        text = translate(language, "not_allowed_chat", chat_id=message.chat.id)
    log.info("refused chat=%s user=%s (%s)", message.chat.id, user_id, access.value)
    await notify(services, message, text)


async def admitted(services: Services, message: Message) -> bool:
    """Whether the sender may use the bot here (and now: the per-user rate); refuses once."""
    access = access_of(services, message)
    if access is not Access.ALLOWED:
        await refuse_once(services, message, access)
        return False
    user_id = message.from_user.id if message.from_user else None
    if user_id is None or is_admin(user_id, services.settings.admin_user_ids):
        return True
    if services.user_rate.allow(user_id):
        return True
    log.info("user %s is over the message rate", user_id)
    if services.user_rate.first_refusal(user_id):
        language = language_of(message.from_user, services.settings.default_language)
        await notify(services, message, translate(language, "too_fast"))
    return False
