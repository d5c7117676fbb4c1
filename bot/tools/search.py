"""The web search tool: SearXNG, Tavily or DuckDuckGo (ddgs), whichever is configured."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ddgs.exceptions import DDGSException, RatelimitException
from ddgs.exceptions import TimeoutException as DDGSTimeout

from bot.i18n import translate
from bot.tools.context import ToolContext, request_json
from bot.tools.registry import ToolFailure, tool_from_function

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 400
MAX_TITLE_CHARS = 150
MAX_SNIPPET_CHARS = 300
PROVIDERS = ("searxng", "tavily", "duckduckgo")


async def web_search(ctx: ToolContext, query: str, max_results: int = 5) -> dict[str, Any]:
    """Search the web for current information: news, recent events, prices, facts to check.

    Base the answer on the results and cite the URLs of the results you use.

    Args:
        query: What to search for, as you would type it into a search engine.
        max_results: How many results to return, 1-10.
    """
    query = " ".join(query.split())[:MAX_QUERY_CHARS]
    if not query:
        raise ToolFailure("the query is empty")
    limit = max(1, min(max_results, ctx.search_max_results))
    provider = pick_provider(ctx)
    if provider == "searxng":
        raw = await _searxng(ctx, query, limit)
    elif provider == "tavily":
        raw = await _tavily(ctx, query, limit)
    else:
        raw = await _duckduckgo(ctx, query, limit)
    results = _shape(raw, limit)
    answer: dict[str, Any] = {"query": query, "provider": provider, "results": results}
    if not results:
        answer["note"] = "no results"
    return answer


def pick_provider(ctx: ToolContext) -> str:
    """The back-end to use: the configured one, or for 'auto' the first that is set up."""
    if ctx.search_provider in PROVIDERS:
        return ctx.search_provider
    if ctx.searxng_url:
        return "searxng"
    if ctx.tavily_api_key:
        return "tavily"
    return "duckduckgo"


async def _searxng(ctx: ToolContext, query: str, limit: int) -> list[dict[str, Any]]:
    """Results from a SearXNG instance's JSON API."""
    if not ctx.searxng_url:
        raise ToolFailure("web search is set to SearXNG but SEARXNG_URL is not set")
    body = await request_json(
        ctx.http,
        "GET",
        f"{ctx.searxng_url}/search",
        service="the SearXNG search instance",
        timeout=ctx.search_timeout,
        explain={
            403: "the SearXNG instance refused the JSON format (HTTP 403): "
            "enable 'json' under search.formats in its settings.yml",
            429: "the SearXNG instance is rate-limiting searches (HTTP 429)",
        },
        params={"q": query, "format": "json"},
    )
    items = body.get("results") if isinstance(body, dict) else None
    return [
        {"title": r.get("title"), "url": r.get("url"), "snippet": r.get("content")}
        for r in (items or [])[: limit * 2]
        if isinstance(r, dict)
    ]


async def _tavily(ctx: ToolContext, query: str, limit: int) -> list[dict[str, Any]]:
    """Results from the Tavily search API."""
    if not ctx.tavily_api_key:
        raise ToolFailure("web search is set to Tavily but TAVILY_API_KEY is not set")
    body = await request_json(
        ctx.http,
        "POST",
        ctx.tavily_api_url,
        service="Tavily",
        timeout=ctx.search_timeout,
        explain={
            401: "Tavily rejected the API key (HTTP 401)",
            429: "Tavily is rate-limiting searches (HTTP 429)",
            432: "the Tavily plan's usage limit is reached (HTTP 432)",
            433: "the Tavily pay-as-you-go limit is reached (HTTP 433)",
        },
        json={"query": query, "max_results": limit, "search_depth": "basic"},
        headers={"Authorization": f"Bearer {ctx.tavily_api_key}"},
    )
    items = body.get("results") if isinstance(body, dict) else None
    return [
        {"title": r.get("title"), "url": r.get("url"), "snippet": r.get("content")}
        for r in (items or [])
        if isinstance(r, dict)
    ]


async def _duckduckgo(ctx: ToolContext, query: str, limit: int) -> list[dict[str, Any]]:
    """Results from DuckDuckGo through ddgs, a synchronous scraper run in a worker thread."""

    def search() -> list[dict[str, Any]]:
        return ctx.ddgs_factory().text(query, max_results=limit)

    try:
        async with asyncio.timeout(ctx.search_timeout):
            items = await asyncio.to_thread(search)
    except TimeoutError as exc:
        raise ToolFailure(f"DuckDuckGo did not answer within {ctx.search_timeout:g} s") from exc
    except RatelimitException as exc:
        raise ToolFailure("DuckDuckGo is rate-limiting searches; try again in a minute") from exc
    except DDGSTimeout as exc:
        raise ToolFailure("DuckDuckGo did not answer in time") from exc
    except DDGSException as exc:
        if "no results" in str(exc).lower():
            return []
        raise ToolFailure("DuckDuckGo search failed") from exc
    except Exception as exc:
        log.warning("duckduckgo search failed: %r", exc)
        raise ToolFailure(f"DuckDuckGo search failed ({type(exc).__name__})") from exc
    return [
        {"title": r.get("title"), "url": r.get("href"), "snippet": r.get("body")}
        for r in items or []
        if isinstance(r, dict)
    ]


def _cut(text: Any, limit: int) -> str:
    """Whitespace collapsed and cut to `limit` characters (with an ellipsis)."""
    clean = " ".join(str(text or "").split())
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"


def _shape(raw: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most `limit` results with a URL, as {title, url, snippet}, without duplicate URLs."""
    results: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in raw:
        url = str(item.get("url") or "").strip()
        if not url.startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        results.append(
            {
                "title": _cut(item.get("title"), MAX_TITLE_CHARS) or url,
                "url": url,
                "snippet": _cut(item.get("snippet"), MAX_SNIPPET_CHARS),
            }
        )
        if len(results) >= limit:
            break
    return results


def search_status(args: dict[str, Any], lang: str) -> str:
    """The live reply's label while the web is searched."""
    query = _cut(args.get("query"), 60) or "…"
    return translate(lang, "tool_search", query=query)


TOOL = tool_from_function(web_search, search_status)
