"""The adversarial suite's shared server: one household (see household.py) for the whole session.

Tests that change the server's state in a way others would notice (locking an account, the per-address
login throttle, killing the process) start a server of their own with ``start_comfyui``
(stopped when their module ends).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from household import ENV, Household, make_household


@pytest.fixture(scope="session")
def household(session_servers: Callable) -> Household:
    return make_household(session_servers("ComfyUI-CozyGen-security", env=dict(ENV)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each fuzzed operation its own node id. schemathesis 4.32 names the item of each operation
    (``test_...[GET /cozygen/hello]``) but, under pytest 9, leaves them all one node id; pytest-xdist tells
    items apart by node id, so it ran one of the 145 and reported the run green."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and item.nodeid.endswith(item.originalname):  # type: ignore[attr-defined]
            item._id = item._id.with_params(label)  # type: ignore[attr-defined]
