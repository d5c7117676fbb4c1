"""The fake Telegram and OpenAI servers behave like the real services for their clients."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from telegram import Bot, Message, MessageEntity, ReplyParameters, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from tests.fakes.openai import (
    Comment,
    Drop,
    EndWithoutFinish,
    ErrorInStream,
    FakeOpenAI,
    HttpError,
    Reasoning,
    Stall,
    Text,
    Texts,
    Usage,
    insufficient_quota,
    invalid_api_key,
    model_not_found,
    rate_limited,
    server_error,
    tool_call,
    validate,
)
from tests.fakes.telegram import FakeTelegram, check_value, load_spec, render_text

TOKEN = "123456:TEST-token_abc"
CHAT = 42
MODEL = "gpt-4o-mini"
USER_SAYS: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


# ---------------------------------------------------------------- Telegram fake


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


def make_bot(tg: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=f"{tg.base_url}/bot", base_file_url=f"{tg.base_url}/file/bot")


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(tg) as ptb_bot:
        yield ptb_bot


def retry_seconds(err: RetryAfter) -> float:
    value = err.retry_after  # an int, or a timedelta with PTB_TIMEDELTA=1
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_send_and_edit_keep_every_version(tg: FakeTelegram, bot: Bot) -> None:
    assert bot.username == "test_llm_bot"
    tg.user_message(CHAT, "hi")
    sent = await bot.send_message(CHAT, "*Hello*", parse_mode="MarkdownV2")
    assert sent.from_user is not None and sent.from_user.is_bot
    assert (sent.chat.id, sent.text, sent.message_id) == (CHAT, "Hello", 2)
    assert sent.entities == (MessageEntity("bold", 0, 5),)
    edited = await bot.edit_message_text("Hello, world", chat_id=CHAT, message_id=2)
    assert isinstance(edited, Message) and edited.text == "Hello, world" and edited.edit_date
    await bot.send_chat_action(CHAT, "typing")

    [stored] = tg.bot_messages(CHAT)
    assert stored.history == [
        ("Hello", [{"type": "bold", "offset": 0, "length": 5}]),
        ("Hello, world", []),
    ]
    assert tg.last_text(CHAT) == "Hello, world"
    assert tg.chat_actions(CHAT) == ["typing"]
    assert tg.spec_violations == []


async def test_answers_have_the_real_shapes(tg: FakeTelegram) -> None:
    photo_id, _ = tg.add_file(b"jpeg", "photos/file_1.jpg")
    voice_id, _ = tg.add_file(b"OggS", "voice/file_2.oga")
    first = tg.user_message(CHAT, "hello @someone https://example.com")
    tg.user_message(
        CHAT, None, photo_file_ids=[photo_id, photo_id], caption="look", media_group_id="1"
    )
    tg.user_message(CHAT, None, voice=voice_id, reply_to_message_id=first["message_id"])
    tg.user_message(-5, "/ask@test_llm_bot hi", chat_type="group", user_id=9)
    tg.set_admins(-5, [9], owner=8)
    calls = [
        ("getMe", {}),
        ("getUpdates", {}),
        ("sendMessage", {"chat_id": CHAT, "text": "hi", "reply_parameters": {"message_id": 1}}),
        (
            "editMessageText",
            {"chat_id": CHAT, "message_id": 4, "text": "<i>hey</i>", "parse_mode": "HTML"},
        ),
        ("getFile", {"file_id": voice_id}),
        ("getChat", {"chat_id": -5}),
        ("getChatMember", {"chat_id": -5, "user_id": 9}),
        ("getChatAdministrators", {"chat_id": -5}),
        ("getMyCommands", {}),
    ]
    async with httpx.AsyncClient(base_url=f"{tg.base_url}/bot{TOKEN}/") as client:
        for method, params in calls:
            answer = (await client.post(method, json=params)).json()
            assert answer["ok"], answer
            returns = load_spec()["methods"][method]["returns"]
            assert check_value(method, answer["result"], returns) == []
    assert tg.spec_violations == []


async def test_edit_errors_use_telegram_descriptions(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(CHAT, "hi")
    sent = await bot.send_message(CHAT, "same")
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text("same", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("new", chat_id=CHAT, message_id=99)
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(-1, "nobody here")


async def test_length_counts_utf16_units(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(CHAT, "hi")
    tg.limits_enabled = False
    await bot.send_message(CHAT, "😀" * 2048)  # 4096 UTF-16 code units
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(CHAT, "😀" * 2048 + "!")
    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode="HTML")


@pytest.mark.parametrize(
    ("mode", "markup", "text", "entities"),
    [
        (
            "MarkdownV2",
            "*b* _i_ __u__ `c` 1\\.5",
            "b i u c 1.5",
            [("bold", 0, 1), ("italic", 2, 1), ("underline", 4, 1), ("code", 6, 1)],
        ),
        ("MarkdownV2", "```python\nprint(1)```", "print(1)", [("pre", 0, 8)]),
        ("MarkdownV2", "😀 [link](https://example.com)", "😀 link", [("text_link", 3, 4)]),
        (
            "HTML",
            '<b>a &lt; b</b> <pre><code class="language-py">x</code></pre>',
            "a < b x",
            [("bold", 0, 5), ("pre", 6, 1)],
        ),
        ("Markdown", "*bold* and _it_", "bold and it", [("bold", 0, 4), ("italic", 9, 2)]),
    ],
)
def test_parse_modes_give_plain_text_and_entities(
    mode: str, markup: str, text: str, entities: list[tuple[str, int, int]]
) -> None:
    plain, found = render_text(markup, mode)
    assert plain == text
    assert [(e["type"], e["offset"], e["length"]) for e in found] == entities


@pytest.mark.parametrize(
    ("mode", "markup", "detail"),
    [
        ("MarkdownV2", "1.5", "Character '.' is reserved"),
        ("MarkdownV2", "ok *bold", "Can't find end of Bold entity at byte offset 3"),
        ("MarkdownV2", "```\ncode", "Can't find end of Pre entity"),
        ("HTML", "<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("HTML", "<b>x</i>", "Unmatched end tag"),
        ("HTML", "a <foo> b", 'Unsupported start tag "foo"'),
        ("Markdown", "*bold", "Can't find end of the entity starting at byte offset 0"),
    ],
)
async def test_unparsable_markup_is_refused(
    tg: FakeTelegram, bot: Bot, mode: str, markup: str, detail: str
) -> None:
    tg.user_message(CHAT, "hi")
    tg.limits_enabled = False
    with pytest.raises(BadRequest, match=r"^Can't parse entities: "):
        await bot.send_message(CHAT, markup, parse_mode=mode)
    error = tg.calls[-1].error  # PTB drops "Bad Request: " and lower-cases the rest
    assert error is not None and error.startswith("Bad Request: can't parse entities: ")
    assert detail in error


async def test_invalid_explicit_entities_are_refused(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(CHAT, "hi")
    with pytest.raises(BadRequest, match=r"^Can't parse entities"):
        await bot.send_message(CHAT, "short", entities=[MessageEntity("bold", 2, 10)])
    assert tg.bot_messages(CHAT) == []


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_limit_raises_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(CHAT, "hi")
    for n in range(3):
        await bot.send_message(CHAT, f"burst {n}")
    with pytest.raises(RetryAfter) as first:
        await bot.send_message(CHAT, "one too many")
    assert retry_seconds(first.value) == 1
    with pytest.raises(RetryAfter) as second:  # calling during the ban extends it
        await bot.send_message(CHAT, "still too soon")
    assert retry_seconds(second.value) == 2
    assert tg.rate_limited == [("sendMessage", CHAT, 1), ("sendMessage", CHAT, 2)]
    await bot.send_chat_action(CHAT, "typing")  # not paced


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_group_minute_limit() -> None:
    async with FakeTelegram(TOKEN, group_burst=10, group_per_minute=2) as tg:
        tg.user_message(-100, "hi", chat_type="group", user_id=7)
        async with make_bot(tg) as bot:
            await bot.send_message(-100, "one")
            await bot.send_message(-100, "two")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(-100, "three")
    assert 59 <= retry_seconds(caught.value) <= 60


async def test_long_poll_returns_injected_update(tg: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    tg.user_message(CHAT, "/ask@test_llm_bot what?", username="alice")
    [update] = await poll
    assert time.monotonic() - started < 1
    assert update.message is not None and update.message.text == "/ask@test_llm_bot what?"
    assert update.message.entities[0].type == "bot_command"
    assert update.effective_user is not None and update.effective_user.username == "alice"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert tg.updates == []


async def test_ptb_application_polls_the_fake(tg: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"echo {update.message.text}")

    app = Application.builder().token(TOKEN).base_url(f"{tg.base_url}/bot").build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=2)
        tg.user_message(CHAT, "ping")
        await tg.wait_for(lambda: tg.last_text(CHAT) == "echo ping")
        await tg.wait_idle(CHAT, quiet=0.1)
        await app.updater.stop()
        await app.stop()
    assert [c.method for c in tg.calls if c.error] == []
    assert tg.spec_violations == []


async def test_forum_topic_messages_look_real(tg: FakeTelegram, bot: Bot) -> None:
    thread = tg.create_forum_topic(-1001, "Ideas")
    tg.user_message(-1001, "in topic", chat_type="supergroup", thread_id=thread, user_id=5)
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None and message.is_topic_message
    assert message.message_thread_id == thread
    assert message.reply_to_message is not None
    assert message.reply_to_message.forum_topic_created is not None
    reply = await bot.send_message(
        -1001,
        "answer",
        message_thread_id=thread,
        reply_parameters=ReplyParameters(message.message_id),
    )
    assert reply.is_topic_message and reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == message.message_id
    assert [m.text for m in tg.bot_messages(-1001, thread)] == ["answer"]
    with pytest.raises(BadRequest, match=r"^Message thread not found$"):
        await bot.send_message(-1001, "lost", message_thread_id=12345)


async def test_file_download_and_size_limit(tg: FakeTelegram, bot: Bot) -> None:
    file_id, _ = tg.add_file(b"OggS voice bytes", "voice/file_7.oga")
    voice = await bot.get_file(file_id)
    assert voice.file_path is not None and voice.file_path.endswith("/voice/file_7.oga")
    assert await voice.download_as_bytearray() == b"OggS voice bytes"
    big_id, _ = tg.add_file(b"", "documents/big.bin", file_size=21 * 1024 * 1024)
    with pytest.raises(BadRequest, match=r"^File is too big$"):
        await bot.get_file(big_id)


async def test_uploads_are_stored(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(CHAT, "hi")
    tg.limits_enabled = False
    photo = await bot.send_photo(CHAT, b"\x89PNG fake", caption="<b>look</b>", parse_mode="HTML")
    await bot.send_voice(CHAT, b"OggS fake")
    await bot.send_document(CHAT, b"report", filename="report.txt")
    stored_photo, voice, document = tg.bot_messages(CHAT)
    assert stored_photo.caption == "look" and stored_photo.entities[0]["type"] == "bold"
    assert stored_photo.file is not None and stored_photo.file.data == b"\x89PNG fake"
    assert voice.kind == "voice" and voice.file is not None and voice.file.data == b"OggS fake"
    assert document.file is not None and document.file.filename == "report.txt"
    downloaded = await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray()
    assert downloaded == b"\x89PNG fake"
    assert tg.spec_violations == []


async def test_spec_violations_catch_unknown_fields(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(CHAT, "hi")
    await bot.send_message(CHAT, "fine")
    assert tg.spec_violations == []
    await bot.send_message(CHAT, "odd", api_kwargs={"colour": "red"})
    assert tg.spec_violations == ["sendMessage: unknown parameter 'colour'"]
    entity = {"type": "bold", "offset": 0, "length": 1, "colour": "red"}
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{tg.base_url}/bot{TOKEN}/sendMessage",
            json={"chat_id": CHAT, "text": "x", "entities": [entity]},
        )
    assert answer.json()["ok"] is True
    assert "field 'colour' is not a field of MessageEntity" in tg.spec_violations[-1]


async def test_wrong_token_unknown_method_and_scripted_failure(tg: FakeTelegram) -> None:
    async with httpx.AsyncClient() as client:
        unknown = await client.post(f"{tg.base_url}/bot{TOKEN}/fooBar")
    assert (unknown.status_code, unknown.json()["description"]) == (404, "Not Found")
    with pytest.raises(InvalidToken):
        await make_bot(tg, "123456:wrong").get_me()
    tg.user_message(CHAT, "hi")
    tg.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=CHAT)
    async with make_bot(tg) as bot:
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(CHAT, "anyone?")
        await bot.send_message(CHAT, "again")


async def test_drafts_only_in_private_chats(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(CHAT, "hi")
    tg.user_message(-5, "hi all", chat_type="group", user_id=CHAT)
    assert await bot.send_message_draft(CHAT, draft_id=1, text="Thinking")
    with pytest.raises(BadRequest, match="private chats"):
        await bot.send_message_draft(-5, draft_id=1, text="Thinking")
    assert tg.drafts[CHAT][0]["text"] == "Thinking"


async def test_admins_and_commands(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_message(-7, "hi", chat_type="supergroup", user_id=10)
    tg.set_admins(-7, [10], owner=11)
    assert (await bot.get_chat_member(-7, 10)).status == "administrator"
    assert (await bot.get_chat_member(-7, 12)).status == "member"
    assert [m.status for m in await bot.get_chat_administrators(-7)] == ["creator", "administrator"]
    await bot.set_my_commands([("reset", "Forget the chat")], language_code="en")
    assert tg.my_commands(language_code="en") == [
        {"command": "reset", "description": "Forget the chat"}
    ]
    assert (await bot.get_my_commands(language_code="en"))[0].command == "reset"
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Reset", "Upper case is refused")])
    assert tg.spec_violations == []


# ------------------------------------------------------------------ OpenAI fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(models=[MODEL]) as fake:
        yield fake


@pytest.fixture
async def client(llm: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key=llm.api_key, max_retries=0) as c:
        yield c


async def collect(
    client: openai.AsyncOpenAI, *, include_usage: bool = False, read_timeout: float = 5.0
) -> tuple[str, list[ChatCompletionChunk]]:
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=USER_SAYS,
        stream=True,
        stream_options={"include_usage": include_usage},
        timeout=read_timeout,
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


async def test_stream_text_reasoning_and_usage(llm: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    llm.script(Reasoning("hmm"), Comment(), Texts(["Hel", "lo"]), Usage(7, 2))
    text, chunks = await collect(client, include_usage=True)
    assert text == "Hello"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[1].choices[0].delta.model_extra == {"reasoning_content": "hmm"}
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 9
    for chunk in llm.emitted_chunks:
        assert validate("CreateChatCompletionStreamResponse", chunk) == []
    assert llm.spec_violations == []
    assert llm.last_messages() == USER_SAYS


async def test_tool_call_fragments_assemble(llm: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    llm.script(tool_call(0, "call_1", "get_weather", {"city": "Hanoi"}, split=4))
    async with client.chat.completions.stream(model=MODEL, messages=USER_SAYS) as stream:
        completion = await stream.get_final_completion()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert (call.id, call.function.name) == ("call_1", "get_weather")
    assert call.function.arguments == '{"city": "Hanoi"}'
    fragments = [
        c for c in llm.emitted_chunks if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert len(fragments) == 5 and all(
        "id" not in f["choices"][0]["delta"]["tool_calls"][0] for f in fragments[1:]
    )


async def test_default_reply_and_plain_completion(
    llm: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    raw = await client.chat.completions.with_raw_response.create(model=MODEL, messages=USER_SAYS)
    assert validate("CreateChatCompletionResponse", raw.http_response.json()) == []
    assert raw.parse().choices[0].message.content == "echo: hi"


@pytest.mark.parametrize(
    ("error", "exception"),
    [
        (invalid_api_key(), openai.AuthenticationError),
        (model_not_found("gpt-9"), openai.NotFoundError),
        (rate_limited(2), openai.RateLimitError),
        (insufficient_quota(), openai.RateLimitError),
        (server_error(503), openai.APIStatusError),
    ],
)
async def test_http_errors_map_to_sdk_exceptions(
    llm: FakeOpenAI, client: openai.AsyncOpenAI, error: HttpError, exception: type[Exception]
) -> None:
    llm.script(error)
    with pytest.raises(exception) as caught:
        await collect(client)
    assert isinstance(caught.value, openai.APIStatusError)
    assert caught.value.status_code == error.status and caught.value.code == error.code
    if error.headers:
        assert caught.value.response.headers["retry-after"] == "2"


async def test_wrong_key_and_unknown_model(llm: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="sk-bad", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await bad.models.list()
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="nope", messages=USER_SAYS)
    assert [m.id for m in (await client.models.list()).data] == [MODEL]


async def test_broken_streams(llm: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    received: list[str] = []
    llm.script(Text("partial"), Drop())
    with pytest.raises(openai.APIConnectionError):
        stream = await client.chat.completions.create(model=MODEL, messages=USER_SAYS, stream=True)
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "partial"
    llm.script(Text("so far"), ErrorInStream("upstream failed"))
    with pytest.raises(openai.APIError, match="upstream failed"):
        await collect(client)
    llm.script(Text("cut"), EndWithoutFinish())
    text, chunks = await collect(client)
    assert text == "cut" and all(c.choices[0].finish_reason is None for c in chunks)
    llm.script(Stall(1.0), Text("late"))
    with pytest.raises(openai.APITimeoutError):
        await collect(client, read_timeout=0.2)


async def test_bad_request_body_is_reported(llm: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    await client.chat.completions.create(
        model=MODEL,
        messages=cast(Any, [{"role": "wizard", "content": "hi"}]),
    )
    assert llm.spec_violations and "/messages/0" in llm.spec_violations[0]


async def test_audio_and_images(llm: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    llm.script_transcription("bonjour")
    text = await client.audio.transcriptions.create(
        model="whisper-1", file=("voice.ogg", b"OggS", "audio/ogg"), language="fr"
    )
    assert text.text == "bonjour"
    upload = llm.requests[-1].files["file"]
    assert (upload.filename, upload.content_type, upload.data) == (
        "voice.ogg",
        "audio/ogg",
        b"OggS",
    )
    with pytest.raises(openai.BadRequestError, match="Invalid file format"):
        await client.audio.transcriptions.create(model="whisper-1", file=("voice.oga", b"OggS"))
    speech = await client.audio.speech.create(
        model="tts-1", voice="alloy", input="hi", response_format="opus"
    )
    assert speech.content.startswith(b"OggS")
    image = await client.images.generate(model="gpt-image-1", prompt="a cat")
    assert image.data and image.data[0].b64_json
    assert llm.spec_violations == []
