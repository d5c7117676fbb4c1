"""What the bot keeps, shown and controlled: /history /forget /system /persona /usage /stats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import DEFAULT_SYSTEM_PROMPT
from storage import ChatKey, MessageRecord
from tests.conftest import USER, Harness
from tests.fakes.openai import Text, Usage

GROUP = -100777
OTHER = 5555


def _echo(body: dict[str, Any]) -> list[Any]:
    return [Text("re: " + str(body["messages"][-1]["content"]))]


async def _press(
    h: Harness,
    chat_id: int,
    message_id: int,
    text: str | None = None,
    *,
    data: str | None = None,
    user_id: int | None = None,
) -> dict[str, Any]:
    """Press a button (by its text, or raw `data`); wait until the bot answered the query."""
    if data is None:
        found = [b for b in h.telegram.buttons(chat_id, message_id) if b["text"] == text]
        assert found, f"no button {text!r}"
        data = str(found[0]["callback_data"])
    query = h.telegram.press_button(chat_id, message_id, data, user_id=user_id)

    def answered() -> dict[str, Any] | None:
        asked = [a for a in h.telegram.callback_answers() if a["callback_query_id"] == query]
        return asked[0] if asked else None

    result: dict[str, Any] = await h.telegram.wait_for(answered)
    await h.telegram.wait_idle(chat_id, quiet=0.2)
    return result


def _buttons(h: Harness, chat_id: int, message_id: int) -> list[str]:
    return [str(b["text"]) for b in h.telegram.buttons(chat_id, message_id)]


def _last(h: Harness, chat_id: int = USER):
    return h.telegram.bot_messages(chat_id)[-1]


def _group_say(h: Harness, text: str, user_id: int = 1001) -> None:
    h.telegram.user_message(GROUP, text, chat_type="supergroup", chat_title="Team", user_id=user_id)


def _system_sent(h: Harness) -> str:
    return str(h.provider.last_messages()[0]["content"])


async def test_history_lists_and_goes_back_to_a_conversation(harness: Harness) -> None:
    harness.provider.set_default(_echo)
    harness.say("about cats")
    await harness.answer()
    harness.say("/new")
    await harness.notice(count=2)
    harness.say("about dogs")
    await harness.answer(count=3, turns=2)
    harness.say("/history")
    await harness.notice(count=4)
    listing = _last(harness)
    assert "1. ▶ about dogs" in (listing.text or "") and "current" in (listing.text or "")
    assert "2. about cats" in (listing.text or "")
    assert _buttons(harness, USER, listing.message_id) == ["2. about cats"]
    answered = await _press(harness, USER, listing.message_id, "2. about cats")
    assert "text" not in answered
    assert "Back to “about cats”" in (_last(harness).text or "")
    harness.say("and what about them?")
    await harness.answer(count=5, turns=3)
    sent = [(m["role"], m["content"]) for m in harness.provider.last_messages()[1:]]
    assert sent == [
        ("user", "about cats"),
        ("assistant", "re: about cats"),
        ("user", "and what about them?"),
    ]
    harness.say("/history")
    await harness.notice(count=6)
    assert "1. about dogs" in (_last(harness).text or ""), "the one left is kept"


async def test_history_pages_and_a_forged_button_does_nothing(harness: Harness) -> None:
    store, key = harness.store, ChatKey(USER)
    for i in range(7):
        conversation = await store.new_conversation(key)
        await store.add_message(conversation, MessageRecord(role="user", content=f"topic {i}"))
    harness.say("/history")
    await harness.notice()
    first = _last(harness)
    assert "(1/2)" in (first.text or "") and "topic 2" in (first.text or "")
    assert "topic 1" not in (first.text or "")
    assert _buttons(harness, USER, first.message_id)[-1] == "Older ›"
    await _press(harness, USER, first.message_id, "Older ›")
    second = harness.telegram.messages[USER][first.message_id]
    assert "(2/2)" in (second.text or "") and "topic 0" in (second.text or "")
    assert _buttons(harness, USER, first.message_id)[-1] == "‹ Newer"
    active = await store.active_conversation(key)
    answered = await _press(harness, USER, first.message_id, data="h:r:1|AAAAAAAAAAA")
    assert "text" not in answered, "a forged press only gets its query answered"
    assert await store.active_conversation(key) == active
    assert harness.provider.chat_requests() == []


async def test_forget_deletes_everything_of_this_chat_only(harness: Harness) -> None:
    harness.provider.set_default(_echo)
    harness.say("/system Be brief.")
    await harness.notice()
    harness.say("my secret is 1234")
    await harness.answer(count=2)
    harness.say("kept elsewhere", chat_id=OTHER)
    await harness.answer(OTHER)
    harness.say("/forget")
    await harness.notice(count=3)
    confirm = _last(harness)
    assert _buttons(harness, USER, confirm.message_id) == ["Delete everything", "Cancel"]
    await _press(harness, USER, confirm.message_id, "Delete everything")
    done = harness.telegram.messages[USER][confirm.message_id].text or ""
    assert "Deleted: 1 conversations, 2 messages, 2 settings" in done  # /system, last answer
    store = harness.store
    assert (await store.conversations(ChatKey(USER), 0, 10)).total == 0
    assert await store.get_setting(ChatKey(USER), "system_prompt") is None
    assert [m.content for m in await harness.stored()] == []
    other = [m.content for m in await harness.stored(OTHER)]
    assert other == ["kept elsewhere", "re: kept elsewhere"]
    assert not any("1234" in line for line in harness.log_lines)
    again = await _press(harness, USER, confirm.message_id, data="f:y:1|AAAAAAAAAAA")
    assert "text" not in again


async def test_forget_in_a_group_is_for_admins(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.provider.set_default(_echo)
    harness.telegram.set_admins(GROUP, [1001])
    _group_say(harness, "/ask remember me")
    await harness.answer(GROUP)
    _group_say(harness, "/forget", user_id=1002)
    assert "admins" in (await harness.notice(GROUP, count=2))[-1]
    _group_say(harness, "/forget", user_id=1001)
    await harness.notice(GROUP, count=3)
    confirm = _last(harness, GROUP)
    refused = await _press(harness, GROUP, confirm.message_id, "Delete everything", user_id=1002)
    assert "admins" in str(refused.get("text"))
    assert (await harness.store.conversations(ChatKey(GROUP), 0, 10)).total == 1
    await _press(harness, GROUP, confirm.message_id, "Delete everything", user_id=1001)
    assert (await harness.store.conversations(ChatKey(GROUP), 0, 10)).total == 0


async def test_system_sets_shows_and_resets_the_instructions(harness: Harness) -> None:
    harness.provider.set_default(_echo)
    harness.say("/system Answer like a pirate.")
    await harness.notice()
    harness.say("hello")
    await harness.answer(count=2)
    assert _system_sent(harness) == "Answer like a pirate."
    harness.say("/system")
    assert "Answer like a pirate." in (await harness.notice(count=3))[-1]
    harness.say("/system reset")
    await harness.notice(count=4)
    harness.say("hello again")
    await harness.answer(count=5, turns=2)
    assert _system_sent(harness) == DEFAULT_SYSTEM_PROMPT


async def test_system_in_a_group_is_for_admins(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.provider.set_default(_echo)
    harness.telegram.set_admins(GROUP, [1001])
    _group_say(harness, "/system Speak French.", user_id=1002)
    assert "admins" in (await harness.notice(GROUP))[-1]
    _group_say(harness, "/ask hi", user_id=1002)
    await harness.answer(GROUP, count=2)
    assert _system_sent(harness) == DEFAULT_SYSTEM_PROMPT
    _group_say(harness, "/system Speak French.", user_id=1001)
    await harness.notice(GROUP, count=3)
    _group_say(harness, "/ask hi", user_id=1002)
    await harness.answer(GROUP, count=4, turns=2)
    assert _system_sent(harness) == "Speak French."


async def test_persona_buttons_choose_a_preset_and_its_model(
    harness: Harness, tmp_path: Path
) -> None:
    presets = tmp_path / "personas.toml"
    presets.write_text(
        '[[persona]]\nname = "pirate"\nprompt = "Talk like a pirate."\nmodel = "gpt-4.1"\n\n'
        '[[persona]]\nname = "teacher"\nprompt = "Explain step by step."\n',
        encoding="utf-8",
    )
    await harness.restart(personas_file=str(presets))
    harness.provider.set_default(_echo)
    harness.say("/persona")
    await harness.notice()
    menu = _last(harness)
    assert _buttons(harness, USER, menu.message_id) == ["pirate", "teacher", "default"]
    await _press(harness, USER, menu.message_id, "pirate")
    assert "pirate (model gpt-4.1)" in (harness.telegram.messages[USER][menu.message_id].text or "")
    harness.say("ahoy")
    await harness.answer(count=2)
    request = harness.provider.chat_requests()[-1]
    assert (request["model"], _system_sent(harness)) == ("gpt-4.1", "Talk like a pirate.")
    harness.say("/persona teacher")
    await harness.notice(count=3)
    harness.say("why is the sky blue?")
    await harness.answer(count=4, turns=2)
    assert _system_sent(harness) == "Explain step by step."


async def test_usage_shows_what_the_provider_reported(harness: Harness, tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["gpt-4o-mini"]\ninput = 1.0\noutput = 2.0\n', encoding="utf-8")
    await harness.restart(model_prices_file=str(prices))
    harness.provider.script(Text("one"), Usage(100, 20))
    harness.say("first")
    await harness.answer()
    harness.provider.script(Text("two"), Usage(27, 13))
    harness.say("second")
    await harness.answer(count=2, turns=2)
    harness.say("/usage")
    text = (await harness.notice(count=3))[-1]
    today, month = text.split("This month:")
    line = "gpt-4o-mini: 2 messages, 127 input + 33 output tokens ≈ $0.0002"
    assert line in today and line in month
    harness.say("/usage", chat_id=OTHER)
    assert "nothing yet" in (await harness.notice(OTHER))[-1]


async def test_daily_message_limit_refuses_then_resets_at_local_midnight(
    harness: Harness,
) -> None:
    await harness.restart(daily_message_limit=3, admin_user_ids="9999", timezone="Asia/Ho_Chi_Minh")
    harness.provider.set_default(_echo)
    now = [1_772_384_400.0 - 600]  # 2026-03-01 16:50 UTC = 23:50 in Hanoi (UTC+7)
    assert harness.runtime is not None
    harness.runtime.services.clock = lambda: now[0]
    for n in range(1, 4):
        harness.say(f"question {n}")
        await harness.answer(count=n, turns=n)
    harness.say("question 4")
    texts = await harness.notice(count=4)
    assert "today's 3 messages" in texts[-1] and "00:00 (+07), in 0 h 10 min" in texts[-1]
    assert len(harness.provider.chat_requests()) == 3
    for n in range(1, 5):
        harness.say(f"admin {n}", chat_id=9999)
        await harness.answer(9999, count=n, turns=n)
    assert len(harness.provider.chat_requests()) == 7, "bot admins have no limit"
    await harness.restart()  # the counts live in the database
    harness.runtime.services.clock = lambda: now[0]
    harness.say("question 5")
    assert "today's 3 messages" in (await harness.notice(count=5))[-1]
    now[0] += 660  # 00:01 in Hanoi: a new day
    harness.say("question 6")
    texts = await harness.answer(count=6, turns=4)
    assert texts[-1] == "re: question 6"


async def test_stats_are_for_bot_admins(harness: Harness) -> None:
    await harness.restart(admin_user_ids="9999")
    harness.provider.set_default(_echo)
    harness.say("hi")
    await harness.answer()
    harness.say("hello", chat_id=OTHER)
    await harness.answer(OTHER)
    harness.say("/stats")
    assert "Only the bot's admins" in (await harness.notice(count=2))[-1]
    harness.say("/stats", chat_id=9999)
    text = (await harness.notice(9999))[-1]
    assert "Active users: 2 today, 2 this month" in text
    assert "Active chats: 2 today" in text
    assert "2 complete, 0 interrupted, 0 failed" in text
    assert "p50 " in text and "p95 " in text and "p50 –" not in text
    assert "gpt-4o-mini:" in text


async def test_new_commands_are_in_every_menu(harness: Harness) -> None:
    for language in ("", "vi", "zh"):
        names = [c["command"] for c in harness.telegram.my_commands(language_code=language)]
        assert {"history", "forget", "system", "persona", "usage", "stats"} <= set(names)


async def test_topics_have_their_own_history_and_forget(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.provider.set_default(_echo)
    telegram = harness.telegram
    telegram.add_chat(GROUP, "supergroup", title="Forum", is_forum=True)
    travel, food = (
        telegram.create_forum_topic(GROUP, "Travel"),
        telegram.create_forum_topic(GROUP, "Food"),
    )
    telegram.set_admins(GROUP, [1001])
    for topic, text in ((travel, "/ask trains in Japan"), (food, "/ask best pho")):
        telegram.user_message(GROUP, text, chat_type="supergroup", user_id=1001, thread_id=topic)
    await harness.answer(GROUP, count=2, turns=2)
    telegram.user_message(GROUP, "/history", chat_type="supergroup", thread_id=travel)
    await harness.notice(GROUP, count=3)
    listing = _last(harness, GROUP)
    assert listing.thread_id == travel and "trains in Japan" in (listing.text or "")
    assert "pho" not in (listing.text or "")
    telegram.user_message(GROUP, "/forget", chat_type="supergroup", thread_id=travel)
    await harness.notice(GROUP, count=4)
    confirm = _last(harness, GROUP)
    await _press(harness, GROUP, confirm.message_id, "Delete everything", user_id=1001)
    assert (await harness.store.conversations(ChatKey(GROUP, travel), 0, 10)).total == 0
    kept = await harness.stored(GROUP, food)
    assert (kept[0].content, kept[1].content) == ("best pho", "re: [Alice]: best pho")


async def test_group_and_token_limits(harness: Harness) -> None:
    await harness.restart(
        allowed_chat_ids=str(GROUP),
        group_daily_message_limit=2,
        daily_token_limit=100,
        admin_user_ids="1005",
    )
    harness.provider.set_default(_echo)
    _group_say(harness, "/ask one", user_id=1001)
    _group_say(harness, "/ask two", user_id=1002)
    await harness.answer(GROUP, count=2, turns=2)
    _group_say(harness, "/ask three", user_id=1003)
    assert "This group has used today's 2 messages" in (await harness.notice(GROUP, count=3))[-1]
    _group_say(harness, "/ask four", user_id=1005)
    await harness.answer(GROUP, count=4, turns=4)
    assert len(harness.provider.chat_requests()) == 3, "the bot's admin is not limited"
    harness.provider.script(Text("long"), Usage(100, 20))
    harness.say("spend my tokens")
    await harness.answer()
    harness.say("and more")
    assert "today's 100 tokens" in (await harness.notice(count=2))[-1]
    assert len(harness.provider.chat_requests()) == 4
