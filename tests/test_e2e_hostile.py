"""Hostile input through the real Application: bombs refused or bounded, others still served."""

from __future__ import annotations

import time

from tests.conftest import USER, Harness
from tests.fakes.openai import Text
from tests.media_samples import pdf_page_tree_bomb, png_bomb

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
