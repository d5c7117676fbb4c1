"""From a Telegram message: its conversation, where the answer goes, who sent it."""

from __future__ import annotations

from telegram import Message, User
from telegram.constants import ChatType

from bot.i18n import pick_language
from handlers.reply import ReplyTarget
from storage import ChatKey


def thread_of(message: Message) -> int | None:
    """The forum topic of a message, or None outside topics."""
    return message.message_thread_id if message.is_topic_message else None


def is_group(message: Message) -> bool:
    """Whether the message comes from a group or supergroup."""
    return message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def chat_key(message: Message) -> ChatKey:
    """The conversation a message belongs to: its chat, or its forum topic."""
    return ChatKey(message.chat.id, thread_of(message) or 0)


def reply_target(message: Message, drafts: bool = False) -> ReplyTarget:
    """Where the answer to `message` goes (streamed as drafts in private chats if asked)."""
    group = is_group(message)
    private = message.chat.type == ChatType.PRIVATE
    return ReplyTarget(
        chat_id=message.chat.id,
        is_group=group,
        thread_id=thread_of(message),
        reply_to=message.message_id if group else None,
        draft_id=message.message_id if drafts and private else None,
    )


def language_of(user: User | None, default: str) -> str:
    """The user's language among the supported ones."""
    return pick_language(user.language_code if user else None, default)


def sender_name(user: User | None) -> str | None:
    """A short, readable name for the sender (for group conversations)."""
    if user is None:
        return None
    name = user.full_name or user.username or str(user.id)
    return name[:64]
