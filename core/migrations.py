"""The database schema, as an ordered list of migrations.

Append new migrations; never edit one that has shipped. Each runs in its own
transaction at server start, and ``PRAGMA user_version`` records the last one.
"""

from __future__ import annotations

from .db import Migration

MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "settings: server-wide key/value settings",
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now'))
        );
        """,
    ),
]

MIGRATIONS.append(
    Migration(
        2,
        "accounts: users, personal API tokens, audit log",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'viewer')),
            password_hash TEXT NOT NULL,
            must_change_password INTEGER NOT NULL DEFAULT 0,
            token_version INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
            updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now'))
        );
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
            last_used_at INTEGER,
            revoked_at INTEGER
        );
        CREATE INDEX api_tokens_user ON api_tokens(user_id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            remote TEXT,
            ok INTEGER NOT NULL DEFAULT 1,
            detail TEXT
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        """,
    )
)
