"""The composition root: settings -> clients -> store -> engine -> handlers -> Application."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.conversation import ConversationEngine, EngineConfig
from bot.images import ImageClient
from bot.llm import build_openai_client
from bot.ordering import TurnQueue
from bot.providers import build_chat_models
from bot.settings import Settings
from bot.speech import SpeechClient
from bot.telegram_request import AiohttpRequest
from bot.tools import build_tools
from handlers import register
from handlers.albums import AlbumCollector
from handlers.commands import command_menus
from handlers.context import SERVICES_KEY, Services
from handlers.pacer import Pacer
from storage import SQLiteStore

log = logging.getLogger(__name__)

SETTINGS_KEY = "settings"
CLOSERS_KEY = "closers"

BotApp = Application[Any, Any, Any, Any, Any, Any]


def build_application(settings: Settings) -> BotApp:
    """The python-telegram-bot Application, wired but not started."""
    root = settings.telegram_api_url
    request = AiohttpRequest(connection_pool_size=64)
    updates_request = AiohttpRequest(connection_pool_size=2, read_timeout=15.0)
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(request)
        .get_updates_request(updates_request)
        .concurrent_updates(settings.max_concurrent_updates)
        .post_init(start_services)
        .post_shutdown(stop_services)
        .build()
    )
    app.bot_data[SETTINGS_KEY] = settings
    register(app)
    app.add_error_handler(on_error)
    return app


async def start_services(app: BotApp) -> None:
    """Create the clients, open the store, and announce the commands (runs once at start-up)."""
    settings: Settings = app.bot_data[SETTINGS_KEY]
    store = await SQLiteStore.open(settings.database_path)
    openai_client = build_openai_client(
        settings.openai_api_key.get_secret_value(),
        settings.openai_base_url,
        settings.request_timeout,
        settings.stream_stall_timeout,
        chat_url=settings.openai_chat_url,
    )
    chat_models = build_chat_models(settings, openai_client)
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.tool_timeout), follow_redirects=True)
    closers = [store.close, openai_client.close, http.aclose, *chat_models.closers]
    speech_client = chat_models.sdk(settings.transcription_provider) or openai_client
    speech_key = settings.transcription_api_key.get_secret_value()
    if settings.transcription_base_url or speech_key:
        speech_client = build_openai_client(
            speech_key or settings.openai_api_key.get_secret_value(),
            settings.transcription_base_url or settings.openai_base_url,
            settings.request_timeout,
            settings.request_timeout,
        )
        closers.append(speech_client.close)
    speech = SpeechClient(
        speech_client,
        transcription_model=settings.transcription_model,
        speech_model=settings.tts_model,
        speech_voice=settings.tts_voice,
        speech_client=chat_models.sdk(settings.tts_provider),
    )
    images = ImageClient(
        chat_models.sdk(settings.image_provider) or openai_client,
        http,
        model=settings.image_model,
        size=settings.image_size,
    )
    tools = build_tools(settings, http)
    engine = ConversationEngine(
        store,
        chat_models.router,
        tools,
        EngineConfig(
            model=settings.openai_model,
            system_prompt=settings.system_prompt,
            history_token_budget=settings.history_token_budget,
            history_max_messages=settings.history_max_messages,
            max_tool_rounds=settings.max_tool_rounds,
            show_reasoning=settings.show_reasoning == "collapsed",
            capability_memory=settings.capability_memory,
        ),
    )
    pacer = Pacer(
        private_interval=settings.edit_interval_private,
        group_interval=settings.edit_interval_group,
        global_rate=settings.telegram_global_rate,
        group_per_minute=settings.group_messages_per_minute,
    )
    me = app.bot.bot
    app.bot_data[SERVICES_KEY] = Services(
        settings=settings,
        store=store,
        engine=engine,
        llm=chat_models.default,
        models=chat_models.catalog,
        pacer=pacer,
        queue=TurnQueue(),
        speech=speech,
        images=images,
        albums=AlbumCollector(settings.album_wait),
        bot_username=me.username or "",
        bot_id=me.id,
    )
    app.bot_data[CLOSERS_KEY] = closers
    for language, menu in command_menus().items():
        try:
            await app.bot.set_my_commands(menu, language_code=language)
        except TelegramError as exc:
            log.warning("could not register the command menu (%s): %s", language, exc)
    log.info(
        "bot @%s ready: model=%s provider=%s tools=%s db=%s",
        me.username,
        settings.openai_model,
        settings.openai_base_url,
        ",".join(tools.names) or "none",
        settings.database_path,
    )


async def stop_services(app: BotApp) -> None:
    """Close what start_services opened."""
    for close in app.bot_data.pop(CLOSERS_KEY, []):
        try:
            await close()
        except Exception:
            log.warning("error while closing %r", close, exc_info=True)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unexpected errors go to the log with their traceback, never to a chat."""
    chat = (
        update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
    )
    log.error("unhandled error (chat %s)", chat, exc_info=context.error)


class BotRuntime:
    """Starts and stops the application inside a running event loop (tests, benchmarks)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = build_application(settings)

    @property
    def services(self) -> Services:
        """The services created at start-up."""
        services = self.app.bot_data[SERVICES_KEY]
        assert isinstance(services, Services)
        return services

    async def start(self) -> None:
        """Initialise, start the services and begin long polling."""
        await self.app.initialize()
        await start_services(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            poll_interval=0.0,
            timeout=self.settings.polling_timeout,
            allowed_updates=Update.ALL_TYPES,
        )

    async def stop(self) -> None:
        """Stop polling, let running handlers finish, close everything."""
        assert self.app.updater is not None
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await stop_services(self.app)
        await self.app.shutdown()


def run(settings: Settings) -> None:
    """Run until interrupted: long polling, or a webhook server when WEBHOOK_URL is set."""
    app = build_application(settings)
    if settings.webhook_url:
        url = settings.webhook_url.rstrip("/")
        path = "telegram"
        secret = settings.webhook_secret.get_secret_value() or None
        app.run_webhook(
            listen="0.0.0.0",
            port=settings.port,
            url_path=path,
            webhook_url=f"{url}/{path}",
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(
            timeout=settings.polling_timeout,
            allowed_updates=Update.ALL_TYPES,
            bootstrap_retries=-1,
        )
