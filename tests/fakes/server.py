"""What every small fake server shares: an aiohttp app on a free port of 127.0.0.1."""

from __future__ import annotations

from typing import Any, Self

from aiohttp import web


class LocalServer:
    """Subclasses add their routes in `routes()`; `start()` listens, `stop()` cleans up."""

    port: int = 0
    client_max_size: int = 1024**2
    shutdown_timeout: float = 60.0
    _runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        """Add the fake's routes to `app`."""

    def make_app(self) -> web.Application:
        """The aiohttp application (subclasses may add middlewares or a larger body limit)."""
        return web.Application(client_max_size=self.client_max_size)

    async def start(self) -> Self:
        """Listen on a free port of 127.0.0.1."""
        app = self.make_app()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
