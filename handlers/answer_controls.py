"""The buttons on an answer: Stop while it streams, Regenerate and Continue once it ended."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat_settings import AnswerRecord
from bot.conversation import TurnOutcome
from bot.i18n import translate
from handlers.callback_data import CallbackSigner
from storage import ChatKey

STOP, REGENERATE, CONTINUE = "as", "ar", "ac"


ANY_ANSWER = "*"  # a stop for whichever answer runs (never a button's token)


@dataclass
class RunningAnswer:
    """An answer being written: how to stop it, and who may."""

    asker_id: int | None
    question_message_id: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(6))
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class RunningAnswers:
    """The answers being written in this process, one per conversation."""

    def __init__(self) -> None:
        self._by_key: dict[ChatKey, RunningAnswer] = {}

    def start(self, key: ChatKey, asker_id: int | None, question_message_id: int) -> RunningAnswer:
        """Register the conversation's running answer."""
        running = RunningAnswer(asker_id, question_message_id)
        self._by_key[key] = running
        return running

    def end(self, key: ChatKey, running: RunningAnswer) -> None:
        """Forget the answer once it ended."""
        if self._by_key.get(key) is running:
            del self._by_key[key]

    def get(self, key: ChatKey) -> RunningAnswer | None:
        """The conversation's running answer, if any."""
        return self._by_key.get(key)

    def stop(self, key: ChatKey, token: str) -> None:
        """Stop the conversation's running answer if it is the one `token` names (any one
        for ANY_ANSWER: a typed /stop)."""
        running = self._by_key.get(key)
        if running is not None and token in (running.token, ANY_ANSWER):
            running.stop.set()


def stop_payload(rest: str) -> tuple[str, int | None]:
    """The answer's token and its asker, from a Stop button's (verified) data."""
    token, _, asker = rest.partition(".")
    return token, int(asker) if asker.lstrip("-").isdigit() else None


def stop_buttons(
    signer: CallbackSigner, language: str, running: RunningAnswer
) -> InlineKeyboardMarkup:
    """The Stop button of a streaming answer."""
    # The asker rides along, so a replica not running the answer can check who pressed.
    asker = "" if running.asker_id is None else str(running.asker_id)
    data = signer.sign(f"{STOP}.{running.token}.{asker}")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(translate(language, "btn_stop"), callback_data=data)]]
    )


def final_buttons(
    signer: CallbackSigner, language: str, outcome: TurnOutcome
) -> InlineKeyboardMarkup | None:
    """Regenerate (and Continue after the length limit) on an answer that ended."""
    if not outcome.user_message_id:
        return None
    ids = f"{outcome.conversation_id}.{outcome.user_message_id}"
    row = [
        InlineKeyboardButton(
            translate(language, "btn_regenerate"), callback_data=signer.sign(f"{REGENERATE}.{ids}")
        )
    ]
    if is_cut(outcome):
        row.append(
            InlineKeyboardButton(
                translate(language, "btn_continue"), callback_data=signer.sign(f"{CONTINUE}.{ids}")
            )
        )
    return InlineKeyboardMarkup([row])


def is_cut(outcome: TurnOutcome) -> bool:
    """Whether the model's length limit cut the answer (so it can be continued)."""
    return outcome.finish_reason == "length" and bool(outcome.text) and not outcome.stopped


def record_of(
    outcome: TurnOutcome, question_message_id: int, message_ids: list[int], asker_id: int | None
) -> AnswerRecord:
    """What is remembered of the conversation's latest answer."""
    return AnswerRecord(
        conversation_id=outcome.conversation_id,
        user_message_id=outcome.user_message_id,
        question_message_id=question_message_id,
        message_ids=message_ids,
        asker_id=asker_id,
        cut=is_cut(outcome),
    )
