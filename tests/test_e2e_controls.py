"""Control over an answer: Stop, Regenerate, Continue, /stop and editing the question."""

from __future__ import annotations

import asyncio

from tests.conftest import USER, Harness
from tests.fakes.openai import Finish, Text, Texts

GROUP = -100555
ASKER, OTHER = 2001, 2002


def _button(harness: Harness, chat_id: int, label: str) -> tuple[int, str]:
    """The (message id, callback data) of the bot's newest message button whose text has label."""
    for message in reversed(harness.telegram.bot_messages(chat_id)):
        for button in harness.telegram.buttons(chat_id, message.message_id):
            if label in button["text"]:
                return message.message_id, button["callback_data"]
    raise AssertionError(f"no {label!r} button in chat {chat_id}")


def _chat_records(harness: Harness) -> list:
    return [r for r in harness.provider.requests if r.path.endswith("/chat/completions")]


async def test_stop_ends_the_stream_keeps_the_text_and_the_next_turn_sees_it(
    harness: Harness,
) -> None:
    harness.provider.script(Texts([f"w{i} " for i in range(400)], delay=0.02))
    harness.say("write a lot")
    telegram = harness.telegram
    await telegram.wait_for(lambda: "w5" in (telegram.last_text(USER) or ""))
    message_id, data = _button(harness, USER, "Stop")
    telegram.press_button(USER, message_id, data)
    texts = await harness.answer(timeout=5)
    assert texts[-1].endswith("⏹ Stopped.")
    shown = texts[-1].removesuffix("⏹ Stopped.").strip()
    assert shown.startswith("w0 w1 w2 w3 w4 w5") and "w399" not in shown
    await telegram.wait_for(lambda: _chat_records(harness)[0].client_closed, timeout=3)
    assert telegram.callback_answers()[-1].get("text") == "Stopping…"
    assert [b["text"] for b in telegram.buttons(USER, message_id)] == ["🔄 Regenerate"]
    harness.provider.script(Text("ok"))
    harness.say("and now?")
    await harness.answer(count=2, turns=2)
    sent = harness.provider.last_messages()
    assert sent[-2]["role"] == "assistant" and sent[-2]["content"] == shown
    stored = [m for m in await harness.stored() if m.role == "assistant"]
    assert stored[0].status == "interrupted"


async def test_stop_command_stops_the_running_answer(harness: Harness) -> None:
    harness.provider.script(Texts([f"x{i} " for i in range(400)], delay=0.02))
    harness.say("go")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_messages(USER))
    harness.say("/stop")
    texts = await harness.answer(timeout=5)
    assert texts[0].endswith("⏹ Stopped.")


async def test_regenerate_replaces_the_answer_in_place(harness: Harness) -> None:
    harness.provider.script(Text("First answer."))
    harness.say("Tell me a joke")
    await harness.answer()
    harness.provider.script(Text("Second answer."))
    message_id, data = _button(harness, USER, "Regenerate")
    harness.telegram.press_button(USER, message_id, data)
    await harness.telegram.wait_for(lambda: harness.turns_done(USER) == 2, timeout=5)
    await harness.telegram.wait_idle(USER, quiet=0.2)
    texts = [m.text for m in harness.telegram.bot_messages(USER)]
    assert texts == ["Second answer."], "the same message now shows the new answer"
    first, second = (r.json["messages"] for r in _chat_records(harness))
    assert first == second, "the same question is asked again"
    stored = [(m.role, m.content) for m in await harness.stored()]
    assert stored == [("user", "Tell me a joke"), ("assistant", "Second answer.")]


async def test_only_the_latest_answer_can_be_regenerated(harness: Harness) -> None:
    harness.provider.set_default(lambda body: [Text("answer " + str(len(body["messages"])))])
    harness.say("one")
    await harness.answer()
    old_id, old_data = _button(harness, USER, "Regenerate")
    harness.say("two")
    await harness.answer(count=2, turns=2)
    harness.telegram.press_button(USER, old_id, old_data)
    await harness.telegram.wait_for(lambda: harness.telegram.callback_answers(), timeout=3)
    await asyncio.sleep(0.3)
    assert "latest" in harness.telegram.callback_answers()[-1]["text"]
    assert len(_chat_records(harness)) == 2


async def test_continue_after_the_length_limit_appends(harness: Harness) -> None:
    harness.provider.script(Text("The story begins"), Finish("length"))
    harness.say("story")
    texts = await harness.answer()
    assert "output limit" in texts[0]
    message_id, data = _button(harness, USER, "Continue")
    harness.provider.script(Text("and ends."))
    harness.telegram.press_button(USER, message_id, data)
    texts = await harness.answer(count=2, turns=2)
    assert texts[-1] == "and ends."
    sent = harness.provider.last_messages()
    assert sent[-2] == {"role": "assistant", "content": "The story begins"}
    assert sent[-1]["role"] == "user" and "Continue" in sent[-1]["content"]


