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
