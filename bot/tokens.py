"""Token estimates for the history budget, without a tokenizer download."""

from __future__ import annotations

from typing import Any

MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 850


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens `text` costs: UTF-8 bytes / 3 (an overestimate for English,
    about one token per character for Chinese, Japanese and Korean)."""
    if not text:
        return MESSAGE_OVERHEAD
    return MESSAGE_OVERHEAD + (len(text.encode("utf-8")) + 2) // 3


def estimate_message_tokens(text: str, parts: list[dict[str, Any]] | None) -> int:
    """Tokens of a user message with optional image or file parts."""
    total = estimate_tokens(text)
    for part in parts or []:
        if part.get("type") == "image_url":
            total += IMAGE_TOKENS
        elif part.get("type") == "text":
            total += estimate_tokens(str(part.get("text", "")))
    return total
