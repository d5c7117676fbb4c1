"""The composition root: settings -> clients -> store -> engine -> handlers -> Application."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable

import httpx
from openai import AsyncOpenAI
from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import ApplicationBuilder, ContextTypes

from bot.chat_settings import ChatSettings
from bot.conversation import ConversationEngine, EngineConfig
from bot.images import ImageClient
from bot.llm import ChatModel, build_openai_client
from bot.media_retention import MediaPruner
from bot.ordering import TurnQueue
from bot.personas import load_personas
from bot.prices import load_prices
from bot.providers import ChatModels, build_chat_models
from bot.rate_limit import SlidingWindow
from bot.sandbox import Sandbox
from bot.settings import Settings
from bot.speech import SpeechClient
from bot.tools import build_tools
from bot.tools.registry import ToolRegistry
from handlers import register
from handlers.albums import AlbumCollector
from handlers.callback_data import CallbackSigner
from handlers.commands import command_menus
from handlers.context import BotApp, BotContext, BotData, Services
from handlers.dispatch import DispatchConfig, Dispatcher
from handlers.flood import FloodGate
from handlers.intake import TokenRefusedError
from handlers.intake_mode import Intake
from handlers.intake_poll import PollerConfig, PollingTokenError
from handlers.notices import tell_about_error
from handlers.pacer import TICK, Pacer
from handlers.telegram_request import AiohttpRequest
from storage import Store, open_store

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]


def build_application(settings: Settings) -> BotApp:
    """The python-telegram-bot Application, wired but not started."""
    root = settings.telegram_api_url
    request = AiohttpRequest(connection_pool_size=64)
    app: BotApp = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(request)
        .updater(None)  # updates come through the inbox (handlers/intake*.py, dispatch.py)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .concurrent_updates(settings.max_concurrent_updates)
        .post_init(start_services)
        .post_shutdown(stop_services)
        .build()
    )
    app.bot_data.settings = settings
    register(app)
    app.add_error_handler(on_error)
    return app


def _chat_models(settings: Settings, closers: list[Closer]) -> tuple[AsyncOpenAI, ChatModels]:
    """The default provider's SDK client, and the models the bot chats with (router, catalog)."""
    openai_client = build_openai_client(
        settings.openai_api_key.get_secret_value(),
        settings.openai_base_url,
        settings.request_timeout,
        settings.stream_stall_timeout,
        chat_url=settings.openai_chat_url,
    )
    closers.append(openai_client.close)
    chat_models = build_chat_models(settings, openai_client)
    closers.extend(chat_models.closers)
    return openai_client, chat_models


def _speech(
    settings: Settings, chat_client: AsyncOpenAI, models: ChatModels, closers: list[Closer]
) -> SpeechClient:
    """Transcription and text-to-speech, on the chat provider unless configured apart."""
    speech_client = models.sdk(settings.transcription_provider) or chat_client
    speech_key = settings.transcription_api_key.get_secret_value()
    if settings.transcription_base_url or speech_key:
        speech_client = build_openai_client(
            settings.transcription_key,
            settings.transcription_base_url or settings.openai_base_url,
            settings.request_timeout,
            settings.request_timeout,
        )
        closers.append(speech_client.close)
    return SpeechClient(
        speech_client,
        transcription_model=settings.transcription_model,
        speech_model=settings.tts_model,
        speech_voice=settings.tts_voice,
        speech_client=models.sdk(settings.tts_provider),
    )


def _engine(
    settings: Settings, store: Store, llm: ChatModel, tools: ToolRegistry
) -> ConversationEngine:
    """The turn engine with its settings."""
    config = EngineConfig(
        model=settings.openai_model,
        system_prompt=settings.system_prompt,
        history_token_budget=settings.history_token_budget,
        history_max_messages=settings.history_max_messages,
        max_tool_rounds=settings.max_tool_rounds,
        show_reasoning=settings.show_reasoning == "collapsed",
        capability_memory=settings.capability_memory,
    )
    return ConversationEngine(store, llm, tools, config)


