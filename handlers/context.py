"""The services handlers receive from the application (created once at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import Message
from telegram.ext import ContextTypes

from bot.conversation import ConversationEngine
from bot.images import ImageClient
from bot.llm import LLMClient
from bot.model_catalog import ModelCatalog
from bot.ordering import TurnQueue
from bot.settings import Settings
from bot.speech import SpeechClient
from handlers.albums import AlbumCollector
from handlers.pacer import Pacer
from storage import Store

SERVICES_KEY = "services"


@dataclass
class Services:
    """Everything a handler needs, built by bot/app.py."""

    settings: Settings
    store: Store
    engine: ConversationEngine
    llm: LLMClient
    pacer: Pacer
    queue: TurnQueue
    speech: SpeechClient | None = None
    images: ImageClient | None = None
    albums: AlbumCollector[Message] = field(default_factory=lambda: AlbumCollector(1.0))
    bot_username: str = ""
    bot_id: int = 0
    models: ModelCatalog | None = None  # what /model offers (AVAILABLE_MODELS or `*`)


def get_services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The services stored in the application's bot_data."""
    services = context.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services
