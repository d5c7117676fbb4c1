"""The weather and web search tools, over real HTTP against fake back-ends on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import httpx
import jsonschema
import pytest
from ddgs.exceptions import DDGSException, RatelimitException

from bot.settings import Settings
from bot.tool_calls import ToolCall
from bot.tools import build_tools, search, weather
from bot.tools.context import ToolContext
from bot.tools.registry import Tool, ToolRegistry, tool_from_function
from bot.tools.search import pick_provider
from bot.tools.weather import WMO_CODES, describe_code
from tests.fakes.openmeteo import FakeOpenMeteo
from tests.fakes.search import FakeSearx, FakeTavily

TAVILY_KEY = "tvly-secret-test-key"


# -- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
async def meteo() -> AsyncIterator[FakeOpenMeteo]:
    async with FakeOpenMeteo() as fake:
        yield fake


@pytest.fixture
async def searx() -> AsyncIterator[FakeSearx]:
    async with FakeSearx() as fake:
        yield fake


@pytest.fixture
async def tavily() -> AsyncIterator[FakeTavily]:
    async with FakeTavily(api_key=TAVILY_KEY) as fake:
        yield fake


def make_context(http: httpx.AsyncClient, **overrides: Any) -> ToolContext:
    values: dict[str, Any] = {
        "http": http,
        "weather_api_url": "http://127.0.0.1:9/v1",
        "geocoding_api_url": "http://127.0.0.1:9/geo/v1",
        "search_provider": "auto",
        "searxng_url": "",
        "tavily_api_key": "",
        "search_max_results": 5,
        "search_timeout": 5.0,
    }
    values.update(overrides)
    return ToolContext(**values)


def registry(context: ToolContext, timeout: float = 5.0) -> ToolRegistry:
    return ToolRegistry([weather.TOOL, search.TOOL], context, timeout)


def call(name: str, arguments: dict[str, Any] | str) -> ToolCall:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(id="call_1", name=name, arguments=text)


async def run(reg: ToolRegistry, name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    result = json.loads(await reg.run(call(name, arguments)))
    assert isinstance(result, dict)
    return result


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "telegram_bot_token": "123456:ABCDEF",
        "openai_api_key": "sk-test",
        "_env_file": None,
    }
    base.update(values)
    return Settings(**base)


# -- schemas ------------------------------------------------------------------------------


def test_weather_schema_is_derived_from_the_function() -> None:
    schema = weather.TOOL.schema()
    function = schema["function"]
    assert schema["type"] == "function"
    assert function["name"] == "get_weather"
    assert "current weather" in function["description"]
    assert "Args" not in function["description"]
    params = function["parameters"]
    assert params["required"] == ["location"]
    assert params["additionalProperties"] is False
    assert params["properties"]["location"]["type"] == "string"
    assert "any language" in params["properties"]["location"]["description"]
    assert "country" in params["properties"]["location"]["description"]
    assert params["properties"]["days"] == {
        "type": "integer",
        "description": "Number of forecast days, 1-7 (today is day 1).",
        "default": 3,
    }
    jsonschema.Draft202012Validator.check_schema(params)


def test_search_schema_is_derived_from_the_function() -> None:
    function = search.TOOL.schema()["function"]
    assert function["name"] == "web_search"
    assert "cite" in function["description"] and "URL" in function["description"]
    params = function["parameters"]
    assert params["required"] == ["query"]
    assert params["properties"]["query"]["type"] == "string"
    assert params["properties"]["max_results"]["type"] == "integer"
    assert params["properties"]["max_results"]["default"] == 5
    assert all(p.get("description") for p in params["properties"].values())
    jsonschema.Draft202012Validator.check_schema(params)


def test_literal_parameters_become_enums() -> None:
    async def convert(ctx: ToolContext, unit: Literal["c", "f"], precise: bool = False) -> str:
        """Convert a temperature.

        Args:
            unit: The target unit.
            precise: Keep decimals.
        """
        return unit

    tool = tool_from_function(convert)
    props = tool.parameters["properties"]
    assert props["unit"] == {
        "type": "string",
        "enum": ["c", "f"],
        "description": "The target unit.",
    }
    assert props["precise"]["type"] == "boolean"
    assert tool.parameters["required"] == ["unit"]


def test_schemas_validate_the_arguments_a_model_would_send() -> None:
    weather_params = weather.TOOL.parameters
    jsonschema.validate({"location": "Hanoi", "days": 2}, weather_params)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"days": 2}, weather_params)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"location": "Hanoi", "units": "f"}, weather_params)


# -- build_tools and the context ----------------------------------------------------------


async def test_build_tools_follows_tools_order_and_ignores_unknown_names(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.tools"):
        reg = build_tools(settings(tools="search,calculator,weather", tool_timeout=7), http)
    assert reg.names == ["web_search", "get_weather"]
    assert "calculator" in caplog.text
    assert not build_tools(settings(tools=""), http)


async def test_context_from_settings_unwraps_the_key_and_hides_it(http: httpx.AsyncClient) -> None:
    ctx = ToolContext.from_settings(
        settings(
            tavily_api_key=TAVILY_KEY,
            searxng_url="http://searx.local/",
            search_provider="tavily",
            search_max_results=3,
            tool_timeout=10,
        ),
        http,
    )
    assert ctx.tavily_api_key == TAVILY_KEY
    assert ctx.searxng_url == "http://searx.local"
    assert ctx.search_provider == "tavily"
    assert ctx.search_max_results == 3
    assert 0 < ctx.search_timeout <= 10
    assert ctx.tavily_api_url == "https://api.tavily.com/search"
    assert TAVILY_KEY not in repr(ctx)


# -- argument checking through the registry -----------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{not json", "bad arguments"),
        ("[1, 2]", "bad arguments"),
        ({"location": "Hanoi", "units": "f"}, "unknown argument(s): units"),
        ({"days": 2}, "missing argument(s): location"),
        ({"location": "Hanoi", "days": "three"}, "argument days must be of type integer"),
    ],
)
async def test_bad_arguments_give_an_error_result(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo, arguments: Any, expected: str
) -> None:
    reg = registry(make_context(http, weather_api_url=meteo.weather_url))
    result = await run(reg, "get_weather", arguments)
    assert expected in result["error"]
    assert meteo.requests == []


async def test_near_miss_types_are_coerced(http: httpx.AsyncClient, meteo: FakeOpenMeteo) -> None:
    ctx = make_context(
        http, weather_api_url=meteo.weather_url, geocoding_api_url=meteo.geocoding_url
    )
    result = await run(registry(ctx), "get_weather", {"location": "Hanoi", "days": "2"})
    assert len(result["daily"]) == 2


async def test_unknown_tool_gives_an_error_result(http: httpx.AsyncClient) -> None:
    result = await run(registry(make_context(http)), "get_stock_price", {"symbol": "X"})
    assert "unknown tool" in result["error"]


# -- weather ------------------------------------------------------------------------------


def weather_context(http: httpx.AsyncClient, meteo: FakeOpenMeteo) -> ToolContext:
    return make_context(
        http, weather_api_url=meteo.weather_url, geocoding_api_url=meteo.geocoding_url
    )


async def test_weather_for_a_known_place(http: httpx.AsyncClient, meteo: FakeOpenMeteo) -> None:
    meteo.codes = [2, 0, 61, 95]
    result = await weather.get_weather(weather_context(http, meteo), "Hanoi")
    assert result["place"] == {
        "name": "Hanoi",
        "admin1": "Hanoi",
        "country": "Vietnam",
        "lat": 21.0245,
        "lon": 105.8412,
        "timezone": "Asia/Bangkok",
    }
    assert result["units"]["temperature"] == "°C"
    assert result["units"]["wind_speed"] == "km/h"
    current = result["current"]
    assert current["conditions"] == "partly cloudy"
    assert isinstance(current["temperature"], float)
    assert {"feels_like", "humidity", "precipitation", "wind_speed", "local_time"} <= set(current)
    daily = result["daily"]
    assert [d["conditions"] for d in daily] == ["partly cloudy", "clear sky", "slight rain"]
    for day in daily:
        assert day["temp_min"] < day["temp_max"]
        assert set(day) == {
            "date",
            "conditions",
            "temp_min",
            "temp_max",
            "precipitation",
            "precipitation_probability",
            "wind_speed_max",
        }
    geo, forecast = meteo.requests
    assert geo.path == "/geo/v1/search"
    assert geo.query == {"name": "Hanoi", "count": "1", "language": "en", "format": "json"}
    assert forecast.path == "/v1/forecast"
    assert forecast.query["timezone"] == "auto"
    assert forecast.query["forecast_days"] == "3"
    assert forecast.query["current"] == ",".join(weather.CURRENT_VARIABLES)
    assert forecast.query["daily"] == ",".join(weather.DAILY_VARIABLES)
    assert float(forecast.query["latitude"]) == pytest.approx(21.0245)


async def test_weather_place_in_another_language_and_with_country(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo
) -> None:
    ctx = weather_context(http, meteo)
    result = await weather.get_weather(ctx, "Hà Nội", days=1)
    assert result["place"]["name"] == "Hanoi"
    texas = await weather.get_weather(ctx, "Paris, Texas", days=1)
    assert texas["place"]["country"] == "United States"
    assert texas["place"]["timezone"] == "America/Chicago"
    france = await weather.get_weather(ctx, "paris, FR", days=1)
    assert france["place"]["country"] == "France"
    assert meteo.requests[2].query["name"] == "Paris"


@pytest.mark.parametrize(("asked", "sent"), [(30, 7), (0, 1), (-4, 1), (7, 7)])
async def test_weather_days_are_clamped(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo, asked: int, sent: int
) -> None:
    result = await weather.get_weather(weather_context(http, meteo), "Tokyo", days=asked)
    assert meteo.requests[-1].query["forecast_days"] == str(sent)
    assert len(result["daily"]) == sent


async def test_weather_place_not_found_is_an_error_the_model_can_explain(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo
) -> None:
    result = await run(
        registry(weather_context(http, meteo)), "get_weather", {"location": "Atlantis"}
    )
    assert "no place called 'Atlantis' was found" in result["error"]
    assert meteo.paths() == ["/geo/v1/search"]


async def test_weather_http_500_is_an_error_result_without_urls(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo
) -> None:
    meteo.fail_with(500, endpoint="forecast")
    result = await run(registry(weather_context(http, meteo)), "get_weather", {"location": "Paris"})
    assert "HTTP 500" in result["error"]
    assert "127.0.0.1" not in result["error"] and "http://" not in result["error"]


async def test_weather_api_reason_is_passed_on(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo
) -> None:
    meteo.fail_with(400)
    result = await run(registry(weather_context(http, meteo)), "get_weather", {"location": "Paris"})
    assert "HTTP 400: Scripted failure 400" in result["error"]


async def test_weather_timeout_is_an_error_result(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo
) -> None:
    meteo.delay = 0.4
    started = time.monotonic()
    result = await run(
        registry(weather_context(http, meteo), timeout=0.1), "get_weather", {"location": "Paris"}
    )
    assert "timed out after 0.1 s" in result["error"]
    assert time.monotonic() - started < 0.35


async def test_weather_unreachable_service(http: httpx.AsyncClient) -> None:
    fake = await FakeOpenMeteo().start()
    ctx = weather_context(http, fake)
    await fake.stop()
    result = await run(registry(ctx), "get_weather", {"location": "Paris"})
    assert "could not reach the weather service" in result["error"]


def test_every_wmo_code_has_words() -> None:
    documented = [0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75, 77]
    documented += [80, 81, 82, 85, 86, 95, 96, 99]
    assert sorted(WMO_CODES) == documented
    assert describe_code(0) == "clear sky"
    assert describe_code(3) == "overcast"
    assert "fog" in describe_code(48)
    assert "drizzle" in describe_code(55)
    assert "rain" in describe_code(65)
    assert "snow" in describe_code(75)
    assert describe_code(81) == "moderate rain showers"
    assert describe_code(86) == "heavy snow showers"
    assert "thunderstorm" in describe_code(99)
    assert describe_code(5) == "unknown (5)"
    assert describe_code(None) == "unknown"


# -- search: provider choice --------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "searxng_url", "key", "expected"),
    [
        ("auto", "http://searx", TAVILY_KEY, "searxng"),
        ("auto", "", TAVILY_KEY, "tavily"),
        ("auto", "", "", "duckduckgo"),
        ("tavily", "http://searx", TAVILY_KEY, "tavily"),
        ("duckduckgo", "http://searx", TAVILY_KEY, "duckduckgo"),
        ("searxng", "", "", "searxng"),
    ],
)
async def test_pick_provider(
    http: httpx.AsyncClient, provider: str, searxng_url: str, key: str, expected: str
) -> None:
    ctx = make_context(http, search_provider=provider, searxng_url=searxng_url, tavily_api_key=key)
    assert pick_provider(ctx) == expected


async def test_searxng_chosen_but_not_configured(http: httpx.AsyncClient) -> None:
    result = await run(
        registry(make_context(http, search_provider="searxng")), "web_search", {"query": "x"}
    )
    assert "SEARXNG_URL is not set" in result["error"]


# -- search: SearXNG ----------------------------------------------------------------------


async def test_searxng_results_are_shaped_and_bounded(
    http: httpx.AsyncClient, searx: FakeSearx
) -> None:
    searx.script(
        "python news",
        [
            {"title": "T" * 400, "url": f"https://news{i}.example/a", "content": "word " * 200}
            for i in range(8)
        ],
    )
    ctx = make_context(http, searxng_url=searx.url, search_max_results=4)
    result = await search.web_search(ctx, "  python   news ", max_results=10)
    assert result["query"] == "python news"
    assert result["provider"] == "searxng"
    assert [r["url"] for r in result["results"]] == [f"https://news{i}.example/a" for i in range(4)]
    for item in result["results"]:
        assert set(item) == {"title", "url", "snippet"}
        assert len(item["title"]) <= 150
        assert len(item["snippet"]) <= 300
        assert item["snippet"].endswith("…")
    assert searx.requests[0].query == {"q": "python news", "format": "json"}
    fewer = await search.web_search(ctx, "python news", max_results=2)
    assert len(fewer["results"]) == 2


async def test_searxng_default_results_and_dropping_bad_urls(
    http: httpx.AsyncClient, searx: FakeSearx
) -> None:
    searx.script(
        "dupes",
        [
            {"title": "a", "url": "https://a.example", "content": "x"},
            {"title": "a again", "url": "https://a.example", "content": "x"},
            {"title": "", "url": "javascript:alert(1)", "content": "x"},
            {"title": "", "url": "https://b.example", "content": ""},
        ],
    )
    ctx = make_context(http, searxng_url=searx.url)
    result = await search.web_search(ctx, "dupes")
    assert result["results"] == [
        {"title": "a", "url": "https://a.example", "snippet": "x"},
        {"title": "https://b.example", "url": "https://b.example", "snippet": ""},
    ]
    default = await search.web_search(ctx, "anything")
    assert len(default["results"]) == 3


async def test_searxng_empty_results(http: httpx.AsyncClient, searx: FakeSearx) -> None:
    searx.script("nothing at all", [])
    ctx = make_context(http, searxng_url=searx.url)
    result = await run(registry(ctx), "web_search", {"query": "nothing at all"})
    assert result == {
        "query": "nothing at all",
        "provider": "searxng",
        "results": [],
        "note": "no results",
    }


async def test_searxng_403_explains_the_json_format(
    http: httpx.AsyncClient, searx: FakeSearx
) -> None:
    searx.fail_with(403)
    ctx = make_context(http, searxng_url=searx.url)
    result = await run(registry(ctx), "web_search", {"query": "x"})
    assert "JSON format" in result["error"] and "403" in result["error"]


async def test_searxng_fake_refuses_other_formats(
    http: httpx.AsyncClient, searx: FakeSearx
) -> None:
    response = await http.get(f"{searx.url}/search", params={"q": "x", "format": "html"})
    assert response.status_code == 403


async def test_searxng_500_is_an_error_result(http: httpx.AsyncClient, searx: FakeSearx) -> None:
    searx.fail_with(502)
    result = await run(
        registry(make_context(http, searxng_url=searx.url)), "web_search", {"query": "x"}
    )
    assert "HTTP 502" in result["error"]


# -- search: Tavily -----------------------------------------------------------------------


def tavily_context(http: httpx.AsyncClient, tavily: FakeTavily, **overrides: Any) -> ToolContext:
    values: dict[str, Any] = {"tavily_api_key": TAVILY_KEY, "tavily_api_url": tavily.search_url}
    values.update(overrides)
    return make_context(http, **values)


async def test_tavily_results(http: httpx.AsyncClient, tavily: FakeTavily) -> None:
    tavily.script(
        "weather news",
        [
            {"title": f"Story {i}", "url": f"https://t{i}.example/", "content": f"Body {i}"}
            for i in range(6)
        ],
    )
    ctx = tavily_context(http, tavily, search_max_results=3)
    result = await search.web_search(ctx, "weather news", max_results=8)
    assert result["provider"] == "tavily"
    assert result["results"] == [
        {"title": f"Story {i}", "url": f"https://t{i}.example/", "snippet": f"Body {i}"}
        for i in range(3)
    ]
    sent = tavily.requests[0]
    assert sent.method == "POST"
    assert sent.json == {"query": "weather news", "max_results": 3, "search_depth": "basic"}
    assert sent.headers["Authorization"] == f"Bearer {TAVILY_KEY}"


async def test_tavily_wrong_key(http: httpx.AsyncClient, tavily: FakeTavily) -> None:
    ctx = tavily_context(http, tavily, tavily_api_key="tvly-wrong-key")
    result = await run(registry(ctx), "web_search", {"query": "x"})
    assert "rejected the API key" in result["error"]
    assert "tvly-wrong-key" not in json.dumps(result)


async def test_tavily_empty_and_failing(http: httpx.AsyncClient, tavily: FakeTavily) -> None:
    tavily.script("void", [])
    reg = registry(tavily_context(http, tavily))
    assert (await run(reg, "web_search", {"query": "void"}))["note"] == "no results"
    tavily.fail_with(432)
    assert "usage limit" in (await run(reg, "web_search", {"query": "void"}))["error"]


# -- search: DuckDuckGo (ddgs in a thread) ------------------------------------------------


class FakeDDGS:
    """Stands in for ddgs.DDGS: canned results, an exception, or a slow scrape."""

    def __init__(
        self,
        results: list[dict[str, Any]] | None = None,
        error: Exception | None = None,
        block: threading.Event | None = None,
    ) -> None:
        self.results = results or []
        self.error = error
        self.block = block
        self.calls: list[tuple[str, int, str]] = []

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((query, kwargs["max_results"], threading.current_thread().name))
        if self.block is not None:
            self.block.wait(5)
        if self.error is not None:
            raise self.error
        return self.results


def ddg_context(http: httpx.AsyncClient, fake: FakeDDGS, **overrides: Any) -> ToolContext:
    factory: Callable[[], FakeDDGS] = lambda: fake  # noqa: E731
    return make_context(http, ddgs_factory=factory, **overrides)


async def test_duckduckgo_results(http: httpx.AsyncClient) -> None:
    fake = FakeDDGS(
        [{"title": f"R{i}", "href": f"https://d{i}.example", "body": f"B{i}"} for i in range(5)]
    )
    result = await search.web_search(ddg_context(http, fake, search_max_results=3), "hue", 5)
    assert result["provider"] == "duckduckgo"
    assert result["results"][0] == {"title": "R0", "url": "https://d0.example", "snippet": "B0"}
    assert len(result["results"]) == 3
    query, limit, thread = fake.calls[0]
    assert (query, limit) == ("hue", 3)
    assert thread != threading.main_thread().name


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RatelimitException("202 Ratelimit"), "rate-limiting"),
        (DDGSException("some engine broke"), "DuckDuckGo search failed"),
        (RuntimeError("boom"), "DuckDuckGo search failed (RuntimeError)"),
    ],
)
async def test_duckduckgo_failures_are_error_results(
    http: httpx.AsyncClient, error: Exception, expected: str
) -> None:
    reg = registry(ddg_context(http, FakeDDGS(error=error)))
    result = await run(reg, "web_search", {"query": "x"})
    assert expected in result["error"]


async def test_duckduckgo_no_results_is_an_empty_list(http: httpx.AsyncClient) -> None:
    reg = registry(ddg_context(http, FakeDDGS(error=DDGSException("No results found."))))
    result = await run(reg, "web_search", {"query": "zzzz"})
    assert result["results"] == [] and result["note"] == "no results"


async def test_duckduckgo_slow_scrape_times_out_without_blocking_the_loop(
    http: httpx.AsyncClient,
) -> None:
    release = threading.Event()
    fake = FakeDDGS([{"title": "late", "href": "https://late.example", "body": ""}], block=release)
    reg = registry(ddg_context(http, fake, search_timeout=0.3))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        result = await run(reg, "web_search", {"query": "slow"})
        elapsed = time.monotonic() - started
    finally:
        task.cancel()
        release.set()  # let the worker thread finish
    assert "did not answer within 0.3 s" in result["error"]
    assert 0.25 < elapsed < 1.5
    assert ticks >= 10  # the event loop kept running while the thread was stuck


# -- status labels ------------------------------------------------------------------------


def test_status_labels_in_english_and_vietnamese() -> None:
    assert (
        weather.weather_status({"location": "Hanoi"}, "en") == "🌤 Looking up the weather in Hanoi…"
    )
    assert weather.weather_status({"location": "Hà Nội"}, "vi") == "🌤 Đang xem thời tiết ở Hà Nội…"
    assert search.search_status({"query": "giá vàng"}, "vi") == "🔎 Đang tìm: giá vàng…"
    assert search.search_status({"query": "gold price"}, "en") == "🔎 Searching: gold price…"
    long = search.search_status({"query": "x " * 100}, "en")
    assert len(long) < 90
    assert weather.weather_status({}, "en") == "🌤 Looking up the weather in ……"


async def test_registry_status_label_survives_broken_arguments(http: httpx.AsyncClient) -> None:
    reg = registry(make_context(http))
    label = reg.status_label(call("web_search", '{"query": "tin tức"}'), "vi")
    assert label == "🔎 Đang tìm: tin tức…"
    assert reg.status_label(call("web_search", "{broken"), "en") == "🔎 Searching: ……"
    assert reg.status_label(call("nope", "{}"), "en") is None


# -- both tools at once -------------------------------------------------------------------


async def test_calls_run_concurrently_and_keep_their_order(
    http: httpx.AsyncClient, meteo: FakeOpenMeteo, searx: FakeSearx
) -> None:
    meteo.delay = 0.2
    searx.delay = 0.2
    ctx = make_context(
        http,
        weather_api_url=meteo.weather_url,
        geocoding_api_url=meteo.geocoding_url,
        searxng_url=searx.url,
    )
    reg: ToolRegistry = registry(ctx)
    started = time.monotonic()
    results = await reg.run_all(
        [
            call("web_search", {"query": "a"}),
            call("get_weather", {"location": "London", "days": 1}),
            call("web_search", {"query": "b"}),
        ]
    )
    elapsed = time.monotonic() - started
    first, second, third = (json.loads(r) for r in results)
    assert first["query"] == "a" and third["query"] == "b"
    assert second["place"]["name"] == "London"
    assert elapsed < 0.9  # weather needs two sequential requests; all ran side by side


def test_tools_are_tool_instances() -> None:
    assert isinstance(weather.TOOL, Tool) and isinstance(search.TOOL, Tool)
