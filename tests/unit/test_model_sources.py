"""Where a model comes from: hf sources, URLs, Hugging Face links, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from cozygen.core.errors import BadRequest
from cozygen.core.models.sources import Source, default_name, parse_source


def test_an_hf_source_round_trips() -> None:
    source = parse_source({"hf": {"repo": "Comfy-Org/flux1-dev", "file": "split/flux1-dev.safetensors"}})
    assert source == Source("hf", "Comfy-Org/flux1-dev", "split/flux1-dev.safetensors", "main")
    assert parse_source(source.as_dict()) == source
    assert source.label == "Comfy-Org/flux1-dev/split/flux1-dev.safetensors"
    assert default_name(source) == "flux1-dev.safetensors"


def test_a_url_round_trips_and_its_label_has_no_query() -> None:
    source = parse_source("https://civitai.com/api/download/models/12345?type=Model&format=SafeTensor")
    assert source.kind == "url"
    assert parse_source(source.as_dict()) == source
    assert source.label == "https://civitai.com/api/download/models/12345"
    assert parse_source({"url": source.url}) == source


@pytest.mark.parametrize("kind", ["resolve", "blob"])
def test_a_hugging_face_link_becomes_an_hf_source(kind: str) -> None:
    url = f"https://huggingface.co/owner/repo.name/{kind}/v1.0/dir/my%20model.safetensors?download=true"
    assert parse_source(url) == Source("hf", "owner/repo.name", "dir/my model.safetensors", "v1.0")


def test_other_hugging_face_links_stay_urls() -> None:
    assert parse_source("https://huggingface.co/datasets/a/b/resolve/main/x.bin").kind == "url"


def test_the_default_name_of_a_url_is_its_last_segment() -> None:
    assert default_name(parse_source("https://example.com/files/my%20lora.safetensors?x=1")) == "my lora.safetensors"


def test_a_revision_defaults_to_main() -> None:
    assert parse_source({"hf": {"repo": "a/b", "file": "c.gguf", "revision": None}}).revision == "main"


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        {},
        {"hf": "a/b"},
        {"hf": {"repo": "a/b"}},
        {"hf": {"repo": "a/b", "file": "x.bin", "extra": 1}},
        {"hf": {"repo": "ab", "file": "x.bin"}},
        {"hf": {"repo": "a/b/c", "file": "x.bin"}},
        {"hf": {"repo": "a/..b", "file": "x.bin"}},
        {"hf": {"repo": "a/b--c", "file": "x.bin"}},
        {"hf": {"repo": "-a/b", "file": "x.bin"}},
        {"hf": {"repo": "a/" + "b" * 100, "file": "x.bin"}},
        {"hf": {"repo": "a/b", "file": "../x.bin"}},
        {"hf": {"repo": "a/b", "file": "/x.bin"}},
        {"hf": {"repo": "a/b", "file": "x\\y.bin"}},
        {"hf": {"repo": "a/b", "file": "x.bin", "revision": "a b"}},
        {"hf": {"repo": "a/b", "file": "x.bin", "revision": "../main"}},
        {"url": "ftp://example.com/x.bin"},
        {"url": "file:///etc/passwd"},
        {"url": "https://"},
        {"url": "https://example.com/a b.bin"},
        {"url": "https://example.com:99999/x.bin"},
        {"url": "https://user:secret@example.com/x.bin"},
        {"url": "https://civitai.com/api/download/models/1?token=abc"},
        {"url": "https://example.com/x.bin?API_KEY=abc"},
        {"url": "https://example.com/" + "x" * 2000},
        {"url": "https://example.com/x.bin", "hf": {}},
    ],
)
def test_bad_sources_are_refused_with_the_code(value: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_source(value)
    assert caught.value.code == "INVALID_SOURCE"


def test_a_key_in_a_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_source("https://civitai.com/api/download/models/1?token=s3cret-value")
    assert "s3cret-value" not in caught.value.message
    assert "civitai_api_key" in caught.value.message
