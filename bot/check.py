"""`python -m bot check`: the settings, the Telegram token, the provider and the database."""

from __future__ import annotations

import asyncio
import os
import sys

import openai
from pydantic import ValidationError
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.errors import (
    ConnectionFailedError,
    ModelNotFoundError,
    ProviderAuthError,
    ProviderError,
    ProviderPermissionError,
    QuotaExceededError,
)
from bot.llm import LLMClient, ModelOptions, build_openai_client
from bot.providers import ProvidersFileError, load_providers
from bot.settings import Settings
from storage import open_store

OK = "OK  "
BAD = "FAIL"
WARN = "WARN"

_HINTS = {
    "telegram_bot_token": "get a token from @BotFather and put it in .env as TELEGRAM_BOT_TOKEN",
    "openai_api_key": "put your provider's key in .env as OPENAI_API_KEY",
}


def explain_settings_error(error: ValidationError) -> list[str]:
    """One plain line per invalid or missing setting."""
    lines = []
    for item in error.errors():
        if not item["loc"]:  # a rule about several settings says which ones itself
            lines.append(str(item["msg"]).removeprefix("Value error, ") + ".")
            continue
        name = str(item["loc"][0]) if item["loc"] else "?"
        env = name.upper()
        if item["type"] == "missing":
            hint = _HINTS.get(name, "set it in .env (see .env.example)")
            lines.append(f"{env} is missing: {hint}.")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            lines.append(f"{env} {message}.")
    return lines


async def check_telegram(settings: Settings) -> tuple[bool, str]:
    """getMe with the configured token and API root."""
    root = settings.telegram_api_url
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
    )
    try:
        async with bot:
            me = await bot.get_me()
    except InvalidToken:
        return False, "Telegram rejected the token: copy it again from @BotFather (/mybots)."
    except NetworkError as exc:
        return False, f"cannot reach the Bot API at {root}: {exc.message}. Check TELEGRAM_API_URL."
    except TelegramError as exc:
        return False, f"Telegram answered an error: {exc.message}"
    return True, f"Telegram token works: the bot is @{me.username} (id {me.id})."


_ENDPOINTS = (
    ("/audio/transcriptions", "voice messages (TRANSCRIPTION_BASE_URL can name another provider)"),
    ("/audio/speech", "spoken answers (/voice)"),
    ("/images/generations", "pictures (/image)"),
)


async def probe_endpoints(client: openai.AsyncOpenAI, base_url: str) -> list[tuple[str, str]]:
    """Which of the other endpoints exist: an empty request costs nothing and answers
    400 where the endpoint exists and 404 where the provider has none."""
    missing: list[str] = []
    for path, used_for in _ENDPOINTS:
        try:
            await client.post(path, body={}, cast_to=object)
        except openai.NotFoundError:
            missing.append(f"{base_url}{path} is missing: {used_for} will not work")
        except (openai.APIStatusError, openai.APIConnectionError):
            continue
    if not missing:
        return [(OK, f"audio and image endpoints answer at {base_url}.")]
    return [(WARN, line) for line in missing]


async def _model_list(llm: LLMClient, settings: Settings) -> list[tuple[str, str]]:
    """Warnings about the provider's model list (missing endpoint, model not listed)."""
    model = settings.openai_model
    try:
        models = await llm.list_models()
    except (ProviderAuthError, ConnectionFailedError):
        if settings.openai_chat_url:
            return [(WARN, f"{settings.openai_base_url}/models cannot be read.")]
        raise
    except ProviderError:
        return [(WARN, f"{settings.openai_base_url}/models is missing: no model list.")]
    if models and model not in models:
        return [(WARN, f"the provider does not list {model!r} among its {len(models)} models.")]
    return []


