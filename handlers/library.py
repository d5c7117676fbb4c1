"""What the bot keeps, shown and controlled: /history /forget /system /persona /usage /stats.

Buttons carry signed callback data (handlers/callback_data.py): h: history, f: forget,
p: persona. A forged, altered or stale press only gets its callback query answered.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.chat_settings import PERSONA, SYSTEM_PROMPT
from bot.i18n import translate
from bot.personas import Persona, find_persona
from bot.prices import cost
from bot.quotas import day_start, month_start
from handlers.access import Access, admitted, check_access, is_admin
from handlers.addressing import chat_key, is_group, language_of, reply_target
from handlers.context import BotContext, Services
from handlers.groups import is_group_admin, may_change_settings
from handlers.notices import notify
from storage import ChatKey, ModelUsage

log = logging.getLogger(__name__)

LIBRARY_COMMANDS = ("history", "forget", "system", "persona", "usage", "stats")
PAGE_SIZE = 5
FORGET_TTL = 600.0  # seconds a /forget confirmation stays valid
SYSTEM_PROMPT_LIMIT = 4000
BUTTON_TITLE = 40
DAY = 86400.0


@dataclass(frozen=True)
class _Ask:
    """Who asks, in which chat (the command, or the bot's message carrying the button)."""

    services: Services
    message: Message
    user: User | None
    language: str
    pressed: bool = False  # a button press: `message` is the bot's, `user` pressed it

    @property
    def key(self) -> ChatKey:
        """The conversation slot: the chat, or its forum topic."""
        return chat_key(self.message)

    def t(self, text_key: str, /, **params: object) -> str:
        """A text in the asker's language."""
        return translate(self.language, text_key, **params)

    async def say(self, text_key: str, /, **params: object) -> None:
        """Answer with a short notice."""
        await notify(self.services, self.message, self.t(text_key, **params))

    async def send(self, text: str, markup: InlineKeyboardMarkup | None) -> None:
        """A message with buttons, paced like every other one."""
        target = reply_target(self.message)
        await self.services.pacer.acquire(target.chat_id, target.is_group, urgent=True)
        reply = (
            ReplyParameters(target.reply_to, allow_sending_without_reply=True)
            if target.reply_to
            else None
        )
        try:
            await self.message.get_bot().send_message(
                target.chat_id,
                text,
                message_thread_id=target.thread_id,
                reply_markup=markup,
                reply_parameters=reply,
            )
        except TelegramError as exc:
            log.warning("sending a list to chat %s failed: %s", target.chat_id, exc)

    async def edit(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Replace the text (and buttons) of the message that carried the pressed button."""
        target = reply_target(self.message)
        await self.services.pacer.acquire(target.chat_id, target.is_group, urgent=True)
        try:
            await self.message.edit_text(text, reply_markup=markup)
        except TelegramError as exc:
            log.info("editing a list in chat %s failed: %s", target.chat_id, exc)

    async def may_manage(self) -> bool:
        """Private chats: the user. Groups: the group's Telegram admins and the bot's admins."""
        if not self.pressed:
            return await may_change_settings(self.services, self.message)
        if not is_group(self.message):
            return True
        if self.user is None:
            return False
        if is_admin(self.user.id, self.services.settings.admin_user_ids):
            return True
        return await is_group_admin(self.message.get_bot(), self.message.chat.id, self.user.id)


async def _command(update: Update, context: BotContext) -> _Ask | None:
    """The asker of a command, when they may use the bot here."""
    message = update.effective_message
    if message is None:
        return None
    services = context.services
    if not await admitted(services, message):
        return None
    language = language_of(message.from_user, services.settings.default_language)
    return _Ask(services, message, message.from_user, language)


def _argument(message: Message) -> str:
    return re.sub(r"^/\S+", "", message.text or "", count=1).strip()


async def _answer_query(query: CallbackQuery, text: str | None = None) -> None:
    try:
        await query.answer(text)
    except TelegramError as exc:
        log.info("answering a button press failed: %s", exc)


async def _pressed(update: Update, context: BotContext, prefix: str) -> tuple[_Ask, str] | None:
    """The asker and the verified payload (after `prefix`) of a button press, or None.

    A press with data this bot did not sign, on a message the bot cannot see, or from
    someone not allowed here only gets its callback query answered.
    """
    query = update.callback_query
    if query is None:
        return None
    services = context.services
    payload = services.signer.verify(query.data)
    message = query.message
    user = query.from_user
    if payload is None or not payload.startswith(prefix) or not isinstance(message, Message):
        await _answer_query(query)
        return None
    access = check_access(
        user_id=user.id,
        chat_id=message.chat.id,
        is_private=message.chat.type == ChatType.PRIVATE,
        allowed_users=services.settings.allowed_user_ids,
        admins=services.settings.admin_user_ids,
        allowed_chats=services.settings.allowed_chat_ids,
    )
    if access is not Access.ALLOWED:
        await _answer_query(query)
        return None
    language = language_of(user, services.settings.default_language)
    return _Ask(services, message, user, language, pressed=True), payload.removeprefix(prefix)


def _button(ask: _Ask, text: str, payload: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=ask.services.signer.sign(payload))


def _short(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# ---- /history


async def _history_view(ask: _Ask, offset: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of saved conversations with a button for each one not active."""
    page = await ask.services.store.conversations(ask.key, offset, PAGE_SIZE)
    if page.total == 0:
        return ask.t("history_empty"), None
    if not page.items and offset > 0:
        return await _history_view(ask, 0)
    zone = ask.services.settings.zone
    pages = math.ceil(page.total / PAGE_SIZE)
    lines = [ask.t("history_title", page=offset // PAGE_SIZE + 1, pages=pages), ""]
    rows: list[list[InlineKeyboardButton]] = []
    for number, item in enumerate(page.items, start=offset + 1):
        title = _short(item.title, BUTTON_TITLE) or ask.t("history_untitled")
        date = datetime.fromtimestamp(item.created_at, zone).strftime("%Y-%m-%d")
        line = ask.t("history_item", title=title, date=date, messages=item.messages)
        if item.active:
            lines.append(f"{number}. ▶ {line} ({ask.t('history_current')})")
        else:
            lines.append(f"{number}. {line}")
            rows.append([_button(ask, f"{number}. {title}", f"h:r:{item.id}")])
    nav = []
    if offset > 0:
        nav.append(_button(ask, ask.t("history_newer"), f"h:p:{max(offset - PAGE_SIZE, 0)}"))
    if offset + PAGE_SIZE < page.total:
        nav.append(_button(ask, ask.t("history_older"), f"h:p:{offset + PAGE_SIZE}"))
    if nav:
        rows.append(nav)
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


async def history_command(update: Update, context: BotContext) -> None:
    """/history: the chat's saved conversations, newest first, with buttons to go back."""
    if (ask := await _command(update, context)) is None:
        return
    text, markup = await _history_view(ask, 0)
    await ask.send(text, markup)


def _pressed_title(query: CallbackQuery) -> str:
    """The title on the pressed button (what the user saw), without its number."""
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == query.data:
                return re.sub(r"^\d+\.\s*", "", button.text)
    return ""


async def on_history_button(update: Update, context: BotContext) -> None:
    """A page button, or a conversation to go back to."""
    if (pressed := await _pressed(update, context, "h:")) is None:
        return
    ask, payload = pressed
    query = update.callback_query
    assert query is not None
    action, _, value = payload.partition(":")
    if not value.isdigit():
        await _answer_query(query)
        return
    if action == "p":
        await _answer_query(query)
        text, markup = await _history_view(ask, int(value))
        await ask.edit(text, markup)
        return
    if not await ask.may_manage():
        await _answer_query(query, ask.t("admins_only"))
        return
    async with ask.services.queue.place(ask.key) as place:
        await place.ready()
        resumed = await ask.services.store.resume_conversation(ask.key, int(value))
    if not resumed:
        await _answer_query(query, ask.t("history_gone"))
        return
    text = ask.t("history_resumed", title=_pressed_title(query))
    await _answer_query(query)
    await ask.edit(text)


# ---- /forget


async def forget_command(update: Update, context: BotContext) -> None:
    """/forget: ask to confirm deleting everything stored for this chat (or topic)."""
    if (ask := await _command(update, context)) is None:
        return
    if not await ask.may_manage():
        await ask.say("admins_only")
        return
    issued = int(ask.services.clock())
    markup = InlineKeyboardMarkup(
        [
            [
                _button(ask, ask.t("forget_yes"), f"f:y:{issued}"),
                _button(ask, ask.t("forget_no"), "f:n"),
            ]
        ]
    )
    await ask.send(ask.t("forget_confirm"), markup)


async def on_forget_button(update: Update, context: BotContext) -> None:
    """The confirmation (delete now) or the cancel button of /forget."""
    if (pressed := await _pressed(update, context, "f:")) is None:
        return
    ask, payload = pressed
    query = update.callback_query
    assert query is not None
    if payload == "n":
        await _answer_query(query)
        await ask.edit(ask.t("forget_cancelled"))
        return
    issued = payload.removeprefix("y:")
    if not issued.isdigit() or ask.services.clock() - int(issued) > FORGET_TTL:
        await _answer_query(query, ask.t("button_stale"))
        return
    if not await ask.may_manage():
        await _answer_query(query, ask.t("admins_only"))
        return
    async with ask.services.queue.place(ask.key) as place:
        await place.ready()
        report = await ask.services.store.forget(ask.key)
    log.info("forgot chat %s thread %s", ask.key.chat_id, ask.key.thread_id)
    await _answer_query(query)
    await ask.edit(
        ask.t(
            "forget_done",
            conversations=report.conversations,
            messages=report.messages,
            settings=report.settings,
        )
    )


# ---- /system and /persona


async def system_command(update: Update, context: BotContext) -> None:
    """/system shows the chat's instructions, /system <text> sets them, /system reset clears."""
    if (ask := await _command(update, context)) is None:
        return
    wanted = _argument(ask.message)
    chats = ask.services.chat_settings
    if not wanted:
        custom = await chats.get(ask.key, SYSTEM_PROMPT)
        persona = find_persona(ask.services.personas, await chats.get(ask.key, PERSONA))
        if custom:
            await ask.say("system_custom", prompt=custom)
        elif persona:
            await ask.say("system_persona", name=persona.name, prompt=persona.prompt)
        else:
            await ask.say("system_default", prompt=ask.services.settings.system_prompt)
        return
    if len(wanted) > SYSTEM_PROMPT_LIMIT:
        await ask.say("system_too_long", limit=SYSTEM_PROMPT_LIMIT)
        return
    reset = wanted.lower() in ("reset", "default", "off")
    # Take the place first: the change lands between the turns before and after it.
    async with ask.services.queue.place(ask.key) as place:
        if not await ask.may_manage():
            await ask.say("admins_only")
            return
        await place.ready()
        await chats.set(ask.key, SYSTEM_PROMPT, None if reset else wanted)
        if reset:
            await chats.set(ask.key, PERSONA, None)
    await ask.say("system_reset" if reset else "system_set")


async def _choose_persona(ask: _Ask, persona: Persona | None) -> str:
    """Make `persona` (None: the default) the chat's; the text that says so."""
    chats = ask.services.chat_settings
    async with ask.services.queue.place(ask.key) as place:
        await place.ready()
        await chats.set(ask.key, PERSONA, persona.name if persona else None)
        await chats.set(ask.key, SYSTEM_PROMPT, None)
        if persona is not None and persona.model:
            await chats.set_model(ask.key, persona.model)
    if persona is None:
        return ask.t("system_reset")
    if persona.model:
        return ask.t("persona_set_model", name=persona.name, model=persona.model)
    return ask.t("persona_set", name=persona.name)


async def persona_command(update: Update, context: BotContext) -> None:
    """/persona: buttons to choose a preset; /persona <name> (or `default`) chooses directly."""
    if (ask := await _command(update, context)) is None:
        return
    personas = ask.services.personas
    if not personas:
        await ask.say("persona_none")
        return
    wanted = _argument(ask.message)
    if not wanted:
        current = await ask.services.chat_settings.get(ask.key, PERSONA)
        rows = [[_button(ask, p.name, f"p:{i}")] for i, p in enumerate(personas)]
        rows.append([_button(ask, ask.t("persona_default"), "p:-")])
        text = ask.t("persona_choose", current=current or ask.t("persona_default"))
        await ask.send(text, InlineKeyboardMarkup(rows))
        return
    if not await ask.may_manage():
        await ask.say("admins_only")
        return
    persona = find_persona(personas, wanted)
    if persona is None and wanted.lower() not in ("default", "off", "reset"):
        names = ", ".join(p.name for p in personas)
        await ask.say("persona_unknown", name=wanted, names=names)
        return
    await notify(ask.services, ask.message, await _choose_persona(ask, persona))


async def on_persona_button(update: Update, context: BotContext) -> None:
    """A persona chosen with its button."""
    if (pressed := await _pressed(update, context, "p:")) is None:
        return
    ask, payload = pressed
    query = update.callback_query
    assert query is not None
    personas = ask.services.personas
    index = int(payload) if payload.isdigit() else -1
    if payload != "-" and not 0 <= index < len(personas):
        await _answer_query(query, ask.t("button_stale"))
        return
    if not await ask.may_manage():
        await _answer_query(query, ask.t("admins_only"))
        return
    text = await _choose_persona(ask, personas[index] if index >= 0 else None)
    await _answer_query(query)
    await ask.edit(text)


# ---- /usage and /stats


def _usage_lines(ask: _Ask, usage: list[ModelUsage]) -> list[str]:
    if not usage:
        return [ask.t("usage_nothing")]
    lines = []
    for u in usage:
        line = ask.t(
            "usage_line",
            model=u.model,
            messages=u.messages,
            prompt=u.prompt_tokens,
            completion=u.completion_tokens,
        )
        price = cost(ask.services.prices, u)
        if price is not None:
            line += " " + ask.t("usage_cost", cost=f"{price:.4f}")
        lines.append(line)
    return lines


async def _limits_line(ask: _Ask, today: list[ModelUsage]) -> str | None:
    settings = ask.services.settings
    user_id = ask.user.id if ask.user else None
    if is_admin(user_id, settings.admin_user_ids):
        return None
    parts = []
    if settings.daily_message_limit:
        used = sum(u.messages for u in today)
        parts.append(ask.t("usage_limit_messages", used=used, limit=settings.daily_message_limit))
    if settings.daily_token_limit:
        used = sum(u.prompt_tokens + u.completion_tokens for u in today)
        parts.append(ask.t("usage_limit_tokens", used=used, limit=settings.daily_token_limit))
    if not parts:
        return None
    return ask.t("usage_limits", limits=", ".join(parts), zone=settings.timezone)


async def usage_command(update: Update, context: BotContext) -> None:
    """/usage: the sender's own messages and tokens today and this month, per model."""
    if (ask := await _command(update, context)) is None or ask.user is None:
        return
    store, zone, now = ask.services.store, ask.services.settings.zone, ask.services.clock()
    today = await store.usage_by_model(day_start(now, zone).timestamp(), ask.user.id)
    month = await store.usage_by_model(month_start(now, zone).timestamp(), ask.user.id)
    lines = [ask.t("usage_title"), "", ask.t("usage_today") + ":", *_usage_lines(ask, today)]
    lines += ["", ask.t("usage_month") + ":", *_usage_lines(ask, month)]
    if (limits := await _limits_line(ask, today)) is not None:
        lines += ["", limits]
    await notify(ask.services, ask.message, "\n".join(lines))


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


async def stats_command(update: Update, context: BotContext) -> None:
    """/stats (bot admins): active users and chats, tokens by model, outcomes, latency."""
    if (ask := await _command(update, context)) is None:
        return
    if not is_admin(ask.user.id if ask.user else None, ask.services.settings.admin_user_ids):
        await ask.say("stats_admins_only")
        return
    store, zone, now = ask.services.store, ask.services.settings.zone, ask.services.clock()
    day = await store.turn_stats(day_start(now, zone).timestamp())
    month = await store.turn_stats(month_start(now, zone).timestamp())
    recent = await store.turn_stats(now - DAY)
    tokens = await store.usage_by_model(month_start(now, zone).timestamp())
    models = [
        ask.t(
            "stats_model_line",
            model=u.model,
            prompt=u.prompt_tokens,
            completion=u.completion_tokens,
        )
        for u in tokens
    ] or [ask.t("usage_nothing")]
    await ask.say(
        "stats_text",
        users_day=day.users,
        users_month=month.users,
        chats_day=day.chats,
        chats_month=month.chats,
        complete=recent.outcomes.get("complete", 0),
        interrupted=recent.outcomes.get("interrupted", 0),
        failed=recent.outcomes.get("failed", 0),
        p50=_seconds(percentile(recent.first_visible_ms, 0.5)),
        p95=_seconds(percentile(recent.first_visible_ms, 0.95)),
        models="\n".join(models),
    )
