"""The webhook server: Telegram's POSTs -> the inbox, answered 200 only once committed.

Only requests carrying the secret Telegram was given (`X-Telegram-Bot-Api-Secret-Token`)
are accepted; anything else gets 403 and is never stored. `GET /healthz` tells load
balancers whether this replica can reach its database.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, RetryAfter

from bot.settings import Settings
from handlers.intake import (
    TokenRefusedError,
    derive_webhook_secret,
    describe_error,
    inbox_key,
    retry_seconds,
)
from storage import Store

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
MAX_BODY = 1024 * 1024
HEALTH_TIMEOUT = 5.0

HealthCheck = Callable[[], Awaitable[object]]


def webhook_path(url: str) -> str:
    """The path the server listens at: WEBHOOK_URL's own path, `/` when it has none."""
    return urlsplit(url).path or "/"


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, or when empty the secret derived from the bot token."""
    configured = settings.webhook_secret.get_secret_value()
    return configured or derive_webhook_secret(settings.telegram_bot_token.get_secret_value())


def _parse_update(body: bytes) -> tuple[int, str, dict[str, Any]] | None:
    """(update_id, body text, update) of a JSON object with an integer update_id, else None."""
    try:
        text = body.decode("utf-8")
        update: Any = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(update, dict):
        return None
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    if not -(2**63) <= update_id < 2**63:
        return None
    return update_id, text, update


class WebhookServer:
    """An aiohttp server for Telegram's webhook calls and `GET /healthz`."""

    def __init__(
        self,
        store: Store,
        wake: Callable[[], None],
        health: HealthCheck,
        *,
        secret: str,
        path: str = "/",
        host: str = "0.0.0.0",
        port: int = 8080,
        max_body: int = MAX_BODY,
    ) -> None:
        self._store = store
        self._wake = wake
        self._health = health
        self._secret = secret.encode()
        self.secret = secret
        self.path = path
        self._host = host
        self._port = port
        self._max_body = max_body
        self._runner: web.AppRunner | None = None
        self._refused = 0
        self._refused_logged_at = -60.0
        self.port = port

    @classmethod
    def from_settings(
        cls, settings: Settings, store: Store, wake: Callable[[], None], health: HealthCheck
    ) -> WebhookServer:
        """A server at WEBHOOK_URL's path on PORT with the configured (or derived) secret."""
        return cls(
            store,
            wake,
            health,
            secret=webhook_secret(settings),
            path=webhook_path(settings.webhook_url),
            port=settings.port,
        )

    async def start(self) -> None:
        """Listen (port 0 picks a free one, then `self.port` tells which)."""
        app = web.Application(client_max_size=self._max_body)
        app.router.add_post(self.path, self._receive)
        if self.path != HEALTH_PATH:
            app.router.add_get(HEALTH_PATH, self._healthz)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        address = self._runner.addresses[0]
        self.port = int(address[1])
        log.info("webhook server listening on port %d at %s", self.port, self.path)

    async def stop(self) -> None:
        """Stop accepting requests (Telegram retries what it could not deliver)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def register(self, bot: Bot, settings: Settings, *, backoff_initial: float = 1.0) -> None:
        """Tell Telegram to post to WEBHOOK_URL (exactly) with this server's secret.

        Network failures are retried with backoff (capped at 30 s), one log line each; a
        refused token raises TokenRefusedError, a refused URL BadRequest (both final).
        """
        attempt = 0
        while True:
            try:
                await bot.set_webhook(
                    url=settings.webhook_url,
                    secret_token=self.secret,
                    allowed_updates=Update.ALL_TYPES,
                    max_connections=settings.max_webhook_connections,
                    drop_pending_updates=False,
                )
                break
            except InvalidToken:
                log.error("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN")
                raise TokenRefusedError("Telegram refused the bot token") from None
            except (NetworkError, RetryAfter) as exc:
                attempt += 1
                delay = min(30.0, backoff_initial * 2 ** (attempt - 1))
                if isinstance(exc, RetryAfter):
                    delay = max(delay, retry_seconds(exc.retry_after))
                log.warning(
                    "setWebhook failed (attempt %d): %s; retrying in %.1f s",
                    attempt,
                    describe_error(exc, bot.token),
                    delay,
                )
                await asyncio.sleep(delay)
        log.info("webhook registered (max %d connections)", settings.max_webhook_connections)

    def _note_refused(self) -> None:
        """Log refused requests at most once a minute (a flood of forgeries floods no log)."""
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged_at >= 60:
            log.warning(
                "webhook: refused %d request(s) without the right secret token", self._refused
            )
            self._refused, self._refused_logged_at = 0, now

    def _authentic(self, request: web.Request) -> bool:
        """True when the request carries the secret (compared in constant time)."""
        given = request.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(given.encode("utf-8", "replace"), self._secret)

    async def _receive(self, request: web.Request) -> web.Response:
        """One update: 403 without the secret, 413 too big, 400 not an update, else stored."""
        if not self._authentic(request):
            self._note_refused()
            return web.Response(status=403, text="forbidden")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="too large")
        parsed = _parse_update(body)
        if parsed is None:
            return web.Response(status=400, text="not an update")
        update_id, text, update = parsed
        chat_id, thread_id = inbox_key(update)
        try:
            await self._store.inbox_put(update_id, chat_id, thread_id, text)
        except Exception as exc:
            log.warning("webhook: could not store update %d: %s", update_id, type(exc).__name__)
            return web.Response(status=500, text="not stored")
        self._wake()
        return web.Response(status=200)

    async def _healthz(self, request: web.Request) -> web.Response:
        """200 when the health check (the database) answers in time and not False, else 503."""
        try:
            healthy = await asyncio.wait_for(self._health(), HEALTH_TIMEOUT) is not False
        except Exception as exc:
            log.warning("health check failed: %s", type(exc).__name__)
            healthy = False
        if not healthy:
            return web.Response(status=503, text="unavailable")
        return web.Response(status=200, text="ok")
