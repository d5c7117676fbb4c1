"""The Telegram side of a turn: wait for the conversation's place, run the engine, show it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from telegram import Message, User
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.chat_settings import LAST_ANSWER, AnswerRecord
from bot.conversation import TurnInput, TurnOutcome
from bot.errors import BotError
from bot.i18n import translate
from bot.ordering import Place
from bot.quotas import LimitReachedError, QuotaLimits, check_quota
from handlers.access import is_admin
from handlers.addressing import (
    chat_key,
    is_group,
    language_of,
    reply_target,
    sender_name,
    thread_of,
)
from handlers.answer_controls import final_buttons, record_of, stop_buttons
from handlers.context import Services
from handlers.notices import notify
from handlers.outcome import error_text, shown_outcome
from handlers.reply import LiveReply
from handlers.turn_log import TurnTimes, log_turn
from handlers.turn_progress import Progress, ProgressRecorder
from handlers.voice_copy import speak_answer
from storage import ChatKey, TurnRecord

log = logging.getLogger(__name__)

TYPING_EVERY = 4.5


@dataclass
class Question:
    """What a Telegram message asks, ready for a turn."""

    text: str
    parts: list[dict[str, Any]] | None = None
    kind: str = "text"
    header: str | None = None  # shown above the answer (a transcript, a note about a file)
    # Asking again (regenerate, an edited question): the stored question and the old answer's
    # messages, which the new answer replaces in place.
    reask_message_id: int | None = None
    reuse: list[int] = field(default_factory=list)
    asked_by: User | None = None  # who asks, when not the message's sender (a button press)
    question_message_id: int | None = None  # the question's Telegram message, when not this one
    earlier: list[str] = field(default_factory=list)  # questions sent just before (a flood)


async def _typing(message: Message) -> None:
    with contextlib.suppress(TelegramError):
        await message.get_bot().send_chat_action(
            message.chat.id, ChatAction.TYPING, message_thread_id=thread_of(message)
        )


async def _keep_typing(message: Message, reply: LiveReply) -> None:
    while reply.first_visible_at is None:
        await _typing(message)
        await asyncio.sleep(TYPING_EVERY)


async def answer(
    services: Services, message: Message, question: Question, place: Place
) -> TurnOutcome | None:
    """Answer `question` from `message` once its place comes, streaming the reply live;
    None when it was answered before a restart (its update came back undone)."""
    received = time.monotonic()
    if place.waiting:
        await _typing(message)  # seen at once; answered after the turn before it
    await place.ready()
    started = time.monotonic()
    key = chat_key(message)
    asker = question.asked_by or message.from_user
    asked_id = question.question_message_id or message.message_id
    recorder, left = await ProgressRecorder.begin(
        services.store, key, asked_id, asker.id if asker else None
    )
    if left is not None and left.answered:
        if _plain(question):  # checked first: nothing else is read for it, nothing said
            log.info("message %s was answered before a restart: not answering again", asked_id)
            return None
        left = None  # asked again on purpose (regenerate, continue, an edit): a new answer
    if (refusal := await _quota_refusal(services, message, asker)) is not None:
        return await _refuse(services, message, key, refusal, asker)
    turn = await _turn_input(services, message, question, key)
    turn.on_question_stored = recorder.question_stored
    if left is not None:
        _resume(question, turn, left)
    running = services.running.start(key, turn.user_id, asked_id)
    turn.stop = running.stop
    reply = _live_reply(services, message, question)
    reply.on_messages = recorder.messages_shown
    reply.set_live_buttons(stop_buttons(services.signer, turn.language, running))
    try:
        outcome = await _run_and_show(services, message, turn, reply)
    finally:
        services.running.end(key, running)
    # Cancelled (a graceful stop ran out of time): the progress stays for the next start.
    await recorder.end()
    await _remember(services, key, record_of(outcome, asked_id, reply.message_ids, turn.user_id))
    if outcome.status != "failed" and outcome.text:
        await speak_answer(services, message, key, outcome.text, turn.language)
    times = TurnTimes(received, started, time.monotonic())
    log_turn(outcome, reply, key, len(question.text), times, turn.model or "")
    await _record_turn(services, turn, outcome, reply, started)
    for listener in services.turn_listeners:
        listener(key, outcome)
    return outcome


def _plain(question: Question) -> bool:
    """Whether the question is its message itself, asked for the first time (not a press
    of Regenerate or Continue, not an edit): such a message is answered once."""
    return (
        question.question_message_id is None
        and question.reask_message_id is None
        and (not question.reuse)
    )


def _resume(question: Question, turn: TurnInput, left: Progress) -> None:
    """A restart cut this question's answer: answer again in its messages, saying so."""
    log.info("resuming the answer to message %s cut by a restart", left.question_message_id)
    question.reuse = question.reuse or left.message_ids
    note = f"_{translate(turn.language, 'resumed_after_restart')}_"
    question.header = f"{note}\n\n{question.header}" if question.header else note
    if turn.reask_message_id is None and left.user_message_id:
        turn.reask_message_id = left.user_message_id


