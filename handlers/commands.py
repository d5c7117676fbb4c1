"""/start /help /new /reset /model /ask."""

from __future__ import annotations

import logging
import re

from telegram import BotCommand, ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.errors import BotError
from bot.i18n import LANGUAGES, translate
from handlers.access import Access
from handlers.context import get_services
from handlers.groups import ANSWER_ALL, is_group, may_change_settings, quoted, real_reply
from handlers.media import answer_media, has_media
from handlers.messages import access_of, refuse_once, with_quote
from handlers.turns import (
    MODEL_SETTING,
    VOICE_SETTING,
    chat_key,
    error_text,
    language_of,
    notify,
    reply_target,
    run_turn,
)
from storage import ChatKey

log = logging.getLogger(__name__)

COMMANDS = ("start", "help", "new", "reset", "ask", "model", "voice", "image", "answerall")


def bot_commands(language: str) -> list[BotCommand]:
    """The command menu in one language."""
    return [BotCommand(name, translate(language, f"cmd_{name}")) for name in COMMANDS]


def command_menus() -> dict[str | None, list[BotCommand]]:
    """The menu for each language; None is the default (English)."""
    menus: dict[str | None, list[BotCommand]] = {None: bot_commands("en")}
    for language in LANGUAGES:
        if language != "en":
            menus[language] = bot_commands(language)
    return menus


async def _allowed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    message = update.effective_message
    if message is None:
        return False
    services = get_services(context)
    access = access_of(services, message)
    if access is not Access.ALLOWED:
        await refuse_once(services, message, access)
        return False
    return True


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet and explain."""
    message = update.effective_message
    if message is None or not await _allowed(update, context):
        return
    services = get_services(context)
    user = message.from_user
    language = language_of(user, services.settings.default_language)
    model = await services.store.get_setting(chat_key(message), MODEL_SETTING)
    name = user.first_name if user else ""
    text = translate(language, "start", name=name, model=model or services.settings.openai_model)
    await notify(services, message, text)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands."""
    message = update.effective_message
    if message is None or not await _allowed(update, context):
        return
    services = get_services(context)
    language = language_of(message.from_user, services.settings.default_language)
    await notify(services, message, translate(language, "help"))


