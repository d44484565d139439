"""The weights-free loop on a real ComfyUI: queue the demo workflow, watch progress, read the PNG."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import numpy as np
from PIL import Image
from support import PROJECT, get, post, run_and_watch

DEMO = json.loads((PROJECT / "workflows" / "cozygen_procedural_demo.json").read_text())


def demo(**inputs) -> dict:
    graph = copy.deepcopy(DEMO)
    graph["1"]["inputs"].update(inputs)
    return graph


def saved_files(messages: list[dict], output_dir: Path) -> list[Path]:
    executed = [m["data"] for m in messages if m["type"] == "executed"]
    images = [image for item in executed for image in item["output"]["images"]]
    return [output_dir / image["subfolder"] / image["filename"] for image in images]


def test_demo_workflow_writes_a_png_with_cozygen_metadata(comfyui) -> None:
    prompt_id, messages = asyncio.run(run_and_watch(comfyui.url, demo(width=128, height=96, steps=4)))
    assert messages[-1]["type"] == "execution_success"
    (path,) = saved_files(messages, comfyui.output_dir)
    assert path.is_file() and path.parent == comfyui.output_dir / "CozyGen"
    with Image.open(path) as image:
        assert image.size == (128, 96) and image.format == "PNG"
        record = json.loads(image.text["cozygen"])
        graph = json.loads(image.text["prompt"])
    assert record["prompt_id"] == prompt_id and record["version"] == 1
    assert graph["1"]["inputs"]["steps"] == 4


def test_progress_goes_through_comfyuis_progress_bar(comfyui) -> None:
    _, messages = asyncio.run(run_and_watch(comfyui.url, demo(width=64, height=64, steps=9, seed=3)))
    progress = [m["data"] for m in messages if m["type"] == "progress" and m["data"].get("node") == "1"]
    assert [p["value"] for p in progress] == list(range(1, 10))
    assert {p["max"] for p in progress} == {9}


def test_same_inputs_give_the_same_pixels_and_a_new_seed_does_not(comfyui) -> None:
    def pixels(seed: int) -> np.ndarray:
        _, messages = asyncio.run(run_and_watch(comfyui.url, demo(width=64, height=64, steps=3, seed=seed)))
        (path,) = saved_files(messages, comfyui.output_dir)
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))

    first, second, other = pixels(11), pixels(11), pixels(12)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_cozygen_nodes_are_known_to_comfyui(comfyui) -> None:
    info = get(f"{comfyui.url}/object_info").json()
    assert info["CozyGenProceduralImage"]["display_name"] == "CozyGen Procedural Image"
    assert info["CozyGenProceduralImage"]["category"] == "CozyGen"
    assert info["CozyGenOutput"]["output_node"] is True


def test_a_bad_value_is_refused_by_comfyuis_validation(comfyui) -> None:
    reply = post(f"{comfyui.url}/prompt", {"prompt": demo(steps=0)})
    assert reply.status == 400
    assert "1" in reply.json()["node_errors"]
