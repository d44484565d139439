"""core.accounts (users, passwords, tokens, login_throttle) and core.settings on a real SQLite file."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import jwt
import pytest

from cozygen.core import settings
from cozygen.core.accounts import tokens, users
from cozygen.core.accounts.login_throttle import (
    FREE_ADDRESS_FAILURES,
    FREE_FAILURES,
    MAX_DELAY,
    LoginLimits,
    LoginThrottle,
)
from cozygen.core.accounts.passwords import hash_password, verify_password
from cozygen.core.errors import BadRequest, Conflict, NotFound
from cozygen.core.store.db import connect, migrate
from cozygen.core.store.migrations import MIGRATIONS


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    connection = connect(tmp_path / "accounts.sqlite3")
    migrate(connection, MIGRATIONS)
    return connection


def test_password_hash_is_salted_scrypt_and_verifies_only_the_right_password() -> None:
    first, second = hash_password("hunter2hunter2"), hash_password("hunter2hunter2")
    assert first.startswith("scrypt$16384$8$1$") and first != second
    assert verify_password("hunter2hunter2", first) and verify_password("hunter2hunter2", second)
    assert not verify_password("hunter2hunter3", first)
    assert not verify_password("hunter2hunter2", "garbage") and not verify_password("x", "md5$1$2$3$4$5")


def test_users_are_validated_and_names_are_unique_whatever_the_case(conn) -> None:
    alice = users.create_user(conn, "Alice", "long enough", "admin")
    assert users.get_user(conn, username="alice") == alice
    assert "long enough" not in alice.password_hash and alice.public().keys() == {
        "id",
        "username",
        "role",
        "must_change_password",
        "created_at",
    }
    with pytest.raises(Conflict) as duplicate:
        users.create_user(conn, "ALICE", "long enough")
    assert duplicate.value.code == "USER_EXISTS"
    for name, password, role, code in [
        ("bob", "short", "user", "WEAK_PASSWORD"),
        ("bob", "long enough", "owner", "INVALID_ROLE"),
        ("../bob", "long enough", "user", "INVALID_USERNAME"),
        ("", "long enough", "user", "INVALID_USERNAME"),
        (None, "long enough", "user", "INVALID_USERNAME"),
    ]:
        with pytest.raises(BadRequest) as error:
            users.create_user(conn, name, password, role)
        assert error.value.code == code
    assert users.count_users(conn) == 1


def test_roles_compare_by_level(conn) -> None:
    viewer = users.create_user(conn, "vera", "long enough", "viewer")
    assert viewer.can("viewer") and not viewer.can("user") and not viewer.can("admin")
    admin = users.create_user(conn, "ada", "long enough", "admin")
    assert admin.can("user") and admin.can("admin")


def test_password_and_role_changes_revoke_sessions_and_the_last_admin_stays(conn) -> None:
    ada = users.create_user(conn, "ada", "long enough", "admin")
    bob = users.create_user(conn, "bob", "long enough", "user")
    changed = users.set_password(conn, bob.id, "another long one", must_change=True)
    assert changed.token_version == bob.token_version + 1 and changed.must_change_password
    assert verify_password("another long one", changed.password_hash) and users.any_must_change(conn)
    promoted = users.set_role(conn, bob.id, "admin")
    assert promoted.role == "admin" and promoted.token_version == changed.token_version + 1
    users.set_role(conn, ada.id, "viewer")  # bob is still an admin
    with pytest.raises(Conflict, match="last admin"):
        users.set_role(conn, bob.id, "user")
    with pytest.raises(Conflict, match="last admin"):
        users.delete_user(conn, bob.id)
    with pytest.raises(NotFound):
        users.set_password(conn, 999, "long enough")
    assert users.delete_user(conn, ada.id).username == "ada" and users.count_users(conn) == 1


def test_api_tokens_are_stored_hashed_shown_once_and_revocable(conn) -> None:
    bob = users.create_user(conn, "bob", "long enough")
    record, secret = users.create_api_token(conn, bob.id, "my script")
    assert secret.startswith(f"cgt_{record['id']}_") and "token" not in record
    stored = [row[0] for row in conn.execute("SELECT token_hash FROM api_tokens")]
    assert secret not in stored and len(stored) == 1
    assert users.user_for_api_token(conn, secret) == bob
    assert users.user_for_api_token(conn, secret + "x") is None
    users.revoke_api_token(conn, bob.id, record["id"])
    assert users.user_for_api_token(conn, secret) is None and users.list_api_tokens(conn, bob.id) == []
    with pytest.raises(NotFound):
        users.revoke_api_token(conn, bob.id, record["id"])
    with pytest.raises(BadRequest):
        users.create_api_token(conn, bob.id, "   ")


def test_deleting_a_user_removes_their_tokens(conn) -> None:
    users.create_user(conn, "ada", "long enough", "admin")
    bob = users.create_user(conn, "bob", "long enough")
    _, secret = users.create_api_token(conn, bob.id, "script")
    users.delete_user(conn, bob.id)
    assert users.user_for_api_token(conn, secret) is None
    assert conn.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0] == 0


def test_audit_entries_page_newest_first(conn) -> None:
    for n in range(5):
        users.audit(conn, "login", actor=f"u{n}", ok=n % 2 == 0)
    page = users.audit_entries(conn, limit=3)
    assert [e["actor"] for e in page] == ["u4", "u3", "u2"] and page[1]["ok"] is False
    rest = users.audit_entries(conn, limit=3, before_id=page[-1]["id"])
    assert [e["actor"] for e in rest] == ["u1", "u0"]


def test_secret_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = tokens.load_or_create_secret(tmp_path)
    assert len(first) == 32 and tokens.load_or_create_secret(tmp_path) == first
    assert stat.S_IMODE((tmp_path / tokens.SECRET_NAME).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [tokens.SECRET_NAME]  # no private file left beside it


@pytest.mark.parametrize("left", [b"", b"0123abcd", b"\xff\xfe not hex"])
def test_a_secret_cut_short_by_a_kill_is_never_signed_with(tmp_path: Path, left: bytes) -> None:
    (tmp_path / tokens.SECRET_NAME).write_bytes(left)  # an older version killed between create and write
    secret = tokens.load_or_create_secret(tmp_path)
    assert len(secret) == 32 and tokens.load_or_create_secret(tmp_path) == secret
    assert stat.S_IMODE((tmp_path / tokens.SECRET_NAME).stat().st_mode) == 0o600


def test_tokens_carry_user_version_and_kind_and_expire() -> None:
    secret = b"k" * 32
    token, ttl = tokens.issue(secret, user_id=7, username="bob", version=3)
    claims = tokens.decode(secret, token)
    assert ttl == tokens.SESSION_TTL and (claims["uid"], claims["ver"], claims["typ"]) == (7, 3, "session")
    query, query_ttl = tokens.issue(secret, user_id=7, username="bob", version=3, kind="query")
    assert query_ttl == tokens.QUERY_TTL and tokens.decode(secret, query)["typ"] == "query"
    expired, _ = tokens.issue(secret, user_id=7, username="bob", version=3, ttl=60, now=1_000_000)
    assert tokens.decode(secret, expired) is None
    assert tokens.decode(b"other" * 8, token) is None and tokens.decode(secret, "not.a.token") is None
    unsigned = jwt.encode({"uid": 7, "ver": 3, "typ": "session", "exp": 2**31}, "", algorithm="none")
    assert tokens.decode(secret, unsigned) is None


def test_throttle_grows_the_delay_per_key_and_forgets_on_success() -> None:
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(FREE_FAILURES - 1):
        throttle.failed("user:bob", "addr:1.2.3.4")
    assert throttle.retry_after("user:bob") == 0
    throttle.failed("user:bob", "addr:1.2.3.4")
    assert throttle.retry_after("user:bob") == 2 and throttle.retry_after("addr:1.2.3.4") == 2
    assert throttle.retry_after("user:eve", "addr:1.2.3.4") == 2  # the address alone is enough
    throttle.failed("user:bob")
    assert throttle.retry_after("user:bob") == 4
    now[0] += 3
    assert throttle.retry_after("user:bob") == 1
    for _ in range(40):
        throttle.failed("user:bob")
    assert throttle.retry_after("user:bob") == MAX_DELAY
    throttle.succeeded("user:bob")
    assert throttle.retry_after("user:bob") == 0


def test_settings_default_validate_and_persist(conn) -> None:
    assert settings.load(conn).items() >= {"guard_comfyui": True, "gallery_visibility": "shared"}.items()
    assert settings.update(conn, {"guard_comfyui": False})["guard_comfyui"] is False
    assert settings.load(conn)["guard_comfyui"] is False
    for bad, code in [
        ({"guard_comfyui": "no"}, "INVALID_SETTING"),
        ({"guard_comfyui": 0}, "INVALID_SETTING"),
        ({"gallery_visibility": "mine"}, "INVALID_SETTING"),
        ({"theme": "dark"}, "UNKNOWN_SETTING"),
        ({}, "INVALID_BODY"),
        (["guard_comfyui"], "INVALID_BODY"),
    ]:
        with pytest.raises(BadRequest) as error:
            settings.update(conn, bad)
        assert error.value.code == code
    assert settings.load(conn).items() >= {"guard_comfyui": False, "gallery_visibility": "shared"}.items()


def test_login_limits_lock_an_account_before_its_address() -> None:
    limits = LoginLimits(clock=lambda: 50.0)
    for _ in range(FREE_FAILURES):
        limits.failed("Vera", "10.0.0.5")
    assert limits.retry_after("vera", "10.0.0.9") == 2  # the account, from anywhere, case-insensitive
    assert limits.retry_after("carl", "10.0.0.5") == 0  # the household shares the address: still free
    for n in range(FREE_ADDRESS_FAILURES - FREE_FAILURES):
        limits.failed(f"guess{n}", "10.0.0.5")
    assert limits.retry_after("carl", "10.0.0.5") == 2  # a spray over many names stops at the address
    limits.succeeded("carl", "10.0.0.5")
    assert limits.retry_after("carl", "10.0.0.5") == 0 and limits.retry_after("vera", "10.0.0.9") == 2