async def check_provider(settings: Settings) -> list[tuple[str, str]]:
    """List the provider's models, make a tiny completion with OPENAI_MODEL, probe the rest."""
    client = build_openai_client(
        settings.openai_api_key.get_secret_value(),
        settings.openai_base_url,
        30.0,
        30.0,
        chat_url=settings.openai_chat_url,
    )
    llm = LLMClient(
        client,
        options=ModelOptions(max_output_tokens=None, include_usage=False),
        stall_timeout=30.0,
        max_retries=0,
        max_retry_wait=0,
    )
    results: list[tuple[str, str]] = []
    model = settings.openai_model
    chat_at = settings.openai_chat_url or settings.openai_base_url
    try:
        results.extend(await _model_list(llm, settings))
        text = await llm.ping(model)
        results.append(
            (OK, f"the provider at {chat_at} answers with {model}: {text.strip()[:40]!r}")
        )
        results.extend(await probe_endpoints(client, settings.openai_base_url))
    except ProviderError as exc:
        results.append((BAD, _provider_failure(exc, model, chat_at)))
    finally:
        await client.close()
    return results


def _provider_failure(exc: ProviderError, model: str, chat_at: str) -> str:
    """The plain-words line for a failed provider check."""
    if isinstance(exc, ProviderAuthError):
        return "the provider rejected OPENAI_API_KEY (401): check the key."
    if isinstance(exc, ProviderPermissionError):
        return f"the key has no access to {model!r} or the region is not served (403)."
    if isinstance(exc, ModelNotFoundError):
        return f"the provider has no model {model!r} (404): fix OPENAI_MODEL (or OPENAI_CHAT_URL)."
    if isinstance(exc, QuotaExceededError):
        return "the provider account is out of credit (insufficient_quota)."
    if isinstance(exc, ConnectionFailedError):
        return f"cannot reach {chat_at}: check OPENAI_BASE_URL (and OPENAI_CHAT_URL)."
    return f"the provider answered an error: {exc.detail}"


async def check_named_providers(settings: Settings) -> list[tuple[str, str]]:
    """PROVIDERS_FILE: readable, keys set, and each provider answers with its first model."""
    try:
        specs = load_providers(settings.providers_file)
    except ProvidersFileError as exc:
        return [(BAD, str(exc))]
    results: list[tuple[str, str]] = []
    for spec in specs:
        key = os.environ.get(spec.api_key_env, "").strip()
        if not key:
            results.append((BAD, f"{spec.api_key_env} (the key of {spec.name!r}) is not set."))
            continue
        if not spec.models:
            results.append((WARN, f"provider {spec.name!r} lists no models."))
            continue
        client = build_openai_client(key, spec.base_url, 30.0, 30.0, chat_url=spec.chat_url)
        llm = LLMClient(
            client,
            options=ModelOptions(include_usage=False),
            stall_timeout=30.0,
            max_retries=0,
            max_retry_wait=0,
        )
        try:
            await llm.ping(spec.models[0])
            results.append((OK, f"provider {spec.name!r} answers with {spec.models[0]}."))
        except ProviderError as exc:
            line = _provider_failure(exc, spec.models[0], spec.chat_url or spec.base_url)
            results.append((BAD, f"provider {spec.name!r}: {line}"))
        finally:
            await client.close()
    return results


async def check_database(settings: Settings) -> tuple[bool, str]:
    """Open (and migrate) the database."""
    try:
        store = await open_store(settings.database_url)
    except Exception as exc:
        return False, f"cannot open the database {settings.database_label}: {exc}"
    version = await store.schema_version()
    await store.close()
    return True, f"database {settings.database_label} is ready (schema version {version})."


async def run_checks() -> int:
    """Run every check, print one line each, and return the exit code."""
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        print(f"{BAD} settings:")
        for line in explain_settings_error(exc):
            print(f"      {line}")
        return 1
    print(f"{OK} settings loaded.")
    if settings.allowed_user_ids == frozenset() and settings.admin_user_ids == frozenset():
        print(f"{WARN} nobody may use the bot yet: set ALLOWED_USER_IDS (your id, or *).")
    failed = False
    ok, line = await check_telegram(settings)
    failed |= not ok
    print(f"{OK if ok else BAD} {line}")
    for status, line in [*await check_provider(settings), *await check_named_providers(settings)]:
        failed |= status == BAD
        print(f"{status} {line}")
    ok, line = await check_database(settings)
    failed |= not ok
    print(f"{OK if ok else BAD} {line}")
    print("All good." if not failed else "Fix the lines marked FAIL, then run the check again.")
    return 1 if failed else 0


def main() -> int:
    """Entry point of `python -m bot check`."""
    return asyncio.run(run_checks())


if __name__ == "__main__":
    sys.exit(main())
