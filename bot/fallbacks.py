"""The fallback ladder: how a round the provider refused is asked again, or not at all.

context too long   -> shrink the history window once (never after text or tools)
images refused     -> remember the model, ask again with images left out
                      (unless this turn itself carries images: then say so)
tools refused      -> ask again without tools (never after text)
anything else      -> the error stands
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from bot.errors import (
    ContextTooLongError,
    ProviderError,
    ToolsUnsupportedError,
    VisionUnsupportedError,
)

log = logging.getLogger(__name__)

MIN_SHRUNK_BUDGET = 200


@dataclass(frozen=True)
class RequestShape:
    """What the next request of a turn carries: the history budget, images and tools."""

    budget: int
    images: bool = True
    tools: bool = True
    shrunk: bool = False


@dataclass(frozen=True)
class Progress:
    """What a turn has done so far, which decides whether a retry is still honest."""

    has_text: bool
    has_tool_calls: bool
    turn_has_images: bool
    window_tokens: int


def next_shape(
    error: ProviderError, shape: RequestShape, progress: Progress
) -> RequestShape | None:
    """The shape to ask again with after `error`, or None when the error must stand."""
    if isinstance(error, ContextTooLongError):
        if shape.shrunk or progress.has_text or progress.has_tool_calls:
            return None
        budget = max(min(shape.budget, progress.window_tokens) // 2, MIN_SHRUNK_BUDGET)
        log.info("context too long; retrying with a %d-token window", budget)
        return replace(shape, budget=budget, shrunk=True)
    if isinstance(error, VisionUnsupportedError):
        if progress.turn_has_images or progress.has_text or not shape.images:
            return None
        log.info("the model takes no images; retrying with images left out")
        return replace(shape, images=False)
    if isinstance(error, ToolsUnsupportedError):
        if not shape.tools or progress.has_text:
            return None
        log.info("provider rejects tools; retrying without them")
        return replace(shape, tools=False)
    return None
