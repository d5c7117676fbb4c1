"""A fake Telegram Bot API server (aiohttp on 127.0.0.1) for end-to-end tests.

It answers in the real shapes, checks every call against the official method list
(``shared/specs/telegram-bot-api.json``), enforces Telegram's flood limits and
formatting rules, and lets tests inject user messages and inspect what the bot did.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer
from tests.spec_files import spec_path

JSON = dict[str, Any]

SPEC_PATH = spec_path("telegram-bot-api.json", "TELEGRAM_BOT_API_SPEC")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
COUNTED_METHODS = frozenset(
    {"sendMessage", "editMessageText", "sendPhoto", "sendVoice", "sendDocument"}
)
PACED_METHODS = COUNTED_METHODS | {"sendMessageDraft"}
_SLACK = 0.02  # seconds of tolerance for clients that sleep exactly retry_after


# --------------------------------------------------------------------------- spec


@functools.cache
def load_spec() -> JSON:
    """Load the Bot API description: ``methods`` and ``types`` with their fields."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@functools.cache
def spec_fields(kind: str, name: str) -> dict[str, JSON]:
    """Fields of a method (kind="methods") or type (kind="types") by name."""
    return {f["name"]: f for f in load_spec()[kind].get(name, {}).get("fields", [])}


@functools.cache
def _method_names() -> dict[str, str]:
    return {name.lower(): name for name in load_spec()["methods"]}


@functools.cache
def _admin_rights() -> JSON:
    fields = spec_fields("types", "ChatMemberAdministrator").values()
    return {
        f["name"]: f["name"] not in ("can_be_edited", "is_anonymous")
        for f in fields
        if f["required"] and f["types"] == ["Boolean"]
    }


def _field_description(kind: str, name: str, field_name: str) -> str:
    return str(spec_fields(kind, name)[field_name]["description"])


@functools.cache
def entity_types() -> frozenset[str]:
    """MessageEntity types the spec lists ("bold", "text_link"...)."""
    return frozenset(
        re.findall(r'"([a-z_]+)"', _field_description("types", "MessageEntity", "type"))
    )


@functools.cache
def chat_actions() -> frozenset[str]:
    """Actions sendChatAction accepts ("typing", "upload_photo"...)."""
    description = _field_description("methods", "sendChatAction", "action")
    return frozenset(re.findall(r"\b([a-z]+(?:_[a-z]+)*) (?:for|or) ", description))


_PRIMITIVES = frozenset({"String", "Integer", "Float", "Boolean", "InputFile"})


def _coerce(value: Any, types: list[str]) -> Any:
    """Turn a form value (always a string) into the type the spec declares."""
    if not isinstance(value, str):
        return value
    if "Integer" in types and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "Float" in types:
        with contextlib.suppress(ValueError):
            return float(value)
    if "Boolean" in types and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not set(types) <= _PRIMITIVES and value.startswith(("[", "{")):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _type_matches(value: Any, type_name: str) -> bool:
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "InputFile":
        return isinstance(value, UploadedFile)
    if type_name.startswith("Array of "):
        return isinstance(value, list)
    return isinstance(value, dict)


def _object_types(types: list[str]) -> list[str]:
    """Spec types with fields, unions (``ChatMember``...) replaced by their subtypes."""
    found: list[str] = []
    for name in types:
        subtypes = load_spec()["types"].get(name, {}).get("subtypes")
        found += (
            _object_types(subtypes) if subtypes else [name] if spec_fields("types", name) else []
        )
    return found


def check_value(where: str, value: Any, types: list[str]) -> list[str]:
    """Problems of a JSON value against the spec types it may have (empty when it fits)."""
    if not any(_type_matches(value, t) for t in types):
        return [f"{where}: {value!r:.60} is not of type {' or '.join(types)}"]
    if isinstance(value, list):
        inner = [t.removeprefix("Array of ") for t in types if t.startswith("Array of ")]
        return [
            p for i, item in enumerate(value) for p in check_value(f"{where}[{i}]", item, inner)
        ]
    candidates = _object_types(types)
    if not isinstance(value, dict) or not candidates:
        return []
    fitting = [
        t
        for t in candidates
        if all(k in value for k, f in spec_fields("types", t).items() if f["required"])
    ]
    exact = [t for t in fitting if set(value) <= set(spec_fields("types", t))]
    if not fitting:
        return [f"{where}: missing required fields of {' or '.join(candidates)}"]
    chosen = (exact or fitting)[0]
    fields, problems = spec_fields("types", chosen), []
    for key, item in value.items():
        if key not in fields:
            problems.append(f"{where}: field {key!r} is not a field of {chosen}")
        else:
            problems += check_value(f"{where}.{key}", item, fields[key]["types"])
    return problems


# ----------------------------------------------------------------------- entities


def utf16_len(text: str) -> int:
    """Length of text in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def sort_entities(entities: list[JSON]) -> list[JSON]:
    """Entities without null fields, ordered like Telegram orders them."""
    clean = [{k: v for k, v in e.items() if v is not None} for e in entities]
    return sorted(clean, key=lambda e: (e["offset"], -e["length"], e["type"]))


class ApiError(Exception):
    """An error answer of the Bot API (HTTP status = error_code)."""

    def __init__(self, description: str, code: int = 400, parameters: JSON | None = None):
        super().__init__(description)
        self.description = description
        self.code = code
        self.parameters = parameters


def _bad(detail: str) -> ApiError:
    return ApiError(f"Bad Request: {detail}")


def _cant_parse(detail: str) -> ApiError:
    return _bad(f"can't parse entities: {detail}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _looks_like_url(url: str) -> bool:
    return bool(re.match(r"^(https?|tg|ftp)://\S+$|^[\w.-]+\.[a-z]{2,}\S*$", url, re.I))


class _Builder:
    """Accumulates plain text and entities with UTF-16 offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[JSON] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.pos - start, **extra}
            )

    def result(self) -> tuple[str, list[JSON]]:
        return "".join(self.parts), sort_entities(self.entities)


