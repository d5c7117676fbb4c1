"""Quotas, signed callback data, persona and price files: the core pieces on their own."""

from __future__ import annotations

import string
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.i18n import _STRINGS, LANGUAGES
from bot.personas import find_persona, parse_personas
from bot.prices import Price, cost, parse_prices
from bot.quotas import QuotaLimits, check_quota, day_start, next_midnight
from bot.settings import Settings
from handlers.callback_data import MAX_CALLBACK_BYTES, CallbackSigner
from handlers.library import percentile
from storage import ModelUsage, SQLiteStore, TurnRecord, UsageRecord

NOON = 1_772_366_400.0  # 2026-03-01 12:00 UTC


def test_signed_data_verifies_and_anything_else_does_not() -> None:
    signer = CallbackSigner("123:abc")
    for payload in ("h:r:42", "f:y:1772366400", "p:3", "h:p:9223372036854775807"):
        data = signer.sign(payload)
        assert len(data.encode()) <= MAX_CALLBACK_BYTES and signer.verify(data) == payload
    data = signer.sign("h:r:42")
    assert CallbackSigner("123:abc").verify(data) == "h:r:42", "stable across starts"
    assert CallbackSigner("999:zzz").verify(data) is None
    assert signer.verify(data.replace("42", "43")) is None
    assert signer.verify("h:r:42") is None and signer.verify(None) is None


def test_days_start_at_local_midnight() -> None:
    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    assert day_start(NOON, UTC).timestamp() == NOON - 12 * 3600
    assert next_midnight(NOON, hanoi).timestamp() == NOON + 5 * 3600  # 17:00 UTC
    assert day_start(NOON + 5 * 3600, hanoi).timestamp() == NOON + 5 * 3600


async def test_token_and_group_limits(tmp_path: Path) -> None:
    store = await SQLiteStore.open(str(tmp_path / "q.db"))
    for user in (1, 2):
        await store.record_turn(TurnRecord(-7, 0, user, "m", "complete", 10.0, NOON - 60))
    await store.record_usage(UsageRecord(1, -7, 1, "m", 80, 30))
    check = {"now": NOON, "zone": UTC, "group_id": None}
    tokens = QuotaLimits(daily_tokens=100)
    refused = await check_quota(store, tokens, user_id=1, **check)
    assert refused is not None and refused.user_key == "quota_tokens"
    assert refused.params["hours"] == 12 and refused.params["time"] == "00:00"
    assert await check_quota(store, tokens, user_id=2, **check) is None
    group = QuotaLimits(group_daily_messages=2)
    refused = await check_quota(store, group, user_id=3, now=NOON, zone=UTC, group_id=-7)
    assert refused is not None and refused.user_key == "quota_group"
    assert (
        await check_quota(store, group, user_id=3, now=NOON + 43200, zone=UTC, group_id=-7) is None
    )
    assert await check_quota(store, QuotaLimits(), user_id=1, **check) is None
    await store.close()


def test_persona_files_in_both_shapes() -> None:
    listed = parse_personas({"persona": [{"name": "Pirate", "prompt": " Arr. ", "model": "x"}]})
    assert listed[0].prompt == "Arr." and listed[0].model == "x"
    tables = parse_personas({"teacher": {"prompt": "Step by step."}})
    assert find_persona(tables, "TEACHER") is tables[0] and find_persona(tables, "no") is None
    with pytest.raises(ValueError):
        parse_personas({"bad": {"model": "x"}})
    with pytest.raises(ValueError):
        parse_personas({"persona": [{"name": "a", "prompt": "x"}, {"name": "a", "prompt": "y"}]})


def test_prices_and_costs() -> None:
    prices = parse_prices({"models": {"m": {"input": 0.15, "output": 0.6}}})
    assert prices == {"m": Price(0.15, 0.6)}
    assert cost(prices, ModelUsage("m", 1, 1_000_000, 500_000)) == pytest.approx(0.45)
    assert cost(prices, ModelUsage("other", 1, 10, 10)) is None
    with pytest.raises(ValueError):
        parse_prices({"m": {"input": "cheap"}})


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)
    assert percentile([], 0.5) is None and percentile([7.0], 0.95) == 7.0


def test_broken_files_and_zones_are_settings_errors(tmp_path: Path) -> None:
    broken = tmp_path / "personas.toml"
    broken.write_text("[pirate\nprompt = 1", encoding="utf-8")
    base = {"telegram_bot_token": "1:x", "openai_api_key": "k"}
    for name, value in (
        ("personas_file", str(broken)),
        ("model_prices_file", str(tmp_path / "missing.toml")),
        ("timezone", "Mars/Olympus"),
    ):
        with pytest.raises(ValidationError) as caught:
            Settings(_env_file=None, **base, **{name: value})  # type: ignore[arg-type]
        assert caught.value.errors()[0]["loc"] == (name,)


def test_every_text_in_three_languages_with_the_same_fields() -> None:
    for key, variants in _STRINGS.items():
        assert set(variants) == set(LANGUAGES), key
        fields = [
            {name for _, name, _, _ in string.Formatter().parse(text) if name}
            for text in variants.values()
        ]
        assert all(f == fields[0] for f in fields), key