def _pacer(settings: Settings, store: Store) -> Pacer:
    """The flood-limit pacing shared by every reply (and, on PostgreSQL, every replica)."""

    async def shared(bucket: str, window: float, limit: int) -> float:
        try:
            return await store.take_rate_tokens(bucket, None, window, limit)
        except Exception:
            log.warning("shared Telegram budget unreachable; pacing this replica alone")
            return 0.0

    replicas = settings.database_url.startswith(("postgresql://", "postgres://"))
    return Pacer(
        shared=shared if replicas else None,
        private_interval=settings.edit_interval_private,
        group_interval=settings.edit_interval_group,
        global_rate=settings.telegram_global_rate,
        group_per_minute=settings.group_messages_per_minute,
        tick=TICK,
    )


async def _announce_commands(app: BotApp) -> None:
    """The command menu in every language (a failure is logged, not fatal)."""
    for language, menu in command_menus().items():
        try:
            await app.bot.set_my_commands(menu, language_code=language)
        except TelegramError as exc:
            log.warning("could not register the command menu (%s): %s", language, exc)


async def start_services(app: BotApp) -> None:
    """Create the clients, open the store, and announce the commands (runs once at start-up)."""
    settings = app.bot_data.settings
    if settings is None:
        raise RuntimeError("the application was not built by build_application")
    personas = load_personas(settings.personas_file)  # a broken file stops the start, clearly
    prices = load_prices(settings.model_prices_file)
    closers: list[Closer] = []
    app.bot_data.closers = closers
    store = await open_store(settings.database_url)
    closers.append(store.close)
    closers.insert(0, MediaPruner.start(store, settings.media_retention_days).close)
    openai_client, chat_models = _chat_models(settings, closers)
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.tool_timeout), follow_redirects=True)
    closers.append(http.aclose)
    tools = build_tools(settings, http)
    me = app.bot.bot
    app.bot_data.services = Services(
        settings=settings,
        store=store,
        chat_settings=ChatSettings(store, settings.openai_model),
        engine=_engine(settings, store, chat_models.router, tools),
        llm=chat_models.default,
        models=chat_models.catalog,
        pacer=_pacer(settings, store),
        queue=TurnQueue(),
        flood=FloodGate(settings.flood_max_messages, settings.flood_max_chars),
        user_rate=SlidingWindow(settings.user_messages_per_minute),
        signer=CallbackSigner(settings.telegram_bot_token.get_secret_value()),
        sandbox=Sandbox(settings.sandbox_jobs),
        speech=_speech(settings, openai_client, chat_models, closers),
        images=ImageClient(
            chat_models.sdk(settings.image_provider) or openai_client,
            http,
            model=settings.image_model,
            size=settings.image_size,
        ),
        albums=AlbumCollector(settings.album_wait),
        bot_username=me.username or "",
        bot_id=me.id,
        personas=personas,
        prices=prices,
    )
    # A Stop pressed on another replica reaches the one running the answer.
    await store.listen_stops(app.bot_data.services.running.stop)
    await _announce_commands(app)
    log.info(
        "bot @%s ready: model=%s provider=%s tools=%s db=%s",
        me.username,
        settings.openai_model,
        settings.openai_base_url,
        ",".join(tools.names) or "none",
        settings.database_label,
    )


async def stop_services(app: BotApp) -> None:
    """Close what start_services opened."""
    closers, app.bot_data.closers = app.bot_data.closers, []
    for close in closers:
        try:
            await close()
        except Exception:
            log.warning("error while closing %r", close, exc_info=True)


async def on_error(update: object, context: BotContext) -> None:
    """Unexpected errors go to the log with their traceback; the chat gets a short word."""
    chat = (
        update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
    )
    log.error("unhandled error (chat %s)", chat, exc_info=context.error)
    if isinstance(update, Update) and context.bot_data.services is not None:
        await tell_about_error(context.bot_data.services, update)


