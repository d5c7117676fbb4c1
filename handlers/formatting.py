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
MAX_MARKER = 16
MAX_LANGUAGE = 32


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


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


@dataclass(frozen=True)
class _Fence:
    marker: str  # as written in the source: what closes it there
    reopen: str  # the short line that reopens it at the start of the next piece
    closer: str  # what closes it at the end of a piece


def _open_fence(marker: str, info: str) -> _Fence:
    # A hostile answer may open a fence with thousands of characters: the line repeated
    # at the start of every piece would leave no room for text, so it is kept short.
    short = marker if len(marker) <= MAX_MARKER else marker[0] * MAX_MARKER
    words = info.split()
    language = words[0][:MAX_LANGUAGE] if words else ""
    return _Fence(marker=marker, reopen=short + language, closer=short)


def _fence_after(lines: str, state: _Fence | None) -> _Fence | None:
    """The code fence still open after `lines`, starting from `state`."""
    if "`" * 3 not in lines and "~" * 3 not in lines:
        return state
    for line in lines.split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        marker = match.group(1)
        if state is None:
            state = _open_fence(marker, match.group(2))
        elif (
            marker[0] == state.marker[0]
            and len(marker) >= len(state.marker)
            and not match.group(2).strip()
        ):
            state = None
    return state


def _fit(window: str, budget: int) -> int:
    """How many characters of `window` fit in `budget` UTF-16 units."""
    if utf16_len(window) <= budget:
        return len(window)
    used = 0
    for end, ch in enumerate(window):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            return end
    return len(window)


def _cut_point(text: str, budget: int) -> int:
    """Where to end a piece of `text` that must hold at most `budget` UTF-16 units."""
    end = _fit(text[:budget], budget)
    window = text[:end]
    # Boundaries in the last quarter only, so that no piece is less than 3/4 full.
    floor = end * 3 // 4
    for boundary in ("\n\n", "\n", ". ", "! ", "? ", "。", " "):
        position = window.rfind(boundary, floor)
        if position > floor:
            return position + len(boundary)
    return max(end, 1)


@dataclass(frozen=True)
class Piece:
    """One piece of a split answer and where it ends in the source.

    `seen` is how much of the source the piece depends on: while the source
    keeps its first `seen` characters, the piece (and `end`, `fence`) stay the same.
    """

    text: str
    end: int
    seen: int
    fence: _Fence | None


def split_pieces(
    markdown: str, limit: int = PIECE_LIMIT, start: int = 0, fence: _Fence | None = None
) -> list[Piece]:
    """Split `markdown` from `start` (inside `fence`) into pieces; linear in its length."""
    pieces: list[Piece] = []
    pos = start
    size = len(markdown)
    while pos < size:
        prefix = f"{fence.reopen}\n" if fence else ""
        room = limit - utf16_len(prefix)
        if size - pos <= room and utf16_len(markdown[pos:]) <= room:
            pieces.append(Piece(prefix + markdown[pos:], size, size, fence))
            break
        budget = max(room - MAX_MARKER - 1, 16)
        piece_start = pos
        chunk = markdown[pos : pos + _cut_point(markdown[pos : pos + budget], budget)]
        pos += len(chunk)
        fence_after = _fence_after(chunk, fence)
        text = prefix + chunk.rstrip("\n")
        if fence_after is not None:
            text += "\n" + fence_after.closer
        else:
            while pos < size and markdown[pos] == "\n":
                pos += 1
        seen = min(size, max(piece_start + room + 1, pos + 1))
        pieces.append(Piece(text, pos, seen, fence_after))
        fence = fence_after
    return pieces


def _texts(markdown: str, pieces: list[Piece]) -> list[str]:
    return [p.text for p in pieces if p.text.strip()] or ([markdown] if markdown.strip() else [])


def split_markdown(markdown: str, limit: int = PIECE_LIMIT) -> list[str]:
    """Split Markdown into pieces of at most `limit` UTF-16 units, each valid on its own.

    Cuts prefer paragraph, then line, then sentence or word boundaries. A code
    block cut in two is closed at the end of one piece and reopened (with its
    language) at the start of the next. A piece depends only on the text
    before its cut, so pieces already sent stay stable while the answer grows.
    Time and the number of pieces are linear in the length, whatever its shape.
    """
    return _texts(markdown, split_pieces(markdown, limit))


class GrowingSplit:
    """Splits a growing answer again and again, re-splitting only its unsettled tail."""

    def __init__(self, limit: int = PIECE_LIMIT) -> None:
        self._limit = limit
        self._settled: list[Piece] = []
        self._seen = ""

    def split(self, markdown: str) -> list[str]:
        """The same pieces as `split_markdown(markdown)`."""
        if self._settled and markdown.startswith(self._seen):
            last = self._settled[-1]
            pieces = self._settled + split_pieces(markdown, self._limit, last.end, last.fence)
        else:
            pieces = split_pieces(markdown, self._limit)
        self._settled = pieces[:-1]
        self._seen = markdown[: self._settled[-1].seen] if self._settled else ""
        return _texts(markdown, pieces)


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
