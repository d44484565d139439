"""Hugging Face metadata through the real huggingface_hub client against the loopback model server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from model_server import ModelServer

from cozygen.core.errors import BadGateway, Forbidden, NotFound
from cozygen.core.models import hf
from cozygen.core.models.sources import Source


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer() as running:
        yield running


def test_an_lfs_file_resolves_to_its_cdn_with_size_and_sha(server: ModelServer) -> None:
    sha = server.hf_file("owner/repo", "dir/model.safetensors", 5000, revision="v1")
    remote = hf.resolve(Source("hf", "owner/repo", "dir/model.safetensors", "v1"), "tok", base=server.url)
    assert (remote.url, remote.size, remote.sha256) == (f"{server.cdn_base}/cdn/{sha}", 5000, sha)
    assert remote.headers == {}  # the CDN is another host: the token stays with the endpoint
    assert "tok" not in repr(remote)
    (asked,) = server.seen("/owner/repo/resolve/v1/dir/model.safetensors")
    assert (asked.method, asked.headers["authorization"]) == ("HEAD", "Bearer tok")


def test_a_file_the_endpoint_serves_itself_keeps_the_token_and_has_no_sha(server: ModelServer) -> None:
    server.hf_file("owner/repo", "config.json.safetensors", b"{}", lfs=False)
    remote = hf.resolve(Source("hf", "owner/repo", "config.json.safetensors"), "tok", base=server.url)
    assert remote.url == server.hf_url("owner/repo", "config.json.safetensors")
    assert (remote.size, remote.sha256, remote.headers) == (2, None, {"Authorization": "Bearer tok"})


def test_without_a_token_none_is_sent(server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "from-the-environment")
    server.hf_file("owner/repo", "a.safetensors", 10)
    hf.resolve(Source("hf", "owner/repo", "a.safetensors"), None, base=server.url)
    assert "authorization" not in server.seen("/owner/repo/resolve/main/a.safetensors")[0].headers


def test_a_cdn_on_the_same_host_is_followed_by_the_client() -> None:
    with ModelServer(separate_cdn=False) as server:
        sha = server.hf_file("owner/repo", "a.safetensors", 10)
        remote = hf.resolve(Source("hf", "owner/repo", "a.safetensors"), None, base=server.url)
    assert (remote.url, remote.size, remote.sha256) == (f"{server.url}/cdn/{sha}", 10, sha)


def test_errors_say_what_to_do(server: ModelServer) -> None:
    server.hf_file("owner/gated", "g.safetensors", 10, token="right")
    server.hf_file("owner/broken", "b.safetensors", 10, status=500)
    with pytest.raises(Forbidden) as gated:
        hf.resolve(Source("hf", "owner/gated", "g.safetensors"), None, base=server.url)
    assert gated.value.code == "MODEL_GATED" and "hf_token" in gated.value.message
    with pytest.raises(Forbidden):
        hf.resolve(Source("hf", "owner/gated", "g.safetensors"), "wrong", base=server.url)
    with pytest.raises(NotFound) as missing:
        hf.resolve(Source("hf", "owner/gated", "nope.safetensors"), None, base=server.url)
    assert missing.value.code == "MODEL_NOT_FOUND"
    with pytest.raises(BadGateway) as broken:
        hf.resolve(Source("hf", "owner/broken", "b.safetensors"), None, base=server.url)
    assert broken.value.code == "SOURCE_FAILED"


def test_an_unreachable_endpoint_is_a_bad_gateway() -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(BadGateway) as caught:
            hf.resolve(Source("hf", "a/b", "c.safetensors"), None, base=base, timeout=5)
    assert caught.value.code == "SOURCE_FAILED" and base.split("//")[1] in caught.value.message
