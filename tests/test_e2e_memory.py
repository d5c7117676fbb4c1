"""Memory: stored conversations, the token window, restarts, /new, and turn order."""

from __future__ import annotations

from storage import ChatKey
from tests.conftest import USER, Harness
from tests.fakes.openai import Text, Texts, context_length_exceeded


def _contents(messages: list[dict]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"] if isinstance(m["content"], str) else "") for m in messages]


async def test_follow_up_sees_the_earlier_exchange(harness: Harness) -> None:
    harness.provider.script(Text("Nice to meet you, Lan."))
    harness.say("My name is Lan.")
    await harness.answer()
    harness.provider.script(Text("Your name is Lan."))
    harness.say("What is my name?")
    await harness.answer(count=2, turns=2)
    sent = _contents(harness.provider.last_messages())
    assert sent[0][0] == "system"
    assert sent[1:] == [
        ("user", "My name is Lan."),
        ("assistant", "Nice to meet you, Lan."),
        ("user", "What is my name?"),
    ]


async def test_memory_survives_a_restart(harness: Harness) -> None:
    harness.provider.script(Text("Noted: blue."))
    harness.say("My favourite colour is blue.")
    await harness.answer()
    await harness.restart()
    harness.provider.script(Text("Blue."))
    harness.say("Which colour do I like?")
    await harness.answer(count=2, turns=2)
    sent = _contents(harness.provider.last_messages())
    assert ("user", "My favourite colour is blue.") in sent
    assert ("assistant", "Noted: blue.") in sent


async def test_new_starts_fresh_and_keeps_the_old_conversation(harness: Harness) -> None:
    harness.provider.script(Text("First answer."))
    harness.say("first question")
    await harness.answer()
    first = await harness.store.active_conversation(ChatKey(USER))
    harness.say("/new")
    await harness.notice(count=2)
    harness.provider.script(Text("Second answer."))
    harness.say("second question")
    await harness.answer(count=3, turns=2)
    sent = _contents(harness.provider.last_messages())
    assert sent[1:] == [("user", "second question")]
    assert await harness.store.active_conversation(ChatKey(USER)) != first
    kept = await harness.store.recent_messages(first, 10**9, 100)
    assert [m.content for m in kept if m.role == "user"] == ["first question"]


async def test_reset_is_an_alias_of_new(harness: Harness) -> None:
    harness.provider.script(Text("A."))
    harness.say("q1")
    await harness.answer()
    harness.say("/reset")
    await harness.notice(count=2)
    harness.provider.script(Text("B."))
    harness.say("q2")
    await harness.answer(count=3, turns=2)
    assert _contents(harness.provider.last_messages())[1:] == [("user", "q2")]


async def test_user_message_is_stored_before_the_model_is_called(harness: Harness) -> None:
    harness.provider.script(context_length_exceeded())
    harness.provider.script(context_length_exceeded())
    harness.say("this must not be lost")
    await harness.answer()
    stored = await harness.stored()
    assert (stored[0].role, stored[0].content) == ("user", "this must not be lost")


async def test_history_window_fits_the_token_budget(harness: Harness) -> None:
    await harness.restart(history_token_budget=600)
    store = harness.store
    from storage import MessageRecord

    conversation = await store.active_conversation(ChatKey(USER))
    old = [
        MessageRecord(
            role="user" if i % 2 == 0 else "assistant", content=f"old {i} " + "x" * 300, tokens=104
        )
        for i in range(400)
    ]
    await store.add_messages(conversation, old)
    harness.provider.script(Text("ok"))
    harness.say("newest question")
    await harness.answer()
    sent = harness.provider.last_messages()
    assert sent[-1] == {"role": "user", "content": "newest question"}
    assert 2 <= len(sent) <= 6
    assert sent[1]["role"] == "user", "the window starts at a user message"
    assert "old 399 " in str(sent[-2]), "the newest stored messages are in the window"
    assert all("old 0 " not in str(m) for m in sent), "the oldest ones are not"


async def test_context_length_exceeded_shrinks_the_window_and_retries_once(
    harness: Harness,
) -> None:
    for i in range(6):
        harness.provider.script(Text(f"answer {i} " + "y" * 200))
        harness.say(f"question {i} " + "z" * 200)
        await harness.answer(count=i + 1, turns=i + 1)
    harness.provider.script(context_length_exceeded())
    harness.provider.script(Text("fits now"))
    harness.say("final question")
    texts = await harness.answer(count=7, turns=7)
    assert texts[-1] == "fits now"
    requests = harness.provider.chat_requests()
    assert len(requests[-1]["messages"]) < len(requests[-2]["messages"])
    assert requests[-1]["messages"][-1]["content"] == "final question"


async def test_a_second_message_waits_for_the_first_answer(harness: Harness) -> None:
    harness.provider.script(Texts([f"one{i} " for i in range(20)], delay=0.03))
    harness.provider.script(Text("two"))
    harness.say("first")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_messages(USER))
    harness.say("second")
    texts = await harness.answer(count=2, turns=2)
    assert texts == [" ".join(f"one{i}" for i in range(20)), "two"]
    second_request = _contents(harness.provider.chat_requests()[1]["messages"])
    assert second_request[-2] == ("assistant", " ".join(f"one{i}" for i in range(20)))
    assert second_request[-1] == ("user", "second")


async def test_three_quick_messages_are_answered_in_order(harness: Harness) -> None:
    harness.provider.set_default(
        lambda body: [Texts(["re: ", body["messages"][-1]["content"]], delay=0.05)]
    )
    for text in ("alpha", "beta", "gamma"):
        harness.say(text)
    await harness.telegram.wait_for(
        lambda: (harness.telegram.last_text(USER) or "") == "re: gamma", timeout=10
    )
    await harness.telegram.wait_idle(USER, quiet=0.3)
    # Messages that arrive while a turn waits are answered with it: one, two or three
    # turns, but every message is stored in order and the last answer is the last one's.
    stored = [m.content for m in await harness.stored() if m.role == "user"]
    assert stored == ["alpha", "beta", "gamma"]
    asked = [r["messages"][-1]["content"] for r in harness.provider.chat_requests()]
    assert asked == sorted(asked) and asked[-1] == "gamma"
