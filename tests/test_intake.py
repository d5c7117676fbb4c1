"""Intake helpers: the inbox lane of every kind of update (hostile ones too), the secret."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from handlers.intake import derive_webhook_secret, inbox_key
from tests.conftest import TOKEN

GROUP = -100123


def _message(text: str = "hi", *, chat: int = GROUP, topic: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": 7, "date": 0, "chat": {"id": chat}, "text": text}
    if topic is not None:
        message.update(message_thread_id=topic, is_topic_message=True)
    return message


@pytest.mark.parametrize(
    ("update", "lane"),
    [
        ({"update_id": 1, "message": _message()}, (GROUP, 0)),
        ({"update_id": 1, "message": _message(topic=55)}, (GROUP, 55)),
        ({"update_id": 1, "channel_post": _message(chat=-1009)}, (-1009, 0)),
        ({"update_id": 1, "business_message": _message(chat=5)}, (5, 0)),
        ({"update_id": 1, "edited_message": _message()}, (GROUP, -1)),
        ({"update_id": 1, "edited_message": _message(topic=55)}, (GROUP, -56)),
        ({"update_id": 1, "edited_channel_post": _message(chat=-1009)}, (-1009, -1)),
        ({"update_id": 1, "message": _message("/stop")}, (GROUP, -1)),
        ({"update_id": 1, "message": _message("/stop@test_llm_bot", topic=9)}, (GROUP, -10)),
        ({"update_id": 1, "message": _message("/STOP now")}, (GROUP, -1)),
        ({"update_id": 1, "message": _message("/stopped")}, (GROUP, 0)),
        ({"update_id": 1, "message": _message("please /stop")}, (GROUP, 0)),
        (
            {"update_id": 1, "callback_query": {"id": "1", "data": "x", "message": _message()}},
            (GROUP, -1),
        ),
        (
            {"update_id": 1, "callback_query": {"id": "1", "message": _message(topic=3)}},
            (GROUP, -4),
        ),
        ({"update_id": 1, "callback_query": {"id": "1", "inline_message_id": "a"}}, (0, 0)),
        ({"update_id": 1, "my_chat_member": {"chat": {"id": GROUP}}}, (GROUP, 0)),
        ({"update_id": 1, "message_reaction": {"chat": {"id": 8}}}, (8, 0)),
        ({"update_id": 1, "inline_query": {"id": "1", "query": "x"}}, (0, 0)),
        ({"update_id": 1, "poll_answer": {"poll_id": "1"}}, (0, 0)),
        ({"update_id": 1, "something_new": {"chat": {"id": 3}}}, (0, 0)),
    ],
)
def test_each_kind_of_update_goes_to_its_lane(
    update: dict[str, Any], lane: tuple[int, int]
) -> None:
    assert inbox_key(update) == lane


def test_a_topic_id_counts_only_for_topic_messages() -> None:
    message = _message()
    message["message_thread_id"] = 77  # a reply thread in a group without topics
    assert inbox_key({"update_id": 1, "message": message}) == (GROUP, 0)


@pytest.mark.parametrize(
    "update",
    [
        None,
        [],
        "message",
        {"message": None},
        {"message": []},
        {"message": {"chat": None}},
        {"message": {"chat": {"id": "12"}}},
        {"message": {"chat": {"id": True}}},
        {"message": {"chat": {"id": 10**30}}},
        {"message": {"chat": {}}},
        {"callback_query": "x"},
        {"callback_query": {"message": 5}},
        {"edited_message": {"chat": []}},
        {"my_chat_member": {"chat": {"id": 1.5}}},
    ],
)
def test_malformed_updates_go_to_the_no_chat_lane(update: Any) -> None:
    assert inbox_key(update) == (0, 0)


def test_malformed_topic_fields_fall_back_to_the_main_lane() -> None:
    for thread in ("5", True, -3, 0, 10**40, None, 2.5):
        message = _message("/stop")
        message.update(message_thread_id=thread, is_topic_message=True)
        assert inbox_key({"message": message}) == (GROUP, -1)
        message["text"] = {"not": "text"}
        assert inbox_key({"message": message}) == (GROUP, 0)


def test_random_garbage_never_raises() -> None:
    rng = random.Random(12)
    pieces: list[Any] = [None, 0, -1, True, "", "/stop", [], {}, 10**20, 1.5, {"id": 1}]
    keys = [
        "message",
        "edited_message",
        "callback_query",
        "chat",
        "id",
        "text",
        "message",
        "is_topic_message",
        "message_thread_id",
        "chat_member",
    ]

    def build(depth: int) -> Any:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(pieces)
        return {rng.choice(keys): build(depth - 1) for _ in range(rng.randint(1, 4))}

    for _ in range(3000):
        chat, thread = inbox_key(build(5))
        assert isinstance(chat, int) and isinstance(thread, int)


def test_the_derived_secret_is_stable_allowed_and_does_not_reveal_the_token() -> None:
    secret = derive_webhook_secret(TOKEN)
    assert secret == derive_webhook_secret(TOKEN), "replicas with one token agree"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
    assert len(secret) >= 40
    assert secret != derive_webhook_secret(TOKEN + "x")
    for part in TOKEN.split(":"):
        assert part not in secret
