"""The live reply: a message edited while the answer streams, continued in new messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, MessageEntity, ReplyParameters
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from handlers.formatting import GrowingSplit, Rendered, quote_above, render_markdown
from handlers.pacer import Pacer

log = logging.getLogger(__name__)

MAX_FINAL_ATTEMPTS = 8
DRAFT_REFRESH = 20.0
# The model's stream may go unread while nothing new could be shown: at most this long at
# once, and in slices of READ_SLICE while an edit waits for the bot's budget (the text it
# then shows is at most that old).
MAX_READ_PAUSE = 2.0
READ_SLICE = 0.25
# Reading resumes this long before the next edit may go, so that an answer that ended
# meanwhile is known in time for that edit to be the final one (not one more edit).
READ_LEAD = 0.2


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes: the chat, its topic, and the message it answers."""

    chat_id: int
    is_group: bool
    thread_id: int | None = None
    reply_to: int | None = None
    draft_id: int | None = None


@dataclass
class _SentPiece:
    message_id: int
    shown: Rendered
    markup: InlineKeyboardMarkup | None = None
    sent: Rendered | None = None  # what went out for `shown` (its plain text after a fallback)


@dataclass(frozen=True)
class _Change:
    """The next thing to show: piece `index` as `rendered`, as a draft or with `markup`."""

    index: int
    rendered: Rendered
    draft: bool
    markup: InlineKeyboardMarkup | None = None


UNSHOWN = Rendered("\u2063")  # what a reused message counts as until it is first edited


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _to_entities(rendered: Rendered) -> list[MessageEntity] | None:
    if not rendered.entities:
        return None
    result = []
    for entity in rendered.entity_dicts():
        result.append(
            MessageEntity(
                type=entity["type"],
                offset=entity["offset"],
                length=entity["length"],
                url=entity.get("url"),
                language=entity.get("language"),
                custom_emoji_id=entity.get("custom_emoji_id"),
            )
        )
    return result


