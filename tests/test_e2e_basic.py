"""First end-to-end check: a private message is answered through the real Application."""

from __future__ import annotations

from tests.conftest import Harness
from tests.fakes.openai import Text


async def test_private_message_is_answered(harness: Harness) -> None:
    harness.provider.script(Text("Hello "), Text("**there**!"))
    harness.say("hi")
    texts = await harness.answer()
    assert texts == ["Hello there!"]
    message = harness.telegram.bot_messages(4242)[0]
    assert message.entities == [{"type": "bold", "offset": 6, "length": 5}]
