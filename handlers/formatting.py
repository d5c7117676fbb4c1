"""Markdown answers -> Telegram messages: split at natural boundaries, render to entities."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from telegramify_markdown import convert

log = logging.getLogger(__name__)

TELEGRAM_TEXT_LIMIT = 4096
PIECE_LIMIT = 3900

_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})(.*)$")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


@dataclass(frozen=True)
class Rendered:
    """A message ready for Telegram: plain text plus entities (offsets in UTF-16 units)."""

    text: str
    entities: tuple[tuple[tuple[str, Any], ...], ...] = ()

    def entity_dicts(self) -> list[dict[str, Any]]:
        """The entities as Bot API dicts."""
        return [dict(e) for e in self.entities]

    def plain(self) -> Rendered:
        """The same text without formatting."""
        return Rendered(self.text)


def render_markdown(markdown: str) -> Rendered:
    """Render Markdown to text + entities; falls back to the plain source when that fails."""
    source = markdown.strip()
    if not source:
        return Rendered("")
    try:
        text, entities = convert(source)
    except Exception:
        log.warning("markdown rendering failed; sending plain text", exc_info=True)
        return Rendered(source)
    if not text.strip() or utf16_len(text) > TELEGRAM_TEXT_LIMIT:
        return Rendered(source)
    frozen = tuple(tuple(sorted(e.to_dict().items())) for e in entities)
    return Rendered(text, frozen)


@dataclass
class _Fence:
    marker: str
    opener: str


def _fence_after(lines: str, state: _Fence | None) -> _Fence | None:
    """The code fence still open after `lines`, starting from `state`."""
    for line in lines.split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        marker = match.group(1)
        if state is None:
            state = _Fence(marker=marker, opener=line.strip())
        elif (
            marker[0] == state.marker[0]
            and len(marker) >= len(state.marker)
            and not match.group(2).strip()
        ):
            state = None
    return state


def _cut_point(text: str, budget: int) -> int:
    """Where to end a piece of `text` that must hold at most `budget` UTF-16 units."""
    end = 0
    used = 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            break
        end += 1
    window = text[:end]
    floor = end // 2
    for boundary in ("\n\n", "\n"):
        position = window.rfind(boundary)
        if position > floor:
            return position + len(boundary)
    for boundary in (". ", "! ", "? ", "。", " "):
        position = window.rfind(boundary)
        if position > floor:
            return position + len(boundary)
    return max(end, 1)


def split_markdown(markdown: str, limit: int = PIECE_LIMIT) -> list[str]:
    """Split Markdown into pieces of at most `limit` UTF-16 units, each valid on its own.

    Cuts prefer paragraph, then line, then sentence or word boundaries. A code
    block cut in two is closed at the end of one piece and reopened (with its
    language) at the start of the next. A piece depends only on the text
    before its cut, so pieces already sent stay stable while the answer grows.
    """
    pieces: list[str] = []
    rest = markdown
    fence: _Fence | None = None
    while rest:
        prefix = f"{fence.opener}\n" if fence else ""
        if utf16_len(prefix) + utf16_len(rest) <= limit:
            pieces.append(prefix + rest)
            break
        closing_room = 8
        budget = max(limit - utf16_len(prefix) - closing_room, 16)
        cut = _cut_point(rest, budget)
        chunk, rest = rest[:cut], rest[cut:]
        fence_after = _fence_after(chunk, fence)
        piece = prefix + chunk.rstrip("\n")
        if fence_after is not None:
            piece += "\n" + fence_after.marker
        pieces.append(piece)
        fence = fence_after
        if fence is None:
            rest = rest.lstrip("\n")
    return [p for p in pieces if p.strip()] or ([markdown] if markdown.strip() else [])


def quote_above(quote: str, rendered: Rendered, limit: int = TELEGRAM_TEXT_LIMIT) -> Rendered:
    """`rendered` with `quote` above it in a collapsed (expandable) blockquote.

    The quote keeps its latest part when both do not fit one message; it is dropped when
    there is no room for a useful part of it.
    """
    quote = quote.strip()
    room = limit - utf16_len(rendered.text) - 2
    if not quote or room < 40:
        return rendered
    if utf16_len(quote) > room:
        quote = "…" + quote[-(room - 2) :]
        while utf16_len(quote) > room:
            quote = "…" + quote[2:]
    shift = utf16_len(quote) + 2
    entities = [{"type": "expandable_blockquote", "offset": 0, "length": utf16_len(quote)}]
    for entity in rendered.entity_dicts():
        entities.append({**entity, "offset": entity["offset"] + shift})
    frozen = tuple(tuple(sorted(e.items())) for e in entities)
    return Rendered(f"{quote}\n\n{rendered.text}", frozen)
