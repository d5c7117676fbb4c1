"""Malformed updates the fuzz found (tests/test_fuzz_updates.py): each handled, the bot still answers."""

from __future__ import annotations

from typing import Any

from handlers.callback_data import CallbackSigner
from tests.conftest import USER, Harness
from tests.fakes.openai import Text


def _unhandled(harness: Harness) -> list[str]:
    return [line for line in harness.log_lines if "unhandled error" in line]


async def _still_answers(harness: Harness, count: int = 1) -> None:
    harness.provider.script(Text("Still here."))
    harness.say("hello")
    assert (await harness.answer(count=count))[-1] == "Still here."
    assert _unhandled(harness) == []


def _message(**fields: Any) -> dict[str, Any]:
    message = {
        "message_id": 9,
        "date": 1_700_000_000,
        "text": "hi",
        "chat": {"id": USER, "type": "private"},
    }
    message["from"] = {"id": USER, "is_bot": False, "first_name": "Alice"}
    message.update(fields)
    return {k: v for k, v in message.items() if v is not None}


async def test_a_message_without_its_chat_is_dropped(harness: Harness) -> None:
    harness.telegram.push_update({"message": _message(chat=None)})
    harness.telegram.push_update({"edited_message": _message(chat=None, edit_date=1)})
    await _still_answers(harness)


async def test_a_stranger_pressing_regenerate_does_not_reach_the_model(harness: Harness) -> None:
    await harness.restart(allowed_user_ids=str(USER))
    harness.provider.script(Text("First."))
    harness.say("hi")
    await harness.answer()
    answer_id = harness.telegram.bot_messages(USER)[-1].message_id
    data = harness.telegram.buttons(USER, answer_id)[0]["callback_data"]
    asked = len(harness.provider.chat_requests())
    harness.telegram.press_button(USER, answer_id, data, user_id=5151)  # not allowed
    await harness.telegram.wait_for(lambda: harness.telegram.callback_answers(), timeout=5)
    await harness.telegram.wait_idle(USER, quiet=0.3)
    assert len(harness.provider.chat_requests()) == asked
    await _still_answers(harness, count=2)


async def test_ids_too_large_for_the_store_are_dropped(harness: Harness) -> None:
    await harness.restart(allowed_user_ids=str(USER))  # strangers are told once: a lookup
    huge = 2**64
    chat = {"id": huge, "type": "private", "first_name": "M"}
    sender = {"id": huge, "is_bot": False, "first_name": "M"}
    harness.telegram.push_update({"message": _message(chat=chat, text=None, **{"from": sender})})
    harness.telegram.push_update({"message": _message(**{"from": sender}, text="/start")})
    harness.telegram.push_update({"message": _message(message_thread_id=-(2**70))})
    await _still_answers(harness)


def test_callback_data_with_non_ascii_signature_is_refused_not_raised() -> None:
    signer = CallbackSigner("123:abc")
    assert signer.verify("h:r:42|ü") is None and signer.verify("as.1|😀😀") is None


async def test_a_press_with_non_ascii_data_only_stops_the_spinner(harness: Harness) -> None:
    query = {"id": "78", "chat_instance": "c", "data": "h:é|ü", "message": _message()}
    query["from"] = {"id": USER, "is_bot": False, "first_name": "Alice"}
    harness.telegram.push_update({"callback_query": query})
    await _still_answers(harness)


async def test_entities_and_texts_of_the_wrong_type_are_dropped(harness: Harness) -> None:
    command = {"type": "bot_command", "offset": 0}
    for length in ("6", None, 2.5, [6]):
        entities = [{**command, "length": length}]
        harness.telegram.push_update({"message": _message(text="/start", entities=entities)})
    entities = [{**command, "length": 6}]
    harness.telegram.push_update({"message": _message(text=12345, entities=entities)})
    await _still_answers(harness)


async def test_a_button_press_without_its_id_is_dropped(harness: Harness) -> None:
    # Answering it would call answerCallbackQuery without callback_query_id (a spec violation).
    sender = {"id": USER, "is_bot": False, "first_name": "Alice"}
    for query_id in (None, "", [], {}):
        query = {"id": query_id, "chat_instance": "c", "data": "x", "from": sender}
        harness.telegram.push_update({"callback_query": query})
    await _still_answers(harness)
    assert harness.telegram.spec_violations == []
