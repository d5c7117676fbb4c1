"""Named presets of instructions (PERSONAS_FILE, TOML: name, prompt, optional model)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Persona:
    """A preset: its name, its system prompt, and the model it prefers (if any)."""

    name: str
    prompt: str
    model: str | None = None


def _persona(name: str, entry: Any) -> Persona:
    if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
        raise ValueError(f"PERSONAS_FILE: persona {name!r} needs a prompt")
    model = entry.get("model")
    return Persona(name, entry["prompt"].strip(), str(model) if model else None)


def parse_personas(data: dict[str, Any]) -> tuple[Persona, ...]:
    """Presets from parsed TOML: `[[persona]]` entries with a name, or `[name]` tables."""
    entries = data.get("persona")
    if isinstance(entries, list):
        found = [
            _persona(str(e.get("name", "")) if isinstance(e, dict) else "", e) for e in entries
        ]
    else:
        found = [_persona(str(name), entry) for name, entry in data.items()]
    if any(not p.name.strip() for p in found):
        raise ValueError("PERSONAS_FILE: every persona needs a name")
    names = [p.name for p in found]
    if len(set(names)) != len(names):
        raise ValueError("PERSONAS_FILE: persona names must be unique")
    return tuple(found)


def load_personas(path: str) -> tuple[Persona, ...]:
    """The presets in the TOML file at `path` (none when `path` is empty)."""
    if not path:
        return ()
    try:
        with Path(path).open("rb") as handle:
            return parse_personas(tomllib.load(handle))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


def find_persona(personas: tuple[Persona, ...], name: str | None) -> Persona | None:
    """The preset called `name` (case-insensitive), or None."""
    if not name:
        return None
    wanted = name.strip().lower()
    return next((p for p in personas if p.name.lower() == wanted), None)
