"""Per-chat settings, typed: every name a chat can set lives here and nowhere else."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Generic, TypeVar

from bot.personas import Persona, find_persona
from storage import ChatKey, Store

log = logging.getLogger(__name__)

T = TypeVar("T")


def _flag(value: str | None) -> bool:
    return value == "on"


def _flag_value(on: bool) -> str | None:
    return "on" if on else None


def _present(value: str | None) -> bool:
    return value is not None


def _sent_value(sent: bool) -> str | None:
    return "sent" if sent else None


def _text(value: str | None) -> str | None:
    return value or None


@dataclass(frozen=True)
class ChatSetting(Generic[T]):
    """One per-chat setting: its stored name, how it reads and writes, and its scope."""

    name: str
    read: Callable[[str | None], T]
    write: Callable[[T], str | None]
    whole_chat: bool = False  # one value for a group and all its topics


MODEL: ChatSetting[str | None] = ChatSetting("model", _text, _text)
VOICE: ChatSetting[bool] = ChatSetting("voice", _flag, _flag_value)
ANSWER_ALL: ChatSetting[bool] = ChatSetting("answer_all", _flag, _flag_value, whole_chat=True)
ACCESS_NOTICE_SENT: ChatSetting[bool] = ChatSetting(
    "access_notice", _present, _sent_value, whole_chat=True
)
SYSTEM_PROMPT: ChatSetting[str | None] = ChatSetting("system_prompt", _text, _text)
PERSONA: ChatSetting[str | None] = ChatSetting("persona", _text, _text)


@dataclass(frozen=True)
class AnswerRecord:
    """The conversation's latest answer: what it answered and where it is shown."""

    conversation_id: int
    user_message_id: int  # the stored question
    question_message_id: int  # the question's Telegram message
    message_ids: list[int] = field(default_factory=list)  # the answer's Telegram messages
    asker_id: int | None = None
    cut: bool = False  # ended by the model's length limit


def _read_answer(value: str | None) -> AnswerRecord | None:
    if not value:
        return None
    try:
        return AnswerRecord(**json.loads(value))
    except (ValueError, TypeError):
        return None


def _write_answer(record: AnswerRecord | None) -> str | None:
    return None if record is None else json.dumps(asdict(record))


LAST_ANSWER: ChatSetting[AnswerRecord | None] = ChatSetting(
    "last_answer", _read_answer, _write_answer
)


class ChatSettings:
    """Reads and writes typed per-chat settings through the store."""

    def __init__(self, store: Store, default_model: str) -> None:
        self._store = store
        self.default_model = default_model

    @staticmethod
    def _scope(key: ChatKey, setting: ChatSetting[T]) -> ChatKey:
        return ChatKey(key.chat_id) if setting.whole_chat else key

    async def get(self, key: ChatKey, setting: ChatSetting[T]) -> T:
        """The setting's value in this chat (or topic)."""
        raw = await self._store.get_setting(self._scope(key, setting), setting.name)
        return setting.read(raw)

    async def set(self, key: ChatKey, setting: ChatSetting[T], value: T) -> None:
        """Store the setting's value for this chat (or topic)."""
        await self._store.set_setting(self._scope(key, setting), setting.name, setting.write(value))

    async def model(self, key: ChatKey) -> str:
        """The chat's model (/model), or the default one when unset or unreadable."""
        try:
            chosen = await self.get(key, MODEL)
        except Exception:
            log.exception("cannot read the model of chat %s", key.chat_id)
            chosen = None
        return chosen or self.default_model

    async def set_model(self, key: ChatKey, model: str) -> None:
        """Choose the chat's model (the default one is stored as no choice)."""
        await self.set(key, MODEL, None if model == self.default_model else model)

    async def instructions(self, key: ChatKey, personas: tuple[Persona, ...]) -> str | None:
        """The chat's system prompt (/system, else its /persona), or None for the default."""
        try:
            custom = await self.get(key, SYSTEM_PROMPT)
            persona = None if custom else find_persona(personas, await self.get(key, PERSONA))
        except Exception:
            log.exception("cannot read the instructions of chat %s", key.chat_id)
            return None
        return custom or (persona.prompt if persona else None)
