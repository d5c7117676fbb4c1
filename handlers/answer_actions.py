"""What users do to an answer: press Stop, Regenerate or Continue, send /stop, edit the question."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update, User

from bot.chat_settings import LAST_ANSWER, AnswerRecord
from bot.i18n import translate
from handlers.access import Access, access_of, admitted, is_admin
from handlers.addressing import chat_key, is_group, language_of
from handlers.answer_controls import ANY_ANSWER, CONTINUE, REGENERATE, STOP, stop_payload
from handlers.context import BotContext, Services
from handlers.groups import is_group_admin, message_text, strip_mention, with_quote
from handlers.notices import notify
from handlers.turn_progress import unfinished_turn
from handlers.turns import Question, answer

log = logging.getLogger(__name__)


async def _toast(query: CallbackQuery, text: str | None = None) -> None:
    """Answer the press (the client's spinner stops); a short text shows as a toast."""
    try:
        await query.answer(text)
    except Exception as exc:  # an expired query must not break the press
        log.info("could not answer a button press: %s", exc)


async def may_control(services: Services, chat: Message, user: User, asker_id: int | None) -> bool:
    """Private chats: their user. Groups: the asker, the group's admins and the bot's admins."""
    if not is_group(chat) or user.id == asker_id:
        return True
    if is_admin(user.id, services.settings.admin_user_ids):
        return True
    return await is_group_admin(chat.get_bot(), chat.chat.id, user.id)


async def on_answer_button(update: Update, context: BotContext) -> None:
    """A press on an answer's button: only signed data for this chat's answers does anything."""
    query = update.callback_query
    if query is None:
        return
    services = context.services
    payload = services.signer.verify(query.data)
    message = query.message
    if payload is None or not isinstance(message, Message):
        await _toast(query)
        return
    action, _, rest = payload.partition(".")
    language = language_of(query.from_user, services.settings.default_language)
    if action == STOP:
        await _press_stop(services, query, message, rest, language)
    elif action in (REGENERATE, CONTINUE):
        await _press_again(services, query, message, payload, language)
    else:
        await _toast(query)


async def on_unknown_button(update: Update, context: BotContext) -> None:
    """A press no handler knows: answered, nothing else."""
    if update.callback_query is not None:
        await _toast(update.callback_query)


async def _press_stop(
    services: Services, query: CallbackQuery, message: Message, rest: str, language: str
) -> None:
    token, asker_id = stop_payload(rest)
    key = chat_key(message)
    running = services.running.get(key)
    if asker_id is None and running is not None:
        asker_id = running.asker_id  # a button from before the asker rode along
    if running is not None and running.token != token:
        await _toast(query, translate(language, "toast_finished"))  # an earlier answer's
    elif not await may_control(services, message, query.from_user, asker_id):
        await _toast(query, translate(language, "toast_not_yours"))
    elif running is not None:
        running.stop.set()
        await _toast(query, translate(language, "toast_stopping"))
    elif await services.store.publish_stop(key, token):  # another replica may be running it
        await _toast(query, translate(language, "toast_stopping"))
    else:
        await _toast(query, translate(language, "toast_finished"))


async def _latest(services: Services, message: Message, payload: str) -> AnswerRecord | None:
    """The conversation's latest answer, when the pressed button belongs to it."""
    key = chat_key(message)
    record = await services.chat_settings.get(key, LAST_ANSWER)
    if record is None or await services.store.active_conversation(key) != record.conversation_id:
        return None
    wanted = f"{record.conversation_id}.{record.user_message_id}"
    return record if payload.partition(".")[2] == wanted else None


async def _press_again(
    services: Services, query: CallbackQuery, message: Message, payload: str, language: str
) -> None:
    key = chat_key(message)
    record = await _latest(services, message, payload)
    if record is None:
        await _toast(query, translate(language, "toast_not_latest"))
        return
    if services.running.get(key) is not None or services.queue.busy(key):
        await _toast(query, translate(language, "toast_busy"))
        return
    if access_of(services, message, query.from_user) is not Access.ALLOWED or not (
        await may_control(services, message, query.from_user, record.asker_id)
    ):
        await _toast(query, translate(language, "toast_not_yours"))
        return
    await _toast(query)
    if payload.startswith(REGENERATE):
        question = Question("", reask_message_id=record.user_message_id, reuse=record.message_ids)
    else:
        question = Question(translate(language, "continue_prompt"), kind="continue")
    question.asked_by = query.from_user
    question.question_message_id = record.question_message_id
    async with services.queue.place(key) as place:
        await answer(services, message, question, place)


async def stop_command(update: Update, context: BotContext) -> None:
    """/stop: end the chat's running answer (how drafts, which carry no buttons, stop)."""
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    services = context.services
    if not await admitted(services, message):
        return
    language = language_of(message.from_user, services.settings.default_language)
    key = chat_key(message)
    # Running here, or (the store says) on another replica, which is then told to stop it.
    running = services.running.get(key)
    turn = running or await unfinished_turn(services.store, key)
    if turn is None:
        await notify(services, message, translate(language, "stop_nothing"))
    elif not await may_control(services, message, message.from_user, turn.asker_id):
        await notify(services, message, translate(language, "toast_not_yours"))
    elif running is not None:
        running.stop.set()
    elif not await services.store.publish_stop(key, ANY_ANSWER):
        await notify(services, message, translate(language, "stop_nothing"))


def _edited_question(services: Services, message: Message) -> str | None:
    """The new text of an edited question; None for what is not re-asked (commands, files)."""
    text = message_text(message)
    if not text or text.startswith("/") or message.document or message.voice or message.audio:
        return None
    if is_group(message):
        text = with_quote(services, message, strip_mention(text, services.bot_username))
    return text or None


async def on_edited_message(update: Update, context: BotContext) -> None:
    """An edit of the latest question asks it again, the answer replaced in place."""
    message = update.edited_message
    if message is None:
        return
    services = context.services
    text = _edited_question(services, message)
    if text is None:
        return
    key = chat_key(message)
    running = services.running.get(key)
    if running is not None and running.question_message_id == message.message_id:
        running.stop.set()  # still being answered: restart with the new text
    async with services.queue.place(key) as place:
        await place.ready()
        record = await services.chat_settings.get(key, LAST_ANSWER)
        if record is None or record.question_message_id != message.message_id:
            return  # an older message: nothing changes
        if await services.store.active_conversation(key) != record.conversation_id:
            return
        if not await admitted(services, message):
            return
        question = Question(text, reask_message_id=record.user_message_id, reuse=record.message_ids)
        await answer(services, message, question, place)
