"""Who may use the bot, and where."""

from __future__ import annotations

from enum import Enum
from typing import Literal

EVERYONE = "*"
IdSet = frozenset[int] | Literal["*"]


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
