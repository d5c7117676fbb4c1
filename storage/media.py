"""Stored media kept apart from message rows: parts with data URLs <-> reference parts.

A message's image parts are stored in the `media` table; the message row keeps
`{"type": "image_ref", "media_id": N, "image_url": {...the other keys}}` in their place.
Reading a window puts the data URLs back, so callers see the parts exactly as they were
written. Rows written before the table existed keep their data URLs inline and read as is.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from storage.models import MessageRecord

REF_TYPE = "image_ref"
EXPIRED_TEXT = "[image expired]"
SECONDS_PER_DAY = 86_400.0

# `?` placeholders (SQLite); the PostgreSQL store renumbers them.
INSERT_MEDIA = "INSERT INTO media (conversation_id, created_at, kind, data) VALUES (?, ?, ?, ?)"
WINDOW_ROWS = "conversation_id = ? AND id >= ? AND id <= ? ORDER BY id"
WINDOW_KEYS = "SELECT id, tokens FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?"
PRUNE_MEDIA = "DELETE FROM media WHERE created_at < ?"
DELETE_LATER_MEDIA = (
    "DELETE FROM media WHERE conversation_id = ? AND message_id IN "
    "(SELECT id FROM messages WHERE conversation_id = ? AND id > ?)"
)


def _is_data_image(part: Any) -> bool:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return False
    image = part.get("image_url")
    return isinstance(image, dict) and str(image.get("url", "")).startswith("data:")


def data_urls(parts: list[dict[str, Any]] | None) -> list[str]:
    """The data URLs of a message's image parts, in order (to be stored as media)."""
    return [str(p["image_url"]["url"]) for p in parts or [] if _is_data_image(p)]


def referenced(parts: list[dict[str, Any]] | None, media_ids: list[int]) -> Any:
    """The parts to store in the row: each data-URL image part becomes a reference part."""
    if parts is None:
        return None
    ids = iter(media_ids)
    stored: list[Any] = []
    for part in parts:
        if not _is_data_image(part):
            stored.append(part)
            continue
        rest = {k: v for k, v in part["image_url"].items() if k != "url"}
        extra = {k: v for k, v in part.items() if k not in ("type", "image_url")}
        stored.append({**extra, "type": REF_TYPE, "media_id": next(ids), "image_url": rest})
    return stored


def wanted(records: Iterable[MessageRecord]) -> list[int]:
    """The media ids the records' reference parts name."""
    return [
        int(p["media_id"])
        for r in records
        for p in r.parts or []
        if isinstance(p, dict) and p.get("type") == REF_TYPE
    ]


async def attach(
    records: list[MessageRecord], load: Callable[[list[int]], Awaitable[dict[int, str]]]
) -> int:
    """Put back the data URLs the records reference, read by `load` (media id -> data URL)
    in one query, only when there are any; how many were read."""
    ids = wanted(records)
    found = await load(ids) if ids else {}
    restore(records, found)
    return len(found)


def restore(records: list[MessageRecord], found: dict[int, str]) -> None:
    """Put the data URLs back into the records' reference parts (missing: "[image expired]")."""
    for record in records:
        if not record.parts or not any(
            isinstance(p, dict) and p.get("type") == REF_TYPE for p in record.parts
        ):
            continue
        record.parts = [_restored(p, found) for p in record.parts]


def _restored(part: Any, found: dict[int, str]) -> Any:
    if not isinstance(part, dict) or part.get("type") != REF_TYPE:
        return part
    url = found.get(int(part["media_id"]))
    if url is None:
        return {"type": "text", "text": EXPIRED_TEXT}
    extra = {k: v for k, v in part.items() if k not in ("type", "media_id", "image_url")}
    image = {"url": url, **copy.deepcopy(part.get("image_url") or {})}
    return {"type": "image_url", "image_url": image, **extra}


def window_ids(rows_newest_first: Iterable[Any], token_budget: int) -> list[int]:
    """The ids of the newest rows (id, tokens) whose tokens fit the budget (the newest always)."""
    picked: list[int] = []
    used = 0
    for row in rows_newest_first:
        tokens = int(row["tokens"])
        if picked and used + tokens > token_budget:
            break
        picked.append(int(row["id"]))
        used += tokens
    return picked


def select_media(count: int) -> str:
    """The query reading `count` media rows by id (`?` placeholders)."""
    return f"SELECT id, data FROM media WHERE id IN ({', '.join('?' * count)})"


def link_media(count: int) -> str:
    """The statement tying `count` media rows (by id) to their message (`?` placeholders)."""
    return f"UPDATE media SET message_id = ? WHERE id IN ({', '.join('?' * count)})"
