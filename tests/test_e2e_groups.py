"""Groups: /ask, mentions, replies, answer-all, forum topics, access and pace."""

from __future__ import annotations

import itertools

from tests.conftest import Harness
from tests.fakes.openai import Text, Texts

GROUP = -100123
BOT = "test_llm_bot"


def _echo(body: dict) -> list:
    return [Text("re: " + str(body["messages"][-1]["content"]))]


async def _group(harness: Harness, **settings) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP), **settings)
    harness.provider.set_default(_echo)


def _say(harness: Harness, text: str, user_id: int = 1001, name: str = "Alice", **kw):
    return harness.telegram.user_message(
        GROUP,
        text,
        chat_type="supergroup",
        chat_title="Team",
        user_id=user_id,
        first_name=name,
        **kw,
    )


async def test_ask_with_and_without_botname_and_plain_chatter_ignored(harness: Harness) -> None:
    await _group(harness)
    asked = _say(harness, "/ask what is 2+2?")
    await harness.answer(GROUP)
    _say(harness, f"/ask@{BOT} and 3+3?")
    await harness.answer(GROUP, count=2, turns=2)
    _say(harness, "just chatting among ourselves")
    _say(harness, "/ask@other_bot not for us")
    await harness.telegram.wait_idle(GROUP, quiet=0.5)
    replies = harness.telegram.bot_messages(GROUP)
    assert len(replies) == 2
    assert replies[0].reply_to == asked["message_id"]
    assert replies[0].text == "re: [Alice]: what is 2+2?"
    assert replies[1].text == "re: [Alice]: and 3+3?"
    assert len(harness.provider.chat_requests()) == 2


async def test_mention_and_reply_to_the_bot_are_answered(harness: Harness) -> None:
    await _group(harness)
    _say(harness, f"@{BOT} hello there")
    await harness.answer(GROUP)
    bot_message = harness.telegram.bot_messages(GROUP)[0]
    assert bot_message.text == "re: [Alice]: hello there"
    _say(
        harness,
        "and a follow-up",
        user_id=1002,
        name="Bob",
        reply_to_message_id=bot_message.message_id,
    )
    await harness.answer(GROUP, count=2, turns=2)
    assert harness.telegram.bot_messages(GROUP)[1].text == "re: [Bob]: and a follow-up"
    sent = harness.provider.last_messages()
    assert [m["content"] for m in sent if m["role"] == "user"] == [
        "[Alice]: hello there",
        "[Bob]: and a follow-up",
    ]


async def test_ask_as_reply_to_someone_else_asks_about_that_message(harness: Harness) -> None:
    await _group(harness)
    other = _say(harness, "The meeting moved to Friday 3pm.", user_id=1003, name="Carol")
    _say(harness, "/ask", reply_to_message_id=other["message_id"])
    await harness.answer(GROUP)
    asked = harness.provider.last_messages()[-1]["content"]
    assert 'Carol: "The meeting moved to Friday 3pm."' in asked
    _say(harness, "/ask")
    await harness.notice(GROUP, count=2)
    assert "after /ask" in harness.telegram.bot_messages(GROUP)[-1].text


async def test_admins_switch_answer_all_and_only_admins_may(harness: Harness) -> None:
    await _group(harness)
    harness.telegram.set_admins(GROUP, [1001])
    _say(harness, "/answerall on", user_id=1002, name="Bob")
    assert "admins" in (await harness.notice(GROUP))[-1]
    _say(harness, "/answerall on", user_id=1001)
    await harness.notice(GROUP, count=2)
    _say(harness, "anyone here?", user_id=1002, name="Bob")
    texts = await harness.answer(GROUP, count=3)
    assert texts[-1] == "re: [Bob]: anyone here?"
    await harness.restart(allowed_chat_ids=str(GROUP))
    _say(harness, "still on after a restart?", user_id=1002, name="Bob")
    texts = await harness.answer(GROUP, count=4, turns=2)
    assert texts[-1] == "re: [Bob]: still on after a restart?"
    _say(harness, "/answerall off", user_id=1001)
    await harness.notice(GROUP, count=5)
    _say(harness, "ignored again", user_id=1002)
    await harness.telegram.wait_idle(GROUP, quiet=0.5)
    assert len(harness.telegram.bot_messages(GROUP)) == 5


