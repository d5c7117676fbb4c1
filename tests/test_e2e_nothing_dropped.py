"""Nothing is dropped without a word: unknown commands, bare mentions, failing settings."""

from __future__ import annotations

import itertools

from tests.conftest import USER, Harness
from tests.fakes.openai import Text

GROUP = -100321


async def test_an_unknown_command_in_a_private_chat_is_text(harness: Harness) -> None:
    harness.provider.script(Text("Here is a summary."))
    harness.say("/summarize the text above")
    texts = await harness.answer()
    assert texts == ["Here is a summary."]
    assert harness.provider.last_messages()[-1]["content"] == "/summarize the text above"


async def test_a_bare_mention_in_reply_asks_about_the_replied_message(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.provider.script(Text("It means hello."))
    kw = {"chat_type": "supergroup", "chat_title": "G"}
    original = harness.telegram.user_message(
        GROUP, "xin chào", user_id=3001, first_name="Lan", **kw
    )
    harness.telegram.user_message(
        GROUP, "@test_llm_bot", user_id=3002, reply_to_message_id=original["message_id"], **kw
    )
    texts = await harness.answer(GROUP)
    assert texts == ["It means hello."]
    asked = harness.provider.last_messages()[-1]["content"]
    assert "xin chào" in asked and "What about this message?" in asked


async def test_a_settings_command_meeting_a_database_error_says_so(harness: Harness) -> None:
    store = harness.store

    async def broken(*args: object) -> None:
        raise RuntimeError("disk I/O error")

    store.set_setting = broken  # type: ignore[method-assign]
    harness.say("/voice on")
    texts = await harness.notice()
    assert texts == ["Something went wrong on my side. Please try again."]
    assert not any("disk I/O" in t for t in texts)


async def test_chats_past_the_concurrency_limit_are_taken_as_soon_as_a_slot_frees(
    harness: Harness,
) -> None:
    await harness.restart(max_concurrent_updates=1)
    harness.provider.set_default(lambda body: [Text("done", delay=0.3)])
    chats = [USER + 1, USER + 2, USER + 3]
    for chat in chats:
        harness.say("hello", chat_id=chat)
    for chat in chats:
        assert await harness.answer(chat) == ["done"]
    starts = sorted(r.time for r in harness.provider.requests if r.path.endswith("/completions"))
    assert len(starts) == 3
    # One at a time; the next chat starts when a slot frees, not at the next idle look (1 s).
    assert all(0.25 < later - earlier < 0.8 for earlier, later in itertools.pairwise(starts))
