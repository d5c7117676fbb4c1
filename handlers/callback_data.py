"""Signed callback data: clients can send any bytes back, so every button's data is signed."""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data
SIGNATURE_CHARS = 11


class CallbackSigner:
    """Signs button payloads with a key derived from a secret (the bot token) and checks them."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"callback-data:" + secret.encode()).digest()

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]

    def sign(self, payload: str) -> str:
        """`payload` with its signature, fit for a button's callback_data."""
        data = f"{payload}|{self._signature(payload)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError("callback payload too long")
        return data

    def verify(self, data: str | None) -> str | None:
        """The payload of signed callback data, or None when it is forged or malformed."""
        if not data or len(data) > MAX_CALLBACK_BYTES or "|" not in data:
            return None
        payload, _, signature = data.rpartition("|")
        if hmac.compare_digest(signature.encode(), self._signature(payload).encode()):
            return payload
        return None
