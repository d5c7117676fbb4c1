"""Several providers, addressed as `provider:model`, with fallback models.

PROVIDERS_FILE (TOML) names extra providers besides the default one (OPENAI_*)::

    [[providers]]
    name = "deepseek"
    base_url = "https://api.deepseek.com/v1"
    # chat_url = "https://bizgpt.vn/wp-json/bizcity/v1/llm/chat"   (a non-standard path)
    api_key_env = "DEEPSEEK_API_KEY"
    models = ["deepseek-chat", "deepseek-reasoner"]
    supports = { vision = false, tools = true, token_param = "max_tokens" }

`ModelRouter` implements the same `ChatModel` protocol as one `LLMClient`: it sends each
request to the provider its address names and, when that fails before any text was
shown, tries FALLBACK_MODELS in order; the closing StreamEnd then names the model that
answered.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import openai

from bot.capabilities import CapabilityMemory
from bot.chunks import LLMEvent, ReadPause, ReasoningDelta, StreamEnd, TextDelta
from bot.errors import (
    BadRequestError,
    ContextTooLongError,
    ProviderError,
    ToolsUnsupportedError,
    VisionUnsupportedError,
)
from bot.llm import ChatModel, LLMClient, ModelOptions, build_openai_client
from bot.model_catalog import ModelCatalog
from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT = ""  # the provider configured by OPENAI_BASE_URL / OPENAI_API_KEY
# Failures the engine handles itself (shrinking, dropping tools or images) or that another
# model would meet just the same; every other failure before any text is worth a fallback.
_NO_FALLBACK = (ContextTooLongError, ToolsUnsupportedError, VisionUnsupportedError, BadRequestError)


class ProvidersFileError(ValueError):
    """PROVIDERS_FILE cannot be read or names something wrong."""


@dataclass(frozen=True)
class Supports:
    """What a provider offers (declared by the operator)."""

    vision: bool = True
    tools: bool = True
    audio: bool = True
    images: bool = True
    token_param: str = "auto"


@dataclass(frozen=True)
class ProviderSpec:
    """One named provider of PROVIDERS_FILE."""

    name: str
    base_url: str
    api_key_env: str
    chat_url: str = ""
    models: tuple[str, ...] = ()
    supports: Supports = field(default_factory=Supports)


def _spec(entry: Any) -> ProviderSpec:
    if not isinstance(entry, dict):
        raise ProvidersFileError("each [[providers]] entry must be a table")
    name = str(entry.get("name") or "").strip()
    if not name or ":" in name:
        raise ProvidersFileError(f"provider name {name!r} must be set and have no ':'")
    base_url = str(entry.get("base_url") or "").strip().rstrip("/")
    key_env = str(entry.get("api_key_env") or "").strip()
    if not base_url or not key_env:
        raise ProvidersFileError(f"provider {name!r} needs base_url and api_key_env")
    supports = entry.get("supports") or {}
    if not isinstance(supports, dict):
        raise ProvidersFileError(f"supports of {name!r} must be a table")
    known = {k: v for k, v in supports.items() if k in Supports.__dataclass_fields__}
    return ProviderSpec(
        name=name,
        base_url=base_url,
        api_key_env=key_env,
        chat_url=str(entry.get("chat_url") or "").strip(),
        models=tuple(str(m) for m in entry.get("models") or ()),
        supports=Supports(**known),
    )


def load_providers(path: str) -> list[ProviderSpec]:
    """The providers named in a PROVIDERS_FILE (empty path: none)."""
    if not path:
        return []
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProvidersFileError(f"cannot read PROVIDERS_FILE {path}: {exc}") from exc
    specs = [_spec(entry) for entry in data.get("providers") or ()]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ProvidersFileError("provider names in PROVIDERS_FILE must be unique")
    return specs


def has_images(messages: list[dict[str, Any]]) -> bool:
    """Whether any message carries an image part."""
    return any(
        isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
        for m in messages
    )


class ModelRouter:
    """A ChatModel over several providers: `provider:model` addresses, fallback models."""

    def __init__(
        self,
        clients: Mapping[str, ChatModel],
        *,
        fallbacks: tuple[str, ...] = (),
        supports: Mapping[str, Supports] | None = None,
    ) -> None:
        self._clients = dict(clients)
        self._fallbacks = fallbacks
        self._supports = dict(supports or {})

    def resolve(self, address: str) -> tuple[str, str]:
        """(provider, model id) of an address; a prefix that names no provider is part of
        the model id (`deepseek/deepseek-chat-v3-0324:free` stays whole)."""
        prefix, sep, rest = address.partition(":")
        if sep and prefix in self._clients and prefix != DEFAULT:
            return prefix, rest
        return DEFAULT, address

    def candidates(self, address: str) -> list[str]:
        """The chosen model, then the fallback models (each once)."""
        return list(dict.fromkeys([address, *self._fallbacks]))

    async def stream(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        pause: ReadPause | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream from the chosen model; on a failure before any text, from the next one."""
        chain = self.candidates(model)
        for position, address in enumerate(chain):
            shown = False
            try:
                async for event in self._stream_one(address, messages, tools, tool_choice, pause):
                    if isinstance(event, (TextDelta, ReasoningDelta)):
                        shown = True
                    if isinstance(event, StreamEnd):
                        event = replace(event, model=address)
                    yield event
                return
            except ProviderError as exc:
                last = position == len(chain) - 1
                if shown or last or isinstance(exc, _NO_FALLBACK):
                    raise
                log.error(
                    "MODEL %s FAILED before any text (%s: %s); falling back to %s",
                    address,
                    type(exc).__name__,
                    exc.detail,
                    chain[position + 1],
                )

    def _stream_one(
        self,
        address: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        tool_choice: str | None,
        pause: ReadPause | None,
    ) -> AsyncIterator[LLMEvent]:
        """The provider's own stream, not re-yielded: one layer less for every chunk."""
        provider, model_id = self.resolve(address)
        supports = self._supports.get(provider, Supports())
        if not supports.vision and has_images(messages):
            raise VisionUnsupportedError(f"provider {provider!r} takes no images")
        if not supports.tools:
            tools, tool_choice = None, None
        client = self._clients[provider]
        return client.stream(
            model=model_id, messages=messages, tools=tools, tool_choice=tool_choice, pause=pause
        )


