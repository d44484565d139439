"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import load_data

from cozygen.core.events import EventHub
from cozygen.core.gallery.service import Gallery
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS


@pytest.fixture(scope="session")
def object_info() -> dict[str, Any]:
    """ComfyUI 0.3.75's /object_info for the core nodes the tests use, and CozyGen's nodes."""
    return load_data("unit/data/object_info_sample.json")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A real SQLite file with every migration, in the test's data folder (``tmp_path / "data"``)."""
    database = Database(tmp_path / "data" / "cozygen.sqlite3")
    database.open(MIGRATIONS)
    yield database
    database.close()


@pytest.fixture
def gallery(db: Database, tmp_path: Path) -> Gallery:
    """The gallery service over empty output and input folders, not started."""
    roots = {"output": tmp_path / "output", "input": tmp_path / "input"}
    for base in roots.values():
        base.mkdir()
    return Gallery(db, roots, tmp_path / "data", EventHub())
