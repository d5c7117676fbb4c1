"""Persistence: the store interface and its SQLite implementation."""

from storage.base import Store
from storage.models import ChatKey, MessageRecord, Status, UsageRecord
from storage.sqlite import SQLiteStore

__all__ = ["ChatKey", "MessageRecord", "SQLiteStore", "Status", "Store", "UsageRecord"]
