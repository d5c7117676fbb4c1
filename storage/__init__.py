"""Persistence: the store interface and its SQLite implementation."""

from storage.base import Store
from storage.models import ChatKey, MessageRecord, UsageRecord
from storage.sqlite import SQLiteStore

__all__ = ["ChatKey", "MessageRecord", "SQLiteStore", "Store", "UsageRecord"]
