"""Long polling into the inbox: getUpdates -> store -> only then move the offset.

Telegram confirms updates by the `offset` of the next getUpdates call, so each batch is
committed to the inbox before that call: a crash between the two only makes Telegram send
the batch again, and the inbox ignores the duplicates. With several replicas on one
database only the holder of the "polling" lease polls; the others wait to take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from telegram import Bot, Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.request import BaseRequest

from bot.fast_json import dumps
from handlers.intake import TokenRefusedError, describe_error, inbox_key, retry_seconds
from storage import ChatKey, ReceivedUpdate, Store

log = logging.getLogger(__name__)

# Updates stored per transaction; the store wakes the workers after each, so that the first
# conversations of a big batch start while the rest is stored, not all at once after it.
STORE_WAVE = 8
LEASE_NAME = "polling"
T = TypeVar("T")


class PollingTokenError(TokenRefusedError):
    """Telegram refused the bot token while polling (401/404); exit."""


@dataclass(frozen=True)
class PollerConfig:
    """Timings of the polling loop (seconds)."""

    timeout: int = 30  # long-poll timeout sent to Telegram
    read_margin: float = 10.0  # a long poll silent for timeout + margin is given up
    lease: float = 10.0  # the polling lease, renewed every lease / 3 while polling
    retry_lead: float = 2.0  # how often a replica that does not poll asks for the lease
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    limit: int = 100


class Poller:
    """The long-polling loop that fills the inbox (replaces PTB's Updater)."""

    def __init__(
        self,
        store: Store,
        bot: Bot,
        request: BaseRequest,
        wake: Callable[[], None],
        *,
        owner: str,
        config: PollerConfig | None = None,
    ) -> None:
        self._store = store
        self._bot = bot
        self._request = request
        self._wake = wake
        self._owner = owner
        self._config = config or PollerConfig()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._webhook_removed = False
        self.leading = False
        self.offset: int | None = None

    async def start(self) -> asyncio.Task[None]:
        """Open the request and start polling in a task (it raises PollingTokenError)."""
        await self._request.initialize()
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name="telegram-polling")
        return self._task

    async def stop(self) -> None:
        """Stop at once (a pending long poll is abandoned), give up the lease, close."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None and not task.done():
            # A batch being stored is let finish (briefly); a long poll ends at once.
            done, _ = await asyncio.wait({task}, timeout=10)
            if not done:
                task.cancel()
                await asyncio.wait({task})
        if task is not None and not task.cancelled():
            error = task.exception()
            if error is not None and not isinstance(error, TokenRefusedError):
                log.warning("polling ended: %s", describe_error(error, self._bot.token))
        try:
            await self._store.resign_lead(LEASE_NAME, self._owner)
        except Exception as exc:
            log.warning("polling: could not give up the polling lease: %s", describe_error(exc, ""))
        self.leading = False
        await self._request.shutdown()

    async def run(self) -> None:
        """Poll until stopped; PollingTokenError when Telegram refuses the token."""
        failures = 0
        while not self._stopping.is_set():
            step = "the polling lease (database)"
            try:
                if not await self._lead():
                    await self._pause(self._config.retry_lead)
                    continue
                step = "deleteWebhook"
                await self._remove_webhook()
                step = "getUpdates"
                updates = await self._while_leading(self._fetch())
                if updates is None:
                    continue  # stopped, or the lease was lost during the poll
                step = "storing updates in the inbox (database)"
                await self._keep(updates)
                failures = 0
            except InvalidToken:
                log.error("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN")
                raise PollingTokenError("Telegram refused the bot token") from None
            except RetryAfter as exc:
                wait = retry_seconds(exc.retry_after)
                log.warning("polling: %s: flood control, retrying in %.0f s", step, wait)
                await self._pause(wait)
            except Exception as exc:
                failures += 1
                delay = min(
                    self._config.backoff_max, self._config.backoff_initial * 2 ** (failures - 1)
                )
                log.warning(
                    "polling: %s failed (attempt %d): %s; retrying in %.1f s",
                    step,
                    failures,
                    describe_error(exc, self._bot.token),
                    delay,
                )
                await self._pause(delay)

    async def _lead(self) -> bool:
        """Take or renew the polling lease; note a change of leader in the log."""
        leading = await self._store.try_lead(LEASE_NAME, self._owner, self._config.lease)
        if leading != self.leading:
            log.info("polling: %s", "this replica polls" if leading else "another replica polls")
            self.leading = leading
            self.offset = None  # a leader in between moved it; Telegram knows where we are
        return leading

    async def _remove_webhook(self) -> None:
        """Polling and a webhook exclude each other: remove the webhook once, keep its updates."""
        if not self._webhook_removed:
            await self._bot.delete_webhook(drop_pending_updates=False)
            self._webhook_removed = True

    async def _fetch(self) -> list[Any]:
        """One getUpdates call; the raw JSON updates exactly as Telegram sent them."""
        params: dict[str, Any] = {
            "timeout": self._config.timeout,
            "limit": self._config.limit,
            "allowed_updates": json.dumps(Update.ALL_TYPES),
        }
        if self.offset is not None:
            params["offset"] = self.offset
        # Both: a request's socket read timeout may be the larger of the two.
        give_up = self._config.timeout + self._config.read_margin
        result = await self._request.post(
            f"{self._bot.base_url}/getUpdates?{urlencode(params)}",
            read_timeout=give_up,
            write_timeout=give_up,
        )
        if not isinstance(result, list):
            raise TelegramError("getUpdates answered something else than a list")
        return result

    async def _keep(self, updates: list[Any]) -> None:
        """Commit every update of a batch to the inbox, then move the offset past them."""
        highest = None if self.offset is None else self.offset - 1
        received: list[ReceivedUpdate] = []
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                log.warning("polling: skipped an update without an integer update_id")
                continue
            received.append(
                ReceivedUpdate(update_id, ChatKey(*inbox_key(update)), dumps(update).decode())
            )
            highest = update_id if highest is None else max(highest, update_id)
        for start in range(0, len(received), STORE_WAVE):
            await self._store.inbox_put_many(received[start : start + STORE_WAVE])
        if highest is not None:
            self.offset = highest + 1
        if updates:
            self._wake()

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), max(seconds, 0.0))

    async def _hold_lease(self) -> None:
        """Renew the lease while a poll runs; return once it is lost or about to run out."""
        lease = self._config.lease
        expires = time.monotonic() + lease
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not await self._store.try_lead(LEASE_NAME, self._owner, lease):
                    return
                expires = time.monotonic() + lease
            except Exception as exc:
                log.warning(
                    "polling: renewing the polling lease (database) failed: %s",
                    describe_error(exc, ""),
                )
            if expires - time.monotonic() <= lease / 3:
                log.warning("polling: the polling lease runs out; the long poll is abandoned")
                return

    async def _while_leading(self, work: Awaitable[T]) -> T | None:
        """The result of `work`, or None when stopped or the lease is lost first (cancelled).

        Abandoning a poll is safe: its updates were not confirmed, Telegram sends them again.
        """
        task = asyncio.ensure_future(work)
        guards = [
            asyncio.ensure_future(self._stopping.wait()),
            asyncio.ensure_future(self._hold_lease()),
        ]
        try:
            await asyncio.wait({task, *guards}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for guard in guards:
                guard.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        return task.result() if not task.cancelled() else None