async def test_new_in_a_group_is_for_admins(harness: Harness) -> None:
    await _group(harness, admin_user_ids="1005")
    harness.telegram.set_admins(GROUP, [1001])
    _say(harness, "/new", user_id=1002)
    assert "admins" in (await harness.notice(GROUP))[-1]
    _say(harness, "/new", user_id=1005)  # the bot's own admin
    await harness.notice(GROUP, count=2)
    assert "fresh" in harness.telegram.bot_messages(GROUP)[-1].text


async def test_forum_topics_are_separate_conversations(harness: Harness) -> None:
    await _group(harness)
    harness.telegram.add_chat(GROUP, "supergroup", title="Forum", is_forum=True)
    topic_a = harness.telegram.create_forum_topic(GROUP, "Travel")
    topic_b = harness.telegram.create_forum_topic(GROUP, "Food")
    _say(harness, "/ask plan a trip", thread_id=topic_a, is_forum=True)
    await harness.answer(GROUP)
    _say(harness, "/ask best pho?", thread_id=topic_b, is_forum=True)
    await harness.answer(GROUP, count=2, turns=2)
    in_a = harness.telegram.bot_messages(GROUP, thread_id=topic_a)
    in_b = harness.telegram.bot_messages(GROUP, thread_id=topic_b)
    assert [m.text for m in in_a] == ["re: [Alice]: plan a trip"]
    assert [m.text for m in in_b] == ["re: [Alice]: best pho?"]
    second = harness.provider.last_messages()
    assert all("plan a trip" not in str(m["content"]) for m in second)
    # a plain message in a topic carries the service reply to the topic's creation
    # message: that is not a reply to the bot, so it is ignored
    _say(harness, "chatting in the topic", thread_id=topic_a, is_forum=True)
    await harness.telegram.wait_idle(GROUP, quiet=0.5)
    assert len(harness.telegram.bot_messages(GROUP)) == 2


async def test_group_not_allowed_says_so_once(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids="-1")
    _say(harness, "/ask hello")
    texts = await harness.notice(GROUP)
    assert str(GROUP) in texts[0] and "ALLOWED_CHAT_IDS" in texts[0]
    _say(harness, "/ask again")
    _say(harness, f"@{BOT} hey")
    await harness.telegram.wait_idle(GROUP, quiet=0.5)
    assert len(harness.telegram.bot_messages(GROUP)) == 1
    assert harness.provider.chat_requests() == []


async def test_group_pace_is_shared_and_never_exceeded(harness: Harness) -> None:
    await _group(harness, edit_interval_group=3.0, group_messages_per_minute=20)
    harness.telegram.add_chat(GROUP, "supergroup", title="Forum", is_forum=True)
    topics = [harness.telegram.create_forum_topic(GROUP, f"t{i}") for i in range(3)]
    words = [f"w{i} " for i in range(60)]
    harness.provider.set_default(lambda body: [Texts(words, delay=0.05)])
    for topic in topics:
        _say(harness, "/ask go", thread_id=topic, is_forum=True)
    await harness.telegram.wait_for(lambda: harness.turns_done(GROUP) >= 3, timeout=40)
    for topic in topics:
        texts = [m.text for m in harness.telegram.bot_messages(GROUP, thread_id=topic)]
        assert texts == ["".join(words).strip()]
    calls = [
        c
        for c in harness.telegram.calls
        if c.chat_id == GROUP and c.method in ("sendMessage", "editMessageText")
    ]
    times = [c.time for c in calls]
    for _i, t in enumerate(times):
        assert sum(1 for u in times if t - 60 < u <= t) <= 20
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 3.0 * 0.9
    assert harness.telegram.rate_limited == []
