"""Model prices (MODEL_PRICES_FILE, TOML, per 1M input/output tokens) and estimated costs."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import ModelUsage


@dataclass(frozen=True)
class Price:
    """What one model costs per million input and output tokens."""

    input: float
    output: float


def parse_prices(data: dict[str, Any]) -> dict[str, Price]:
    """Prices from parsed TOML: `[models."name"]` tables, or top-level `["name"]` tables."""
    table = data.get("models", data)
    if not isinstance(table, dict):
        raise ValueError("MODEL_PRICES_FILE: expected tables of input/output prices")
    prices: dict[str, Price] = {}
    for model, entry in table.items():
        if not isinstance(entry, dict):
            raise ValueError(f"MODEL_PRICES_FILE: [{model}] must be a table")
        try:
            prices[str(model)] = Price(float(entry["input"]), float(entry["output"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"MODEL_PRICES_FILE: [{model}] needs numeric input and output"
            ) from exc
    return prices


def load_prices(path: str) -> dict[str, Price]:
    """The prices in the TOML file at `path` (none when `path` is empty)."""
    if not path:
        return {}
    try:
        with Path(path).open("rb") as handle:
            return parse_prices(tomllib.load(handle))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


def cost(prices: dict[str, Price], usage: ModelUsage) -> float | None:
    """The estimated cost of `usage` in the prices' currency, or None without a price."""
    price = prices.get(usage.model)
    if price is None:
        return None
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6
