"""The pure parts of the DreamLayer and AI Playground mounts: what they read from their clients' requests."""

from __future__ import annotations

import pytest

from cozygen.api.compat import aiplayground, dreamlayer
from cozygen.core.errors import BadRequest, NotFound


def test_fetch_prompt_type_is_positive_negative_or_absent() -> None:
    assert dreamlayer.prompt_type("positive") == "positive"
    assert dreamlayer.prompt_type("negative") == "negative"
    assert dreamlayer.prompt_type(None) is None and dreamlayer.prompt_type("") is None
    for bad in ("Positive", "both", "neutral "):
        with pytest.raises(BadRequest) as refused:
            dreamlayer.prompt_type(bad)
        assert refused.value.code == "INVALID_PROMPT_TYPE"


def test_send_to_takes_the_front_ends_filename_or_the_seeds_image_path() -> None:
    assert dreamlayer.image_path_of({"filename": "CozyGen/a.png"}) == "CozyGen/a.png"
    assert dreamlayer.image_path_of({"imagePath": "/api/images/a.png"}) == "/api/images/a.png"
    assert dreamlayer.image_path_of({"filename": "b.png", "imagePath": "a.png"}) == "b.png"
    assert dreamlayer.output_relative(dreamlayer.image_path_of({"filename": "CozyGen/a.png"})) == "CozyGen/a.png"
    assert dreamlayer.output_relative("http://h/view?filename=a.png&subfolder=CozyGen&type=output") == "CozyGen/a.png"
    with pytest.raises(BadRequest):
        dreamlayer.output_relative(dreamlayer.image_path_of({}))


def test_dreamlayer_errors_keep_cozygens_code_in_dreamlayers_shape() -> None:
    shaped = dreamlayer.dreamlayer_error(NotFound("Image not found", code="FILE_NOT_FOUND"))
    assert shaped == {
        "status": "error",
        "message": "Image not found",
        "error": "Image not found",
        "code": "FILE_NOT_FOUND",
    }


def test_custom_nodes_from_strings_or_the_real_clients_objects() -> None:
    assert aiplayground.node_spec("user/ComfyUI-Foo@abc") == "user/ComfyUI-Foo@abc"
    assert aiplayground.node_spec({"username": "u", "repoName": "ComfyUI-Foo", "gitRef": "abc"}) == "u/ComfyUI-Foo@abc"
    assert aiplayground.node_spec({"username": "u", "repoName": "ComfyUI-Foo"}) == "u/ComfyUI-Foo"
    assert aiplayground.node_spec({"repoName": "ComfyUI-Foo", "gitRef": None}) == "ComfyUI-Foo"
    for bad in ({"username": "u"}, {"repoName": " "}, 7, None):
        with pytest.raises(BadRequest):
            aiplayground.node_spec(bad)
    workflow = {"customNodes": [{"username": "u", "repoName": "comfyui-foo"}, {"username": "u", "repoName": "Gone"}]}
    assert aiplayground.requirements(workflow, {}, ["ComfyUI-Foo"]) == (["u/Gone"], [])


def test_python_packages_by_their_distribution_name() -> None:
    assert aiplayground.package_name("opencv-python==4.8.0") == "opencv-python"
    assert aiplayground.package_name("numpy>=1.2; python_version>'3'") == "numpy"
    assert aiplayground.package_name("https://x.org/wheels/torch_xpu-2.1-cp311-win_amd64.whl") == "torch_xpu"
    assert aiplayground.package_name("  ") is None and aiplayground.package_name("../etc") is None
    assert aiplayground.is_installed("aiohttp") and aiplayground.is_installed("PyYAML==0.0.1")  # version not checked
    assert not aiplayground.is_installed("surely-not-installed-pkg") and not aiplayground.is_installed("")
