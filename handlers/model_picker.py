"""/model without arguments: the available models as inline buttons, the current one marked."""

from __future__ import annotations

import contextlib
import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.i18n import translate
from handlers.access import Access, check_access, is_admin
from handlers.addressing import chat_key, language_of, reply_target
from handlers.context import BotContext, Services
from handlers.groups import is_group_admin

log = logging.getLogger(__name__)

PREFIX = "model:"
_MAX_DATA = 64  # bytes Telegram keeps of callback_data
_MAX_BUTTONS = 60  # more cannot be read on a phone anyway; /model <name> reaches the rest


def picker_markup(models: tuple[str, ...], current: str) -> InlineKeyboardMarkup:
    """One button per model (two per row), the current one marked with a check."""
    buttons = []
    shown = list(models[:_MAX_BUTTONS])
    if current in models and current not in shown:
        shown[-1] = current
    for model in shown:
        index = models.index(model)
        data = f"{PREFIX}{model}"
        if len(data.encode()) > _MAX_DATA:
            data = f"{PREFIX}#{index}"
        label = f"✓ {model}" if model == current else model
        buttons.append(InlineKeyboardButton(label, callback_data=data))
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def offered(services: Services) -> tuple[str, ...]:
    """The models users may pick now (AVAILABLE_MODELS, or the provider's list with `*`)."""
    if services.models is not None:
        return await services.models.models()
    return services.settings.available_models


async def show_models(services: Services, message: Message, current: str, language: str) -> None:
    """Answer /model with the current model and the buttons to pick another."""
    target = reply_target(message)
    await services.pacer.acquire(target.chat_id, target.is_group, urgent=True)
    await message.get_bot().send_message(
        target.chat_id,
        translate(language, "model_current", model=current),
        message_thread_id=target.thread_id,
        reply_markup=picker_markup(await offered(services), current),
    )


def _chosen(data: str, models: tuple[str, ...]) -> str | None:
    """The model a button names, if it is still one of the available models."""
    value = data.removeprefix(PREFIX)
    if value.startswith("#") and value[1:].isdigit() and int(value[1:]) < len(models):
        return models[int(value[1:])]
    return value if value in models else None


async def _may_pick(services: Services, query: CallbackQuery, message: Message) -> bool:
    """The presser may use the bot here and, in groups, change its settings (admins)."""
    settings = services.settings
    user_id = query.from_user.id
    is_private = message.chat.type == ChatType.PRIVATE
    access = check_access(
        user_id=user_id,
        chat_id=message.chat.id,
        is_private=is_private,
        allowed_users=settings.allowed_user_ids,
        admins=settings.admin_user_ids,
        allowed_chats=settings.allowed_chat_ids,
    )
    if access is not Access.ALLOWED:
        return False
    if is_private or is_admin(user_id, settings.admin_user_ids):
        return True
    return await is_group_admin(message.get_bot(), message.chat.id, user_id)


async def on_model_button(update: Update, context: BotContext) -> None:
    """A model button was pressed: switch the chat's model and mark the new one."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message) or query.data is None:
        return
    services = context.services
    message = query.message
    language = language_of(query.from_user, services.settings.default_language)
    models = await offered(services)
    wanted = _chosen(query.data, models)
    if wanted is None or not await _may_pick(services, query, message):
        key = "admins_only" if wanted is not None else "model_unknown"
        with contextlib.suppress(TelegramError):
            await query.answer(translate(language, key, model="?", models=", ".join(models)))
        return
    await services.chat_settings.set_model(chat_key(message), wanted)
    text = translate(language, "model_set", model=wanted)
    with contextlib.suppress(TelegramError):
        await query.answer(text)
    with contextlib.suppress(TelegramError):
        await services.pacer.acquire(message.chat.id, message.chat.type != ChatType.PRIVATE, True)
        await query.edit_message_text(text, reply_markup=picker_markup(models, wanted))
