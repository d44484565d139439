"""Where a download may land: checked model names, the folder's first directory, realpath containment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from unit.fake_host import FakeHost

from cozygen.core.errors import BadRequest
from cozygen.core.models.targets import MODEL_EXTENSIONS, check_name, pickle_warning, resolve_target


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path / "comfyui")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("model.safetensors", "model.safetensors"),
        ("SDXL/base v1.0.SafeTensors", "SDXL/base v1.0.SafeTensors"),
        ("flux/q4/flux1-dev-Q4_K_S.gguf", "flux/q4/flux1-dev-Q4_K_S.gguf"),
        ("émoji 🐉.sft", "émoji 🐉.sft"),
        ("old.ckpt", "old.ckpt"),
    ],
)
def test_good_names_are_kept(name: str, expected: str) -> None:
    assert check_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        None,
        42,
        "model.txt",
        "model",
        ".safetensors",
        "../escape.safetensors",
        "a/../../escape.safetensors",
        "/etc/model.safetensors",
        "a//b.safetensors",
        "./a.safetensors",
        "a/.hidden/b.safetensors",
        "a\\b.safetensors",
        "nul\x00.safetensors",
        "line\nbreak.safetensors",
        " padded.safetensors",
        "x" * 252 + "é.safetensors",
        "model.safetensors.exe",
    ],
)
def test_bad_names_are_refused_with_the_code(name: object) -> None:
    with pytest.raises(BadRequest) as caught:
        check_name(name)
    assert caught.value.code == "INVALID_MODEL_NAME"


def test_the_message_names_the_allowed_extensions() -> None:
    with pytest.raises(BadRequest) as caught:
        check_name("notes.txt")
    assert all(ext in caught.value.message for ext in MODEL_EXTENSIONS)


def test_a_target_is_in_the_folders_first_directory(host: FakeHost) -> None:
    target = resolve_target(host, "checkpoints", "sub/a.safetensors")
    base = os.path.realpath(host.model_folder_paths("checkpoints")[0])
    assert target.path == os.path.join(base, "sub", "a.safetensors")
    assert target.part_path == target.path + ".part"
    assert (target.folder, target.name) == ("checkpoints", "sub/a.safetensors")


def test_an_unknown_folder_is_refused(host: FakeHost) -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_target(host, "nonsense", "a.safetensors")
    assert caught.value.code == "UNKNOWN_FOLDER"
    assert "checkpoints" in caught.value.message


def test_a_symlink_out_of_the_folder_is_refused(host: FakeHost, tmp_path: Path) -> None:
    base = Path(host.model_folder_paths("loras")[0])
    base.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (base / "link").symlink_to(outside)
    with pytest.raises(BadRequest) as caught:
        resolve_target(host, "loras", "link/x.safetensors")
    assert caught.value.code == "INVALID_MODEL_NAME"


def test_only_pickles_carry_a_warning() -> None:
    assert pickle_warning("a.safetensors") is None
    assert pickle_warning("a.gguf") is None
    for name in ("a.ckpt", "b/c.PT", "d.pth", "e.bin"):
        warning = pickle_warning(name)
        assert warning is not None and "pickle" in warning
