"""The services handlers receive from the application, and the typed handler context."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Message
from telegram.ext import Application, CallbackContext, ExtBot

from bot.chat_settings import ChatSettings
from bot.conversation import ConversationEngine, TurnOutcome
from bot.images import ImageClient
from bot.llm import LLMClient
from bot.model_catalog import ModelCatalog
from bot.ordering import TurnQueue
from bot.personas import Persona
from bot.prices import Price
from bot.rate_limit import SlidingWindow
from bot.sandbox import Sandbox
from bot.settings import Settings
from bot.speech import SpeechClient
from handlers.albums import AlbumCollector
from handlers.answer_controls import RunningAnswers
from handlers.callback_data import CallbackSigner
from handlers.flood import FloodGate
from handlers.pacer import Pacer
from storage import ChatKey, Store

TurnListener = Callable[[ChatKey, TurnOutcome], None]


@dataclass
class Services:
    """Everything a handler needs, built by bot/app.py."""

    settings: Settings
    store: Store
    chat_settings: ChatSettings
    engine: ConversationEngine
    llm: LLMClient
    pacer: Pacer
    queue: TurnQueue
    signer: CallbackSigner
    sandbox: Sandbox
    speech: SpeechClient | None = None
    images: ImageClient | None = None
    albums: AlbumCollector[Message] = field(default_factory=lambda: AlbumCollector(1.0))
    bot_username: str = ""
    bot_id: int = 0
    turn_listeners: list[TurnListener] = field(default_factory=list)  # told of every ended turn
    personas: tuple[Persona, ...] = ()
    prices: dict[str, Price] = field(default_factory=dict)
    clock: Callable[[], float] = time.time  # wall clock of quotas and usage (tests inject one)
    running: RunningAnswers = field(default_factory=RunningAnswers)
    flood: FloodGate = field(default_factory=lambda: FloodGate(10, 12000))
    user_rate: SlidingWindow = field(default_factory=lambda: SlidingWindow(30))
    models: ModelCatalog | None = None  # what /model offers (AVAILABLE_MODELS or `*`)


class BotData:
    """The application's bot_data: the settings at build time, the services once started."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.services: Services | None = None
        self.closers: list[Any] = []


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler gets: `context.services` is typed."""

    @property
    def services(self) -> Services:
        """The services created at start-up."""
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("the bot's services are not started")
        return services


BotApp = Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