class BotRuntime:
    """Starts and stops the bot inside a running event loop: the Application, the
    dispatcher that feeds it from the inbox, and the intake that fills the inbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = build_application(settings)
        self.dispatcher: Dispatcher | None = None
        self.intake: Intake | None = None

    @property
    def services(self) -> Services:
        """The services created at start-up."""
        services = self.app.bot_data.services
        if services is None:
            raise RuntimeError("the bot is not started")
        return services

    async def start(self) -> None:
        """Initialise, start the services, the dispatcher and the intake."""
        settings = self.settings
        await self.app.initialize()
        await start_services(self.app)
        await self.app.start()
        store = self.services.store
        config = DispatchConfig(
            owner=settings.replica_id,
            lease_seconds=settings.inbox_lease,
            max_conversations=settings.max_concurrent_updates,
        )
        self.dispatcher = Dispatcher(self.app, store, config)
        await self.dispatcher.start()

        async def healthy() -> bool:
            await store.schema_version()
            return True

        self.intake = Intake(
            settings,
            store,
            self.app.bot,
            AiohttpRequest(connection_pool_size=2, read_timeout=settings.polling_timeout + 10),
            self.dispatcher.wake,
            healthy,
            owner=settings.replica_id,
            poller_config=PollerConfig(timeout=settings.polling_timeout),
        )
        await self.intake.start()

    async def stop(self, grace: float | None = None) -> None:
        """Stop intake at once, let running turns finish for `grace` seconds, close all.

        Every stage is bounded: a stop that hangs would keep the process past the
        platform's kill (what was not finished is in the inbox for the next start)."""
        if self.intake is not None:
            await _bounded(self.intake.stop(), 12.0, "the intake")
            self.intake = None
        if self.dispatcher is not None:
            wait = self.settings.shutdown_grace if grace is None else grace
            await _bounded(self.dispatcher.stop(wait), wait + 3.0, "the dispatcher")
            self.dispatcher = None
        if self.app.running:
            await _bounded(self.app.stop(), 5.0, "the application")
        await _bounded(stop_services(self.app), 5.0, "the services")
        await _bounded(self.app.shutdown(), 5.0, "the application's shutdown")
        # A start that never reached Telegram leaves the bot uninitialised, and its
        # shutdown then skips the request sessions: close them here.
        for request in getattr(self.app.bot, "_request", ()):
            with contextlib.suppress(Exception):
                await request.shutdown()


async def _bounded(work: Awaitable[None], seconds: float, what: str) -> None:
    """Await `work` for at most `seconds`; past that, say so and go on stopping."""
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        log.warning("stopping: %s did not stop within %.0f s; going on", what, seconds)


async def _start_when_reachable(runtime: BotRuntime) -> None:
    """Start; while Telegram cannot be reached, say so once per attempt and try again."""
    wait = 1.0
    while True:
        try:
            await runtime.start()
            return
        except NetworkError as exc:  # TimedOut included; the same sessions are reused
            log.error("cannot reach Telegram (%s); trying again in %.0f s", exc, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 30.0)


async def _until_started_or_stopped(runtime: BotRuntime, stopping: asyncio.Event) -> bool:
    """Start (retrying) unless a signal comes first; whether the bot is running."""
    starting = asyncio.create_task(_start_when_reachable(runtime))
    stopped = asyncio.create_task(stopping.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return False
    starting.result()  # a refused token raises here
    return True


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; the exit code."""
    runtime = BotRuntime(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        if not await _until_started_or_stopped(runtime, stopping):
            await runtime.stop(grace=0)
            return 0
    except (InvalidToken, TokenRefusedError):
        log.error("Telegram refused TELEGRAM_BOT_TOKEN: get a valid token from @BotFather")
        await runtime.stop(grace=0)
        return 1
    code = 0
    polling = runtime.intake.polling if runtime.intake is not None else None
    if polling is not None:
        polling.add_done_callback(lambda _: stopping.set())
    settle_memory()
    log.info(
        "running: %s (%s event loop)",
        "webhook" if settings.webhook_url else "long polling",
        type(loop).__module__.split(".")[0],
    )
    await stopping.wait()
    ended = polling is not None and polling.done() and not polling.cancelled()
    if ended and polling is not None and isinstance(polling.exception(), PollingTokenError):
        log.error("Telegram refused TELEGRAM_BOT_TOKEN: get a valid token from @BotFather")
        code = 1
    log.info("stopping: no new updates; running answers get %.0f s", settings.shutdown_grace)
    await runtime.stop()
    return code


def settle_memory() -> None:
    """Once started: what start-up built (modules, clients, settings: most of the process's
    objects) leaves the garbage collector's sight, so the collections made while serving
    walk only what serving creates."""
    gc.collect()
    gc.freeze()


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop EVENT_LOOP asks for (None: asyncio's own); `auto` takes uvloop if
    installed."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SystemExit("EVENT_LOOP=uvloop, but uvloop is not installed") from None
        return None
    return uvloop.new_event_loop


def run(settings: Settings) -> int:
    """Run until interrupted: long polling, or a webhook server when WEBHOOK_URL is set."""
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
        return runner.run(serve(settings))
