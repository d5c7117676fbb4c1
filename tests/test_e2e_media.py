"""Voice notes, audio, photos, albums, documents, spoken answers and pictures on request."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.conftest import TOKEN, USER, Harness
from tests.fakes.openai import HttpError, Text
from tests.media_samples import ogg_opus_voice, photo, text_pdf

GROUP = -100555


def _uploads(harness: Harness) -> list:
    return [r for r in harness.provider.requests if r.path == "/v1/audio/transcriptions"]


def _image_urls(message: dict) -> list[str]:
    content = message["content"]
    if isinstance(content, str):
        return []
    return [p["image_url"]["url"] for p in content if p["type"] == "image_url"]


def _decode(url: str) -> Image.Image:
    assert url.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


async def test_voice_note_is_transcribed_shown_and_answered(harness: Harness) -> None:
    voice = ogg_opus_voice()
    file_id, _ = harness.telegram.add_file(voice, "voice/file_7.oga")
    harness.provider.script_transcription("what is two plus two")
    harness.provider.script(Text("Four."))
    harness.telegram.user_message(
        USER,
        None,
        voice={
            "file_id": file_id,
            "file_unique_id": "u7",
            "duration": 1,
            "mime_type": "audio/ogg",
            "file_size": len(voice),
        },
    )
    texts = await harness.answer()
    assert texts == ["🎤 what is two plus two\n\nFour."]
    upload = _uploads(harness)[0]
    assert upload.files["file"].filename == "voice.ogg"
    assert upload.files["file"].content_type == "audio/ogg"
    assert upload.files["file"].data == voice
    assert upload.fields["model"] == "whisper-1"
    assert harness.provider.last_messages()[-1] == {
        "role": "user",
        "content": "what is two plus two",
    }
    asked = [(m.content, m.kind) for m in await harness.stored() if m.role == "user"]
    assert asked == [("what is two plus two", "voice")]


async def test_audio_file_keeps_a_correct_name(harness: Harness) -> None:
    data = b"ID3" + bytes(2000)
    file_id, _ = harness.telegram.add_file(data, "music/song.mp3")
    harness.provider.script_transcription("lyrics")
    harness.provider.script(Text("Nice song."))
    harness.telegram.user_message(
        USER,
        None,
        audio={
            "file_id": file_id,
            "file_unique_id": "a1",
            "duration": 3,
            "mime_type": "audio/mpeg",
            "file_name": "song.mp3",
            "file_size": len(data),
        },
    )
    await harness.answer()
    upload = _uploads(harness)[0].files["file"]
    assert (upload.filename, upload.content_type, upload.data) == ("audio.mp3", "audio/mpeg", data)


async def test_too_big_voice_is_refused_before_download(harness: Harness) -> None:
    file_id, _ = harness.telegram.add_file(b"OggS", "voice/big.oga", file_size=21 * 1024 * 1024)
    harness.telegram.user_message(
        USER,
        None,
        voice={
            "file_id": file_id,
            "file_unique_id": "b",
            "duration": 900,
            "mime_type": "audio/ogg",
            "file_size": 21 * 1024 * 1024,
        },
    )
    texts = await harness.notice()
    assert "too big" in texts[0] and "20 MB" in texts[0]
    assert _uploads(harness) == [] and harness.provider.chat_requests() == []


async def test_bad_audio_empty_transcript_and_no_transcription(harness: Harness) -> None:
    voice = ogg_opus_voice(0.2)
    file_id, _ = harness.telegram.add_file(voice, "voice/v.oga")
    media = {
        "file_id": file_id,
        "file_unique_id": "v",
        "duration": 1,
        "mime_type": "audio/ogg",
        "file_size": len(voice),
    }
    harness.provider.script_transcription(
        HttpError(400, "Audio file might be corrupted or unsupported", code="invalid_value")
    )
    harness.telegram.user_message(USER, None, voice=media)
    assert "broken" in (await harness.notice())[-1]
    harness.provider.script_transcription("")
    harness.telegram.user_message(USER, None, voice=media)
    assert "couldn't hear" in (await harness.notice(count=2))[-1]
    harness.provider.script_transcription(HttpError(404, "Not found", code=None))
    harness.telegram.user_message(USER, None, voice=media)
    assert "not available" in (await harness.notice(count=3))[-1]
    empty_id, _ = harness.telegram.add_file(b"", "voice/empty.oga")
    harness.telegram.user_message(USER, None, voice={**media, "file_id": empty_id, "file_size": 0})
    assert "empty" in (await harness.notice(count=4))[-1]
    assert harness.provider.chat_requests() == []


async def test_photo_goes_to_the_model_downscaled_as_data_url(harness: Harness) -> None:
    small = harness.telegram.add_file(photo(90, 60), "photos/s.jpg")[0]
    big = harness.telegram.add_file(photo(3000, 2000), "photos/b.jpg")[0]
    harness.provider.script(Text("A red picture with white stripes."))
    harness.telegram.user_message(USER, None, photo_file_ids=[small, big], caption="What is this?")
    assert await harness.answer() == ["A red picture with white stripes."]
    request = harness.provider.chat_requests()[0]
    last = request["messages"][-1]
    assert last["content"][0] == {"type": "text", "text": "What is this?"}
    (url,) = _image_urls(last)
    image = _decode(url)
    assert image.size == (2048, 1365)
    assert TOKEN.split(":")[1] not in str(request) and "/file/bot" not in str(request)
    harness.provider.script(Text("Red."))
    harness.say("what colour is it?")
    await harness.answer(count=2, turns=2)
    history = harness.provider.last_messages()
    assert _image_urls(history[1]) == [url], "the follow-up still sees the photo"


async def test_photo_without_caption_gets_a_default_question(harness: Harness) -> None:
    pid = harness.telegram.add_file(photo(400, 300, "PNG"), "photos/p.png")[0]
    harness.provider.script(Text("ok"))
    harness.telegram.user_message(USER, None, photo_file_ids=[pid])
    await harness.answer()
    assert harness.provider.last_messages()[-1]["content"][0]["text"] == "What is in this picture?"


async def test_album_becomes_one_turn(harness: Harness) -> None:
    ids = [
        harness.telegram.add_file(photo(200, 100, colour=(0, 0, 255 - i)), f"photos/{i}.jpg")[0]
        for i in range(3)
    ]
    harness.provider.script(Text("Three blue pictures."))
    harness.telegram.user_message(
        USER, None, photo_file_ids=[ids[0]], caption="Compare these", media_group_id="alb1"
    )
    harness.telegram.user_message(USER, None, photo_file_ids=[ids[1]], media_group_id="alb1")
    harness.telegram.user_message(USER, None, photo_file_ids=[ids[2]], media_group_id="alb1")
    assert await harness.answer() == ["Three blue pictures."]
    await harness.telegram.wait_idle(USER, quiet=0.5)
    assert len(harness.provider.chat_requests()) == 1
    last = harness.provider.last_messages()[-1]
    assert last["content"][0]["text"] == "Compare these"
    assert len(_image_urls(last)) == 3


async def test_image_sent_as_file_is_seen(harness: Harness) -> None:
    fid = harness.telegram.add_file(photo(500, 500, "PNG"), "documents/shot.png")[0]
    harness.provider.script(Text("A screenshot."))
    harness.telegram.user_message(
        USER,
        None,
        document={
            "file_id": fid,
            "file_unique_id": "d",
            "file_name": "shot.png",
            "mime_type": "image/png",
        },
    )
    await harness.answer()
    assert len(_image_urls(harness.provider.last_messages()[-1])) == 1


async def test_text_and_pdf_documents_are_read_and_others_refused(harness: Harness) -> None:
    code = b"def add(a, b):\n    return a + b\n"
    fid = harness.telegram.add_file(code, "documents/calc.py")[0]
    harness.provider.script(Text("It adds."))
    harness.telegram.user_message(
        USER,
        None,
        document={
            "file_id": fid,
            "file_unique_id": "c",
            "file_name": "calc.py",
            "mime_type": "text/x-python",
        },
        caption="What does it do?",
    )
    await harness.answer()
    sent = harness.provider.last_messages()[-1]["content"]
    assert sent.startswith("What does it do?") and "calc.py" in sent and "return a + b" in sent
    pdf = harness.telegram.add_file(
        text_pdf("Quarterly revenue grew 12 percent"), "documents/r.pdf"
    )[0]
    harness.provider.script(Text("Revenue grew."))
    harness.telegram.user_message(
        USER,
        None,
        document={
            "file_id": pdf,
            "file_unique_id": "p",
            "file_name": "r.pdf",
            "mime_type": "application/pdf",
        },
    )
    await harness.answer(count=2, turns=2)
    assert "Quarterly revenue grew 12 percent" in harness.provider.last_messages()[-1]["content"]
    binary = harness.telegram.add_file(bytes(range(256)), "documents/x.bin")[0]
    harness.telegram.user_message(
        USER,
        None,
        document={
            "file_id": binary,
            "file_unique_id": "x",
            "file_name": "x.bin",
            "mime_type": "application/octet-stream",
        },
    )
    texts = await harness.notice(count=3)
    assert "can't read this kind of file" in texts[-1]
    assert len(harness.provider.chat_requests()) == 2


async def test_long_document_is_cut_and_the_user_is_told(harness: Harness) -> None:
    await harness.restart(document_max_chars=1000)
    fid = harness.telegram.add_file(("line of text\n" * 500).encode(), "documents/long.txt")[0]
    harness.provider.script(Text("Summary."))
    harness.telegram.user_message(
        USER,
        None,
        document={
            "file_id": fid,
            "file_unique_id": "l",
            "file_name": "long.txt",
            "mime_type": "text/plain",
        },
    )
    texts = await harness.answer()
    assert "first 1000 characters" in texts[0] and texts[0].endswith("Summary.")


async def test_voice_copy_of_answers_when_switched_on(harness: Harness) -> None:
    harness.say("/voice")
    assert "voice copy" in (await harness.notice())[-1]
    harness.provider.script(Text("Spoken answer."))
    harness.provider.script_speech(b"OggS-opus-audio")
    harness.say("talk to me")
    await harness.telegram.wait_for(
        lambda: harness.telegram.calls_for("sendVoice", USER), timeout=10
    )
    speech = next(r for r in harness.provider.requests if r.path == "/v1/audio/speech")
    assert speech.json["input"] == "Spoken answer." and speech.json["response_format"] == "opus"
    voices = [m for m in harness.telegram.bot_messages(USER) if m.kind == "voice"]
    assert voices[0].file is not None and voices[0].file.data == b"OggS-opus-audio"
    harness.say("/voice off")
    assert "off" in (await harness.notice(count=4))[-1]


async def test_image_command_sends_a_photo(harness: Harness) -> None:
    png = photo(64, 64, "PNG")
    harness.provider.script_image(png)
    harness.say("/image a red square")
    await harness.telegram.wait_for(lambda: harness.telegram.calls_for("sendPhoto", USER))
    sent = next(m for m in harness.telegram.bot_messages(USER) if m.kind == "photo")
    assert sent.file is not None and sent.file.data == png
    assert sent.caption == "a red square"
    harness.provider.script_image(HttpError(404, "Unknown endpoint"))
    harness.say("/image anything")
    texts = await harness.notice(count=2)
    assert "can't generate images" in texts[-1]


async def test_model_without_vision_gets_a_clear_message_and_text_still_works(
    harness: Harness,
) -> None:
    pid = harness.telegram.add_file(photo(100, 100), "photos/v.jpg")[0]
    harness.provider.script(
        HttpError(
            400,
            "Invalid content type. image_url is only supported by certain models.",
            code="invalid_value",
        )
    )
    harness.telegram.user_message(USER, None, photo_file_ids=[pid])
    texts = await harness.answer()
    assert "can't see images" in texts[0]
    harness.provider.script(Text("Text works."))
    harness.say("hello")
    texts = await harness.answer(count=2, turns=2)
    assert texts[-1] == "Text works."
    assert "[1 image(s) not shown]" in str(harness.provider.last_messages())


async def test_groups_voice_reply_and_photo_mention(harness: Harness) -> None:
    await harness.restart(allowed_chat_ids=str(GROUP))
    harness.provider.set_default(lambda body: [Text("ok")])
    tg = harness.telegram
    tg.user_message(GROUP, "/ask hi", chat_type="supergroup", chat_title="G")
    await harness.answer(GROUP)
    bot_msg = tg.bot_messages(GROUP)[0]
    voice = ogg_opus_voice(0.3)
    vid = tg.add_file(voice, "voice/g.oga")[0]
    media = {
        "file_id": vid,
        "file_unique_id": "g",
        "duration": 1,
        "mime_type": "audio/ogg",
        "file_size": len(voice),
    }
    harness.provider.script_transcription("spoken follow-up")
    tg.user_message(
        GROUP, None, chat_type="supergroup", voice=media, reply_to_message_id=bot_msg.message_id
    )
    await harness.answer(GROUP, count=2, turns=2)
    assert harness.provider.last_messages()[-1]["content"] == "[Alice]: spoken follow-up"
    pid = tg.add_file(photo(50, 50), "photos/g.jpg")[0]
    tg.user_message(GROUP, None, chat_type="supergroup", photo_file_ids=[pid], caption="nice view")
    tg.user_message(
        GROUP,
        None,
        chat_type="supergroup",
        photo_file_ids=[pid],
        caption="@test_llm_bot what is it?",
    )
    await harness.answer(GROUP, count=3, turns=3)
    await tg.wait_idle(GROUP, quiet=0.5)
    assert len(harness.provider.chat_requests()) == 3
    last = harness.provider.last_messages()[-1]
    assert last["content"][0]["text"] == "[Alice]: what is it?"
    photo_msg = tg.user_message(
        GROUP, None, chat_type="supergroup", photo_file_ids=[pid], user_id=1009, first_name="Dan"
    )
    tg.user_message(
        GROUP,
        "/ask is this a landscape?",
        chat_type="supergroup",
        reply_to_message_id=photo_msg["message_id"],
    )
    await harness.answer(GROUP, count=4, turns=4)
    last = harness.provider.last_messages()[-1]
    assert last["content"][0]["text"] == "[Alice]: is this a landscape?"
    assert len(_image_urls(last)) == 1
