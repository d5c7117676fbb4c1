"""The Bot API HTTP client: python-telegram-bot's request interface over aiohttp.

PTB's default client (httpx/httpcore) re-scans every queued request against
every pooled connection, with a socket syscall per connection, each time a
request finishes. With hundreds of chats at once (a typing action each) that
scan took half of the bot's CPU. aiohttp's connector hands out connections in
constant time.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.fast_json import dumps

_JSON_BODY = {"Content-Type": "application/json"}


def _json_body(request_data: RequestData) -> bytes:
    """The parameters as a JSON body (as PTB's `json_payload` writes them, by orjson)."""
    return dumps(request_data.json_parameters)


def _seconds(value: ODVInput[float], default: float | None) -> float | None:
    if isinstance(value, DefaultValue):
        return default
    return value


class AiohttpRequest(BaseRequest):
    """Sends Bot API requests with one aiohttp session (created in `initialize`)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        read_timeout: float | None = 30.0,
        write_timeout: float | None = 30.0,
        connect_timeout: float | None = 10.0,
        pool_timeout: float | None = 60.0,
        media_write_timeout: float | None = 60.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-polling timeout to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; the URL (which holds the token) never appears in errors."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        write_default = self._media_write_timeout if files else self._write_timeout
        read = _seconds(read_timeout, self._read_timeout)
        write = _seconds(write_timeout, write_default)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=_seconds(pool_timeout, self._pool_timeout),
            sock_connect=_seconds(connect_timeout, self._connect_timeout),
            sock_read=max(x for x in (read, write, 1.0) if x is not None),
        )
        data: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime_type) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime_type)
                data = form
            else:
                # The Bot API reads a JSON body's string values as it reads form fields;
                # encoding it is C code, where urlencode quoted every byte in Python.
                data = _json_body(request_data)
                headers = _JSON_BODY
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut("Timed out talking to the Bot API") from exc
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}") from exc

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        """The Bot API's answer, parsed by orjson (PTB's own parser on what orjson refuses:
        NaN, lone surrogates); integers past 64 bits would become floats, ids have 52."""
        try:
            parsed: JSONDict = orjson.loads(payload)
        except ValueError:
            return BaseRequest.parse_json_payload(payload)
        return parsed
