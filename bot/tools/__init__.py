"""Function-calling tools: the registry and one module per tool."""

from __future__ import annotations

import logging

import httpx

from bot.settings import Settings
from bot.tools import search, weather
from bot.tools.context import ToolContext
from bot.tools.registry import Tool, ToolBudget, ToolRegistry

__all__ = ["AVAILABLE_TOOLS", "Tool", "ToolBudget", "ToolContext", "ToolRegistry", "build_tools"]

log = logging.getLogger(__name__)

# The one place tools are registered: the names TOOLS may switch on.
AVAILABLE_TOOLS: dict[str, Tool] = {
    "weather": weather.TOOL,
    "search": search.TOOL,
}


def build_tools(settings: Settings, http: httpx.AsyncClient) -> ToolRegistry:
    """The registry of the tools TOOLS switches on, in TOOLS order, bound to their context."""
    enabled: list[Tool] = []
    for name in settings.tools:
        tool = AVAILABLE_TOOLS.get(name.strip().lower())
        if tool is None:
            log.warning(
                "TOOLS names an unknown tool '%s' (known: %s); ignoring it",
                name,
                ", ".join(AVAILABLE_TOOLS),
            )
        elif tool not in enabled:
            enabled.append(tool)
    context = ToolContext.from_settings(settings, http)
    return ToolRegistry(
        enabled,
        context=context,
        timeout=settings.tool_timeout,
        max_result_chars=settings.max_tool_result_chars,
        per_round=settings.max_tool_calls_per_round,
        per_turn=settings.max_tool_calls_per_turn,
    )
