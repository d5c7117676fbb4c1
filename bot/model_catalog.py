"""The models users may pick: AVAILABLE_MODELS, or with `*` the provider's chat models."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable

from bot.errors import ProviderError

log = logging.getLogger(__name__)

EVERY_MODEL = "*"
# Model ids of /models that are not chat models (embeddings, speech, images, moderation...).
_NOT_CHAT = re.compile(
    r"embed|whisper|tts|dall-e|gpt-image|image|moderation|transcribe|audio|realtime|speech"
    r"|rerank|babbage|davinci|computer-use|sora",
    re.IGNORECASE,
)


def is_chat_model(model_id: str) -> bool:
    """Whether a listed model id looks like a chat model."""
    return not _NOT_CHAT.search(model_id)


class ModelCatalog:
    """AVAILABLE_MODELS as given, or (with `*`) the default provider's chat models, listed
    through `/models` and cached for `ttl` seconds; named providers' models are added as
    `provider:model`."""

    def __init__(
        self,
        configured: tuple[str, ...],
        default: str,
        list_models: Callable[[], Awaitable[list[str]]],
        *,
        extra: tuple[str, ...] = (),
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._configured = configured
        self._default = default
        self._list = list_models
        self._extra = extra
        self._ttl = ttl
        self._clock = clock
        self._cached: tuple[str, ...] | None = None
        self._until = 0.0

    @property
    def lists_provider(self) -> bool:
        """Whether the provider's list is used (AVAILABLE_MODELS contains `*`)."""
        return EVERY_MODEL in self._configured

    async def models(self) -> tuple[str, ...]:
        """The models to offer, the default first."""
        if not self.lists_provider:
            return self._configured
        if self._cached is not None and self._clock() < self._until:
            return self._cached
        try:
            listed = sorted(m for m in await self._list() if is_chat_model(m))
        except ProviderError as exc:
            log.warning("cannot list the provider's models: %s", exc.detail)
            return self._cached or self._fallback()
        named = [m for m in self._configured if m != EVERY_MODEL]
        self._cached = tuple(dict.fromkeys([self._default, *named, *listed, *self._extra]))
        self._until = self._clock() + self._ttl
        return self._cached

    def _fallback(self) -> tuple[str, ...]:
        named = [m for m in self._configured if m != EVERY_MODEL]
        return tuple(dict.fromkeys([self._default, *named, *self._extra]))
