"""Text messages (and, in private chats, what the bot cannot read) -> a turn."""

from __future__ import annotations

import asyncio

from telegram import Message, Update

from bot.i18n import translate
from bot.ordering import Place
from handlers.access import admitted
from handlers.addressing import chat_key, language_of
from handlers.context import BotContext, Services
from handlers.groups import (
    answers_all,
    mentions_bot,
    message_text,
    quoted,
    real_reply,
    replies_to_bot,
    strip_mention,
    with_quote,
)
from handlers.media import answer_media, has_media
from handlers.notices import notify
from handlers.turns import Question, answer


async def on_private_text(update: Update, context: BotContext) -> None:
    """Every text message in a private chat is answered."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    services = context.services
    key = chat_key(message)
    # For an allowed sender nothing below awaits before the message has its place.
    if not await admitted(services, message):
        return
    if services.flood.join(key, message):
        return  # answered with the turn already waiting for this conversation
    waiting = services.flood.open(key, message)
    async with services.queue.place(key) as place:
        try:
            if place.waiting:  # only what arrives while a turn runs is answered together
                await place.ready()
                await asyncio.sleep(0)  # updates handed over together join this turn
        finally:
            messages = services.flood.close(key, waiting)
        texts = [m.text or "" for m in messages]
        question = Question(texts[-1], earlier=texts[:-1])
        await answer(services, messages[-1], question, place)


async def on_group_message(update: Update, context: BotContext) -> None:
    """In groups: answer mentions, replies to the bot, and everything when switched on."""
    message = update.effective_message
    if message is None:
        return
    services = context.services
    # The place in line is taken before any await, so turns keep the order of messages.
    async with services.queue.place(chat_key(message)) as place:
        addressed = mentions_bot(message, services.bot_username, services.bot_id) or replies_to_bot(
            message, services.bot_id
        )
        text = strip_mention(message_text(message), services.bot_username)
        wanted = addressed or await answers_all(services, message.chat.id)
        if not wanted or not await admitted(services, message):
            return
        if text:
            await answer(services, message, Question(with_quote(services, message, text)), place)
        elif addressed:
            await _about_replied(services, message, place)


async def _about_replied(services: Services, message: Message, place: Place) -> None:
    """A bare mention in reply to a message asks about that message."""
    replied = real_reply(message)
    if replied is not None and has_media(replied):
        await answer_media(services, message, [replied], place, question="")
    elif (about := quoted(replied, services.bot_id)) is not None:
        await answer(services, message, Question(f"{about}\nWhat about this message?"), place)


async def on_private_unsupported(update: Update, context: BotContext) -> None:
    """Messages the bot cannot read get a short explanation instead of silence."""
    message = update.effective_message
    if message is None:
        return
    services = context.services
    if await admitted(services, message):
        language = language_of(message.from_user, services.settings.default_language)
        await notify(services, message, translate(language, "error_unsupported"))
