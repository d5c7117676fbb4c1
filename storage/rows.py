"""Rows <-> records: the column list and JSON encoding both stores share."""

from __future__ import annotations

import json
from typing import Any

from storage.models import MessageRecord

MESSAGE_COLUMNS = (
    "id, role, content, parts, sender, tool_calls, tool_call_id, kind, status, tokens, meta, "
    "created_at"
)
INSERT_COLUMNS = (
    "conversation_id, role, content, parts, sender, tool_calls, tool_call_id, kind, status, "
    "tokens, meta, created_at"
)


def dump(value: Any) -> str | None:
    """JSON text of a value, or None."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


def load(value: str | None) -> Any:
    """The value of JSON text, or None."""
    return None if value is None else json.loads(value)


def insert_values(conversation_id: int, m: MessageRecord, created: float) -> tuple[Any, ...]:
    """The values of INSERT_COLUMNS for one message."""
    meta = dump(m.meta) if m.meta else None
    return (
        conversation_id,
        m.role,
        m.content,
        dump(m.parts),
        m.sender,
        dump(m.tool_calls),
        m.tool_call_id,
        m.kind,
        m.status,
        m.tokens,
        meta,
        created,
    )


def row_to_record(row: Any) -> MessageRecord:
    """A message record from a row of MESSAGE_COLUMNS (sqlite3.Row or asyncpg.Record)."""
    return MessageRecord(
        id=row["id"],
        role=row["role"],
        content=row["content"],
        parts=load(row["parts"]),
        sender=row["sender"],
        tool_calls=load(row["tool_calls"]),
        tool_call_id=row["tool_call_id"],
        kind=row["kind"],
        status=row["status"],
        tokens=row["tokens"],
        meta=load(row["meta"]) or {},
        created_at=row["created_at"],
    )
