"""Access control, commands, the command menu, and secrets kept out of logs."""

from __future__ import annotations

from tests.conftest import API_KEY, TOKEN, USER, Harness
from tests.fakes.openai import Text


async def test_stranger_is_told_once_with_their_id_and_no_model_call(harness: Harness) -> None:
    await harness.restart(allowed_user_ids="1,2", admin_user_ids="3")
    harness.say("hello?", chat_id=9001)
    texts = await harness.notice(chat_id=9001)
    assert len(texts) == 1
    assert "9001" in texts[0] and "ALLOWED_USER_IDS" in texts[0]
    harness.say("anyone?", chat_id=9001)
    harness.say("/start", chat_id=9001)
    await harness.telegram.wait_idle(9001, quiet=0.5)
    assert len(harness.telegram.bot_messages(9001)) == 1
    assert harness.provider.chat_requests() == []


async def test_listed_users_and_admins_are_served(harness: Harness) -> None:
    await harness.restart(allowed_user_ids="9002", admin_user_ids="9003")
    harness.provider.set_default(lambda body: [Text("welcome")])
    harness.say("hi", chat_id=9002)
    harness.say("hi", chat_id=9003)
    assert await harness.answer(chat_id=9002) == ["welcome"]
    assert await harness.answer(chat_id=9003) == ["welcome"]


async def test_empty_allow_list_lets_nobody_in_but_star_opens_to_all(harness: Harness) -> None:
    await harness.restart(allowed_user_ids="", admin_user_ids="")
    harness.say("hi", chat_id=9004)
    assert "9004" in (await harness.notice(chat_id=9004))[0]
    await harness.restart(allowed_user_ids="*")
    harness.provider.script(Text("open"))
    harness.say("hi", chat_id=9005)
    assert await harness.answer(chat_id=9005) == ["open"]


async def test_start_and_help(harness: Harness) -> None:
    harness.say("/start")
    texts = await harness.notice()
    assert "/new" in texts[0] and "gpt-4o-mini" in texts[0]
    harness.say("/help")
    texts = await harness.notice(count=2)
    assert "/reset" in texts[1] and "/ask <question>" in texts[1]
    harness.say("/start", chat_id=USER + 1, language_code="vi")
    assert "Xin chào" in (await harness.notice(chat_id=USER + 1))[0]
    assert harness.provider.chat_requests() == []


async def test_commands_are_registered_at_start_up(harness: Harness) -> None:
    calls = harness.telegram.calls_for("setMyCommands")
    assert calls
    default = harness.telegram.my_commands()
    names = [c["command"] for c in default]
    assert {"start", "help", "new", "reset", "ask"} <= set(names)
    assert harness.telegram.my_commands(language_code="vi")


async def test_model_switch_per_chat(harness: Harness) -> None:
    await harness.restart(available_models="gpt-4o-mini,gpt-4.1")
    harness.say("/model gpt-4.1")
    assert "gpt-4.1" in (await harness.notice())[0]
    harness.provider.script(Text("from 4.1"))
    harness.say("hi")
    await harness.answer(count=2)
    assert harness.provider.chat_requests()[-1]["model"] == "gpt-4.1"
    harness.say("/model nope")
    assert "Unknown" in (await harness.notice(count=3))[-1]


async def test_unsupported_message_gets_a_clear_answer(harness: Harness) -> None:
    harness.telegram.user_message(
        USER, None, document={"file_id": "x", "file_unique_id": "y", "file_name": "a.bin"}
    )
    texts = await harness.notice()
    assert "can't read" in texts[0]


async def test_secrets_never_reach_logs_or_chats_or_provider(harness: Harness) -> None:
    harness.provider.script(Text("fine"))
    harness.say("hello")
    await harness.answer()
    await harness.restart()
    assert harness.log_lines, "the bot logs"
    assert any("turn chat=" in line for line in harness.log_lines)
    for line in harness.log_lines:
        assert TOKEN not in line
        assert TOKEN.split(":")[1] not in line
        assert API_KEY not in line
    for request in harness.provider.chat_requests():
        assert TOKEN.split(":")[1] not in str(request)
    for messages in harness.telegram.messages.values():
        for message in messages.values():
            assert API_KEY not in (message.text or "")
