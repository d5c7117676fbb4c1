"""Schema migrations, applied in order; the database records the last one applied."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: conversations, messages, per-chat settings, usage
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        archived_at REAL
    );
    CREATE INDEX conversations_active ON conversations (chat_id, thread_id, archived_at);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id),
        role TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '',
        parts TEXT,
        sender TEXT,
        tool_calls TEXT,
        tool_call_id TEXT,
        kind TEXT NOT NULL DEFAULT 'text',
        status TEXT NOT NULL DEFAULT 'complete',
        tokens INTEGER NOT NULL DEFAULT 0,
        meta TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
    CREATE TABLE chat_settings (
        chat_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL DEFAULT 0,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (chat_id, thread_id, name)
    );
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        user_id INTEGER,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    """,
]


def latest_version() -> int:
    """The schema version after every migration."""
    return len(MIGRATIONS)
