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
