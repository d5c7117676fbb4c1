"""Running one turn for a Telegram message: queue, typing, live reply, final text, log line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from telegram import Message, User
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError

from bot.conversation import TurnInput, TurnOutcome
from bot.errors import BotError, StreamInterruptedError
from bot.i18n import pick_language, translate
from handlers.context import Services
from handlers.reply import LiveReply, ReplyTarget, send_text
from storage import ChatKey

log = logging.getLogger("bot.turn")

TYPING_EVERY = 4.5
MODEL_SETTING = "model"
VOICE_SETTING = "voice"


def chat_key(message: Message) -> ChatKey:
    """The conversation a message belongs to: its chat, or its forum topic."""
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatKey(message.chat.id, thread or 0)


def reply_target(message: Message, drafts: bool = False) -> ReplyTarget:
    """Where the answer to `message` goes (streamed as drafts in private chats if asked)."""
    is_group = message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    thread = message.message_thread_id if message.is_topic_message else None
    private = message.chat.type == ChatType.PRIVATE
    return ReplyTarget(
        chat_id=message.chat.id,
        is_group=is_group,
        thread_id=thread,
        reply_to=message.message_id if is_group else None,
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


async def chat_model(services: Services, key: ChatKey) -> str:
    """The chat's model (/model), or the default one when unset or unreadable."""
    try:
        chosen = await services.store.get_setting(key, MODEL_SETTING)
    except Exception:
        log.exception("cannot read the model of chat %s", key.chat_id)
        chosen = None
    return chosen or services.settings.openai_model


async def _keep_typing(message: Message, reply: LiveReply) -> None:
    thread = message.message_thread_id if message.is_topic_message else None
    while reply.first_visible_at is None:
        with contextlib.suppress(TelegramError):
            await message.get_bot().send_chat_action(
                message.chat.id, ChatAction.TYPING, message_thread_id=thread
            )
        await asyncio.sleep(TYPING_EVERY)


def error_text(error: BotError, language: str, model: str) -> str:
    """The translated message a user sees for an error."""
    params: dict[str, Any] = {"model": model}
    params.update(getattr(error, "params", {}) or {})
    return translate(language, error.user_key, **params)


def interruption_note(outcome: TurnOutcome, language: str, model: str) -> str | None:
    """The footer of an answer that did not end normally, or None."""
    if outcome.status != "interrupted":
        return None
    error = outcome.error
    if isinstance(error, StreamInterruptedError):
        reason = translate(language, "reason_stalled" if error.stalled else "reason_dropped")
    elif error is not None:
        reason = error_text(error, language, model)
    elif outcome.finish_reason == "content_filter":
        reason = translate(language, "reason_filtered")
    else:
        reason = translate(language, "reason_length")
    return translate(language, "interrupted", reason=reason)


def _footer(outcome: TurnOutcome, language: str, model: str) -> str | None:
    """The interruption note, and which model answered when a fallback did."""
    notes = [interruption_note(outcome, language, model)]
    if outcome.answered_by:
        notes.insert(0, translate(language, "answered_by", model=outcome.answered_by, chosen=model))
    return "\n".join(n for n in notes if n) or None


async def run_turn(
    services: Services,
    message: Message,
    text: str,
    *,
    parts: list[dict[str, Any]] | None = None,
    kind: str = "text",
    slot: Any = None,
    header: str | None = None,
) -> TurnOutcome | None:
    """Answer `text` from `message`: one turn at a time per conversation, streamed live."""
    received = time.monotonic()
    key = chat_key(message)
    slot = slot if slot is not None else services.queue.take(key)
    user = message.from_user
    language = language_of(user, services.settings.default_language)
    target = reply_target(message, drafts=services.settings.stream_mode == "draft")
    bot = message.get_bot()
    if slot.waiting:
        # Show at once that the message was seen; it is answered after the current one.
        with contextlib.suppress(TelegramError):
            await bot.send_chat_action(
                target.chat_id, ChatAction.TYPING, message_thread_id=target.thread_id
            )
    async with slot:
        started = time.monotonic()
        model = await chat_model(services, key)
        reply = LiveReply(bot, services.pacer, target, header=header)
        typing = asyncio.create_task(_keep_typing(message, reply))
        turn = TurnInput(
            key=key,
            text=text,
            user_id=user.id if user else None,
            sender=sender_name(user) if target.is_group else None,
            parts=parts,
            kind=kind,
            language=language,
            model=model,
        )
        try:
            try:
                outcome = await services.engine.run_turn(turn, reply)
            except Exception:
                # A bug or a broken database must not leave the user with silence.
                log.exception("turn crashed in chat %s", key.chat_id)
                outcome = TurnOutcome(text="", status="failed", error=BotError("turn crashed"))
            if outcome.status == "failed":
                error = outcome.error
                shown = (
                    error_text(error, language, model)
                    if error
                    else translate(language, "empty_answer")
                )
                if reply.has_text:
                    # Keep what the user already sees; say what went wrong under it.
                    await reply.finish(footer=shown)
                else:
                    await reply.finish(shown)
            elif not outcome.text:
                await reply.finish(translate(language, "empty_answer"))
            else:
                await reply.finish(footer=_footer(outcome, language, model))
        except asyncio.CancelledError:
            await reply.close()
            raise
        finally:
            typing.cancel()
        if outcome.status != "failed" and outcome.text:
            await speak_answer(services, message, key, outcome.text, language)
        ended = time.monotonic()
        _log_turn(outcome, reply, key, len(text), received, started, ended, model)
        if outcome.error is not None and outcome.status == "failed":
            log.warning("turn failed in chat %s: %s", key.chat_id, outcome.error.detail)
        return outcome


def _ms(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "-"
    return f"{(end - start) * 1000:.0f}ms"


def _log_turn(
    outcome: TurnOutcome,
    reply: LiveReply,
    key: ChatKey,
    input_chars: int,
    received: float,
    started: float,
    ended: float,
    model: str,
) -> None:
    usage = outcome.usage
    log.info(
        "turn chat=%s thread=%s model=%s status=%s in=%dch history=%d out=%dch tools=%d "
        "rounds=%d tokens=%s/%s queued=%s first_chunk=%s first_visible=%s total=%s "
        "tg_calls=%d 429s=%d",
        key.chat_id,
        key.thread_id,
        model,
        outcome.status,
        input_chars,
        outcome.history_messages,
        len(outcome.text),
        outcome.tool_calls,
        outcome.rounds,
        usage.prompt_tokens if usage else "-",
        usage.completion_tokens if usage else "-",
        _ms(received, started),
        _ms(started, outcome.first_chunk_at),
        _ms(started, reply.first_visible_at),
        _ms(started, ended),
        reply.calls,
        reply.retries_after,
    )


async def speak_answer(
    services: Services, message: Message, key: ChatKey, text: str, language: str
) -> None:
    """Send a spoken copy of the answer when the chat switched /voice on."""
    try:
        if services.speech is None or await services.store.get_setting(key, VOICE_SETTING) != "on":
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


async def notify(services: Services, message: Message, text: str) -> None:
    """Send a short notice in reply to `message`, paced like every other message."""
    await send_text(message.get_bot(), services.pacer, reply_target(message), text)
