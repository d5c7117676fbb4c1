"""Every setting of the bot, read from the environment and from `.env`."""

from __future__ import annotations

import re
import socket
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.personas import load_personas
from bot.prices import load_prices

EVERYONE = "*"

IdSet = frozenset[int] | Literal["*"]
IdList = Annotated[IdSet, NoDecode]
NameList = Annotated[tuple[str, ...], NoDecode]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant chatting in Telegram. Answer in the language the user "
    "writes in. Be concise unless asked for detail. You may use Markdown: bold, italic, "
    "inline code, code blocks, links and lists (no tables)."
)


def _parse_ids(value: object) -> IdSet:
    """Parse a comma-separated list of integer ids, or `*` for everyone."""
    if value is None:
        return frozenset()
    if isinstance(value, (set, frozenset, list, tuple)):
        return frozenset(int(v) for v in value)
    if isinstance(value, int):
        return frozenset({value})
    text = str(value).strip()
    if text == EVERYONE:
        return "*"
    ids: set[int] = set()
    for part in text.replace(";", ",").replace(" ", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError as exc:
            raise ValueError(f"'{part}' is not a numeric Telegram id (use digits, or *)") from exc
    return frozenset(ids)


def _parse_names(value: object) -> tuple[str, ...]:
    """Parse a comma-separated list of names."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    if str(value).strip().lower() == "none":
        return ()
    return tuple(p.strip() for p in str(value).split(",") if p.strip())


def same_host(url: str, other: str) -> bool:
    """Whether two URLs reach the same host and port (where one key may go to both)."""
    first, second = urlsplit(url.strip()), urlsplit(other.strip())
    return (first.hostname, first.port, first.scheme) == (
        second.hostname,
        second.port,
        second.scheme,
    )


class Settings(BaseSettings):
    """The bot's configuration; names match DESIGN.md's contract."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    # Telegram
    telegram_bot_token: SecretStr
    telegram_api_url: str = "https://api.telegram.org"
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    port: int = 8080
    polling_timeout: int = Field(default=30, ge=0, le=60)
    max_webhook_connections: int = Field(default=40, ge=1, le=100)

    # Chat provider
    openai_api_key: SecretStr
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    available_models: NameList = ()
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_output_tokens: int | None = None
    max_tokens_param: Literal["auto", "max_tokens", "max_completion_tokens"] = "auto"
    temperature: float | None = None
    request_timeout: float = Field(default=120.0, gt=0)
    stream_stall_timeout: float = Field(default=60.0, gt=0)
    provider_max_retries: int = Field(default=3, ge=0, le=10)
    max_retry_wait: float = Field(default=30.0, ge=0)
    openai_chat_url: str = ""
    reasoning_effort: Literal["", "low", "medium", "high"] = ""
    show_reasoning: Literal["off", "collapsed"] = "off"
    providers_file: str = ""
    fallback_models: NameList = ()
    capability_memory: float = Field(default=3600.0, gt=0)
    transcription_provider: str = ""
    tts_provider: str = ""
    image_provider: str = ""

    # Floods: what arrives while a turn waits is answered with it (bounded)
    flood_max_messages: int = Field(default=10, ge=1, le=100)
    flood_max_chars: int = Field(default=12000, ge=100)
    user_messages_per_minute: int = Field(default=30, ge=0)  # 0 = no limit; admins exempt

    # Durability and replicas
    shutdown_grace: float = Field(default=8.0, ge=0, le=60)
    replica_id: str = Field(default_factory=socket.gethostname)
    inbox_lease: float = Field(default=30.0, ge=2, le=600)
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"

    # Memory
    database_url: str = "sqlite:///data/bot.db"
    history_token_budget: int = Field(default=8000, ge=200)
    history_max_messages: int = Field(default=200, ge=2)
    media_retention_days: float = Field(default=0, ge=0)  # 0 = stored images kept forever

    # Access
    allowed_user_ids: IdList = frozenset()
    admin_user_ids: IdList = frozenset()
    allowed_chat_ids: IdList = frozenset()

    # Live replies and Telegram limits
    stream_mode: Literal["edit", "draft"] = "edit"
    edit_interval_private: float = Field(default=1.0, gt=0)
    edit_interval_group: float = Field(default=3.0, gt=0)
    telegram_global_rate: float = Field(default=30.0, gt=0)
    group_messages_per_minute: int = Field(default=20, ge=1)
    max_concurrent_updates: int = Field(default=1024, ge=1)
    default_language: str = "en"

    # Speech
    transcription_model: str = "whisper-1"
    transcription_base_url: str = ""
    transcription_api_key: SecretStr = SecretStr("")
    tts_model: str = "gpt-4o-mini-tts"
    tts_voice: str = "alloy"
    max_voice_seconds: int = Field(default=900, ge=1)
    max_transcript_chars: int = Field(default=20000, ge=100)

    # Photos, documents, pictures on request
    max_image_side: int = Field(default=2048, ge=256, le=8192)
    document_max_chars: int = Field(default=60000, ge=1000)
    image_model: str = "gpt-image-1"
    image_size: str = "1024x1024"
    album_wait: float = Field(default=1.0, ge=0.1, le=10)
    max_image_pixels: int = Field(default=40_000_000, ge=1_000_000)
    document_max_pages: int = Field(default=50, ge=1)
    document_timeout: float = Field(default=20.0, gt=0)
    sandbox_jobs: int = Field(default=2, ge=1)

    # Tools
    tools: NameList = ("weather", "search")
    max_tool_rounds: int = Field(default=5, ge=0, le=20)
    tool_timeout: float = Field(default=15.0, gt=0)
    max_tool_calls_per_round: int = Field(default=5, ge=1)
    max_tool_calls_per_turn: int = Field(default=12, ge=1)
    max_tool_result_chars: int = Field(default=8000, ge=200)
    weather_api_url: str = "https://api.open-meteo.com/v1"
    geocoding_api_url: str = "https://geocoding-api.open-meteo.com/v1"
    search_provider: Literal["auto", "searxng", "tavily", "duckduckgo"] = "auto"
    searxng_url: str = ""
    tavily_api_key: SecretStr = SecretStr("")
    search_max_results: int = Field(default=5, ge=1, le=20)

    log_level: str = "INFO"

    # Saved conversations, personas, usage and quotas
    personas_file: str = ""
    model_prices_file: str = ""
    timezone: str = "UTC"
    daily_message_limit: int = Field(default=0, ge=0)
    daily_token_limit: int = Field(default=0, ge=0)
    group_daily_message_limit: int = Field(default=0, ge=0)

    @field_validator("allowed_user_ids", "admin_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> frozenset[int] | Literal["*"]:
        return _parse_ids(value)

    @field_validator("available_models", "tools", "fallback_models", mode="before")
    @classmethod
    def _names(cls, value: object) -> tuple[str, ...]:
        return _parse_names(value)

    @field_validator(
        "telegram_api_url", "openai_base_url", "transcription_base_url", "openai_chat_url"
    )
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise ValueError("is empty: get a token from @BotFather")
        if ":" not in token:
            raise ValueError("does not look like a bot token (expected '123456:ABC...')")
        return SecretStr(token)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("may hold only letters, digits, _ and - (1 to 256 characters)")
        return SecretStr(secret)

    @field_validator("openai_api_key")
    @classmethod
    def _key_present(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value().strip()
        if not key:
            raise ValueError("is empty: set the key of your chat provider")
        return SecretStr(key)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        value = value.strip()
        if value.startswith(("postgresql://", "postgres://")):
            return value
        if not value.startswith("sqlite:///") and value != "sqlite://:memory:":
            raise ValueError(
                "must look like sqlite:///path/to/bot.db or postgresql://user:pass@host:5432/db"
            )
        return value

    @field_validator("personas_file", "model_prices_file")
    @classmethod
    def _readable_file(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if value:  # a broken file stops the start with a plain message, and `check` says so
            load = load_personas if info.field_name == "personas_file" else load_prices
            load(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, Asia/Ho_Chi_Minh)") from exc
        return value.strip()

    @property
    def zone(self) -> ZoneInfo:
        """TIMEZONE as a zone: where days start for quotas and /usage."""
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _models_include_default(self) -> Settings:
        if self.available_models and self.openai_model not in self.available_models:
            self.available_models = (self.openai_model, *self.available_models)
        return self

    @model_validator(mode="after")
    def _transcription_key_for_another_host(self) -> Settings:
        if not self.transcription_api_key.get_secret_value() and not same_host(
            self.transcription_base_url or self.openai_base_url, self.openai_base_url
        ):
            raise ValueError(
                "TRANSCRIPTION_BASE_URL points to another host than OPENAI_BASE_URL: "
                "set TRANSCRIPTION_API_KEY (the chat provider's key is never sent elsewhere)"
            )
        return self

    @property
    def transcription_key(self) -> str:
        """The key for the transcription endpoint: its own, or the chat provider's on its host."""
        own = self.transcription_api_key.get_secret_value()
        if own:
            return own
        if same_host(self.transcription_base_url or self.openai_base_url, self.openai_base_url):
            return self.openai_api_key.get_secret_value()
        raise ValueError("TRANSCRIPTION_API_KEY is required for another host")

    @property
    def database_path(self) -> str:
        """The SQLite file path from DATABASE_URL (or `:memory:`)."""
        if self.database_url == "sqlite://:memory:":
            return ":memory:"
        return self.database_url.removeprefix("sqlite:///")

    @property
    def database_label(self) -> str:
        """DATABASE_URL fit for logs: the SQLite path, or the PostgreSQL URL without password."""
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            return self.database_path
        parts = urlsplit(self.database_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        return f"{parts.scheme}://{user}{host}{port}{parts.path}"

    @property
    def secrets(self) -> list[str]:
        """Every secret value, for redacting logs."""
        values = [
            self.telegram_bot_token.get_secret_value(),
            self.openai_api_key.get_secret_value(),
            self.transcription_api_key.get_secret_value(),
            self.tavily_api_key.get_secret_value(),
            self.webhook_secret.get_secret_value(),
            urlsplit(self.database_url).password or "",
        ]
        return [v for v in values if len(v) >= 6]
