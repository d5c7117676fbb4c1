"""/model without arguments shows the models as inline buttons; pressing one switches."""

from __future__ import annotations

from typing import Any

from tests.conftest import USER, Harness
from tests.fakes.openai import Text

GROUP = -100777
MODELS = "gpt-4o-mini,gpt-4.1,deepseek-chat"


def _buttons(message: Any) -> list[tuple[str, str]]:
    rows = message.reply_markup["inline_keyboard"]
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def _press(h: Harness, chat_id: int, message: Any, data: str, user_id: int) -> None:
    h.telegram.press_button(chat_id, message.message_id, data, user_id=user_id)


async def test_buttons_mark_the_current_model_and_switch_it(harness: Harness) -> None:
    await harness.restart(available_models=MODELS)
    harness.say("/model")
    await harness.notice()
    (picker,) = harness.telegram.bot_messages(USER)
    assert picker.text == "Current model: gpt-4o-mini"
    assert _buttons(picker) == [
        ("✓ gpt-4o-mini", "model:gpt-4o-mini"),
        ("gpt-4.1", "model:gpt-4.1"),
        ("deepseek-chat", "model:deepseek-chat"),
    ]
    _press(harness, USER, picker, "model:gpt-4.1", USER)
    await harness.telegram.wait_for(lambda: picker.text == "Model for this chat: gpt-4.1")
    assert ("✓ gpt-4.1", "model:gpt-4.1") in _buttons(picker)
    assert any(c.method == "answerCallbackQuery" for c in harness.telegram.calls)
    harness.provider.script(Text("from 4.1"))
    harness.say("hi")
    await harness.answer(count=2)
    assert harness.provider.chat_requests()[-1]["model"] == "gpt-4.1"


async def test_in_groups_only_admins_switch_by_button(harness: Harness) -> None:
    await harness.restart(available_models=MODELS, allowed_chat_ids=str(GROUP))
    harness.telegram.user_message(
        GROUP, "/model", chat_type="supergroup", chat_title="Team", user_id=1001
    )
    await harness.notice(GROUP)
    (picker,) = harness.telegram.bot_messages(GROUP)
    _press(harness, GROUP, picker, "model:deepseek-chat", 1001)
    await harness.telegram.wait_for(
        lambda: any(c.method == "answerCallbackQuery" for c in harness.telegram.calls)
    )
    assert picker.text == "Current model: gpt-4o-mini"
    harness.telegram.set_admins(GROUP, [1002])
    _press(harness, GROUP, picker, "model:deepseek-chat", 1002)
    await harness.telegram.wait_for(lambda: picker.text == "Model for this chat: deepseek-chat")


async def test_stale_button_is_refused(harness: Harness) -> None:
    await harness.restart(available_models=MODELS)
    harness.say("/model")
    await harness.notice()
    (picker,) = harness.telegram.bot_messages(USER)
    _press(harness, USER, picker, "model:gone-model", USER)
    await harness.telegram.wait_for(
        lambda: any(c.method == "answerCallbackQuery" for c in harness.telegram.calls)
    )
    assert picker.text == "Current model: gpt-4o-mini"


async def test_every_model_of_the_provider_with_star(harness: Harness) -> None:
    harness.provider.models += ["text-embedding-3-small", "whisper-1", "tts-1", "o3-mini"]
    await harness.restart(available_models="*")
    harness.say("/model")
    await harness.notice()
    (picker,) = harness.telegram.bot_messages(USER)
    labels = [label for label, _ in _buttons(picker)]
    assert labels == ["✓ gpt-4o-mini", "deepseek-chat", "gpt-4.1", "o3-mini"]
    harness.say("/model o3-mini")
    assert "o3-mini" in (await harness.notice(count=2))[-1]
    listings = [r for r in harness.provider.requests if r.path == "/v1/models"]
    assert len(listings) == 1, "the list is cached"
    harness.say("/model whisper-1")
    assert "Unknown" in (await harness.notice(count=3))[-1]
