"""Persistence: the store interface, its SQLite and PostgreSQL implementations, the factory."""

from storage.base import Store
from storage.models import (
    ChatKey,
    ConversationPage,
    ConversationSummary,
    ForgetReport,
    MessageRecord,
    ModelUsage,
    ReceivedUpdate,
    Status,
    TurnRecord,
    TurnStats,
    UsageRecord,
)
from storage.postgres import PostgresStore
from storage.sqlite import SQLiteStore

__all__ = [
    "ChatKey",
    "ConversationPage",
    "ConversationSummary",
    "ForgetReport",
    "MessageRecord",
    "ModelUsage",
    "PostgresStore",
    "ReceivedUpdate",
    "SQLiteStore",
    "Status",
    "Store",
    "TurnRecord",
    "TurnStats",
    "UsageRecord",
    "open_store",
    "sqlite_path",
]


def sqlite_path(database_url: str) -> str:
    """The file path of a `sqlite:///path` URL (`sqlite://:memory:` -> `:memory:`)."""
    if database_url in ("sqlite://:memory:", "sqlite:///:memory:"):
        return ":memory:"
    if not database_url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite URL: {database_url.split('://')[0]}://...")
    return database_url.removeprefix("sqlite:///")


async def open_store(database_url: str) -> Store:
    """Open (and migrate) the store DATABASE_URL names: sqlite:///path or postgresql://..."""
    if database_url.startswith(("postgresql://", "postgres://")):
        return await PostgresStore.open(database_url)
    return await SQLiteStore.open(sqlite_path(database_url))