class LiveReply:
    """Shows a growing answer in Telegram without tripping flood control.

    Text arrives through `text()` (sync, cheap); a background task wakes up,
    waits for the pacer, and sends the freshest state: the first piece as a
    new message, later states as edits, pieces past Telegram's limit as new
    messages. `finish()` delivers the final state, waiting out 429s.
    """

    def __init__(
        self,
        bot: Bot,
        pacer: Pacer,
        target: ReplyTarget,
        header: str | None = None,
        markdown: bool = True,
        reuse: list[int] | None = None,
    ) -> None:
        self._bot = bot
        self._header = header
        self._markdown_on = markdown
        self._pacer = pacer
        self._target = target
        self._answer: list[str] = []
        self._answer_len = 0
        self._status: str | None = None
        self._reasoning: list[str] = []
        self._footer: str | None = None
        # A regenerated answer is shown in the messages of the one it replaces.
        self._sent: list[_SentPiece] = [_SentPiece(i, UNSHOWN) for i in reuse or []]
        self._reused = len(self._sent)
        self.on_messages: Callable[[list[int]], None] | None = None  # told of new messages
        self._live_markup: InlineKeyboardMarkup | None = None
        self._final_markup: InlineKeyboardMarkup | None = None
        self._draft_id = target.draft_id if not target.is_group and not reuse else None
        self._draft_shown: Rendered | None = None
        self._render_cache: dict[str, Rendered] = {}
        self._split = GrowingSplit()
        self._dirty = asyncio.Event()
        self._final = False
        self._task: asyncio.Task[None] | None = None
        self._broken = False
        self._pacing = False  # the background task waits for the pacer
        self.first_visible_at: float | None = None
        self.calls = 0
        self.retries_after = 0

    # -- the sink a turn writes to ---------------------------------------------------------

    def text(self, delta: str) -> None:
        """Append answer text."""
        if not delta:
            return
        self._answer.append(delta)
        self._answer_len += len(delta)
        self._status = None
        self._wake()

    def status(self, label: str) -> None:
        """Show what the bot is doing until more answer text arrives."""
        self._status = label
        self._wake()

    def set_live_buttons(self, markup: InlineKeyboardMarkup | None) -> None:
        """Buttons the last message carries while the answer streams (ride on its edits)."""
        self._live_markup = markup

    @property
    def message_ids(self) -> list[int]:
        """The Telegram messages that show the answer, in order."""
        return [piece.message_id for piece in self._sent]

    def reasoning(self, delta: str) -> None:
        """Append reasoning, shown collapsed above the answer (never inside it)."""
        if delta:
            self._reasoning.append(delta)
            if len(self._reasoning) > 64:
                self._reasoning = ["".join(self._reasoning)]
            self._wake()

    def read_pause(self) -> float:
        """Seconds the model's stream may go unread without delaying what this reply shows:
        until the chat's pace lets the next edit go, or a slice while that edit waits for
        the bot's budget; 0 once the answer ended."""
        if self._final or self._broken:
            return 0.0
        wait = self._pacer.chat_wait(self._target.chat_id, self._target.is_group) - READ_LEAD
        if wait > 0:
            return self._pacer.on_tick(min(wait, MAX_READ_PAUSE))
        return self._pacer.on_tick(READ_SLICE) if self._pacing else 0.0

    @property
    def has_text(self) -> bool:
        """Whether any answer text arrived."""
        return self._answer_len > 0

    def _wake(self) -> None:
        self._dirty.set()
        if not self._broken and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run())

    # -- ending ----------------------------------------------------------------------------

    async def finish(
        self,
        text: str | None = None,
        footer: str | None = None,
        buttons: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Deliver the final state: `text` replaces the streamed answer when given."""
        self._final_markup = buttons
        if text is not None:
            self._answer = [text]
            self._answer_len = len(text)
        self._status = None
        self._footer = footer
        self._final = True
        self._wake()
        if self._task is not None:
            await self._task
        await self._drop_unused()

    def _told(self) -> None:
        if self.on_messages is not None:
            self.on_messages(self.message_ids)

    async def _drop_unused(self) -> None:
        """Delete reused messages the new answer no longer needs."""
        while len(self._sent) > 1 and self._sent[-1].shown is UNSHOWN:
            piece = self._sent.pop()
            self.calls += 1
            try:
                await self._bot.delete_message(self._target.chat_id, piece.message_id)
            except TelegramError as exc:
                log.info("could not delete an old piece in chat %s: %s", self._target.chat_id, exc)
        self._told()

    async def close(self) -> None:
        """Stop the background task without delivering (used on cancellation)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- what is shown ---------------------------------------------------------------------

    def _markdown(self) -> str:
        answer = "".join(self._answer)
        if len(self._answer) > 64:
            self._answer = [answer]
        answer = answer.strip()
        parts = [self._header] if self._header else []
        if answer:
            parts.append(answer)
        if self._status:
            parts.append(f"_{self._status}_" if parts else self._status)
        if self._footer:
            parts.append(f"_{self._footer}_")
        return "\n\n".join(parts)

    def _render(self, piece: str) -> Rendered:
        cached = self._render_cache.get(piece)
        if cached is None:
            cached = render_markdown(piece) if self._markdown_on else Rendered(piece.strip())
            if len(self._render_cache) > 64:
                self._render_cache.clear()
            self._render_cache[piece] = cached
        return cached

    def _next_change(self, final: bool) -> _Change | None:
        """The first piece whose shown state (text and buttons) differs from what it should
        be now, and whether it goes out as a draft (the growing last piece, drafts on)."""
        markdown = self._markdown()
        if not markdown:
            return None
        pieces = self._split.split(markdown)
        drafting = self._draft_id is not None and not final
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            rendered = self._render(piece)
            if index == 0 and self._reasoning:
                rendered = quote_above("".join(self._reasoning), rendered)
            if drafting and index == last and index >= len(self._sent):
                return None if self._draft_shown == rendered else _Change(index, rendered, True)
            markup = None
            if index == last:
                markup = self._final_markup if final else self._live_markup
            if index >= len(self._sent):
                return _Change(index, rendered, False, markup)
            sent = self._sent[index]
            if sent.shown != rendered or sent.markup is not markup:
                return _Change(index, rendered, False, markup)
        return None

    # -- the background task ---------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if self._draft_id is not None and self._draft_shown is not None:
                try:
                    await asyncio.wait_for(self._dirty.wait(), DRAFT_REFRESH)
                except TimeoutError:
                    self._draft_shown = None  # a draft fades after ~30 s: show it again
            else:
                await self._dirty.wait()
            self._dirty.clear()
            final = self._final
            try:
                await self._deliver(final)
            except Forbidden as exc:
                log.warning("chat %s refuses messages: %s", self._target.chat_id, exc.message)
                self._broken = True
                return
            except Exception:
                log.exception("live reply failed in chat %s", self._target.chat_id)
                if final:
                    await self._last_resort()
                    return
            if final:
                return
            if self._final:
                self._dirty.set()

    async def _last_resort(self) -> None:
        """The final text could not be delivered as planned: send it as new plain messages."""
        self._markdown_on = False
        self._render_cache.clear()
        self._sent = []
        self._draft_id = None
        try:
            await self._deliver(final=True)
        except Exception:
            log.exception("could not deliver the final text in chat %s", self._target.chat_id)

    async def _deliver(self, final: bool) -> None:
        attempts = 0
        while True:
            change = self._next_change(final)
            if change is None:
                return
            index, draft = change.index, change.draft
            new_message = index >= len(self._sent)
            urgent = final or (new_message and not draft) or index < len(self._sent) - 1
            self._pacing = True
            try:
                await self._pacer.acquire(
                    self._target.chat_id, self._target.is_group, urgent, counted=not draft
                )
            finally:
                self._pacing = False
            # The answer may have ended during the wait: then this call is the final one (a
            # draft's slot goes to the final message, with the bot-wide budget it needs).
            if draft and self._final and not final:
                await self._pacer.count(self._target.chat_id, self._target.is_group)
            final = final or self._final
            change = self._next_change(final)
            if change is None:
                return
            try:
                if change.draft:
                    await self._show_draft(change.rendered)
                else:
                    await self._apply(change)
                attempts = 0
            except RetryAfter as exc:
                self.retries_after += 1
                wait = _seconds(exc.retry_after)
                log.warning("429 in chat %s: waiting %.0fs", self._target.chat_id, wait)
                self._pacer.penalize(self._target.chat_id, wait)
            except (TimedOut, NetworkError) as exc:
                if isinstance(exc, BadRequest):
                    raise
                attempts += 1
                if not final or attempts >= MAX_FINAL_ATTEMPTS:
                    log.warning("telegram network error in chat %s: %r", self._target.chat_id, exc)
                    if final:
                        return
                    self._dirty.set()
                    return
                await asyncio.sleep(min(2**attempts * 0.25, 5))
            if not final and self._dirty.is_set():
                return

    async def _show_draft(self, rendered: Rendered) -> None:
        """Stream the growing piece as a draft (private chats; not a message, no edit mark)."""
        assert self._draft_id is not None
        self.calls += 1
        try:
            await self._bot.send_message_draft(
                chat_id=self._target.chat_id,
                draft_id=self._draft_id,
                text=rendered.text,
                entities=_to_entities(rendered),
            )
        except BadRequest as exc:
            if "parse entities" in exc.message.lower():
                await self._bot.send_message_draft(
                    chat_id=self._target.chat_id, draft_id=self._draft_id, text=rendered.text
                )
            else:
                log.warning("drafts refused (%s); editing a message instead", exc.message)
                self._draft_id = None
                self._dirty.set()
                return
        self._draft_shown = rendered
        if self.first_visible_at is None and self.has_text:
            self.first_visible_at = time.monotonic()

    async def _apply(self, change: _Change) -> None:
        index, rendered, markup = change.index, change.rendered, change.markup
        if index < len(self._sent):
            piece = self._sent[index]
            if piece.shown == rendered and piece.sent is not None and piece.sent != rendered:
                # Only the buttons change: resend the text the way it was accepted.
                await self._send_or_edit(index, piece.sent, markup, shown=rendered)
                return
        try:
            await self._send_or_edit(index, rendered, markup)
        except BadRequest as exc:
            message = exc.message.lower()
            if "not modified" in message:
                self._sent[index].shown, self._sent[index].markup = rendered, markup
            elif "parse entities" in message or "entity" in message:
                log.warning("telegram rejected entities (%s); sending plain text", exc.message)
                try:
                    await self._send_or_edit(index, rendered.plain(), markup, shown=rendered)
                except BadRequest as again:
                    if "not modified" not in again.message.lower():
                        raise
                    self._sent[index].shown, self._sent[index].markup = rendered, markup
            elif index < len(self._sent):
                # The message cannot be edited (deleted, too old, ...): continue in a new one.
                log.warning(
                    "cannot edit in chat %s (%s); sending anew", self._target.chat_id, exc.message
                )
                new_id = await self._send_new(rendered, markup=markup)
                self._sent[index] = _SentPiece(new_id, rendered, markup)
                self._told()
            else:
                raise

    async def _send_or_edit(
        self,
        index: int,
        rendered: Rendered,
        markup: InlineKeyboardMarkup | None,
        shown: Rendered | None = None,
    ) -> None:
        if index < len(self._sent):
            self.calls += 1
            await self._bot.edit_message_text(
                chat_id=self._target.chat_id,
                message_id=self._sent[index].message_id,
                text=rendered.text,
                entities=_to_entities(rendered),
                reply_markup=markup,
            )
            piece = self._sent[index]
            piece.shown, piece.markup, piece.sent = shown or rendered, markup, rendered
        else:
            message_id = await self._send_new(rendered, reply=not self._sent, markup=markup)
            self._sent.append(_SentPiece(message_id, shown or rendered, markup, rendered))
            self._told()
        if self.first_visible_at is None and self.has_text:
            self.first_visible_at = time.monotonic()

    async def _send_new(
        self, rendered: Rendered, reply: bool = False, markup: InlineKeyboardMarkup | None = None
    ) -> int:
        self.calls += 1
        target = self._target
        reply_parameters = None
        if reply and target.reply_to is not None:
            reply_parameters = ReplyParameters(
                message_id=target.reply_to, allow_sending_without_reply=True
            )
        message = await self._bot.send_message(
            chat_id=target.chat_id,
            text=rendered.text,
            entities=_to_entities(rendered),
            message_thread_id=target.thread_id,
            reply_parameters=reply_parameters,
            reply_markup=markup,
        )
        return message.message_id


async def send_text(bot: Bot, pacer: Pacer, target: ReplyTarget, text: str) -> None:
    """Send a short plain-text message through the same pacing as live replies."""
    reply = LiveReply(bot, pacer, target, markdown=False)
    await reply.finish(text)
