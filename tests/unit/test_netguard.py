"""The download guard: allowed start hosts, addresses refused unless allowlisted, and the settings behind them."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from cozygen.core import settings
from cozygen.core.errors import BadGateway, BadRequest, Forbidden
from cozygen.core.models import netguard
from cozygen.core.models.netguard import Policy, check_start, policy_from_settings, resolve

DEFAULT = policy_from_settings(settings.defaults(), None)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)


def test_the_defaults_allow_hugging_face_and_civitai_only() -> None:
    assert DEFAULT == Policy(("huggingface.co", "civitai.com"), ())
    assert check_start("https://huggingface.co/a/b/resolve/main/c.bin", DEFAULT) == ("https", "huggingface.co", 443)
    assert check_start("https://cdn-lfs.huggingface.co/x", DEFAULT)[1] == "cdn-lfs.huggingface.co"
    assert check_start("http://CivitAI.com:8080/api", DEFAULT) == ("http", "civitai.com", 8080)


@pytest.mark.parametrize(
    "url",
    ["https://evil.com/x", "https://huggingface.co.evil.com/x", "https://nothuggingface.co/x", "https://127.0.0.1/x"],
)
def test_other_hosts_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(Forbidden) as caught:
        check_start(url, DEFAULT)
    assert caught.value.code == "HOST_NOT_ALLOWED"
    assert "download_hosts" in caught.value.message


@pytest.mark.parametrize("url", ["ftp://huggingface.co/x", "huggingface.co/x", "https:///x", "http://[::1/x"])
def test_what_is_not_an_http_url_is_a_bad_request(url: str) -> None:
    with pytest.raises(BadRequest):
        check_start(url, DEFAULT)


def test_the_hf_endpoint_is_allowed_and_may_be_private() -> None:
    policy = policy_from_settings(settings.defaults(), "http://127.0.0.1:8080")
    assert check_start("http://127.0.0.1:8080/x", policy)[1] == "127.0.0.1"
    assert resolve("127.0.0.1", 8080, policy) == ["127.0.0.1"]


def test_the_hf_endpoint_reaches_its_own_port_only() -> None:
    """A redirect from a local mirror to another service of that machine (ComfyUI on 8188) is refused."""
    policy = policy_from_settings(settings.defaults(), "http://127.0.0.1:8080")
    with pytest.raises(Forbidden) as refused:
        resolve("127.0.0.1", 8188, policy)
    assert refused.value.code == "ADDRESS_NOT_ALLOWED"
    https = policy_from_settings(settings.defaults(), "https://mirror.lan")
    assert https.private_origins == (("mirror.lan", 443),)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:192.168.0.1",
        "64:ff9b::a00:1",
    ],
)
def test_non_global_addresses_are_refused(address: str) -> None:
    with pytest.raises(Forbidden) as caught:
        resolve(address, 443, DEFAULT)
    assert caught.value.code == "ADDRESS_NOT_ALLOWED"
    assert "download_private_hosts" in caught.value.message


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_global_addresses_pass(address: str) -> None:
    assert resolve(address, 443, DEFAULT)


def test_a_name_is_refused_when_any_of_its_addresses_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"models.example": ["8.8.8.8", "10.0.0.5"]})
    with pytest.raises(Forbidden) as caught:
        resolve("models.example", 443, DEFAULT)
    assert "10.0.0.5" in caught.value.message


def test_private_entries_allow_names_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"nas.local": ["192.168.1.10"], "box.lan": ["10.9.8.7"], "other.lan": ["192.168.7.7"]})
    policy = policy_from_settings(
        {**settings.defaults(), "download_private_hosts": "nas.local, 10.0.0.0/8 192.168.5.5"}, None
    )
    assert resolve("nas.local", 80, policy) == ["192.168.1.10"]
    assert resolve("box.lan", 80, policy) == ["10.9.8.7"]
    assert resolve("192.168.5.5", 80, policy) == ["192.168.5.5"]
    with pytest.raises(Forbidden):
        resolve("other.lan", 80, policy)
    with pytest.raises(Forbidden):  # never the unspecified address, whatever the list says
        resolve("0.0.0.0", 80, Policy((), ("0.0.0.0/0",)))


def test_a_mapped_address_is_returned_as_ipv4() -> None:
    assert resolve("::ffff:127.0.0.1", 80, Policy((), ("127.0.0.1",))) == ["127.0.0.1"]


def test_an_unknown_name_is_a_bad_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {})
    with pytest.raises(BadGateway) as caught:
        resolve("nowhere.example", 443, DEFAULT)
    assert caught.value.code == "SOURCE_FAILED"


# -- the settings ---------------------------------------------------------------------------------------------
def test_the_download_settings_have_their_defaults() -> None:
    values = settings.defaults()
    assert values["download_hosts"] == "huggingface.co civitai.com"
    assert values["download_private_hosts"] == ""
    assert values["download_concurrency"] == 2


@pytest.mark.parametrize("name", ["hf_token", "civitai_api_key", "comfy_api_key"])
def test_the_keys_are_write_only_and_audited_as_set(name: str) -> None:
    assert settings.public({name: "secret"}) == {f"{name}_set": True}
    assert settings.audit_detail({name: "secret"}) == f"{name}=<set>"


def test_the_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_abc")
    monkeypatch.setenv("CIVITAI_API_KEY", "civ")
    monkeypatch.setenv("COMFY_API_KEY", "comfy")
    values = settings.defaults()
    assert (values["hf_token"], values["civitai_api_key"], values["comfy_api_key"]) == ("hf_abc", "civ", "comfy")


@pytest.mark.parametrize(
    "changes",
    [
        {"download_concurrency": 0},
        {"download_concurrency": 9},
        {"download_concurrency": True},
        {"download_concurrency": 2.0},
        {"download_concurrency": "2"},
        {"download_hosts": "https://huggingface.co"},
        {"download_hosts": "10.0.0.0/8"},
        {"download_private_hosts": "nas.local 10.0.0.0/33"},
        {"download_private_hosts": "bad_name!"},
        {"hf_token": "a\nb"},
    ],
)
def test_bad_download_settings_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as caught:
        settings.validate(changes)
    assert caught.value.code == "INVALID_SETTING"


def test_good_download_settings_pass() -> None:
    changes = {
        "download_concurrency": 8,
        "download_hosts": "huggingface.co, civitai.com models.example.org 192.168.1.10",
        "download_private_hosts": "nas.local 10.0.0.0/8, fd00::/8 192.168.1.10",
    }
    assert settings.validate(changes) == changes
