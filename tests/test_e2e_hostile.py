"""Hostile input through the real Application: bombs refused or bounded, others still served."""

from __future__ import annotations

import time

from tests.conftest import USER, Harness
from tests.fakes.openai import Text, Texts
from tests.media_samples import ogg_opus_voice, pdf_page_tree_bomb, png_bomb

OTHER = 5151


def _send_document(harness: Harness, data: bytes, name: str, mime: str) -> None:
    fid = harness.telegram.add_file(data, f"documents/{name}")[0]
    harness.telegram.user_message(
        USER,
        None,
        document={"file_id": fid, "file_unique_id": name, "file_name": name, "mime_type": mime},
    )


async def test_png_bomb_sent_as_a_file_is_refused_clearly(harness: Harness) -> None:
    _send_document(harness, png_bomb(10000), "bomb.png", "image/png")
    texts = await harness.notice()
    assert "too large" in texts[0] and "10000×10000" in texts[0]
    assert harness.provider.chat_requests() == []
    harness.provider.script(Text("Still here."))
    harness.say("hello")
    assert (await harness.answer(count=2))[-1] == "Still here."


async def test_pdf_page_tree_bomb_is_cut_and_other_chats_are_served(harness: Harness) -> None:
    await harness.restart(document_timeout=3.0, document_max_pages=20)
    harness.provider.script(Text("A short summary."))
    harness.provider.script(Text("Hi there."))
    started = time.monotonic()
    _send_document(harness, pdf_page_tree_bomb(), "bomb.pdf", "application/pdf")
    harness.telegram.user_message(OTHER, "hello")
    other = await harness.answer(OTHER, timeout=10)
    assert other[-1] in ("A short summary.", "Hi there.")
    texts = await harness.answer(timeout=15)
    assert time.monotonic() - started < 10
    assert "of 200 pages" in texts[0]
    sent = [m for r in harness.provider.chat_requests() for m in r["messages"]]
    assert any("of the file's 200 pages were read" in str(m.get("content")) for m in sent)


def _send_voice(harness: Harness, duration: int) -> None:
    voice = ogg_opus_voice(0.3)
    file_id, _ = harness.telegram.add_file(voice, "voice/long.oga")
    harness.telegram.user_message(
        USER,
        None,
        voice={
            "file_id": file_id,
            "file_unique_id": f"v{duration}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(voice),
        },
    )


async def test_too_long_voice_is_refused_before_download(harness: Harness) -> None:
    await harness.restart(max_voice_seconds=60)
    _send_voice(harness, 61)
    texts = await harness.notice()
    assert "too long (61 s)" in texts[0] and "up to 60 s" in texts[0]
    assert harness.telegram.calls_for("getFile") == []
    assert harness.provider.chat_requests() == []


async def test_long_transcript_is_cut_and_the_user_is_told(harness: Harness) -> None:
    await harness.restart(max_transcript_chars=1000)
    harness.provider.script_transcription("word " * 5000)
    harness.provider.script(Text("Noted."))
    _send_voice(harness, 30)
    texts = await harness.answer()
    assert "I kept its first 1000 characters" in texts[0] and texts[-1].endswith("Noted.")
    sent = harness.provider.last_messages()[-1]["content"]
    assert len(sent) <= 1001 and sent.startswith("word word")


async def test_album_of_documents_and_recordings_reads_every_item(harness: Harness) -> None:
    names = ["a.txt", "b.txt", "c.txt"]
    for index, name in enumerate(names):
        fid = harness.telegram.add_file(f"content of file {index}".encode(), f"documents/{name}")[0]
        harness.telegram.user_message(
            USER,
            None,
            document={"file_id": fid, "file_unique_id": name, "file_name": name},
            media_group_id="docs",
            caption="Compare them" if index == 0 else None,
        )
    harness.provider.script(Text("Three files."))
    assert (await harness.answer())[-1] == "Three files."
    sent = harness.provider.last_messages()[-1]["content"]
    assert sent.startswith("Compare them")
    assert all(f"content of file {i}" in sent for i in range(3))
    voice = ogg_opus_voice(0.3)
    for index in range(2):
        file_id, _ = harness.telegram.add_file(voice, f"music/{index}.mp3")
        harness.provider.script_transcription(f"song number {index}")
        harness.telegram.user_message(
            USER,
            None,
            audio={
                "file_id": file_id,
                "file_unique_id": f"au{index}",
                "duration": 3,
                "mime_type": "audio/mpeg",
                "file_name": f"{index}.mp3",
            },
            media_group_id="songs",
        )
    harness.provider.script(Text("Two songs."))
    await harness.answer(count=2, turns=2)
    sent = harness.provider.last_messages()[-1]["content"]
    assert "song number 0" in sent and "song number 1" in sent


async def test_a_long_fence_answer_streams_in_few_messages_and_others_are_served(
    harness: Harness,
) -> None:
    code = "\n".join(f"line {i} " + "y" * 60 for i in range(560))
    answer = "Here:\n\n```" + "x" * 4000 + "\n" + code + "\n```"
    harness.provider.script(Texts([answer[i : i + 500] for i in range(0, len(answer), 500)], 0.01))
    harness.say("give me the code")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_messages(USER), timeout=10)
    harness.provider.script(Text("Hi there."))
    harness.telegram.user_message(OTHER, "hello")
    assert (await harness.answer(OTHER, timeout=10)) == ["Hi there."]
    texts = await harness.answer(USER, timeout=60)
    assert len(texts) <= len(answer) // 4096 + 3
    lines = [ln for text in texts for ln in text.splitlines() if ln.startswith("line ")]
    assert len(lines) == 560
