"""The user command from the shell (scripts/users.py), on a real data folder."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from support import PROJECT

from cozygen.core.accounts.passwords import verify_password


def users_cmd(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT / "scripts" / "users.py"), "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def row(data_dir: Path, username: str) -> sqlite3.Row | None:
    conn = sqlite3.connect(data_dir / "cozygen.sqlite3")
    conn.row_factory = sqlite3.Row
    return conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()


def test_add_reset_role_delete_from_the_shell(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = users_cmd(data, "add", "ada", "--role", "admin", "--password-stdin", stdin="first password\n")
    assert added.returncode == 0, added.stderr
    assert "added admin 'ada'" in added.stdout and "first password" not in added.stdout + added.stderr
    assert verify_password("first password", row(data, "ada")["password_hash"])
    version = row(data, "ada")["token_version"]

    reset = users_cmd(data, "reset-password", "ada", "--password-stdin", "--must-change", stdin="second password\n")
    assert reset.returncode == 0, reset.stderr
    after = row(data, "ada")
    assert verify_password("second password", after["password_hash"]) and after["must_change_password"] == 1
    assert after["token_version"] == version + 1  # signed out everywhere

    assert users_cmd(data, "add", "bob", "--password-stdin", stdin="bob password\n").returncode == 0
    assert users_cmd(data, "set-role", "bob", "viewer").returncode == 0 and row(data, "bob")["role"] == "viewer"
    listed = users_cmd(data, "list").stdout
    assert "ada" in listed and "bob" in listed and "viewer" in listed
    assert users_cmd(data, "delete", "bob").returncode == 0 and row(data, "bob") is None
    actions = sqlite3.connect(data / "cozygen.sqlite3").execute("SELECT action, actor FROM audit_log").fetchall()
    assert ("user.create", "command line") in actions and ("user.delete", "command line") in actions


def test_refusals_change_nothing_and_say_why(tmp_path: Path) -> None:
    data = tmp_path / "data"
    users_cmd(data, "add", "ada", "--role", "admin", "--password-stdin", stdin="first password\n")
    weak = users_cmd(data, "add", "bob", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 8 characters" in weak.stderr and row(data, "bob") is None
    last = users_cmd(data, "delete", "ada")
    assert last.returncode == 1 and "last admin" in last.stderr and row(data, "ada") is not None
    missing = users_cmd(data, "reset-password", "nobody", "--password-stdin", stdin="long enough\n")
    assert missing.returncode == 1 and "no user named 'nobody'" in missing.stderr
    assert users_cmd(data, "set-role", "ada", "owner").returncode == 2  # argparse refuses the role
