"""The SQL of saved conversations, forgetting, turns and usage, shared by both stores.

Written with `?` placeholders (SQLite); `numbered` renders them as `$1, $2 ...` (PostgreSQL).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from storage.models import ConversationSummary, ModelUsage, TurnRecord

TITLE_CHARS = 80
MAX_TIMES = 100_000  # first-visible samples read for the percentiles

_LISTED = (
    "c.chat_id = ? AND c.thread_id = ? AND (c.archived_at IS NULL OR EXISTS "
    "(SELECT 1 FROM messages m WHERE m.conversation_id = c.id))"
)
CONVERSATIONS_PAGE = (
    "SELECT c.id, c.created_at, CASE WHEN c.archived_at IS NULL THEN 1 ELSE 0 END AS active, "
    f"(SELECT substr(m.content, 1, {TITLE_CHARS}) FROM messages m WHERE m.conversation_id = c.id "
    "AND m.role = 'user' ORDER BY m.id LIMIT 1) AS title, "
    "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS messages "
    f"FROM conversations c WHERE {_LISTED} ORDER BY c.id DESC LIMIT ? OFFSET ?"
)
CONVERSATIONS_COUNT = f"SELECT COUNT(*) FROM conversations c WHERE {_LISTED}"
OWNED = "SELECT id FROM conversations WHERE id = ? AND chat_id = ? AND thread_id = ?"
ARCHIVE_OTHERS = (
    "UPDATE conversations SET archived_at = ? WHERE chat_id = ? AND thread_id = ? "
    "AND archived_at IS NULL AND id <> ?"
)
REACTIVATE = "UPDATE conversations SET archived_at = NULL WHERE id = ?"

_OF_KEY = "SELECT id FROM conversations WHERE chat_id = ? AND thread_id = ?"
FORGET_COUNT_CONVERSATIONS = (
    "SELECT COUNT(*) FROM conversations WHERE chat_id = ? AND thread_id = ?"
)
FORGET_COUNT_MESSAGES = f"SELECT COUNT(*) FROM messages WHERE conversation_id IN ({_OF_KEY})"
FORGET_COUNT_SETTINGS = "SELECT COUNT(*) FROM chat_settings WHERE chat_id = ? AND thread_id = ?"
FORGET_STEPS = (
    f"DELETE FROM media WHERE conversation_id IN ({_OF_KEY})",
    f"DELETE FROM messages WHERE conversation_id IN ({_OF_KEY})",
    # Usage rows hold numbers only (they count toward quotas); they lose the link.
    f"UPDATE usage SET conversation_id = 0 WHERE conversation_id IN ({_OF_KEY})",
    "DELETE FROM conversations WHERE chat_id = ? AND thread_id = ?",
    "DELETE FROM chat_settings WHERE chat_id = ? AND thread_id = ?",
    # The inbox keeps every received update (with its text) until pruned: the handled ones
    # go now (the update being handled is marked done after this, and pruned later).
    "DELETE FROM inbox WHERE chat_id = ? AND thread_id = ? AND done_at IS NOT NULL",
    "DELETE FROM turn_progress WHERE chat_id = ? AND thread_id = ?",
)

INSERT_TURN = (
    "INSERT INTO turns (chat_id, thread_id, user_id, model, status, first_visible_ms, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
ACTIVE = "SELECT COUNT(DISTINCT user_id), COUNT(DISTINCT chat_id) FROM turns WHERE created_at >= ?"
OUTCOMES = "SELECT status, COUNT(*) AS n FROM turns WHERE created_at >= ? GROUP BY status"
TIMES = (
    "SELECT first_visible_ms FROM turns WHERE created_at >= ? AND first_visible_ms IS NOT NULL "
    f"ORDER BY id DESC LIMIT {MAX_TIMES}"
)


def numbered(sql: str) -> str:
    """The statement with `?` placeholders renumbered as `$1, $2 ...`."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def turn_values(turn: TurnRecord) -> tuple[Any, ...]:
    """The values of INSERT_TURN."""
    return (
        turn.chat_id,
        turn.thread_id,
        turn.user_id,
        turn.model,
        turn.status,
        turn.first_visible_ms,
        turn.created_at,
    )


def _who(user_id: int | None, chat_id: int | None) -> tuple[str, list[Any]]:
    where, params = "", []
    if user_id is not None:
        where += " AND user_id = ?"
        params.append(user_id)
    if chat_id is not None:
        where += " AND chat_id = ?"
        params.append(chat_id)
    return where, params


def count_turns(since: float, user_id: int | None, chat_id: int | None) -> tuple[str, list[Any]]:
    """The query counting turns since `since`, of one user and/or one chat."""
    where, params = _who(user_id, chat_id)
    return f"SELECT COUNT(*) FROM turns WHERE created_at >= ?{where}", [since, *params]


def turns_by_model(since: float, user_id: int | None) -> tuple[str, list[Any]]:
    """The query of turns per model since `since` (one user's, or everyone's)."""
    where, params = _who(user_id, None)
    sql = f"SELECT model, COUNT(*) AS n FROM turns WHERE created_at >= ?{where} GROUP BY model"
    return sql, [since, *params]


def tokens_by_model(since: float, user_id: int | None) -> tuple[str, list[Any]]:
    """The query of prompt and completion tokens per model since `since`."""
    where, params = _who(user_id, None)
    sql = (
        "SELECT model, SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c FROM usage "
        f"WHERE created_at >= ?{where} GROUP BY model"
    )
    return sql, [since, *params]


def merge_usage(turn_rows: Iterable[Any], token_rows: Iterable[Any]) -> list[ModelUsage]:
    """Turns and tokens per model in one list, the busiest model first."""
    messages = {str(r["model"]): int(r["n"]) for r in turn_rows}
    tokens = {str(r["model"]): (int(r["p"] or 0), int(r["c"] or 0)) for r in token_rows}
    models = sorted(set(messages) | set(tokens))
    merged = [ModelUsage(m, messages.get(m, 0), *tokens.get(m, (0, 0))) for m in models]
    return sorted(merged, key=lambda u: (-u.messages, -(u.prompt_tokens + u.completion_tokens)))


def summary(row: Any) -> ConversationSummary:
    """A conversation summary from a row of CONVERSATIONS_PAGE."""
    return ConversationSummary(
        id=int(row["id"]),
        created_at=float(row["created_at"]),
        title=str(row["title"] or ""),
        messages=int(row["messages"]),
        active=bool(row["active"]),
    )
