"""Fake search back-ends speaking real HTTP on 127.0.0.1: SearXNG's JSON API and Tavily.

Shapes copy the real services:
- SearXNG `GET /search?q=&format=json` -> `{"query", "number_of_results", "results": [{"url",
  "title", "content", "engine", "engines", "parsed_url", "template", "positions", "score",
  "category", "publishedDate"}], "answers", "corrections", "infoboxes", "suggestions",
  "unresponsive_engines"}`; a format not enabled on the instance -> 403 with an HTML page.
- Tavily `POST /search` JSON `{"query", "max_results", "search_depth", ...}` with
  `Authorization: Bearer KEY` -> `{"query", "follow_up_questions", "answer", "images",
  "results": [{"title", "url", "content", "score", "raw_content"}], "response_time",
  "request_id"}`; a wrong key -> 401 `{"detail": {"error": "Unauthorized: ..."}}`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes.server import LocalServer


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


def default_results(query: str, count: int = 3) -> list[dict[str, str]]:
    """A few plausible results for any query: title, url, content."""
    slug = "-".join(query.lower().split())[:40] or "empty"
    return [
        {
            "title": f"{query} — result {i + 1}",
            "url": f"https://example{i + 1}.org/{slug}",
            "content": f"Page {i + 1} about {query}. It says useful things about {query}.",
        }
        for i in range(count)
    ]


class _Server(LocalServer):
    """An aiohttp app on a free port of 127.0.0.1 that records requests."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.results: dict[str, list[dict[str, str]]] = {}
        self.delay = 0.0
        self._fail_status: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_with(self, status: int | None) -> None:
        """Answer every request with this HTTP status (None: stop failing)."""
        self._fail_status = status

    def script(self, query: str, results: list[dict[str, str]]) -> None:
        """The results (title, url, content) to give for this exact query."""
        self.results[query] = results

    def _results_for(self, query: str) -> list[dict[str, str]]:
        if query in self.results:
            return self.results[query]
        return default_results(query)

    async def _record(self, request: web.Request, body: Any = None) -> None:
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)


class FakeSearx(_Server):
    """A SearXNG instance with the JSON format enabled (and only JSON)."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/search", self._search)

    async def _search(self, request: web.Request) -> web.Response:
        await self._record(request)
        if self._fail_status is not None:
            return web.Response(text="<html>error</html>", status=self._fail_status)
        if request.query.get("format") != "json":
            return web.Response(
                text="<html><body><h1>403 Forbidden</h1></body></html>",
                status=403,
                content_type="text/html",
            )
        query = request.query.get("q", "")
        results = [
            {
                "url": r["url"],
                "title": r["title"],
                "content": r["content"],
                "engine": "duckduckgo",
                "parsed_url": list(urlsplit(r["url"])),
                "template": "default.html",
                "engines": ["duckduckgo", "brave"],
                "positions": [i + 1],
                "publishedDate": None,
                "score": round(2.0 / (i + 1), 3),
                "category": "general",
            }
            for i, r in enumerate(self._results_for(query))
        ]
        return web.json_response(
            {
                "query": query,
                "number_of_results": 0,
                "results": results,
                "answers": [],
                "corrections": [],
                "infoboxes": [],
                "suggestions": [],
                "unresponsive_engines": [],
            }
        )


class FakeTavily(_Server):
    """Tavily's search API; only `api_key` is accepted as the Bearer key."""

    def __init__(self, api_key: str = "tvly-test-key") -> None:
        super().__init__()
        self.api_key = api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/search", self._search)

    @property
    def search_url(self) -> str:
        return f"{self.url}/search"

    async def _search(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        await self._record(request, body)
        if self._fail_status is not None:
            return web.json_response(
                {"detail": {"error": f"Scripted failure {self._fail_status}"}},
                status=self._fail_status,
            )
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(
                {"detail": {"error": "Unauthorized: missing or invalid API key."}}, status=401
            )
        if not isinstance(body, dict) or not body.get("query"):
            return web.json_response({"detail": {"error": "Query is missing."}}, status=400)
        max_results = int(body.get("max_results", 5))
        if not 0 <= max_results <= 20:
            return web.json_response(
                {"detail": {"error": "max_results must be between 0 and 20."}}, status=400
            )
        query = str(body["query"])
        results = [
            {
                "title": r["title"],
                "url": r["url"],
                "content": r["content"],
                "score": round(0.9 - i * 0.1, 3),
                "raw_content": None,
            }
            for i, r in enumerate(self._results_for(query)[:max_results])
        ]
        return web.json_response(
            {
                "query": query,
                "follow_up_questions": None,
                "answer": None,
                "images": [],
                "results": results,
                "response_time": 0.42,
                "request_id": str(uuid.uuid4()),
            }
        )
