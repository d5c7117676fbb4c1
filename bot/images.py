"""Pictures on request: /images/generations, answered as b64_json or as a URL."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

import httpx
import openai

from bot.errors import InputError
from bot.provider_errors import map_status_error

MAX_IMAGE_BYTES = 10 * 1024 * 1024


class ImageClient:
    """Generates images through an OpenAI-compatible provider."""

    def __init__(
        self, client: openai.AsyncOpenAI, http: httpx.AsyncClient, *, model: str, size: str
    ) -> None:
        self._client = client
        self._http = http
        self._model = model
        self._size = size

    async def generate(self, prompt: str) -> bytes:
        """The image bytes for `prompt`."""
        try:
            result = await self._client.images.generate(
                model=self._model,
                prompt=prompt,
                n=1,
                size=self._size,
            )
        except openai.APIStatusError as exc:
            if exc.status_code in (404, 405, 501):
                raise InputError("error_image_unsupported", str(exc.message)) from exc
            if exc.status_code == 400:
                raise InputError("error_image_rejected", str(exc.message)) from exc
            raise map_status_error(exc) from exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise InputError("error_image_failed", str(exc)) from exc
        if not result.data:
            raise InputError("error_image_failed", "no image in the answer")
        item = result.data[0]
        if item.b64_json:
            try:
                return base64.b64decode(item.b64_json)
            except (binascii.Error, ValueError) as exc:
                raise InputError("error_image_failed", "bad base64") from exc
        if item.url:
            return await self._download(item.url)
        raise InputError("error_image_failed", "neither b64_json nor url")

    async def _download(self, url: str) -> bytes:
        """The image at `url` (http or https only), read no further than MAX_IMAGE_BYTES."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise InputError("error_image_failed", "the image URL is not http(s)")
        received = bytearray()
        try:
            async with self._http.stream("GET", url) as response:
                response.raise_for_status()
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
                    raise InputError("error_image_failed", "image too large")
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > MAX_IMAGE_BYTES:
                        raise InputError("error_image_failed", "image too large")
        except httpx.HTTPError as exc:
            raise InputError(
                "error_image_failed", f"download failed: {type(exc).__name__}"
            ) from exc
        return bytes(received)
