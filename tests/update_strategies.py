"""Hypothesis strategies for Telegram updates: from the Bot API spec, realistic, and mutated."""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import strategies as st

from tests.fakes.telegram import load_spec

JSON = dict[str, Any]
MAX_DEPTH = 3
_CHOICES = re.compile(r"[“\"]([A-Za-z0-9_./:-]{1,40})[”\"]")

# Callback prefixes the bot's handlers match, so random data reaches every button handler.
CALLBACK_PREFIXES = ("model:", "as.", "ar.", "ac.", "h:", "f:", "p:", "", "a", "|")
COMMANDS = (
    "/start", "/help", "/new", "/reset", "/model", "/ask", "/answerall", "/voice", "/image",
    "/history", "/forget", "/system", "/persona", "/usage", "/stats", "/stop", "/unknown",
)  # fmt: skip

_SPEC = load_spec()
TYPES: dict[str, JSON] = _SPEC["types"]
UPDATE_KINDS = [f["name"] for f in TYPES["Update"]["fields"] if f["name"] != "update_id"]


def _ids(stranger_ids: list[int]) -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from(stranger_ids),
        st.integers(-(2**63), 2**63),
        st.integers(-(10**13), 10**13),
        st.sampled_from([0, -1, 1, 2**31, -(2**31), 2**53, 2**64, -(10**12) - 1]),
    )


_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(["", " ", "/", "@", "🤖" * 50, "\u200d\u0000", "x" * 5000]),
)
HUGE = st.sampled_from(["a" * 70_000, "😀" * 20_000, "/start " + "x" * 10_000])


def _choices(description: str) -> list[str]:
    return _CHOICES.findall(description)


def _scalar(kind: str, name: str, description: str, ids: st.SearchStrategy[int]) -> Any:
    if kind == "Integer":
        return ids if name.endswith("id") else st.integers(-(2**40), 2**40)
    if kind == "String":
        options = _choices(description)
        return st.one_of(st.sampled_from(options), _TEXT) if options else _TEXT
    if kind == "Boolean":
        return st.booleans()
    if kind == "True":
        return st.just(True)
    if kind == "Float":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    return None


@st.composite
def spec_value(
    draw: st.DrawFn, kind: str, name: str, description: str, depth: int, ids: Any
) -> Any:
    """A value of a spec type expression ("Integer", "Array of X", "Message", ...)."""
    if kind.startswith("Array of "):
        inner = kind.removeprefix("Array of ")
        size = draw(st.integers(0, 3 if depth < MAX_DEPTH else 1))
        return [draw(spec_value(inner, name, description, depth + 1, ids)) for _ in range(size)]
    scalar = _scalar(kind, name, description, ids)
    if scalar is not None:
        return draw(scalar)
    return draw(spec_object(kind, depth + 1, ids))


@st.composite
def spec_object(draw: st.DrawFn, type_name: str, depth: int, ids: Any) -> JSON:
    """An object of a spec type: its required fields and a few optional ones."""
    spec = TYPES.get(type_name)
    if spec is None:
        return {}
    if "subtypes" in spec:
        return draw(spec_object(draw(st.sampled_from(spec["subtypes"])), depth, ids))
    fields = spec.get("fields", [])
    required = [f for f in fields if f["required"]]
    optional = [f for f in fields if not f["required"]]
    chosen = list(required)
    if optional and depth <= MAX_DEPTH:
        chosen += draw(
            st.lists(st.sampled_from(optional), max_size=5, unique_by=lambda f: f["name"])
        )
    result: JSON = {}
    for f in chosen:
        description = (
            " ".join(f.get("description", ""))
            if isinstance(f.get("description"), list)
            else f.get("description", "")
        )
        kind = draw(st.sampled_from(f["types"]))
        result[f["name"]] = draw(spec_value(kind, f["name"], description, depth, ids))
    return result


@st.composite
def spec_update(draw: st.DrawFn, ids: Any) -> JSON:
    """An update of any kind the spec lists, every field generated from its type."""
    kind = draw(st.sampled_from(UPDATE_KINDS))
    field = next(f for f in TYPES["Update"]["fields"] if f["name"] == kind)
    return {kind: draw(spec_object(field["types"][0], 1, ids))}


def _user(uid: int) -> JSON:
    return {"id": uid, "is_bot": False, "first_name": "Mallory", "language_code": "en"}


