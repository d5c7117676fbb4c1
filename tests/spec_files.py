"""Where the official API descriptions are: ../shared/specs when present, else tests/specs."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (ROOT.parent / "shared" / "specs", ROOT / "tests" / "specs")


def spec_path(name: str, env: str | None = None) -> Path:
    """The path of one spec file; an environment variable may override it."""
    if env and os.environ.get(env):
        return Path(os.environ[env])
    for folder in CANDIDATES:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{name} not found in {[str(c) for c in CANDIDATES]}")