_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_V2_KINDS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "`": "code",
    "```": "pre",
    "[": "text_link",
}
_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


def _v2_marker(text: str, i: int, top: str | None) -> str | None:
    c = text[i]
    if c == "`":
        return "```" if text.startswith("```", i) else "`"
    if c == "_":
        return "__" if text.startswith("__", i) and top != "italic" else "_"
    if c == "|":
        return "||" if text.startswith("||", i) else None
    return c if c in "*~[" else None


def _read_link_url(text: str, i: int) -> tuple[str | None, int]:
    """Read ``(url)`` at i (MarkdownV2 escapes allowed); return (url, index after it)."""
    if not text.startswith("(", i):
        return None, i
    chars: list[str] = []
    j = i + 1
    while j < len(text) and text[j] != ")":
        if text[j] == "\\" and j + 1 < len(text):
            j += 1
        chars.append(text[j])
        j += 1
    if j >= len(text):
        raise _cant_parse(f"Can't find end of a URL at byte offset {_byte_offset(text, i)}")
    return "".join(chars), j + 1


def _parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    out = _Builder()
    stack: list[tuple[str, int, int, JSON]] = []  # kind, start, byte offset, extra
    quote: int | None = None
    i = 0
    while i < len(text):
        c = text[i]
        top = stack[-1][0] if stack else None
        if c == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        if top in ("code", "pre"):
            mark = "```" if top == "pre" else "`"
            if text.startswith(mark, i):
                kind, start, _, extra = stack.pop()
                out.entity(kind, start, **extra)
                i += len(mark)
            else:
                out.add(c)
                i += 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            quote = out.pos if quote is None else quote
            i += 1
            continue
        if c == "\n" and quote is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote)
            quote = None
        if c not in _V2_RESERVED:
            out.add(c)
            i += 1
            continue
        if c == "]" and top == "text_link":
            _, start, _, _ = stack.pop()
            url, i = _read_link_url(text, i + 1)
            if url and _looks_like_url(url):
                out.entity("text_link", start, url=url)
            continue
        marker = _v2_marker(text, i, top)
        if marker is None:
            raise _cant_parse(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        kind = _V2_KINDS[marker]
        if kind == top:
            _, start, _, extra = stack.pop()
            out.entity(kind, start, **extra)
            i += len(marker)
            continue
        byte, extra = _byte_offset(text, i), {}
        i += len(marker)
        if kind == "pre":
            newline = text.find("\n", i)
            first = text[i:newline] if newline != -1 else ""
            if newline != -1 and not re.search(r"[\s`]", first):
                extra = {"language": first} if first else {}
                i = newline + 1
        stack.append((kind, out.pos, byte, extra))
    if stack:
        kind, _, byte, _ = stack[-1]
        raise _cant_parse(f"Can't find end of {_V2_NAMES[kind]} entity at byte offset {byte}")
    if quote is not None:
        out.entity("blockquote", quote)
    return out.result()


def _parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    out = _Builder()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and text[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue
        unclosed = _cant_parse(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
        )
        start = out.pos
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise unclosed
            first, newline, rest = text[i + 3 : end].partition("\n")
            language = first if newline and first and not re.search(r"\s", first) else None
            out.add(rest if newline and (language or not first) else text[i + 3 : end])
            out.entity("pre", start, language=language)
            i = end + 3
        elif c == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close != -1 else -1
            if end == -1:
                raise unclosed
            out.add(text[i + 1 : close])
            url = text[close + 2 : end]
            if _looks_like_url(url):
                out.entity("text_link", start, url=url)
            i = end + 1
        else:
            end = text.find(c, i + 1)
            if end == -1:
                raise unclosed
            out.add(text[i + 1 : end])
            out.entity({"*": "bold", "_": "italic", "`": "code"}[c], start)
            i = end + 1
    return out.result()


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_HTML_ATTR = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def _html_char(name: str) -> str:
    named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
    if name in named:
        return named[name]
    code = int(name[2:], 16) if name.startswith("#x") else int(name[1:])
    return chr(code) if 0 < code < 0x110000 else "\ufffd"


def _html_unescape(text: str) -> str:
    return _HTML_ENTITY.sub(lambda m: _html_char(m.group(1)), text)


def _close_html_tag(
    out: _Builder,
    stack: list[tuple[str, int, dict[str, str]]],
    tag: str,
    start: int,
    attrs: dict[str, str],
) -> None:
    kind, extra = _HTML_TAGS[tag], {}
    if tag == "code" and stack and stack[-1][0] == "pre" and stack[-1][1] == start:
        if attrs.get("class", "").startswith("language-"):
            stack[-1][2]["language"] = attrs["class"].removeprefix("language-")
        return
    if kind == "text_link":
        if not attrs.get("href"):
            return
        extra["url"] = attrs["href"]
    elif kind == "pre" and attrs.get("language"):
        extra["language"] = attrs["language"]
    elif kind == "custom_emoji":
        extra["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif kind == "blockquote" and "expandable" in attrs:
        kind = "expandable_blockquote"
    out.entity(kind, start, **extra)


def _parse_html(text: str) -> tuple[str, list[JSON]]:
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "&":
            m = _HTML_ENTITY.match(text, i)
            out.add(_html_char(m.group(1)) if m else "&")
            i = m.end() if m else i + 1
            continue
        if c != "<":
            out.add(c)
            i += 1
            continue
        byte = _byte_offset(text, i)
        end = text.find(">", i)
        if end == -1:
            raise _cant_parse(f"Unclosed start tag at byte offset {byte}")
        inner = text[i + 1 : end]
        i = end + 1
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise _cant_parse(f"Unexpected end tag at byte offset {byte}")
            tag, start, attrs = stack.pop()
            if name != tag:
                raise _cant_parse(
                    f'Unmatched end tag at byte offset {byte}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            _close_html_tag(out, stack, tag, start, attrs)
            continue
        m = re.match(r"[a-zA-Z][a-zA-Z0-9-]*", inner)
        name = m.group(0).lower() if m else ""
        if not m or name not in _HTML_TAGS:
            raise _cant_parse(f'Unsupported start tag "{name}" at byte offset {byte}')
        attrs = {
            key.lower(): _html_unescape(v1 or v2 or v3)
            for key, v1, v2, v3 in _HTML_ATTR.findall(inner, m.end())
        }
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _cant_parse('Tag "span" must have class "tg-spoiler"')
        stack.append((name, out.pos, attrs))
    if stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


_PARSERS: dict[str, Callable[[str], tuple[str, list[JSON]]]] = {
    "markdownv2": _parse_markdown_v2,
    "markdown": _parse_markdown,
    "html": _parse_html,
}


def _checked_entities(text: str, entities: Any) -> list[JSON]:
    if not isinstance(entities, list):
        raise _cant_parse("entities must be an array")
    size, result = utf16_len(text), []
    for entity in entities:
        if not isinstance(entity, dict):
            raise _cant_parse("entity must be an object")
        kind, offset, length = entity.get("type"), entity.get("offset"), entity.get("length")
        if kind not in entity_types():
            raise _cant_parse(f'Unsupported entity type "{kind}"')
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
            raise _cant_parse(f"Invalid offset {offset!r} or length {length!r} of {kind} entity")
        if offset + length > size:
            raise _cant_parse(
                f"Entity {kind} at offset {offset} with length {length} ends after the end "
                f"of the text ({size} UTF-16 code units)"
            )
        if kind == "text_link" and not entity.get("url"):
            raise _cant_parse("Can't find URL for text_link entity")
        if length:
            result.append(entity)
    return sort_entities(result)


def render_text(
    text: str, parse_mode: str | None = None, entities: Any = None
) -> tuple[str, list[JSON]]:
    """Plain text and entities as Telegram would store them (explicit entities win)."""
    if entities is not None:
        return text, _checked_entities(text, entities)
    if not parse_mode:
        return text, []
    parser = _PARSERS.get(parse_mode.lower())
    if parser is None:
        raise _bad("unsupported parse_mode")
    return parser(text)


_AUTO_ENTITY = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)"
    r"|(?P<mention>(?<![\w@])@[A-Za-z0-9_]{4,32})"
    r"|(?P<url>https?://\S+)"
)


def detect_entities(text: str) -> list[JSON]:
    """Entities Telegram adds to user text by itself: bot commands, mentions, URLs."""
    return [
        {"type": m.lastgroup, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for m in _AUTO_ENTITY.finditer(text)
    ]


def _check_text(text: str, *, empty_ok: bool = False) -> None:
    if not empty_ok and not text.strip():
        raise _bad("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise _bad("message is too long")


# ------------------------------------------------------------------------- state


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class Call:
    """One Bot API request the fake received; error is the description if it failed."""

    method: str
    params: JSON
    time: float
    chat_id: int | None
    error: str | None = None
    body_type: str = ""  # the request's Content-Type (JSON, form or multipart)


@dataclass
class StoredMessage:
    """A message in a chat: current content, every version, and who sent it."""

    chat_id: int
    message_id: int
    text: str | None
    entities: list[JSON]
    thread_id: int | None
    reply_to: int | None
    from_bot: bool
    raw: JSON
    history: list[tuple[str | None, list[JSON]]] = field(default_factory=list)
    markup_history: list[JSON | None] = field(default_factory=list)  # markup of each version
    deleted: bool = False
    kind: str = "text"  # text | photo | voice | document | audio | service
    caption: str | None = None
    file: UploadedFile | None = None
    reply_markup: JSON | None = None
    reactions: list[Any] = field(default_factory=list)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_size: int


@dataclass
class _Failure:
    method: str
    code: int
    description: str
    parameters: JSON | None
    chat_id: int | None
    times: int


@dataclass
class _Hang:
    method: str
    seconds: float
    times: int


@dataclass
class _Bucket:
    """Token bucket: ``burst`` tokens, refilled at ``rate`` per second."""

    burst: float
    rate: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 when one is available now)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


def _error_body(code: int, description: str, parameters: JSON | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


# -------------------------------------------------------------------------- server


class FakeTelegram(LocalServer):
    """A Bot API server on 127.0.0.1 that behaves like api.telegram.org for one bot."""

    def __init__(
        self,
        token: str,
        bot_username: str = "test_llm_bot",
        bot_id: int | None = None,
        *,
        limits_enabled: bool = True,
        private_burst: float = 3,
        private_rate: float = 1.0,
        group_burst: float = 3,
        group_rate: float = 0.4,
        group_per_minute: int = 20,
        global_burst: float = 30,
        global_rate: float = 30.0,
        ban_extension: float = 1.0,
    ) -> None:
        prefix = token.split(":", 1)[0]
        self.token = token
        self.bot_id = bot_id if bot_id is not None else int(prefix) if prefix.isdigit() else 777
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Test LLM Bot",
            "username": bot_username,
        }
        self.limits_enabled = limits_enabled
        self.private_burst, self.private_rate = private_burst, private_rate
        self.group_burst, self.group_rate = group_burst, group_rate
        self.group_per_minute = group_per_minute
        self.ban_extension = ban_extension
        self._global = _Bucket(global_burst, global_rate)

        self.calls: list[Call] = []
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self.chats: dict[int, JSON] = {}
        self.users: dict[int, JSON] = {}
        self.files: dict[str, _StoredFile] = {}
        self.drafts: dict[int, list[JSON]] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.admins: dict[int, set[int]] = {}
        self.owners: dict[int, int] = {}
        self.updates: list[JSON] = []  # not yet confirmed by an offset
        self.spec_violations: list[str] = []
        self.rate_limited: list[tuple[str, int, int]] = []

        self._topics: dict[int, dict[int, str]] = {}
        self._next_id: dict[int, int] = {}
        self._update_id = 100_000
        self._file_counter = 0
        self._allowed_updates: list[str] | None = None
        self._update_event = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._buckets: dict[int, _Bucket] = {}
        self._windows: dict[int, deque[float]] = {}
        self._bans: dict[int, float] = {}
        self._last_call: dict[int, float] = {}
        self._failures: list[_Failure] = []
        self.client_max_size = 100 * 1024 * 1024
        self._open_queries: dict[str, float] = {}
        self.shutdown_timeout = 0.1
        self.webhook: JSON | None = None  # what setWebhook set (deleteWebhook clears it)
        self._hangs: list[_Hang] = []
        # Awaited with the params of every getUpdates call before it confirms anything.
        self.on_get_updates: list[Callable[[JSON], Any]] = []
        self._handlers: dict[str, Callable[[Call], Any]] = {
            "getMe": self._get_me,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "sendMessageDraft": self._send_message_draft,
            "getFile": self._get_file,
            "sendPhoto": lambda call: self._send_media(call, "photo"),
            "sendVoice": lambda call: self._send_media(call, "voice"),
            "sendDocument": lambda call: self._send_media(call, "document"),
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "setMessageReaction": self._set_message_reaction,
            "createForumTopic": self._create_forum_topic,
        }

    # ---- lifecycle

    @property
    def base_url(self) -> str:
        """Root URL: the bot calls ``{base_url}/bot{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        """Every Bot API method and file download goes through one handler."""
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        self._update_event.set()
        await super().stop()

    # ---- test helpers: world

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        *,
        title: str | None = None,
        first_name: str = "Alice",
        username: str | None = None,
        is_forum: bool = False,
    ) -> JSON:
        """Register a chat (or return the known one) so the bot can send to it."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = first_name
            else:
                chat["title"] = title or f"Chat {chat_id}"
            if username:
                chat["username"] = username
            self.chats[chat_id] = chat
        elif title and chat["type"] != "private":
            chat["title"] = title
        if is_forum:
            chat["is_forum"] = True
        return chat

    def set_admins(self, chat_id: int, user_ids: list[int], *, owner: int | None = None) -> None:
        """Set the administrators (and optionally the owner) of a chat."""
        self.admins[chat_id] = set(user_ids)
        if owner is not None:
            self.owners[chat_id] = owner

    def add_file(
        self, content: bytes, file_path: str, *, file_size: int | None = None
    ) -> tuple[str, str]:
        """Make a file available through getFile and download; returns (file_id, unique_id)."""
        self._file_counter += 1
        n = self._file_counter
        stored = _StoredFile(
            file_id=f"BQACAgIAAxkBAAI{n:05d}{secrets.token_hex(10)}",
            file_unique_id=f"AgAD{n:04d}{secrets.token_hex(4)}",
            file_path=file_path,
            content=content,
            file_size=len(content) if file_size is None else file_size,
        )
        self.files[stored.file_id] = stored
        return stored.file_id, stored.file_unique_id

    def create_forum_topic(self, chat_id: int, name: str, *, icon_color: int = 7322096) -> int:
        """Create a topic (and its creation service message); returns its message_thread_id."""
        self.add_chat(chat_id, "supergroup", title="Forum", is_forum=True)
        creator = {"id": 1001, "is_bot": False, "first_name": "Alice"}
        msg = self._store(
            chat_id,
            creator,
            from_bot=False,
            kind="service",
            extra={"forum_topic_created": {"name": name, "icon_color": icon_color}},
        )
        msg.thread_id = msg.message_id
        msg.raw.update(message_thread_id=msg.message_id, is_topic_message=True)
        self._topics.setdefault(chat_id, {})[msg.message_id] = name
        return msg.message_id

    def push_update(self, payload: JSON) -> JSON:
        """Queue an Update (``update_id`` assigned) for getUpdates and wake long polls."""
        self._update_id += 1
        update = {"update_id": self._update_id, **payload}
        self.updates.append(update)
        self._update_event.set()
        return update

    def user_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "Alice",
        username: str | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        thread_id: int | None = None,
        is_forum: bool = False,
        reply_to_message_id: int | None = None,
        entities: list[JSON] | None = None,
        caption: str | None = None,
        photo_file_ids: list[str] | None = None,
        voice: str | JSON | None = None,
        audio: str | JSON | None = None,
        document: str | JSON | None = None,
        media_group_id: str | None = None,
        language_code: str = "en",
    ) -> JSON:
        """Queue a message from a user as an Update; returns the Message object."""
        self.add_chat(
            chat_id, chat_type, title=chat_title, first_name=first_name, is_forum=is_forum
        )
        uid = user_id if user_id is not None else chat_id if chat_type == "private" else 1001
        user: JSON = {
            "id": uid,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if username:
            user["username"] = username
        self.users[uid] = user
        if thread_id is not None and thread_id not in self._topics.get(chat_id, {}):
            raise ValueError(f"no topic {thread_id} in chat {chat_id}: use create_forum_topic")
        if reply_to_message_id is not None and reply_to_message_id not in self.messages.get(
            chat_id, {}
        ):
            raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
        extra: JSON = {}
        kind = "text"
        if photo_file_ids:
            extra["photo"], kind = self._photo_sizes(photo_file_ids), "photo"
        for name, value, defaults in (
            ("voice", voice, {"duration": 2, "mime_type": "audio/ogg"}),
            ("audio", audio, {"duration": 3, "mime_type": "audio/mpeg"}),
            ("document", document, {"mime_type": "application/octet-stream"}),
        ):
            if value is not None:
                extra[name], kind = self._media_object(value, defaults), name
        if caption is not None:
            extra["caption"] = caption
            if found := detect_entities(caption):
                extra["caption_entities"] = found
        if media_group_id is not None:
            extra["media_group_id"] = media_group_id
        if text is not None and entities is None:
            entities = detect_entities(text)
        msg = self._store(
            chat_id,
            user,
            text=text,
            entities=entities or [],
            thread_id=thread_id,
            reply_to=reply_to_message_id,
            from_bot=False,
            kind=kind,
            extra=extra,
        )
        msg.caption = caption
        self.push_update({"message": msg.raw})
        return msg.raw

    def press_button(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> str:
        """A user presses an inline button of a bot message; returns the callback query id."""
        msg = self.messages[chat_id][message_id]
        uid = user_id if user_id is not None else chat_id
        user = self.users.get(uid) or {"id": uid, "is_bot": False, "first_name": "User"}
        self.users[uid] = user
        query_id = str(secrets.randbits(63))
        self._open_queries[query_id] = time.monotonic()
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": msg.raw,
                    "chat_instance": str(chat_id),
                    "data": data,
                }
            }
        )
        return query_id

    def edit_user_message(self, chat_id: int, message_id: int, text: str) -> JSON:
        """The user edits one of their messages: an `edited_message` update."""
        msg = self.messages[chat_id][message_id]
        if msg.from_bot:
            raise ValueError("users edit only their own messages")
        field_name = "caption" if msg.caption is not None else "text"
        if field_name == "caption":
            msg.caption = text
        else:
            msg.text = text
            msg.entities = detect_entities(text)
            msg.raw.pop("entities", None)
            if msg.entities:
                msg.raw["entities"] = msg.entities
        msg.raw[field_name] = text
        msg.raw["edit_date"] = int(time.time())
        self.push_update({"edited_message": dict(msg.raw)})
        return msg.raw

    def buttons(self, chat_id: int, message_id: int) -> list[JSON]:
        """The inline buttons a bot message carries now, row after row."""
        markup = self.messages[chat_id][message_id].reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def callback_answers(self) -> list[JSON]:
        """Every answerCallbackQuery call's parameters, in order."""
        return [c.params for c in self.calls_for("answerCallbackQuery")]

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        parameters: JSON | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of method (for chat_id, if given) with this error."""
        name = _method_names().get(method.lower(), method)
        self._failures.append(_Failure(name, error_code, description, parameters, chat_id, times))

    def hang_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls of method ``seconds`` each, then answer 504."""
        name = _method_names().get(method.lower(), method)
        self._hangs.append(_Hang(name, seconds, times))

    # ---- test helpers: inspection

    def bot_messages(
        self, chat_id: int, thread_id: int | None = None, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Messages the bot sent to a chat (optionally one topic), oldest first."""
        return [
            m
            for m in self.messages.get(chat_id, {}).values()
            if m.from_bot
            and (include_deleted or not m.deleted)
            and (thread_id is None or m.thread_id == thread_id)
        ]

    def calls_for(self, method: str, chat_id: int | None = None) -> list[Call]:
        """Calls of one method (optionally to one chat), in order."""
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == chat_id)
        ]

    def last_text(self, chat_id: int) -> str | None:
        """Text (or caption) of the bot's latest visible message in a chat."""
        sent = self.bot_messages(chat_id)
        return (sent[-1].text if sent[-1].text is not None else sent[-1].caption) if sent else None

    def chat_actions(self, chat_id: int) -> list[str]:
        """Actions the bot broadcast successfully to a chat (``typing``...), in order."""
        return [
            c.params["action"] for c in self.calls_for("sendChatAction", chat_id) if not c.error
        ]

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands the bot set for a scope and language."""
        return self.commands.get(self._commands_key(scope, language_code), [])

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll until predicate() is truthy and return its value; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.01)
        return value

    async def wait_idle(
        self,
        chat_id: int,
        quiet: float = 0.3,
        timeout: float = 10.0,
    ) -> None:
        """Wait until the bot made no call for chat_id during ``quiet`` seconds."""
        start = time.monotonic()
        while True:
            now = time.monotonic()
            if now - max(start, self._last_call.get(chat_id, start)) >= quiet:
                return
            if now - start > timeout:
                raise TimeoutError(f"chat {chat_id} still busy after {timeout} s")
            await asyncio.sleep(0.02)

    # ---- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            token, _, file_path = path.removeprefix("/file/bot").partition("/")
            return self._download(token, file_path)
        token, slash, name = path.removeprefix("/bot").partition("/")
        if not path.startswith("/bot") or not slash:
            return _error_body(404, "Not Found")
        if token != self.token:
            return _error_body(401, "Unauthorized")
        method = _method_names().get(name.lower())
        if method is None:
            return _error_body(404, "Not Found")
        params = self._normalize(method, await self._read_params(request))
        call = Call(method, params, time.monotonic(), self._chat_key(params.get("chat_id")))
        call.body_type = request.content_type if request.body_exists else ""
        self.calls.append(call)
        if call.chat_id is not None:
            self._last_call[call.chat_id] = call.time
        self._check_spec(method, params)
        try:
            result = await self._dispatch(call, request)
        except ApiError as err:
            call.error = err.description
            return _error_body(err.code, err.description, err.parameters)
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    params[key] = UploadedFile(
                        value.file.read(), value.filename, value.content_type
                    )
                else:
                    params[key] = value
        return params

    def _normalize(self, method: str, params: JSON) -> JSON:
        fields = spec_fields("methods", method)
        return {
            key: _coerce(value, fields[key]["types"] if key in fields else ["Object"])
            for key, value in params.items()
        }

    def _chat_key(self, chat_id: Any) -> int | None:
        if isinstance(chat_id, int):
            return chat_id
        if isinstance(chat_id, str):
            for chat in self.chats.values():
                if chat.get("username") and f"@{chat['username']}" == chat_id:
                    return int(chat["id"])
        return None

    def _check_spec(self, method: str, params: JSON) -> None:
        fields = spec_fields("methods", method)
        attached = {
            v.removeprefix("attach://")
            for v in params.values()
            if isinstance(v, str) and v.startswith("attach://")
        }
        for name, value in params.items():
            spec = fields.get(name)
            if spec is not None:
                self.spec_violations += check_value(f"{method}.{name}", value, spec["types"])
            elif not (name in attached and isinstance(value, UploadedFile)):
                self.spec_violations.append(f"{method}: unknown parameter {name!r}")
        for name, spec in fields.items():
            if spec["required"] and name not in params:
                self.spec_violations.append(f"{method}: missing required parameter {name!r}")

    def _download(self, token: str, file_path: str) -> web.Response:
        if token != self.token:
            return _error_body(401, "Unauthorized")
        for stored in self.files.values():
            if stored.file_path == file_path:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return _error_body(404, "Not Found")

    async def _dispatch(self, call: Call, request: web.Request) -> Any:
        for hang in self._hangs:
            if hang.method == call.method:
                hang.times -= 1
                if hang.times <= 0:
                    self._hangs.remove(hang)
                await asyncio.sleep(hang.seconds)
                raise ApiError("Gateway Timeout", 504)
        for failure in self._failures:
            if failure.method == call.method and failure.chat_id in (None, call.chat_id):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise ApiError(failure.description, failure.code, failure.parameters)
        for name, spec in spec_fields("methods", call.method).items():
            if spec["required"] and name not in call.params:
                raise _bad("message text is empty" if name == "text" else f"{name} is empty")
        if call.method == "getUpdates":
            return await self._get_updates(call, request)
        handler = self._handlers.get(call.method)
        return True if handler is None else handler(call)

    # ---- flood control

    def _pace(self, call: Call, chat: JSON) -> None:
        if not self.limits_enabled or call.method not in PACED_METHODS:
            return
        now, chat_id = time.monotonic(), int(chat["id"])
        counted, private = call.method in COUNTED_METHODS, chat["type"] == "private"
        ban = self._bans.get(chat_id, 0.0)
        if now < ban - _SLACK:
            self._bans[chat_id] = ban + self.ban_extension
            self._reject(call, chat_id, self._bans[chat_id] - now)
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = _Bucket(self.private_burst, self.private_rate)
            if not private:
                bucket = _Bucket(self.group_burst, self.group_rate)
            self._buckets[chat_id] = bucket
        window = self._windows.setdefault(chat_id, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        waits = [bucket.wait(now)]
        if counted:
            waits.append(self._global.wait(now))
            if not private and len(window) >= self.group_per_minute:
                waits.append(window[0] + 60 - now)
        wait = max(waits)
        if wait > _SLACK:
            retry = max(1, math.ceil(wait))
            self._bans[chat_id] = now + retry
            self._reject(call, chat_id, retry)
        bucket.tokens -= 1
        if counted:
            self._global.tokens -= 1
            if not private:
                window.append(now)

    def _reject(self, call: Call, chat_id: int, seconds: float) -> None:
        retry = max(1, math.ceil(seconds))
        self.rate_limited.append((call.method, chat_id, retry))
        raise ApiError(f"Too Many Requests: retry after {retry}", 429, {"retry_after": retry})

    # ---- message store

    def _chat(self, params: JSON) -> JSON:
        chat = self.chats.get(self._chat_key(params.get("chat_id")) or 0)
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _store(
        self,
        chat_id: int,
        sender: JSON,
        *,
        text: str | None = None,
        entities: list[JSON] | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        from_bot: bool,
        kind: str = "text",
        extra: JSON | None = None,
    ) -> StoredMessage:
        chat_messages = self.messages.setdefault(chat_id, {})
        message_id = self._next_id[chat_id] = self._next_id.get(chat_id, 0) + 1
        raw: JSON = {
            "message_id": message_id,
            "from": sender,
            "chat": dict(self.chats[chat_id]),
            "date": int(time.time()),
        }
        in_topic = thread_id is not None and thread_id in self._topics.get(chat_id, {})
        if in_topic:
            raw.update(message_thread_id=thread_id, is_topic_message=True)
        target = reply_to if reply_to is not None else thread_id if in_topic else None
        if target is not None and target in chat_messages:
            replied = chat_messages[target].raw
            raw["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        if text is not None:
            raw["text"] = text
            if entities:
                raw["entities"] = entities
        raw.update(extra or {})
        msg = StoredMessage(
            chat_id=chat_id,
            message_id=message_id,
            text=text,
            entities=list(entities or []),
            thread_id=thread_id,
            reply_to=reply_to,
            from_bot=from_bot,
            raw=raw,
            kind=kind,
        )
        msg.history.append((text if text is not None else raw.get("caption"), msg.entities))
        chat_messages[message_id] = msg
        return msg

    def _placement(self, chat: JSON, params: JSON) -> tuple[int | None, int | None]:
        """Validate message_thread_id and reply_parameters; return (thread_id, reply_to)."""
        chat_id = int(chat["id"])
        thread = params.get("message_thread_id")
        if thread is not None and thread not in self._topics.get(chat_id, {}):
            raise _bad("message thread not found")
        reply = params.get("reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        reply_to = reply.get("message_id", params.get("reply_to_message_id"))
        if reply_to is not None:
            target = self.messages.get(chat_id, {}).get(reply_to)
            if target is None or target.deleted:
                if not reply.get("allow_sending_without_reply"):
                    raise _bad("message to be replied not found")
                reply_to = None
            elif thread is None:
                thread = target.thread_id  # a reply goes into the replied message's topic
        return thread, reply_to

    def _media_object(self, value: str | JSON, defaults: JSON) -> JSON:
        if isinstance(value, dict):
            return {**defaults, **value}
        stored = self.files.get(value)
        media: JSON = {"file_id": value, "file_unique_id": f"AgAD{abs(hash(value)) % 10**8}"}
        if stored is not None:
            media.update(
                file_unique_id=stored.file_unique_id,
                file_size=stored.file_size,
                file_name=stored.file_path.rsplit("/", 1)[-1],
            )
        if defaults.get("mime_type") == "audio/ogg":
            media.pop("file_name", None)  # voice notes have no file name
        return {**defaults, **media}

    def _photo_sizes(self, file_ids: list[str]) -> list[JSON]:
        sizes = []
        for index, file_id in enumerate(file_ids):
            side = (90, 320, 800, 1280, 2560)[min(index, 4)]
            photo = self._media_object(file_id, {"width": side, "height": side * 3 // 4})
            photo.pop("file_name", None)
            sizes.append(photo)
        return sizes

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), str(language_code or "")

    # ---- methods

    def _get_me(self, call: Call) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates"):
            self.updates.clear()
        self.webhook = None
        return True

    def _set_webhook(self, call: Call) -> bool:
        url = str(call.params.get("url") or "")
        if not url:
            return self._delete_webhook(call)
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        if call.params.get("drop_pending_updates"):
            self.updates.clear()
        self.webhook = dict(call.params)
        return True

    def _get_webhook_info(self, call: Call) -> JSON:
        url = str(self.webhook.get("url", "")) if self.webhook else ""
        return {
            "url": url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def _get_updates(self, call: Call, request: web.Request) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
                409,
            )
        p = call.params
        for hook in self.on_get_updates:
            await hook(p)
        self._poll_generation += 1
        generation = self._poll_generation
        self._update_event.set()  # an older long poll ends with 409 Conflict
        offset = p.get("offset")
        if isinstance(offset, int) and offset < 0:
            self.updates = self.updates[offset:]
        elif isinstance(offset, int):
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if "allowed_updates" in p:
            self._allowed_updates = p["allowed_updates"] or None
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + max(0, int(p.get("timeout") or 0))
        await asyncio.sleep(0)
        while True:
            if generation != self._poll_generation:
                if request.transport is None or request.transport.is_closing():
                    return []
                raise ApiError(
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                    409,
                )
            ready = [u for u in self.updates if self._wanted(u)][:limit]
            remaining = deadline - time.monotonic()
            if ready or self._closing or remaining <= 0:
                return ready
            self._update_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_event.wait(), remaining)

    def _wanted(self, update: JSON) -> bool:
        kinds = set(update) - {"update_id"}
        return self._allowed_updates is None or bool(kinds & set(self._allowed_updates))

    def _set_my_commands(self, call: Call) -> bool:
        commands = call.params["commands"]
        for command in commands if isinstance(commands, list) else []:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        self.commands[key] = commands
        return True

    def _get_my_commands(self, call: Call) -> list[JSON]:
        return self.my_commands(call.params.get("scope"), call.params.get("language_code") or "")

    def _delete_my_commands(self, call: Call) -> bool:
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        self.commands.pop(key, None)
        return True

    def _send_message(self, call: Call) -> JSON:
        p = call.params
        chat = self._chat(p)
        text, entities = render_text(str(p["text"]), p.get("parse_mode"), p.get("entities"))
        _check_text(text)
        thread, reply_to = self._placement(chat, p)
        self._pace(call, chat)
        msg = self._store(
            int(chat["id"]),
            self.bot_user,
            text=text,
            entities=entities,
            thread_id=thread,
            reply_to=reply_to,
            from_bot=True,
        )
        self._set_markup(msg, p.get("reply_markup"))
        return msg.raw

    @staticmethod
    def _set_markup(msg: StoredMessage, markup: Any) -> None:
        msg.reply_markup = markup if isinstance(markup, dict) else None
        msg.raw.pop("reply_markup", None)
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            msg.raw["reply_markup"] = msg.reply_markup
        msg.markup_history.append(msg.reply_markup)

    def _find_message(self, chat: JSON, params: JSON, missing: str) -> StoredMessage:
        if params.get("message_id") is None:
            raise _bad("message identifier is not specified")
        msg = self.messages.get(int(chat["id"]), {}).get(params["message_id"])
        if msg is None or msg.deleted:
            raise _bad(missing)
        return msg

    def _edit_message_text(self, call: Call) -> JSON | bool:
        p = call.params
        if "inline_message_id" in p:
            return True
        chat = self._chat(p)
        msg = self._find_message(chat, p, "message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        if msg.text is None:
            raise _bad("there is no text in the message to edit")
        text, entities = render_text(str(p.get("text", "")), p.get("parse_mode"), p.get("entities"))
        _check_text(text)
        self._pace(call, chat)
        markup = p.get("reply_markup")
        if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise ApiError(NOT_MODIFIED)
        msg.text, msg.entities = text, entities
        msg.history.append((text, entities))
        msg.raw["text"] = text
        msg.raw.pop("entities", None)
        if entities:
            msg.raw["entities"] = entities
        msg.raw["edit_date"] = int(time.time())
        self._set_markup(msg, markup)
        return msg.raw

    def _answer_callback_query(self, call: Call) -> bool:
        asked = self._open_queries.pop(str(call.params.get("callback_query_id")), None)
        if asked is None or time.monotonic() - asked > 15:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        return True

    def _delete_message(self, call: Call) -> bool:
        msg = self._find_message(
            self._chat(call.params), call.params, "message to delete not found"
        )
        msg.deleted = True
        return True

    def _send_chat_action(self, call: Call) -> bool:
        chat = self._chat(call.params)
        self._placement(chat, {"message_thread_id": call.params.get("message_thread_id")})
        if call.params["action"] not in chat_actions():
            raise _bad("wrong parameter action in request")
        return True

    def _send_message_draft(self, call: Call) -> bool:
        p = call.params
        chat = self._chat(p)
        if chat["type"] != "private":
            raise _bad("method is available only for private chats")
        if not p["draft_id"]:
            raise _bad("draft_id must be non-zero")
        text, entities = render_text(str(p.get("text", "")), p.get("parse_mode"), p.get("entities"))
        _check_text(text, empty_ok=True)
        self._pace(call, chat)
        self.drafts.setdefault(int(chat["id"]), []).append(
            {
                "draft_id": p["draft_id"],
                "text": text,
                "entities": entities,
                "thread_id": p.get("message_thread_id"),
            }
        )
        return True

    def _get_file(self, call: Call) -> JSON:
        stored = self.files.get(str(call.params["file_id"]))
        if stored is None:
            raise _bad("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    def _send_media(self, call: Call, kind: str) -> JSON:
        p = call.params
        chat = self._chat(p)
        caption, entities = render_text(
            str(p.get("caption", "")), p.get("parse_mode"), p.get("caption_entities")
        )
        if utf16_len(caption) > MAX_CAPTION:
            raise _bad("message caption is too long")
        thread, reply_to = self._placement(chat, p)
        value, upload = p[kind], None
        if isinstance(value, UploadedFile):
            upload, n = value, self._file_counter + 1
            path = {
                "photo": f"photos/file_{n}.jpg",
                "voice": f"voice/file_{n}.oga",
                "document": f"documents/file_{n}_{value.filename or 'document'}",
            }[kind]
            value, _ = self.add_file(value.data, path)
        elif not isinstance(value, str) or not (
            value in self.files or value.startswith(("http://", "https://"))
        ):
            raise _bad("wrong file identifier/HTTP URL specified")
        self._pace(call, chat)
        mime = (upload.content_type if upload else None) or "application/octet-stream"
        defaults: JSON = {"duration": 1, "mime_type": "audio/ogg"} if kind == "voice" else {}
        if kind == "document":
            defaults["mime_type"] = mime
        extra: JSON = {
            kind: self._photo_sizes([value])
            if kind == "photo"
            else self._media_object(value, defaults)
        }
        if kind == "document" and upload and upload.filename:
            extra[kind]["file_name"] = upload.filename
        if caption:
            extra["caption"] = caption
            if entities:
                extra["caption_entities"] = entities
        msg = self._store(
            int(chat["id"]),
            self.bot_user,
            entities=entities,
            thread_id=thread,
            reply_to=reply_to,
            from_bot=True,
            kind=kind,
            extra=extra,
        )
        msg.caption, msg.file = caption or None, upload
        return msg.raw

    def _get_chat(self, call: Call) -> JSON:
        chat = self._chat(call.params)
        gifts = dict.fromkeys(spec_fields("types", "AcceptedGiftTypes"), False)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _member(self, chat_id: int, user_id: int) -> JSON:
        user = self.users.get(user_id) or (
            self.bot_user
            if user_id == self.bot_id
            else {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        )
        if self.owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self.admins.get(chat_id, set()):
            return {"status": "administrator", "user": user, **_admin_rights()}
        return {"status": "member", "user": user}

    def _get_chat_member(self, call: Call) -> JSON:
        chat = self._chat(call.params)
        return self._member(int(chat["id"]), int(call.params["user_id"]))

    def _get_chat_administrators(self, call: Call) -> list[JSON]:
        chat = self._chat(call.params)
        chat_id = int(chat["id"])
        if chat["type"] == "private":
            raise _bad("there are no administrators in the private chat")
        ids = [self.owners[chat_id]] if chat_id in self.owners else []
        ids += sorted(self.admins.get(chat_id, set()) - set(ids))
        return [self._member(chat_id, user_id) for user_id in ids]

    def _set_message_reaction(self, call: Call) -> bool:
        msg = self._find_message(self._chat(call.params), call.params, "message to react not found")
        msg.reactions = list(call.params.get("reaction") or [])
        return True

    def _create_forum_topic(self, call: Call) -> JSON:
        chat = self._chat(call.params)
        if not chat.get("is_forum"):
            raise _bad("the chat is not a forum")
        name = str(call.params["name"])
        thread_id = self.create_forum_topic(int(chat["id"]), name)
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}
