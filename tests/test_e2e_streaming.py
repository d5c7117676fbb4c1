"""The live reply: progressive edits, pacing, formatting, long answers, Telegram's errors."""

from __future__ import annotations

from itertools import pairwise

from tests.conftest import USER, Harness
from tests.fakes.openai import Comment, EndWithoutFinish, Reasoning, Text, Texts

STREAM_CALLS = ("sendMessage", "editMessageText")


def _stream_calls(harness: Harness, chat_id: int = USER) -> list:
    return [c for c in harness.telegram.calls if c.method in STREAM_CALLS and c.chat_id == chat_id]


async def test_typing_shows_at_once_and_reply_grows_by_edits(harness: Harness) -> None:
    words = [f"word{i} " for i in range(40)]
    harness.provider.script(Texts(words, delay=0.03))
    harness.say("tell me something")
    texts = await harness.answer()
    assert texts == ["".join(words).strip()]
    calls = harness.telegram.calls
    first_action = next(i for i, c in enumerate(calls) if c.method == "sendChatAction")
    first_send = next(i for i, c in enumerate(calls) if c.method == "sendMessage")
    assert first_action < first_send
    assert harness.telegram.chat_actions(USER)[0] == "typing"
    reply = harness.telegram.bot_messages(USER)[0]
    history = reply.history
    assert len(history) >= 3, "the reply should be edited while the answer streams"
    versions = [text or "" for text, _ in history]
    shown = list(zip(versions, map(str, reply.markup_history), strict=True))
    for (earlier, _), (later, _) in pairwise(shown):
        assert later.startswith(earlier.rstrip()[: len(earlier) - 8])
    for earlier_state, later_state in pairwise(shown):
        # An edit may only swap the buttons (Stop -> Regenerate) when the text is complete.
        assert later_state != earlier_state, "never an edit that changes nothing"


async def test_edits_are_paced_by_time_and_never_rejected(harness: Harness) -> None:
    harness.provider.script(Texts([f"t{i} " for i in range(200)], delay=0.005))
    harness.say("go")
    await harness.answer()
    calls = _stream_calls(harness)
    gaps = [b.time - a.time for a, b in pairwise(calls)]
    assert gaps and min(gaps) >= 0.25 * 0.9
    assert all(c.error is None for c in harness.telegram.calls)
    assert harness.telegram.rate_limited == []


async def test_markdown_becomes_entities_computed_from_the_whole_text(harness: Harness) -> None:
    harness.provider.script(
        Texts(
            [
                "Use **bo",
                "ld** and `co",
                "de`:\n\n```python\nprint(1)\n```\n\n- a [link](https://e.org)",
            ]
        )
    )
    harness.say("format")
    await harness.answer()
    message = harness.telegram.bot_messages(USER)[0]
    kinds = {e["type"] for e in message.entities}
    assert {"bold", "code", "pre", "text_link"} <= kinds
    assert "**" not in (message.text or "")
    assert "print(1)" in (message.text or "")


async def test_rejected_entities_fall_back_to_plain_text(harness: Harness) -> None:
    harness.telegram.fail_next(
        "sendMessage", 400, "Bad Request: can't parse entities: unsupported start tag"
    )
    harness.provider.script(Text("**Important** answer"))
    harness.say("x")
    texts = await harness.answer()
    assert texts == ["Important answer"]
    assert harness.telegram.bot_messages(USER)[0].entities == []


async def test_flood_429_is_waited_out_and_final_text_delivered(harness: Harness) -> None:
    harness.telegram.fail_next(
        "editMessageText",
        429,
        "Too Many Requests: retry after 1",
        parameters={"retry_after": 1},
        chat_id=USER,
    )
    harness.provider.script(Texts([f"part{i} " for i in range(30)], delay=0.03))
    harness.say("go")
    texts = await harness.answer(timeout=15)
    assert texts == [" ".join(f"part{i}" for i in range(30))]
    failed = [c for c in harness.telegram.calls if c.error and "Too Many" in c.error]
    assert len(failed) == 1
    after = [c for c in _stream_calls(harness) if c.time > failed[0].time]
    assert after and after[0].time - failed[0].time >= 0.95, "waited out retry_after"


async def test_ten_thousand_characters_continue_in_new_messages(harness: Harness) -> None:
    paragraphs = [f"Paragraph {i}. " + "Some text here. " * 30 for i in range(21)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) > 10_000
    chunks = [answer[i : i + 200] for i in range(0, len(answer), 200)]
    harness.provider.script(Texts(chunks, delay=0.002))
    harness.say("long please")
    texts = await harness.answer(count=3, timeout=20)
    assert len(texts) >= 3
    assert all(len(t) <= 4096 for t in texts)
    assert " ".join(" ".join(texts).split()) == " ".join(answer.split())
    for text in texts:
        assert text.startswith("Paragraph"), "split at paragraph boundaries"
    messages = harness.telegram.bot_messages(USER)
    assert messages[0].reply_to is None, "private answers are not threaded as replies"


async def test_long_code_block_is_closed_and_reopened(harness: Harness) -> None:
    code = "\n".join(f"value_{i} = compute({i})  # step {i}" for i in range(250))
    harness.provider.script(Text(f"Here is the code:\n\n```python\n{code}\n```\n\nDone."))
    harness.say("code")
    texts = await harness.answer(count=2, timeout=20)
    assert len(texts) >= 2
    for message in harness.telegram.bot_messages(USER):
        assert any(e["type"] == "pre" and e.get("language") == "python" for e in message.entities)
    joined = "\n".join(texts)
    assert all(f"value_{i} = compute({i})" in joined for i in range(250))
    assert texts[-1].rstrip().endswith("Done.")


async def test_reasoning_is_not_mixed_into_the_answer(harness: Harness) -> None:
    harness.provider.script(
        Reasoning("Let me think about this carefully..."),
        Reasoning("more thinking", field="reasoning"),
        Text("The answer is 4."),
    )
    harness.say("2+2?")
    texts = await harness.answer()
    assert texts == ["The answer is 4."]
    stored = await harness.runtime.services.store.recent_messages(1, 10_000, 10)  # type: ignore[union-attr]
    assert "think" not in stored[-1].content


async def test_gateway_comments_and_missing_finish_reason_end_cleanly(harness: Harness) -> None:
    harness.provider.script(
        Comment(), Text("Fine "), Comment(), Text("answer."), EndWithoutFinish()
    )
    harness.say("x")
    texts = await harness.answer()
    assert texts == ["Fine answer."]


async def test_many_chats_at_once_all_complete_without_429(harness: Harness) -> None:
    harness.provider.set_default(lambda body: [Texts([f"w{i} " for i in range(30)], delay=0.01)])
    chats = [5000 + i for i in range(40)]
    for chat in chats:
        harness.say("hello", chat_id=chat)
    for chat in chats:
        texts = await harness.answer(chat_id=chat, timeout=30)
        assert texts == [" ".join(f"w{i}" for i in range(30))]
    assert harness.telegram.rate_limited == []