def _live_reply(services: Services, message: Message, question: Question) -> LiveReply:
    target = reply_target(message, drafts=services.settings.stream_mode == "draft")
    return LiveReply(
        message.get_bot(), services.pacer, target, header=question.header, reuse=question.reuse
    )


async def _turn_input(
    services: Services, message: Message, question: Question, key: ChatKey
) -> TurnInput:
    settings = services.settings
    user = question.asked_by or message.from_user
    group = is_group(message)
    return TurnInput(
        key=key,
        text=question.text,
        user_id=user.id if user else None,
        sender=sender_name(user) if group else None,
        parts=question.parts,
        kind=question.kind,
        language=language_of(user, settings.default_language),
        model=await services.chat_settings.model(key),
        with_names=group,
        reask_message_id=question.reask_message_id,
        earlier=list(question.earlier),
        system_prompt=await services.chat_settings.instructions(key, services.personas),
    )


async def _remember(services: Services, key: ChatKey, record: AnswerRecord) -> None:
    """Keep the latest answer's record (for its buttons and edits); bookkeeping only."""
    if not record.user_message_id:
        return
    try:
        await services.chat_settings.set(key, LAST_ANSWER, record)
    except Exception:
        log.exception("could not remember the answer in chat %s", key.chat_id)


async def _run_and_show(
    services: Services, message: Message, turn: TurnInput, reply: LiveReply
) -> TurnOutcome:
    """Run the engine into the live reply and end the reply with the outcome."""
    typing = asyncio.create_task(_keep_typing(message, reply))
    try:
        try:
            outcome = await services.engine.run(turn, reply)
        except Exception:
            # A bug or a broken database must not leave the user with silence.
            log.exception("turn crashed in chat %s", turn.key.chat_id)
            outcome = TurnOutcome(text="", status="failed", error=BotError("turn crashed"))
        shown = shown_outcome(outcome, turn.language, turn.model or "", reply.has_text)
        buttons = final_buttons(services.signer, turn.language, outcome)
        await reply.finish(shown.text, footer=shown.footer, buttons=buttons)
    except asyncio.CancelledError:
        await reply.close()
        raise
    finally:
        typing.cancel()
    return outcome


async def _quota_refusal(
    services: Services, message: Message, asker: User | None
) -> LimitReachedError | None:
    """The daily limit this turn of `asker` would pass (bot admins have none), or None."""
    settings = services.settings
    limits = QuotaLimits(
        settings.daily_message_limit,
        settings.daily_token_limit,
        settings.group_daily_message_limit,
    )
    user_id = asker.id if asker else None
    if not limits.any or is_admin(user_id, settings.admin_user_ids):
        return None
    try:
        return await check_quota(
            services.store,
            limits,
            now=services.clock(),
            zone=settings.zone,
            user_id=user_id,
            group_id=message.chat.id if is_group(message) else None,
        )
    except Exception:
        # The counts are bookkeeping: a broken read must not silence the bot.
        log.exception("cannot read the quota counts of chat %s", message.chat.id)
        return None


async def _refuse(
    services: Services,
    message: Message,
    key: ChatKey,
    refusal: LimitReachedError,
    asker: User | None,
) -> TurnOutcome:
    """Tell the user the limit and when it resets; no model is called."""
    language = language_of(asker, services.settings.default_language)
    log.info("turn refused in chat %s: %s", key.chat_id, refusal.detail)
    await notify(services, message, error_text(refusal, language, ""))
    outcome = TurnOutcome(text="", status="failed", error=refusal)
    for listener in services.turn_listeners:
        listener(key, outcome)
    return outcome


async def _record_turn(
    services: Services, turn: TurnInput, outcome: TurnOutcome, reply: LiveReply, started: float
) -> None:
    """Store how the turn ended (numbers only) for /usage, /stats and the quotas."""
    visible = reply.first_visible_at
    record = TurnRecord(
        chat_id=turn.key.chat_id,
        thread_id=turn.key.thread_id,
        user_id=turn.user_id,
        model=turn.model or services.settings.openai_model,
        status=outcome.status,
        first_visible_ms=None if visible is None else (visible - started) * 1000,
        created_at=services.clock(),
    )
    try:
        await services.store.record_turn(record)
    except Exception:
        log.exception("could not record the turn of chat %s", turn.key.chat_id)
