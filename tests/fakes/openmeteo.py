"""A fake Open-Meteo (geocoding + forecast) speaking real HTTP on 127.0.0.1.

Response shapes copy the real APIs:
- geocoding `GET /geo/v1/search?name=&count=&language=&format=json` -> `{"results": [...],
  "generationtime_ms": ...}`, or only `{"generationtime_ms": ...}` when nothing matches;
- forecast `GET /v1/forecast?latitude=&longitude=&current=...&daily=...&timezone=auto&
  forecast_days=N` -> latitude, longitude, utc_offset_seconds, timezone, current_units,
  current, daily_units, daily (columns keyed by variable, `time` holding the dates);
- errors -> `{"error": true, "reason": "..."}` with HTTP 400 (or the scripted status).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer

GEO_PREFIX = "/geo/v1"
WEATHER_PREFIX = "/v1"

UNITS = {
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "apparent_temperature": "°C",
    "precipitation": "mm",
    "rain": "mm",
    "weather_code": "wmo code",
    "wind_speed_10m": "km/h",
    "cloud_cover": "%",
    "is_day": "",
    "temperature_2m_max": "°C",
    "temperature_2m_min": "°C",
    "precipitation_sum": "mm",
    "precipitation_probability_max": "%",
    "wind_speed_10m_max": "km/h",
    "sunrise": "iso8601",
    "sunset": "iso8601",
}
CURRENT_KNOWN = {
    "temperature_2m",
    "relative_humidity_2m",
    "apparent_temperature",
    "precipitation",
    "rain",
    "weather_code",
    "wind_speed_10m",
    "cloud_cover",
    "is_day",
}
DAILY_KNOWN = {
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_sum",
    "precipitation_probability_max",
    "wind_speed_10m_max",
    "sunrise",
    "sunset",
}
# A cycle of WMO codes the forecast walks through, unless codes are scripted.
CODE_CYCLE = (0, 1, 2, 3, 45, 61, 80, 95, 71)


def _place(
    id_: int,
    name: str,
    lat: float,
    lon: float,
    country: str,
    code: str,
    admin1: str,
    timezone: str,
    offset_hours: float,
    population: int,
    aliases: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "latitude": lat,
        "longitude": lon,
        "elevation": 10.0,
        "feature_code": "PPLC",
        "country_code": code,
        "admin1_id": id_ + 1,
        "timezone": timezone,
        "population": population,
        "country_id": id_ + 2,
        "country": country,
        "admin1": admin1,
        "_aliases": aliases,
        "_offset": int(offset_hours * 3600),
    }


DEFAULT_PLACES: list[dict[str, Any]] = [
    _place(
        1581130,
        "Hanoi",
        21.0245,
        105.84117,
        "Vietnam",
        "VN",
        "Hanoi",
        "Asia/Bangkok",
        7,
        8053663,
        ("Hà Nội", "Ha Noi", "河内"),
    ),
    _place(
        1566083,
        "Ho Chi Minh City",
        10.82302,
        106.62965,
        "Vietnam",
        "VN",
        "Ho Chi Minh",
        "Asia/Ho_Chi_Minh",
        7,
        8993082,
        ("Thành phố Hồ Chí Minh", "Saigon", "Sài Gòn"),
    ),
    _place(
        2988507,
        "Paris",
        48.85341,
        2.3488,
        "France",
        "FR",
        "Île-de-France",
        "Europe/Paris",
        2,
        2138551,
    ),
    _place(
        4717560,
        "Paris",
        33.66094,
        -95.55551,
        "United States",
        "US",
        "Texas",
        "America/Chicago",
        -5,
        24782,
    ),
    _place(
        2643743,
        "London",
        51.50853,
        -0.12574,
        "United Kingdom",
        "GB",
        "England",
        "Europe/London",
        1,
        8961989,
    ),
    _place(
        1850147,
        "Tokyo",
        35.6895,
        139.69171,
        "Japan",
        "JP",
        "Tokyo",
        "Asia/Tokyo",
        9,
        8336599,
        ("東京",),
    ),
    _place(
        1816670,
        "Beijing",
        39.9075,
        116.39723,
        "China",
        "CN",
        "Beijing",
        "Asia/Shanghai",
        8,
        18960744,
        ("北京",),
    ),
]


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenMeteo(LocalServer):
    """Open-Meteo's geocoding and forecast APIs on 127.0.0.1, with scriptable failures."""

    def __init__(self, places: list[dict[str, Any]] | None = None) -> None:
        self.places = [dict(p) for p in (places or DEFAULT_PLACES)]
        self.requests: list[Recorded] = []
        self.delay = 0.0
        self.codes: list[int] | None = None
        self._fail_status: int | None = None
        self._fail_endpoint: str | None = None

    def routes(self, app: web.Application) -> None:
        """Geocoding and forecast endpoints."""
        app.router.add_get(f"{GEO_PREFIX}/search", self._search)
        app.router.add_get(f"{WEATHER_PREFIX}/forecast", self._forecast)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def weather_url(self) -> str:
        return f"{self.base_url}{WEATHER_PREFIX}"

    @property
    def geocoding_url(self) -> str:
        return f"{self.base_url}{GEO_PREFIX}"

    # -- scripting -------------------------------------------------------------------------

    def fail_with(self, status: int | None, endpoint: str | None = None) -> None:
        """Answer every request (or only 'search' / 'forecast') with this HTTP status."""
        self._fail_status = status
        self._fail_endpoint = endpoint

    def paths(self) -> list[str]:
        """The paths requested so far."""
        return [r.path for r in self.requests]

    # -- handlers --------------------------------------------------------------------------

    async def _prelude(self, request: web.Request, endpoint: str) -> web.Response | None:
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers))
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._fail_status is not None and self._fail_endpoint in (None, endpoint):
            return web.json_response(
                {"error": True, "reason": f"Scripted failure {self._fail_status}"},
                status=self._fail_status,
            )
        return None

    async def _search(self, request: web.Request) -> web.Response:
        failure = await self._prelude(request, "search")
        if failure is not None:
            return failure
        name = request.query.get("name", "").strip()
        try:
            count = int(request.query.get("count", "10"))
        except ValueError:
            return _error("Parameter count must be an integer")
        if not 1 <= count <= 100:
            return _error("Parameter count must be between 1 and 100")
        body: dict[str, Any] = {"generationtime_ms": 0.1}
        if len(name) >= 2:
            matches = [p for p in self.places if _matches(p, name)]
            matches.sort(key=lambda p: -int(p["population"]))
            if matches:
                body["results"] = [_public(p) for p in matches[:count]]
        return web.json_response(body)

    async def _forecast(self, request: web.Request) -> web.Response:
        failure = await self._prelude(request, "forecast")
        if failure is not None:
            return failure
        query = request.query
        try:
            lat = float(query["latitude"])
            lon = float(query["longitude"])
        except (KeyError, ValueError):
            return _error(
                "Parameter 'latitude' and 'longitude' must have the same number of elements"
            )
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return _error(f"Latitude must be in range of -90 to 90°. Given: {lat}.")
        try:
            days = int(query.get("forecast_days", "7"))
        except ValueError:
            return _error("Forecast days is invalid.")
        if not 0 <= days <= 16:
            return _error("Forecast days is invalid. Allowed range 0 to 16.")
        current_vars = [v for v in query.get("current", "").split(",") if v]
        daily_vars = [v for v in query.get("daily", "").split(",") if v]
        for key, names, known in (
            ("current", current_vars, CURRENT_KNOWN),
            ("daily", daily_vars, DAILY_KNOWN),
        ):
            for variable in names:
                if variable not in known:
                    return _error(
                        f"Cannot initialize WeatherVariable from invalid String value "
                        f"{variable} for key {key}"
                    )
        if daily_vars and query.get("timezone") is None:
            return _error("Timezone is required")

        place = self._nearest(lat, lon)
        auto = query.get("timezone") == "auto"
        timezone = place["timezone"] if auto and place else query.get("timezone", "GMT")
        offset = int(place["_offset"]) if auto and place else 0
        now = datetime.now(UTC) + timedelta(seconds=offset)
        now = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        seed = abs(lat) * 7 + abs(lon) * 3

        body: dict[str, Any] = {
            "latitude": round(lat, 3),
            "longitude": round(lon, 3),
            "generationtime_ms": 0.05,
            "utc_offset_seconds": offset,
            "timezone": timezone,
            "timezone_abbreviation": _abbreviation(offset),
            "elevation": 10.0,
        }
        if current_vars:
            units = {"time": "iso8601", "interval": "seconds"}
            values: dict[str, Any] = {"time": now.strftime("%Y-%m-%dT%H:%M"), "interval": 900}
            for variable in current_vars:
                units[variable] = UNITS[variable]
                values[variable] = self._current_value(variable, seed)
            body["current_units"] = units
            body["current"] = values
        if daily_vars:
            dates = [(now.date() + timedelta(days=i)).isoformat() for i in range(days)]
            units = {"time": "iso8601"}
            columns: dict[str, Any] = {"time": dates}
            for variable in daily_vars:
                units[variable] = UNITS[variable]
                columns[variable] = [
                    self._daily_value(variable, seed, i, dates[i]) for i in range(days)
                ]
            body["daily_units"] = units
            body["daily"] = columns
        return web.json_response(body)

    # -- deterministic values --------------------------------------------------------------

    def _code(self, seed: float, index: int) -> int:
        if self.codes:
            return self.codes[index % len(self.codes)]
        return CODE_CYCLE[(int(seed) + index) % len(CODE_CYCLE)]

    def _base_temperature(self, seed: float) -> float:
        return round(30 - (seed % 40) * 0.5, 1)

    def _current_value(self, variable: str, seed: float) -> Any:
        base = self._base_temperature(seed)
        code = self._code(seed, 0)
        return {
            "temperature_2m": base,
            "apparent_temperature": round(base + 1.8, 1),
            "relative_humidity_2m": 40 + int(seed) % 50,
            "precipitation": 1.2 if code >= 51 else 0.0,
            "rain": 1.2 if 51 <= code < 70 or 80 <= code <= 82 else 0.0,
            "weather_code": code,
            "wind_speed_10m": round(5 + seed % 20, 1),
            "cloud_cover": min(100, code * 10),
            "is_day": 1,
        }[variable]

    def _daily_value(self, variable: str, seed: float, index: int, date: str) -> Any:
        base = self._base_temperature(seed) + math.sin(index) * 2
        code = self._code(seed, index)
        wet = code >= 51
        return {
            "weather_code": code,
            "temperature_2m_max": round(base + 4, 1),
            "temperature_2m_min": round(base - 4, 1),
            "precipitation_sum": round(3.5 + index, 1) if wet else 0.0,
            "precipitation_probability_max": 80 if wet else 10 + index,
            "wind_speed_10m_max": round(12 + seed % 15 + index, 1),
            "sunrise": f"{date}T06:00",
            "sunset": f"{date}T18:00",
        }[variable]

    def _nearest(self, lat: float, lon: float) -> dict[str, Any] | None:
        best = min(
            self.places,
            key=lambda p: (p["latitude"] - lat) ** 2 + (p["longitude"] - lon) ** 2,
            default=None,
        )
        if best is None or abs(best["latitude"] - lat) + abs(best["longitude"] - lon) > 2:
            return None
        return best


def _matches(place: dict[str, Any], name: str) -> bool:
    wanted = name.casefold()
    names = [place["name"], *place.get("_aliases", ())]
    if len(wanted) == 2:
        return any(n.casefold() == wanted for n in names)
    return any(n.casefold().startswith(wanted) for n in names)


def _public(place: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in place.items() if not k.startswith("_")}


def _abbreviation(offset: int) -> str:
    if offset == 0:
        return "GMT"
    hours = offset / 3600
    return f"GMT{hours:+g}"


def _error(reason: str) -> web.Response:
    return web.json_response({"error": True, "reason": reason}, status=400)
