"""The user command: add, reset or remove CozyGen users from the shell.

For the admin who is locked out, set-ups without a browser on the machine, and
scripts. It opens the same SQLite file the server uses (safe while ComfyUI runs:
SQLite serializes the writes) and writes every change to the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from ..errors import CozyGenError, NotFound
from ..store.datadir import DB_NAME, ENV_VAR, ensure_data_dir, resolve_data_dir
from ..store.db import Database
from ..store.migrations import MIGRATIONS
from . import users

PACKAGE = Path(__file__).resolve().parents[2]  # the CozyGen folder


def default_data_dir() -> Path | None:
    """``COZYGEN_DATA_DIR``, or ``<ComfyUI>/user/cozygen`` when this package sits in ComfyUI's custom_nodes."""
    if PACKAGE.parent.name == "custom_nodes":
        return resolve_data_dir(PACKAGE.parent.parent / "user")
    return resolve_data_dir("") if os.environ.get(ENV_VAR, "").strip() else None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="users.py", description="Manage CozyGen's users.")
    top.add_argument(
        "--data-dir", type=Path, help=f"CozyGen's data folder (default: ${ENV_VAR} or <ComfyUI>/user/cozygen)"
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the users")
    for name, text in (("add", "add a user"), ("reset-password", "give a user a new password")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("username")
        sub.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        sub.add_argument("--must-change", action="store_true", help="ask for a new password at the next sign-in")
        if name == "add":
            sub.add_argument("--role", choices=users.ROLES, default="user")
    role = commands.add_parser("set-role", help="change a user's role")
    role.add_argument("username")
    role.add_argument("role", choices=users.ROLES)
    commands.add_parser("delete", help="delete a user").add_argument("username")
    return top


def read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat it: "):
        raise CozyGenError("the two passwords differ; nothing was changed")
    return first


def _named(conn: Any, username: str) -> users.User:
    user = users.get_user(conn, username=username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def change_for(args: argparse.Namespace, password: str | None) -> Callable[[Any], str]:
    """The transaction the command runs; it returns what to print."""

    def run(conn: Any) -> str:
        if args.command == "list":
            rows = [f"{u.id:>4}  {u.username:<24} {u.role}" for u in users.list_users(conn)]
            return "\n".join(rows) if rows else "no users yet"
        if args.command == "add":
            user = users.create_user(conn, args.username, password, args.role, must_change=args.must_change)
            detail = user.role
            message = f"added {user.role} {user.username!r}"
        elif args.command == "reset-password":
            user = users.set_password(conn, _named(conn, args.username).id, password, must_change=args.must_change)
            detail, message = "password", f"new password for {user.username!r}; their sessions are signed out"
        elif args.command == "set-role":
            user = users.set_role(conn, _named(conn, args.username).id, args.role)
            detail, message = f"role={user.role}", f"{user.username!r} is now {user.role}"
        else:
            user = users.delete_user(conn, _named(conn, args.username).id)
            detail, message = None, f"deleted {user.username!r}"
        action = {"add": "user.create", "delete": "user.delete"}.get(args.command, "user.update")
        users.audit(conn, action, actor="command line", target=user.username, detail=detail)
        return message

    return run


def main(argv: Sequence[str] | None = None, *, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    data_dir = args.data_dir.expanduser().resolve() if args.data_dir else default_data_dir()
    if data_dir is None:
        print(f"error: say where CozyGen's data is: --data-dir or ${ENV_VAR}", file=sys.stderr)
        return 2
    try:
        password = read_password(args, stdin) if args.command in ("add", "reset-password") else None
        db = Database(ensure_data_dir(data_dir) / DB_NAME)
        try:
            db.open(MIGRATIONS)
            print(db.submit_write(change_for(args, password)).result(), file=out)
        finally:
            db.close()
    except CozyGenError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    return 0
