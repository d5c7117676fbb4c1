"""Signed callback data for inline buttons: what comes back from a press cannot be forged.

`sign("h:r:42")` -> `"h:r:42~<tag>"`, at most Telegram's 64 bytes; `verify` gives the payload
back, or None for anything this bot did not sign. The key is derived from the bot token at
start-up (or random), so only this bot's buttons verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

MAX_BYTES = 64  # Telegram's limit on callback_data
TAG_CHARS = 11  # 66 bits of HMAC-SHA256
SEPARATOR = "~"


class CallbackSigner:
    """Signs and verifies callback data with an HMAC key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_token(cls, token: str) -> CallbackSigner:
        """A signer whose key is derived from the bot token (stable across restarts)."""
        return cls(hmac.new(token.encode(), b"telegram callback data", hashlib.sha256).digest())

    @classmethod
    def random(cls) -> CallbackSigner:
        """A signer with a fresh random key (buttons do not survive a restart)."""
        return cls(os.urandom(32))

    def _tag(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:TAG_CHARS]

    def sign(self, payload: str) -> str:
        """The callback data for `payload` (ValueError when it would not fit in 64 bytes)."""
        data = f"{payload}{SEPARATOR}{self._tag(payload)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback payload too long: {len(payload.encode())} bytes")
        return data

    def verify(self, data: str | None) -> str | None:
        """The payload of data this signer signed, or None (forged, altered, or not ours)."""
        if not data or SEPARATOR not in data:
            return None
        payload, _, tag = data.rpartition(SEPARATOR)
        return payload if hmac.compare_digest(tag, self._tag(payload)) else None
