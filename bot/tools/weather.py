"""The weather tool: Open-Meteo geocoding and forecast (no key needed)."""

from __future__ import annotations

from typing import Any

from bot.i18n import translate
from bot.tools.context import ToolContext, request_json
from bot.tools.registry import ToolFailure, tool_from_function

SERVICE = "the weather service (Open-Meteo)"
MAX_DAYS = 7

CURRENT_VARIABLES = (
    "temperature_2m",
    "relative_humidity_2m",
    "apparent_temperature",
    "precipitation",
    "weather_code",
    "wind_speed_10m",
)
DAILY_VARIABLES = (
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_sum",
    "precipitation_probability_max",
    "wind_speed_10m_max",
)

# WMO weather interpretation codes, as Open-Meteo documents them.
WMO_CODES: dict[int, str] = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "slight rain",
    63: "moderate rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "slight snowfall",
    73: "moderate snowfall",
    75: "heavy snowfall",
    77: "snow grains",
    80: "slight rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    85: "slight snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}


def describe_code(code: Any) -> str:
    """The WMO weather code in words ('unknown (N)' for codes outside the table)."""
    if code is None:
        return "unknown"
    try:
        number = int(code)
    except (TypeError, ValueError):
        return f"unknown ({code})"
    return WMO_CODES.get(number, f"unknown ({number})")


async def get_weather(ctx: ToolContext, location: str, days: int = 3) -> dict[str, Any]:
    """Get the current weather and a daily forecast for a place, in the place's local time.

    Use it for questions about weather, temperature, rain, wind or what to wear.
    Temperatures are in °C, precipitation in mm, wind in km/h.

    Args:
        location: City or place name, in any language, optionally with the country
            (e.g. "Hanoi", "Đà Nẵng", "Paris, France").
        days: Number of forecast days, 1-7 (today is day 1).
    """
    days = max(1, min(MAX_DAYS, days))
    place = await _geocode(ctx, location)
    forecast = await request_json(
        ctx.http,
        "GET",
        f"{ctx.weather_api_url}/forecast",
        service=SERVICE,
        params={
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            "current": ",".join(CURRENT_VARIABLES),
            "daily": ",".join(DAILY_VARIABLES),
            "timezone": "auto",
            "forecast_days": days,
        },
    )
    if not isinstance(forecast, dict):
        raise ToolFailure(f"{SERVICE} sent an unexpected answer")
    return {
        "place": {
            "name": place.get("name"),
            "admin1": place.get("admin1"),
            "country": place.get("country"),
            "lat": round(float(place["latitude"]), 4),
            "lon": round(float(place["longitude"]), 4),
            "timezone": forecast.get("timezone") or place.get("timezone"),
        },
        "units": _units(forecast),
        "current": _current(forecast),
        "daily": _daily(forecast, days),
    }


async def _geocode(ctx: ToolContext, location: str) -> dict[str, Any]:
    """The best geocoding match for `location`; 'Paris, France' picks the match in France."""
    text = " ".join(location.split())
    if not text:
        raise ToolFailure("the location is empty: give a city or place name")
    name, _, qualifier = (part.strip() for part in text.partition(","))
    name = name or text
    body = await request_json(
        ctx.http,
        "GET",
        f"{ctx.geocoding_api_url}/search",
        service=SERVICE,
        params={
            "name": name[:100],
            "count": 10 if qualifier else 1,
            "language": "en",
            "format": "json",
        },
    )
    results = body.get("results") if isinstance(body, dict) else None
    if not results:
        raise ToolFailure(
            f"no place called '{text}' was found; try the city's name in English "
            "or a nearby larger city"
        )
    if qualifier:
        wanted = qualifier.casefold()
        for result in results:
            fields = (result.get("country"), result.get("country_code"), result.get("admin1"))
            if any(isinstance(f, str) and f.casefold() == wanted for f in fields):
                return dict(result)
    return dict(results[0])


def _units(forecast: dict[str, Any]) -> dict[str, str]:
    """The units the answer uses, as the API reports them."""
    units = {**forecast.get("daily_units", {}), **forecast.get("current_units", {})}
    return {
        "temperature": units.get("temperature_2m", units.get("temperature_2m_max", "°C")),
        "precipitation": units.get("precipitation", units.get("precipitation_sum", "mm")),
        "wind_speed": units.get("wind_speed_10m", units.get("wind_speed_10m_max", "km/h")),
        "humidity": units.get("relative_humidity_2m", "%"),
        "precipitation_probability": units.get("precipitation_probability_max", "%"),
    }


def _current(forecast: dict[str, Any]) -> dict[str, Any]:
    """The current conditions, with the weather code in words."""
    current = forecast.get("current") or {}
    return {
        "local_time": current.get("time"),
        "conditions": describe_code(current.get("weather_code")),
        "temperature": current.get("temperature_2m"),
        "feels_like": current.get("apparent_temperature"),
        "humidity": current.get("relative_humidity_2m"),
        "precipitation": current.get("precipitation"),
        "wind_speed": current.get("wind_speed_10m"),
    }


def _daily(forecast: dict[str, Any], days: int) -> list[dict[str, Any]]:
    """One compact entry per forecast day."""
    daily = forecast.get("daily") or {}
    dates = daily.get("time") or []

    def column(name: str, index: int) -> Any:
        values = daily.get(name) or []
        return values[index] if index < len(values) else None

    return [
        {
            "date": date,
            "conditions": describe_code(column("weather_code", i)),
            "temp_min": column("temperature_2m_min", i),
            "temp_max": column("temperature_2m_max", i),
            "precipitation": column("precipitation_sum", i),
            "precipitation_probability": column("precipitation_probability_max", i),
            "wind_speed_max": column("wind_speed_10m_max", i),
        }
        for i, date in enumerate(dates[:days])
    ]


def weather_status(args: dict[str, Any], lang: str) -> str:
    """The live reply's label while the weather is looked up."""
    place = " ".join(str(args.get("location") or "").split()) or "…"
    if len(place) > 60:
        place = place[:59] + "…"
    return translate(lang, "tool_weather", place=place)


TOOL = tool_from_function(get_weather, weather_status)