async def new_conversation(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a fresh conversation; the old one stays in the database."""
    message = update.effective_message
    if message is None or not await _allowed(update, context):
        return
    services = get_services(context)
    if not await _may_change(update, context):
        return
    key = chat_key(message)
    # Wait for a running answer in this conversation, so the reset lands after it.
    async with services.queue.take(key):
        await services.store.new_conversation(key)
    language = language_of(message.from_user, services.settings.default_language)
    await notify(services, message, translate(language, "new_conversation"))


async def model_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the chat's model, or switch to one of AVAILABLE_MODELS."""
    message = update.effective_message
    if message is None or not await _allowed(update, context):
        return
    services = get_services(context)
    settings = services.settings
    language = language_of(message.from_user, settings.default_language)
    key = chat_key(message)
    current = await services.store.get_setting(key, MODEL_SETTING) or settings.openai_model
    wanted = " ".join(context.args or []).strip()
    choices = ", ".join(settings.available_models)
    if not wanted:
        text = translate(language, "model_current", model=current)
        if settings.available_models:
            text += "\n" + translate(language, "model_choices", models=choices)
        await notify(services, message, text)
        return
    if not settings.available_models:
        await notify(services, message, translate(language, "model_fixed", model=current))
        return
    if not await _may_change(update, context):
        return
    if wanted not in settings.available_models:
        await notify(
            services, message, translate(language, "model_unknown", model=wanted, models=choices)
        )
        return
    value = None if wanted == settings.openai_model else wanted
    await services.store.set_setting(key, MODEL_SETTING, value)
    await notify(services, message, translate(language, "model_set", model=wanted))


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question>: answer the question (the way to talk to the bot in groups)."""
    message = update.effective_message
    if message is None:
        return
    services = get_services(context)
    access = access_of(services, message)
    if access is not Access.ALLOWED:
        await refuse_once(services, message, access)
        return
    question = re.sub(r"^/\S+", "", message.text or "", count=1).strip()
    replied = real_reply(message)
    if replied is not None and has_media(replied):
        await answer_media(services, message, [replied], question=question)
        return
    if not question:
        about = quoted(real_reply(message), services.bot_id)
        if about is None:
            language = language_of(message.from_user, services.settings.default_language)
            await notify(services, message, translate(language, "ask_empty"))
            return
        await run_turn(services, message, f"{about}\nWhat about this message?")
        return
    await run_turn(services, message, with_quote(services, message, question))


async def _may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    message = update.effective_message
    if message is None:
        return False
    services = get_services(context)
    if await may_change_settings(services, message):
        return True
    language = language_of(message.from_user, services.settings.default_language)
    await notify(services, message, translate(language, "admins_only"))
    return False


async def answer_all(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/answerall on|off: a group answers every message, or only when addressed."""
    message = update.effective_message
    if message is None or not await _allowed(update, context):
        return
    services = get_services(context)
    language = language_of(message.from_user, services.settings.default_language)
    if not is_group(message):
        await notify(services, message, translate(language, "answer_all_private"))
        return
    if not await _may_change(update, context):
        return
    wanted = " ".join(context.args or []).strip().lower()
    key = ChatKey(message.chat.id)
    current = await services.store.get_setting(key, ANSWER_ALL) == "on"
    turn_on = {"on": True, "off": False}.get(wanted, not current)
    await services.store.set_setting(key, ANSWER_ALL, "on" if turn_on else None)
    await notify(
        services, message, translate(language, "answer_all_on" if turn_on else "answer_all_off")
    )


async def voice_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/voice [on|off]: a spoken copy of each answer in this chat."""
    message = update.effective_message
    if (
        message is None
        or not await _allowed(update, context)
        or not await _may_change(update, context)
    ):
        return
    services = get_services(context)
    language = language_of(message.from_user, services.settings.default_language)
    key = chat_key(message)
    wanted = " ".join(context.args or []).strip().lower()
    current = await services.store.get_setting(key, VOICE_SETTING) == "on"
    turn_on = {"on": True, "off": False}.get(wanted, not current)
    await services.store.set_setting(key, VOICE_SETTING, "on" if turn_on else None)
    await notify(services, message, translate(language, "voice_on" if turn_on else "voice_off"))


async def image_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/image <description>: draw a picture and send it as a photo."""
    message = update.effective_message
    if message is None or not await _allowed(update, context):
        return
    services = get_services(context)
    language = language_of(message.from_user, services.settings.default_language)
    prompt = re.sub(r"^/\S+", "", message.text or "", count=1).strip()
    if not prompt:
        await notify(services, message, translate(language, "image_usage"))
        return
    if services.images is None:
        await notify(services, message, translate(language, "error_image_unsupported"))
        return
    target = reply_target(message)
    bot = message.get_bot()
    try:
        await bot.send_chat_action(
            target.chat_id, ChatAction.UPLOAD_PHOTO, message_thread_id=target.thread_id
        )
        image = await services.images.generate(prompt)
        await services.pacer.acquire(target.chat_id, target.is_group, urgent=True)
        await bot.send_photo(
            target.chat_id,
            image,
            caption=prompt[:1000],
            message_thread_id=target.thread_id,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        )
    except BotError as exc:
        log.info("image refused in chat %s: %s", target.chat_id, exc.detail)
        await notify(services, message, error_text(exc, language, services.settings.openai_model))
    except TelegramError as exc:
        log.warning("sending a picture failed in chat %s: %s", target.chat_id, exc)
        await notify(services, message, translate(language, "error_image_failed"))
