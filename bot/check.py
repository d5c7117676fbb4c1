"""`python -m bot check`: the settings, the Telegram token, the provider and the database."""

from __future__ import annotations

import asyncio
import sys

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


async def check_provider(settings: Settings) -> list[tuple[str, str]]:
    """List the provider's models and make a tiny completion with OPENAI_MODEL."""
    client = build_openai_client(
        settings.openai_api_key.get_secret_value(), settings.openai_base_url, 30.0, 30.0
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
    try:
        try:
            models = await llm.list_models()
        except (ProviderAuthError, ConnectionFailedError):
            raise
        except ProviderError:
            models = []
        if models and model not in models:
            results.append(
                (WARN, f"the provider does not list {model!r} among its {len(models)} models.")
            )
        text = await llm.ping(model)
        results.append(
            (
                OK,
                f"the provider at {settings.openai_base_url} answers with {model}: "
                f"{text.strip()[:40]!r}",
            )
        )
    except ProviderAuthError:
        results.append((BAD, "the provider rejected OPENAI_API_KEY (401): check the key."))
    except ProviderPermissionError:
        results.append(
            (BAD, f"the key has no access to {model!r} or the region is not served (403).")
        )
    except ModelNotFoundError:
        results.append((BAD, f"the provider has no model {model!r} (404): fix OPENAI_MODEL."))
    except QuotaExceededError:
        results.append((BAD, "the provider account is out of credit (insufficient_quota)."))
    except ConnectionFailedError:
        results.append((BAD, f"cannot reach {settings.openai_base_url}: check OPENAI_BASE_URL."))
    except ProviderError as exc:
        results.append((BAD, f"the provider answered an error: {exc.detail}"))
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
    for status, line in await check_provider(settings):
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
