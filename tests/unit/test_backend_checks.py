"""The pure parts of the backends: the fields an admin sends (URLs above all) and what a backend lacks."""

from __future__ import annotations

import pytest

from cozygen.core.backends import capabilities, fields
from cozygen.core.errors import BadRequest

INFO = {
    "EmptyImage": {"input": {"required": {"width": ["INT", {}]}}},
    "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["a.safetensors", "sub/b.safetensors"], {}]}}},
    "LoadImage": {"input": {"required": {"image": [["x.png"], {"image_upload": True}]}}},
    "UNETLoader": {"input": {"required": {"unet_name": ["COMBO", {"options": ["u.safetensors"]}]}}},
}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/x", "file:///etc/passwd", "javascript:alert(1)", "http://", "http:///path", "//host:8188",
        "http://user:pw@host", "http://user@host", "http://host?x=1", "http://host/#frag", "http://host/a b",
        "http://host:99999", "http://host:0", "http://host/../x", "http://ho\\st", "http://ho\nst", "",
        "h" * 2100, None, 5, ["http://x"],
    ],
)  # fmt: skip
def test_bad_backend_urls_are_refused_with_400(url) -> None:
    with pytest.raises(BadRequest) as raised:
        fields.url(url)
    assert raised.value.status == 400 and raised.value.code == "INVALID_BACKEND_URL"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("http://192.168.1.20:8188/", "http://192.168.1.20:8188"),
        ("https://gpu.example.net/comfy", "https://gpu.example.net/comfy"),
        ("http://[::1]:8188", "http://[::1]:8188"),
        ("HTTP://Host:8188", "HTTP://Host:8188"),
    ],
)
def test_good_backend_urls_are_kept_without_a_trailing_slash(url: str, kept: str) -> None:
    assert fields.url(url) == kept


def test_other_fields() -> None:
    assert fields.tags([" SDXL ", "video", "sdxl"]) == ("sdxl", "video")
    assert fields.subfolder("backends/attic") == "backends/attic"
    assert fields.default_subfolder("Attic PC / 2") == "backends/Attic-PC-2"
    for check, value in [
        (fields.name, "local"), (fields.name, "a\nb"), (fields.name, ""), (fields.max_jobs, 0),
        (fields.max_jobs, True), (fields.max_jobs, 65), (fields.tags, ["a b"]), (fields.subfolder, "../x"),
        (fields.subfolder, "/abs"), (fields.subfolder, ".hidden"), (fields.secret, "two\nlines"),
        (fields.auth, "digest"), (fields.auth_user, "a:b"), (fields.enabled, "yes"),
    ]:  # fmt: skip
        with pytest.raises(BadRequest):
            check(value)
    with pytest.raises(BadRequest):
        fields.parse({"name": "x", "url": "http://h", "secret_plain": "x"}, partial=False)
    with pytest.raises(BadRequest):
        fields.parse({"name": "x"}, partial=False)


def test_a_backend_lacking_nothing_can_run_the_graph() -> None:
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sub\\b.safetensors"}},
        "2": {"class_type": "CozyGenOutput", "inputs": {"images": ["3", 0]}},  # replaced by SaveImage there
        "3": {"class_type": "EmptyImage", "inputs": {"width": ["4", 0]}},
        "4": {"class_type": "CozyGenInt", "inputs": {"value": 64}},
        "5": {"class_type": "LoadImage", "inputs": {"image": "uploaded-first.png"}},  # the job uploads it
    }
    assert capabilities.missing(graph, INFO) == []


def test_missing_names_node_classes_and_files_even_through_cozygen_inputs() -> None:
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ["9", 0]}},
        "9": {"class_type": "CozyGenChoice", "inputs": {"value": "big.safetensors"}},
        "2": {"class_type": "KSampler", "inputs": {}},
        "3": {"class_type": "UNETLoader", "inputs": {"unet_name": "other.safetensors"}},
        "4": {"class_type": "EmptyImage", "inputs": {"width": 64}},
    }
    assert capabilities.missing(graph, INFO) == [
        "file big.safetensors (CheckpointLoaderSimple.ckpt_name)",
        "file other.safetensors (UNETLoader.unet_name)",
        "node KSampler",
    ]
    assert capabilities.missing(graph, None) == [capabilities.UNKNOWN]
    assert capabilities.missing({"x": "junk", "y": {"class_type": 5}}, INFO) == []
