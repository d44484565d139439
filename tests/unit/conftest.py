"""Fixtures shared by the unit tests."""

from __future__ import annotations

from typing import Any

import pytest
from support import load_data


@pytest.fixture(scope="session")
def object_info() -> dict[str, Any]:
    """ComfyUI 0.3.75's /object_info for the core nodes the tests use, and CozyGen's nodes."""
    return load_data("unit/data/object_info_sample.json")
