"""The wording of a turn's outcome: error messages and the footer of an unfinished answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.conversation import TurnOutcome
from bot.errors import BotError, StreamInterruptedError
from bot.i18n import translate


@dataclass(frozen=True)
class Shown:
    """What the reply ends with: a text that replaces the answer, and/or a footer under it."""

    text: str | None = None
    footer: str | None = None


def error_text(error: BotError, language: str, model: str) -> str:
    """The translated message a user sees for an error."""
    params: dict[str, Any] = {"model": model}
    params.update(getattr(error, "params", {}) or {})
    return translate(language, error.user_key, **params)


def interruption_note(outcome: TurnOutcome, language: str, model: str) -> str | None:
    """The footer of an answer that did not end normally, or None."""
    if outcome.status != "interrupted":
        return None
    error = outcome.error
    if isinstance(error, StreamInterruptedError):
        reason = translate(language, "reason_stalled" if error.stalled else "reason_dropped")
    elif error is not None:
        reason = error_text(error, language, model)
    elif outcome.finish_reason == "content_filter":
        reason = translate(language, "reason_filtered")
    else:
        reason = translate(language, "reason_length")
    return translate(language, "interrupted", reason=reason)


def shown_outcome(outcome: TurnOutcome, language: str, model: str, has_text: bool) -> Shown:
    """How the live reply ends for this outcome (`has_text`: the user already sees text)."""
    if outcome.stopped:
        stopped = translate(language, "stopped")
        return Shown(footer=stopped) if outcome.text else Shown(text=stopped)
    if outcome.status == "failed":
        error = outcome.error
        message = (
            error_text(error, language, model) if error else translate(language, "empty_answer")
        )
        # Keep what the user already sees; say what went wrong under it.
        return Shown(footer=message) if has_text else Shown(text=message)
    if not outcome.text:
        return Shown(text=translate(language, "empty_answer"))
    notes = [interruption_note(outcome, language, model)]
    if outcome.answered_by:
        notes.insert(0, translate(language, "answered_by", model=outcome.answered_by, chosen=model))
    return Shown(footer="\n".join(n for n in notes if n) or None)
