"""The intake the settings ask for: a webhook server when WEBHOOK_URL is set, else polling."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

from telegram import Bot
from telegram.request import BaseRequest

from bot.settings import Settings
from handlers.intake_poll import Poller, PollerConfig
from handlers.intake_webhook import HealthCheck, WebhookServer
from storage import Store


def replica_name() -> str:
    """A name for this process, unique among live ones: host name and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Intake:
    """Starts and stops the webhook server or the long-polling loop, as configured."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        bot: Bot,
        updates_request: BaseRequest,
        wake: Callable[[], None],
        health: HealthCheck,
        *,
        owner: str | None = None,
        poller_config: PollerConfig | None = None,
    ) -> None:
        self._settings = settings
        self._bot = bot
        self.webhook: WebhookServer | None = None
        self.poller: Poller | None = None
        if settings.webhook_url:
            self.webhook = WebhookServer.from_settings(settings, store, wake, health)
        else:
            config = poller_config or PollerConfig(timeout=settings.polling_timeout)
            self.poller = Poller(
                store, bot, updates_request, wake, owner=owner or replica_name(), config=config
            )
        self.polling: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Webhook: listen, then register with Telegram. Polling: start the loop.

        Raises TokenRefusedError (webhook) at once on a wrong token; in polling mode the
        `polling` task ends with PollingTokenError instead: watch it.
        """
        if self.webhook is not None:
            await self.webhook.start()
            await self.webhook.register(self._bot, self._settings)
        elif self.poller is not None:
            self.polling = await self.poller.start()

    async def stop(self) -> None:
        """Stop taking updates at once (the webhook stays registered for the other replicas)."""
        if self.webhook is not None:
            await self.webhook.stop()
        if self.poller is not None:
            await self.poller.stop()