@st.composite
def realistic_update(draw: st.DrawFn, stranger_ids: list[int], bot_messages: list[JSON]) -> JSON:
    """An update shaped like what Telegram sends: texts, commands, media, buttons, edits."""
    uid = draw(st.sampled_from(stranger_ids))
    chat_kind = draw(
        st.sampled_from(["private", "private", "private", "group", "supergroup", "channel"])
    )
    chat: JSON = {"id": uid if chat_kind == "private" else -(10**12) - uid, "type": chat_kind}
    if chat_kind != "private":
        chat["title"] = "Group"
    if chat_kind == "supergroup" and draw(st.booleans()):
        chat["is_forum"] = True
    text = draw(
        st.one_of(
            _TEXT,
            st.sampled_from(COMMANDS),
            st.builds(lambda c, t: f"{c}@testbot {t}", st.sampled_from(COMMANDS), _TEXT),
        )
    )
    message: JSON = {"message_id": draw(st.integers(1, 10**6)), "date": 1_700_000_000, "chat": chat}
    if chat_kind != "channel" and draw(st.integers(0, 9)) > 0:
        message["from"] = _user(uid)
    else:
        message["sender_chat"] = {"id": chat["id"], "type": chat_kind, "title": "Chan"}
    content = draw(
        st.sampled_from(
            ["text", "text", "text", "photo", "voice", "document", "caption", "sticker"]
        )
    )
    if content == "text":
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}
            ]
    elif content == "photo":
        message["photo"] = [{"file_id": "nofile", "file_unique_id": "u", "width": 90, "height": 90}]
    elif content == "voice":
        message["voice"] = {
            "file_id": "nofile",
            "file_unique_id": "v",
            "duration": draw(st.integers(-5, 10**6)),
        }
    elif content == "document":
        message["document"] = {
            "file_id": "nofile",
            "file_unique_id": "d",
            "file_name": "x.pdf",
            "mime_type": "application/pdf",
        }
    elif content == "caption":
        message["photo"] = [{"file_id": "nofile", "file_unique_id": "u", "width": 1, "height": 1}]
        message["caption"] = text
    else:
        message["sticker"] = {
            "file_id": "s",
            "file_unique_id": "s",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        }
    if chat.get("is_forum") and draw(st.booleans()):
        message.update(message_thread_id=draw(st.integers(-3, 10**6)), is_topic_message=True)
    if draw(st.integers(0, 4)) == 0:
        message["reply_to_message"] = (
            draw(st.sampled_from(bot_messages)) if bot_messages else dict(message)
        )
    kind = draw(
        st.sampled_from(
            [
                "message",
                "message",
                "message",
                "edited_message",
                "channel_post",
                "edited_channel_post",
                "business_message",
                "edited_business_message",
                "callback_query",
            ]
        )
    )
    if kind == "business_message" or kind == "edited_business_message":
        message["business_connection_id"] = "bc1"
    if kind.startswith("edited"):
        message["edit_date"] = 1_700_000_100
    if kind == "callback_query":
        target = (
            draw(st.sampled_from(bot_messages)) if bot_messages and draw(st.booleans()) else message
        )
        data = draw(
            st.one_of(
                st.builds(
                    lambda p, t: (p + t)[:64],
                    st.sampled_from(CALLBACK_PREFIXES),
                    st.text(max_size=60),
                ),
                st.sampled_from([b["data"] for b in _buttons(bot_messages)] or ["x"]),
                st.text(max_size=300),
            )
        )
        query: JSON = {
            "id": str(draw(st.integers(0, 2**63))),
            "from": _user(uid),
            "chat_instance": "ci",
            "data": data,
        }
        if draw(st.integers(0, 5)) > 0:
            query["message"] = target
        return {"callback_query": query}
    return {kind: message}


def _buttons(bot_messages: list[JSON]) -> list[JSON]:
    found: list[JSON] = []
    for m in bot_messages:
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", []):
            found += [{"data": b["callback_data"]} for b in row if "callback_data" in b]
    return found


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), _TEXT, HUGE,
    st.just([]), st.just({}), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[JSON]) -> JSON:
    """A valid-looking update with a few fields removed, retyped, inflated or made inconsistent."""
    update = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(update)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _parent(update, path), path[-1]
        op = draw(st.sampled_from(["delete", "wrong", "huge", "negative", "unknown", "entities"]))
        if op == "delete" and isinstance(parent, dict):
            del parent[last]
        elif op == "wrong":
            parent[last] = draw(WRONG)
        elif op == "huge" and isinstance(parent[last], str):
            parent[last] = draw(HUGE)
        elif (
            op == "negative"
            and isinstance(parent[last], int)
            and not isinstance(parent[last], bool)
        ):
            parent[last] = -abs(parent[last]) - draw(st.integers(0, 2**64))
        elif op == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=20))] = draw(WRONG)
        elif op == "entities" and isinstance(parent, dict):
            parent["entities"] = draw(st.lists(st.fixed_dictionaries({
                "type": st.sampled_from(["bot_command", "mention", "text_mention", "url", "text_link", "bold", "custom_emoji", "nonsense"]),
                "offset": st.integers(-(2**40), 2**40), "length": st.integers(-(2**40), 2**40),
            }), max_size=4))  # fmt: skip
    return update


def scrub(value: Any, forbidden: set[int], replacement: int, sender: bool = False) -> Any:
    """`value` with every allowed id inside a sender (`from`) replaced: senders stay strangers."""
    if isinstance(value, dict):
        return {
            k: scrub(v, forbidden, replacement, sender or k in ("from", "user"))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, forbidden, replacement, sender) for v in value]
    if sender and isinstance(value, int) and not isinstance(value, bool) and value in forbidden:
        return replacement
    return value
