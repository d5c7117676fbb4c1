"""STREAM_MODE=draft: private chats stream through sendMessageDraft, then one real message."""

from __future__ import annotations

from tests.conftest import USER, Harness
from tests.fakes.openai import Text, Texts


async def test_answer_streams_as_drafts_then_one_message(harness: Harness) -> None:
    await harness.restart(stream_mode="draft")
    words = [f"word{i} " for i in range(40)]
    harness.provider.script(Texts(words, delay=0.03))
    harness.say("stream it")
    texts = await harness.answer()
    full = "".join(words).strip()
    assert texts == [full]
    drafts = harness.telegram.drafts[USER]
    assert len(drafts) >= 2
    assert all(full.startswith(d["text"]) for d in drafts)
    assert len({d["draft_id"] for d in drafts}) == 1
    assert harness.telegram.calls_for("editMessageText", USER) == []
    first_draft = harness.telegram.calls_for("sendMessageDraft", USER)[0]
    final = harness.telegram.calls_for("sendMessage", USER)[0]
    assert first_draft.time < final.time
    assert len(harness.telegram.bot_messages(USER)[0].history) == 1, "never edited"


async def test_long_answer_sends_finished_pieces_as_messages(harness: Harness) -> None:
    await harness.restart(stream_mode="draft")
    answer = "\n\n".join(f"Paragraph {i}. " + "Some text here. " * 30 for i in range(21))
    harness.provider.script(
        Texts([answer[i : i + 300] for i in range(0, len(answer), 300)], delay=0.01)
    )
    harness.say("long")
    texts = await harness.answer(count=3, timeout=20)
    assert " ".join(" ".join(texts).split()) == " ".join(answer.split())
    assert all(len(t) <= 4096 for t in texts)
    assert harness.telegram.calls_for("editMessageText", USER) == []


async def test_refused_drafts_fall_back_to_edits(harness: Harness) -> None:
    await harness.restart(stream_mode="draft")
    harness.telegram.fail_next("sendMessageDraft", 400, "Bad Request: method not available")
    harness.provider.script(Texts([f"w{i} " for i in range(30)], delay=0.03))
    harness.say("x")
    texts = await harness.answer()
    assert texts == [" ".join(f"w{i}" for i in range(30))]
    assert len(harness.telegram.bot_messages(USER)[0].history) >= 2, "streamed by edits instead"


async def test_groups_keep_editing_in_draft_mode(harness: Harness) -> None:
    group = -100777
    await harness.restart(stream_mode="draft", allowed_chat_ids=str(group))
    harness.provider.script(Texts([f"g{i} " for i in range(30)], delay=0.05))
    harness.telegram.user_message(group, "/ask go", chat_type="supergroup", chat_title="G")
    texts = await harness.answer(group)
    assert texts == [" ".join(f"g{i}" for i in range(30))]
    assert harness.telegram.calls_for("sendMessageDraft") == []


async def test_draft_mode_errors_still_arrive_as_messages(harness: Harness) -> None:
    await harness.restart(stream_mode="draft", allowed_user_ids="*")
    from tests.fakes.openai import invalid_api_key

    harness.provider.script(invalid_api_key())
    harness.say("hi")
    texts = await harness.answer()
    assert "OPENAI_API_KEY" in texts[0]
    harness.provider.script(Text("fine"))
    harness.say("again")
    assert (await harness.answer(count=2, turns=2))[-1] == "fine"


async def test_an_answer_that_ends_while_a_draft_waits_lands_in_that_slot(
    harness: Harness,
) -> None:
    await harness.restart(stream_mode="draft", edit_interval_private=1.0)
    words = [f"w{i} " for i in range(150)]
    harness.provider.script(Texts(words, delay=0.01))  # 1.5 s: drafts at 0 s and 1 s
    harness.say("stream it")
    full = "".join(words).strip()
    assert await harness.answer(timeout=15) == [full]
    drafts = [d["text"] for d in harness.telegram.drafts[USER]]
    assert full not in drafts, "no draft of the whole answer before the message"
    last_chunk = harness.provider.requests[-1].last_chunk_at
    final = harness.telegram.calls_for("sendMessage", USER)[-1]
    assert last_chunk is not None and final.time - last_chunk < 1.0, "the next slot, not one more"
