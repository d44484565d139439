"""The package loads under any folder name and keeps its data where it is told, created at start."""

from __future__ import annotations

import sqlite3

from support import get


def test_loads_under_another_folder_name_with_a_data_dir_override(start_comfyui, tmp_path) -> None:
    data_dir = tmp_path / "cozygen-data"
    server = start_comfyui("cozygen-main", env={"COZYGEN_DATA_DIR": str(data_dir)})
    assert get(f"{server.url}/cozygen/hello").json() == {"status": "ok"}
    assert get(f"{server.url}/api/cozygen/api/health").json()["features"]["database"] is True
    db = data_dir / "cozygen.sqlite3"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    assert not (server.user_dir / "cozygen").exists()


def test_default_data_dir_is_under_comfyuis_user_directory(comfyui) -> None:
    db = comfyui.user_dir / "cozygen" / "cozygen.sqlite3"
    assert db.is_file()
    tables = {row[0] for row in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_migrations", "settings"} <= tables
