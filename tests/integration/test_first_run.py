"""ComfyUI on the network with no user yet: locked, loud in the log, set up only from the machine itself."""

from __future__ import annotations

import socket

import pytest
from support import get, post


def lan_address() -> str | None:
    """This machine's own non-loopback address (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def open_server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-lan", listen="0.0.0.0")


def test_listening_on_the_network_turns_auth_on_and_says_so(open_server) -> None:
    log = open_server.log()
    assert "authentication is ON (ComfyUI listens on 0.0.0.0) but no user exists" in log
    assert get(f"{open_server.url}/prompt").status == 401
    assert get(f"{open_server.url}/cozygen/api/health").status == 401
    status = get(f"{open_server.url}/cozygen/api/auth_status").json()
    assert status["setup_required"] is True and status["setup_available"] is True
    assert status["default_credentials"] is False  # no default password exists anywhere


def test_setup_is_offered_only_on_the_machine_itself(open_server) -> None:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    remote = f"http://{address}:{open_server.port}"
    status = get(f"{remote}/cozygen/api/auth_status").json()
    assert status["setup_required"] is True and status["setup_available"] is False
    refused = post(f"{remote}/cozygen/api/setup", {"username": "mallory", "password": "long enough"})
    assert refused.status == 403 and refused.json()["code"] == "SETUP_LOCAL_ONLY"

    weak = post(f"{open_server.url}/cozygen/api/setup", {"username": "owner", "password": "short"})
    assert weak.status == 400 and weak.json()["code"] == "WEAK_PASSWORD"
    created = post(f"{open_server.url}/cozygen/api/setup", {"username": "owner", "password": "owner-password"})
    assert created.status == 200 and created.json()["role"] == "admin"
    token = created.json()["token"]
    assert get(f"{remote}/cozygen/api/health", headers={"Authorization": f"Bearer {token}"}).status == 200
    again = post(f"{open_server.url}/cozygen/api/setup", {"username": "second", "password": "long enough"})
    assert again.status == 409 and again.json()["code"] == "SETUP_DONE"
    assert get(f"{remote}/cozygen/api/auth_status").json()["setup_required"] is False
