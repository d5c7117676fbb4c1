"""Function-calling tools: the registry and one module per tool."""

from __future__ import annotations

import httpx

from bot.settings import Settings
from bot.tools.registry import Tool, ToolRegistry

__all__ = ["Tool", "ToolRegistry", "build_tools"]


def build_tools(settings: Settings, http: httpx.AsyncClient) -> ToolRegistry:
    """The registry of the tools TOOLS switches on."""
    available: dict[str, Tool] = {}
    enabled = [available[name] for name in settings.tools if name in available]
    return ToolRegistry(enabled, context=None, timeout=settings.tool_timeout)
