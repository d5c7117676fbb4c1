"""Logging set-up: one format, quiet HTTP libraries, secrets redacted from every line."""

from __future__ import annotations

import logging
import re

_BOT_URL_TOKEN = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{10,}")


class RedactingFormatter(logging.Formatter):
    """Formats records, then removes secrets (the bot token sits inside every Bot API URL)."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        """The formatted line with secrets replaced by ***."""
        return redact(super().format(record), self._secrets)


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret, and anything shaped like a bot token in a URL, with ***."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _BOT_URL_TOKEN.sub("bot***", text)


def setup_logging(level: str, secrets: list[str]) -> None:
    """Configure the root logger once, at start-up."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()


def quiet_libraries() -> None:
    """Raise the level of loggers that print request URLs (Bot API URLs contain the token)."""
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "aiosqlite", "telegram.ext.ExtBot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