async def test_editing_the_latest_question_re_answers_in_place(harness: Harness) -> None:
    harness.provider.script(Text("Paris is in France."))
    question = harness.say("Where is Paris?")
    await harness.answer()
    harness.provider.script(Text("Rome is in Italy."))
    harness.telegram.edit_user_message(USER, question["message_id"], "Where is Rome?")
    await harness.telegram.wait_for(lambda: harness.turns_done(USER) == 2, timeout=5)
    await harness.telegram.wait_idle(USER, quiet=0.2)
    assert [m.text for m in harness.telegram.bot_messages(USER)] == ["Rome is in Italy."]
    assert harness.provider.last_messages()[-1] == {"role": "user", "content": "Where is Rome?"}
    stored = [(m.role, m.content) for m in await harness.stored()]
    assert stored == [("user", "Where is Rome?"), ("assistant", "Rome is in Italy.")]


async def test_editing_an_older_question_changes_nothing(harness: Harness) -> None:
    harness.provider.set_default(lambda body: [Text("ok")])
    old = harness.say("first")
    await harness.answer()
    harness.say("second")
    await harness.answer(count=2, turns=2)
    harness.telegram.edit_user_message(USER, old["message_id"], "first, edited")
    await asyncio.sleep(0.6)
    assert len(_chat_records(harness)) == 2
    assert len(harness.telegram.bot_messages(USER)) == 2


async def test_an_edit_while_answering_restarts_with_the_new_text(harness: Harness) -> None:
    harness.provider.script(Texts([f"a{i} " for i in range(300)], delay=0.02))
    question = harness.say("Tell me about cats")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_messages(USER))
    harness.provider.script(Text("Dogs are loyal."))
    harness.telegram.edit_user_message(USER, question["message_id"], "Tell me about dogs")
    await harness.telegram.wait_for(lambda: harness.turns_done(USER) == 2, timeout=8)
    await harness.telegram.wait_idle(USER, quiet=0.2)
    assert [m.text for m in harness.telegram.bot_messages(USER)] == ["Dogs are loyal."]
    assert harness.provider.last_messages()[-1]["content"] == "Tell me about dogs"


async def test_in_groups_only_the_asker_may_press(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.telegram.set_admins(GROUP, [9999])
    harness.provider.set_default(lambda body: [Text("group answer")])
    kw = {"chat_type": "supergroup", "chat_title": "G"}
    harness.telegram.user_message(GROUP, "/ask hello", user_id=ASKER, **kw)
    await harness.answer(GROUP)
    message_id, data = _button(harness, GROUP, "Regenerate")
    harness.telegram.press_button(GROUP, message_id, data, user_id=OTHER)
    await harness.telegram.wait_for(lambda: harness.telegram.callback_answers(), timeout=3)
    await asyncio.sleep(0.3)
    assert "person who asked" in harness.telegram.callback_answers()[-1]["text"]
    assert len(_chat_records(harness)) == 1
    harness.telegram.press_button(GROUP, message_id, data, user_id=ASKER)
    await harness.telegram.wait_for(lambda: len(_chat_records(harness)) == 2, timeout=5)


async def test_forged_callback_data_only_answers_the_query(harness: Harness) -> None:
    harness.provider.script(Text("An answer."))
    harness.say("q")
    await harness.answer()
    message_id, data = _button(harness, USER, "Regenerate")
    payload, _, signature = data.rpartition("|")
    forged = [f"{payload}|{'A' * len(signature)}", "ar.1.1", "x" * 64, "", "h:1"]
    for bad in forged:
        harness.telegram.press_button(USER, message_id, bad)
    await harness.telegram.wait_for(lambda: len(harness.telegram.callback_answers()) == 5)
    await asyncio.sleep(0.3)
    assert len(_chat_records(harness)) == 1
    assert [m.text for m in harness.telegram.bot_messages(USER)] == ["An answer."]


async def test_buttons_cost_no_extra_calls_while_streaming(harness: Harness) -> None:
    harness.provider.script(Texts([f"t{i} " for i in range(60)], delay=0.01))
    harness.say("go")
    await harness.answer()
    calls = [c for c in harness.telegram.calls if c.method in ("sendMessage", "editMessageText")]
    streaming = calls[:-1]
    assert all("reply_markup" in c.params for c in streaming), "Stop rides on every edit"
    assert "Regenerate" in str(calls[-1].params["reply_markup"])


async def test_the_final_text_and_regenerate_go_out_in_one_call(harness: Harness) -> None:
    # The stream ends while the reply waits for its next edit slot: that edit is the final one.
    harness.provider.script(Texts([f"t{i} " for i in range(60)], delay=0.01))
    harness.say("go")
    await harness.answer()
    calls = [c for c in harness.telegram.calls if c.method in ("sendMessage", "editMessageText")]
    texts = [c.params.get("text") for c in calls]
    assert len(texts) == len(set(texts)), f"an edit only swapped the buttons: {texts[-2:]}"
    assert "Regenerate" in str(calls[-1].params["reply_markup"])
