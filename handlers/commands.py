"""The commands: /start /help /new /reset /ask /model /voice /image /answerall."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from telegram import BotCommand, Message, ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.chat_settings import ANSWER_ALL, VOICE, ChatSetting
from bot.errors import BotError
from bot.i18n import LANGUAGES, translate
from handlers.access import admitted
from handlers.addressing import chat_key, is_group, language_of, reply_target
from handlers.context import BotContext, Services
from handlers.groups import may_change_settings, quoted, real_reply, with_quote
from handlers.library import LIBRARY_COMMANDS
from handlers.media import answer_media, has_media
from handlers.model_picker import offered, show_models
from handlers.notices import notify
from handlers.outcome import error_text
from handlers.turns import Question, answer

log = logging.getLogger(__name__)

COMMANDS = (
    "start",
    "help",
    "new",
    "reset",
    "ask",
    "stop",
    "model",
    "voice",
    "image",
    "answerall",
    *LIBRARY_COMMANDS,
)


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


@dataclass(frozen=True)
class _Request:
    message: Message
    services: Services
    language: str

    async def say(self, key: str, **params: object) -> None:
        await notify(self.services, self.message, translate(self.language, key, **params))

    async def may_change(self) -> bool:
        """Settings in groups are for admins; others are told so."""
        if await may_change_settings(self.services, self.message):
            return True
        await self.say("admins_only")
        return False


async def _begin(update: Update, context: BotContext) -> _Request | None:
    """The command's message, services and language, when the sender may use the bot."""
    message = update.effective_message
    if message is None:
        return None
    services = context.services
    if not await admitted(services, message):
        return None
    language = language_of(message.from_user, services.settings.default_language)
    return _Request(message, services, language)


def _argument(message: Message) -> str:
    """The text after the command (keeps line breaks)."""
    return re.sub(r"^/\S+", "", message.text or "", count=1).strip()


async def start(update: Update, context: BotContext) -> None:
    """Greet and explain."""
    if (r := await _begin(update, context)) is None:
        return
    model = await r.services.chat_settings.model(chat_key(r.message))
    user = r.message.from_user
    await r.say("start", name=user.first_name if user else "", model=model)


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands."""
    if (r := await _begin(update, context)) is not None:
        await r.say("help")


async def new_conversation(update: Update, context: BotContext) -> None:
    """Start a fresh conversation; the old one stays in the database."""
    if (r := await _begin(update, context)) is None:
        return
    key = chat_key(r.message)
    # Take the place in line first: the reset lands after the turns before it, and
    # before those after it, even while the admin check is on its way.
    async with r.services.queue.place(key) as place:
        if not await r.may_change():
            return
        await place.ready()
        await r.services.store.new_conversation(key)
    await r.say("new_conversation")


async def model_command(update: Update, context: BotContext) -> None:
    """Show the chat's model, or switch to one of AVAILABLE_MODELS."""
    if (r := await _begin(update, context)) is None:
        return
    key = chat_key(r.message)
    current = await r.services.chat_settings.model(key)
    wanted = _argument(r.message)
    available = await offered(r.services)
    choices = ", ".join(available)
    if not wanted and available:
        await show_models(r.services, r.message, current, r.language)
    elif not wanted:
        await r.say("model_current", model=current)
    elif not available:
        await r.say("model_fixed", model=current)
    elif not await r.may_change():
        return
    elif wanted not in available:
        await r.say("model_unknown", model=wanted, models=choices)
    else:
        await r.services.chat_settings.set_model(key, wanted)
        await r.say("model_set", model=wanted)


async def ask(update: Update, context: BotContext) -> None:
    """/ask <question>: answer the question (the way to talk to the bot in groups)."""
    if (r := await _begin(update, context)) is None:
        return
    services, message = r.services, r.message
    question = _argument(message)
    replied = real_reply(message)
    async with services.queue.place(chat_key(message)) as place:
        if replied is not None and has_media(replied):
            await answer_media(services, message, [replied], place, question=question)
        elif question:
            text = with_quote(services, message, question)
            await answer(services, message, Question(text), place)
        elif (about := quoted(replied, services.bot_id)) is not None:
            await answer(services, message, Question(f"{about}\nWhat about this message?"), place)
        else:
            await r.say("ask_empty")


async def _switch(r: _Request, setting: ChatSetting[bool]) -> bool:
    """Set an on/off chat setting from the argument (toggle without one); the new state."""
    wanted = _argument(r.message).lower()
    key = chat_key(r.message)
    current = await r.services.chat_settings.get(key, setting)
    turn_on = {"on": True, "off": False}.get(wanted, not current)
    await r.services.chat_settings.set(key, setting, turn_on)
    return turn_on


async def answer_all(update: Update, context: BotContext) -> None:
    """/answerall on|off: a group answers every message, or only when addressed."""
    if (r := await _begin(update, context)) is None:
        return
    if not is_group(r.message):
        await r.say("answer_all_private")
    elif await r.may_change():
        on = await _switch(r, ANSWER_ALL)
        await r.say("answer_all_on" if on else "answer_all_off")


async def voice_command(update: Update, context: BotContext) -> None:
    """/voice [on|off]: a spoken copy of each answer in this chat."""
    if (r := await _begin(update, context)) is None or not await r.may_change():
        return
    on = await _switch(r, VOICE)
    await r.say("voice_on" if on else "voice_off")


async def image_command(update: Update, context: BotContext) -> None:
    """/image <description>: draw a picture and send it as a photo."""
    if (r := await _begin(update, context)) is None:
        return
    prompt = _argument(r.message)
    if not prompt:
        await r.say("image_usage")
        return
    if r.services.images is None:
        await r.say("error_image_unsupported")
        return
    message, target = r.message, reply_target(r.message)
    bot = message.get_bot()
    try:
        await bot.send_chat_action(
            target.chat_id, ChatAction.UPLOAD_PHOTO, message_thread_id=target.thread_id
        )
        image = await r.services.images.generate(prompt)
        await r.services.pacer.acquire(target.chat_id, target.is_group, urgent=True)
        await bot.send_photo(
            target.chat_id,
            image,
            caption=prompt[:1000],
            message_thread_id=target.thread_id,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        )
    except BotError as exc:
        log.info("image refused in chat %s: %s", target.chat_id, exc.detail)
        model = r.services.settings.openai_model
        await notify(r.services, message, error_text(exc, r.language, model))
    except TelegramError as exc:
        log.warning("sending a picture failed in chat %s: %s", target.chat_id, exc)
        await r.say("error_image_failed")
