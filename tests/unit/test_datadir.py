"""core.store.datadir: default location under ComfyUI's user folder, and the override."""

from __future__ import annotations

from pathlib import Path

import pytest

from cozygen.core.store.datadir import ENV_VAR, ensure_data_dir, resolve_data_dir


def test_default_is_cozygen_under_the_user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_data_dir(tmp_path) == tmp_path.resolve() / "cozygen"
    assert not (tmp_path / "cozygen").exists()  # resolving creates nothing


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert resolve_data_dir("/ignored") == (tmp_path / "elsewhere").resolve()


def test_ensure_creates_owner_only_folder(tmp_path: Path) -> None:
    path = ensure_data_dir(tmp_path / "a" / "cozygen")
    assert path.is_dir()
    assert path.stat().st_mode & 0o077 == 0
