"""What every tool shares: the HTTP client and the tool settings, as one frozen value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bot.settings import Settings
from bot.tools.registry import ToolFailure

TAVILY_API_URL = "https://api.tavily.com/search"


class TextSearcher(Protocol):
    """The part of `ddgs.DDGS` the search tool uses."""

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Search the web; returns dicts with title, href and body."""
        ...


def default_ddgs() -> TextSearcher:
    """A new DuckDuckGo (ddgs) client; imported lazily, it is a heavy scraper."""
    from ddgs import DDGS

    searcher: TextSearcher = DDGS()
    return searcher


@dataclass(frozen=True)
class ToolContext:
    """The shared context passed as the first argument to every tool function."""

    http: httpx.AsyncClient
    weather_api_url: str = "https://api.open-meteo.com/v1"
    geocoding_api_url: str = "https://geocoding-api.open-meteo.com/v1"
    search_provider: str = "auto"
    searxng_url: str = ""
    tavily_api_key: str = field(default="", repr=False)
    search_max_results: int = 5
    search_timeout: float = 10.0
    tavily_api_url: str = TAVILY_API_URL
    ddgs_factory: Callable[[], TextSearcher] = default_ddgs

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> ToolContext:
        """Build the context from the bot's settings and its shared HTTP client."""
        return cls(
            http=http,
            weather_api_url=settings.weather_api_url.strip().rstrip("/"),
            geocoding_api_url=settings.geocoding_api_url.strip().rstrip("/"),
            search_provider=settings.search_provider,
            searxng_url=settings.searxng_url.strip().rstrip("/"),
            tavily_api_key=settings.tavily_api_key.get_secret_value().strip(),
            search_max_results=settings.search_max_results,
            # A little under the registry's timeout, so the tool can say which back-end was slow.
            search_timeout=max(1.0, settings.tool_timeout * 0.8),
        )


async def request_json(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    service: str,
    explain: dict[int, str] | None = None,
    **kwargs: Any,
) -> Any:
    """One HTTP call to a tool back-end (kwargs go to httpx); failures become short ToolFailures."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ToolFailure(f"{service} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise ToolFailure(f"could not reach {service} ({type(exc).__name__})") from exc
    if response.status_code >= 400:
        message = (explain or {}).get(response.status_code)
        if message is None:
            message = f"{service} answered HTTP {response.status_code}"
            reason = _error_reason(response)
            if reason:
                message += f": {reason}"
        raise ToolFailure(message)
    try:
        return response.json()
    except ValueError as exc:
        raise ToolFailure(f"{service} sent an answer that is not JSON") from exc


def _error_reason(response: httpx.Response) -> str:
    """The short reason a JSON error body gives (Open-Meteo's `reason`), if any."""
    try:
        body = response.json()
    except ValueError:
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    return str(reason)[:200] if reason else ""