Closer = Callable[[], Awaitable[None]]


def build_router(
    default: LLMClient,
    specs: list[ProviderSpec],
    fallbacks: tuple[str, ...],
    *,
    options: ModelOptions,
    timeout: float,
    stall_timeout: float,
    max_retries: int,
    max_retry_wait: float,
    memory: CapabilityMemory,
    environ: Mapping[str, str] = os.environ,
) -> tuple[ModelRouter, dict[str, openai.AsyncOpenAI]]:
    """The router over the default client and one client per named provider."""
    clients: dict[str, ChatModel] = {DEFAULT: default}
    supports: dict[str, Supports] = {}
    sdks: dict[str, openai.AsyncOpenAI] = {}
    for spec in specs:
        key = environ.get(spec.api_key_env, "").strip()
        if not key:
            raise ProvidersFileError(f"{spec.api_key_env} (the key of {spec.name!r}) is not set")
        sdk = build_openai_client(key, spec.base_url, timeout, stall_timeout, spec.chat_url)
        sdks[spec.name] = sdk
        clients[spec.name] = LLMClient(
            sdk,
            options=replace(options, max_tokens_param=spec.supports.token_param),
            stall_timeout=stall_timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            name=spec.name,
            memory=memory,
        )
        supports[spec.name] = spec.supports
    router = ModelRouter(clients, fallbacks=fallbacks, supports=supports)
    for address in fallbacks:
        provider, _ = router.resolve(address)
        log.info("fallback model %s (provider %s)", address, provider or "default")
    return router, sdks


@dataclass
class ChatModels:
    """What start-up builds for chatting: the default client, the router the engine
    streams from, the catalog /model offers, and what to close at shutdown."""

    default: LLMClient
    router: ModelRouter
    catalog: ModelCatalog
    sdks: dict[str, openai.AsyncOpenAI]

    @property
    def closers(self) -> list[Closer]:
        """What to close at shutdown (the named providers' SDK clients)."""
        return [sdk.close for sdk in self.sdks.values()]

    def sdk(self, provider: str) -> openai.AsyncOpenAI | None:
        """The SDK client of a named provider (for audio or images); None for the default."""
        if not provider:
            return None
        if provider not in self.sdks:
            raise ProvidersFileError(f"{provider!r} is not a provider of PROVIDERS_FILE")
        return self.sdks[provider]


def build_chat_models(settings: Settings, default_sdk: openai.AsyncOpenAI) -> ChatModels:
    """From the settings: default provider, PROVIDERS_FILE, FALLBACK_MODELS, AVAILABLE_MODELS."""
    options = ModelOptions(
        max_output_tokens=settings.max_output_tokens,
        max_tokens_param=settings.max_tokens_param,
        temperature=settings.temperature,
        reasoning_effort=settings.reasoning_effort or None,
    )
    memory = CapabilityMemory(settings.capability_memory)
    default = LLMClient(
        default_sdk,
        options=options,
        stall_timeout=settings.stream_stall_timeout,
        max_retries=settings.provider_max_retries,
        max_retry_wait=settings.max_retry_wait,
        memory=memory,
    )
    specs = load_providers(settings.providers_file)
    router, sdks = build_router(
        default,
        specs,
        settings.fallback_models,
        options=options,
        timeout=settings.request_timeout,
        stall_timeout=settings.stream_stall_timeout,
        max_retries=settings.provider_max_retries,
        max_retry_wait=settings.max_retry_wait,
        memory=memory,
    )
    catalog = ModelCatalog(
        settings.available_models,
        settings.openai_model,
        default.list_models,
        extra=tuple(f"{spec.name}:{model}" for spec in specs for model in spec.models),
    )
    return ChatModels(default, router, catalog, sdks)


def provider_secrets(path: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The keys of the named providers, for redacting logs (none when the file is bad)."""
    try:
        specs = load_providers(path)
    except ProvidersFileError:
        return []
    keys = (environ.get(spec.api_key_env, "").strip() for spec in specs)
    return [key for key in keys if len(key) >= 6]
