"""Intake: which inbox lane an update goes to, and the webhook secret.

Updates reach the inbox from the long-polling loop (`handlers.intake_poll`) or the webhook
server (`handlers.intake_webhook`); both use the helpers here. Every field of an update is
untrusted: nothing here raises on a malformed one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Any

NO_CHAT = (0, 0)
_MESSAGE_KINDS = (
    "message",
    "channel_post",
    "business_message",
)
_EDITED_KINDS = (
    "edited_message",
    "edited_channel_post",
    "edited_business_message",
)
_CHAT_KINDS = (
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
    "chat_boost",
    "removed_chat_boost",
)
_MAX_ID = 2**62
_SECRET_LABEL = b"telegram-webhook-secret-token"


class TokenRefusedError(Exception):
    """Telegram refused the bot token (401/404): intake can never work; exit."""


def describe_error(exc: BaseException, token: str) -> str:
    """One line about a failure, with the token (part of every Bot API URL) blanked out."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.replace(token, "<token>") if token else text


def retry_seconds(value: float | timedelta) -> float:
    """A RetryAfter delay in seconds (PTB gives an int or a timedelta)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _int(value: Any) -> int | None:
    """An integer id that fits the store, or None (bools and huge numbers are not ids)."""
    if isinstance(value, int) and not isinstance(value, bool) and -_MAX_ID < value < _MAX_ID:
        return value
    return None


def _chat_id(holder: Any) -> int | None:
    """The `chat.id` of a message-like object, or None."""
    chat = holder.get("chat") if isinstance(holder, dict) else None
    return _int(chat.get("id")) if isinstance(chat, dict) else None


def _topic(message: dict[str, Any]) -> int:
    """The forum topic of a message (its `message_thread_id` when it is a topic message)."""
    if message.get("is_topic_message") is not True:
        return 0
    thread = _int(message.get("message_thread_id"))
    return thread if thread is not None and thread > 0 else 0


def _is_stop(message: dict[str, Any]) -> bool:
    """True when the message's text is the /stop command (`/stop` or `/stop@bot`, any case)."""
    text = message.get("text")
    if not isinstance(text, str) or not text.startswith("/"):
        return False
    words = text[:200].split(maxsplit=1)
    command = words[0].lower() if words else ""
    return command == "/stop" or command.startswith("/stop@")


def _lane(message: Any, control: bool) -> tuple[int, int]:
    """The lane of a message: (chat, topic), or the chat's control lane (-1 - topic)."""
    if not isinstance(message, dict):
        return NO_CHAT
    chat = _chat_id(message)
    if chat is None:
        return NO_CHAT
    topic = _topic(message)
    if control or _is_stop(message):
        return chat, -1 - topic
    return chat, topic


def inbox_key(update: Any) -> tuple[int, int]:
    """The (chat_id, thread_id) lane an update is processed in; (0, 0) when it has no chat.

    A conversation's messages share the lane (chat id, forum topic or 0). Controls (button
    presses, edits, /stop) go to the conversation's control lane, thread -1 - topic, so
    they never wait behind the turn they control.
    """
    try:
        if not isinstance(update, dict):
            return NO_CHAT
        for kind in _MESSAGE_KINDS:
            if kind in update:
                return _lane(update[kind], control=False)
        for kind in _EDITED_KINDS:
            if kind in update:
                return _lane(update[kind], control=True)
        if "callback_query" in update:
            query = update["callback_query"]
            return _lane(query.get("message") if isinstance(query, dict) else None, True)
        for kind in _CHAT_KINDS:
            if kind in update:
                chat = _chat_id(update[kind])
                return (chat, 0) if chat is not None else NO_CHAT
    except Exception:  # hostile input must never stop intake
        return NO_CHAT
    return NO_CHAT


def derive_webhook_secret(token: str) -> str:
    """A webhook secret derived from the bot token: HMAC-SHA256, URL-safe base64 (43 chars).

    Only characters Telegram allows in `secret_token` ([A-Za-z0-9_-]); replicas sharing a
    token derive the same secret, and the token cannot be recovered from it.
    """
    digest = hmac.new(token.encode(), _SECRET_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
