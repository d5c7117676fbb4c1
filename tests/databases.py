"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database on TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from storage import Store, open_store

DATABASE_KINDS = ["sqlite", "postgres"]
NO_POSTGRES = (
    "TEST_DATABASE_URL is unset: run `export TEST_DATABASE_URL=$(bash scripts/postgres.sh)` "
    "to run the PostgreSQL tests"
)


def postgres_base_url() -> str:
    """TEST_DATABASE_URL, or skip the test when it is unset."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        pytest.skip(NO_POSTGRES)
    return url


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    root = head.rsplit("/", 1)[0] if head.count("/") > 2 else head
    return f"{root}/{name}" + (f"?{tail}" if tail else "")


@asynccontextmanager
async def fresh_database_url(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A DATABASE_URL of an empty database of `kind` ("sqlite" or "postgres"), dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'bot-{uuid.uuid4().hex[:8]}.db'}"
        return
    base = postgres_base_url()
    name = f"bot_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(base, name)
    finally:
        await _drop(base, name)


async def _drop(base: str, name: str) -> None:
    """Drop a test database; a session of another role on it (an autovacuum worker after a
    VACUUM) cannot be ended by the test role, so wait briefly for it to go."""
    admin = await asyncpg.connect(base)
    try:
        for attempt in range(50):
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


@pytest.fixture(params=DATABASE_KINDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind in turn (PostgreSQL skipped without TEST_DATABASE_URL)."""
    async with fresh_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """An open store on an empty database of each kind."""
    opened = await open_store(database_url)
    yield opened
    await opened.close()
