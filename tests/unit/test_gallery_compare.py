"""core.gallery.compare: what differs between two images' generations."""

from __future__ import annotations

import copy
from typing import Any

from cozygen.core.gallery.compare import compare, lora_strengths, parameters
from cozygen.core.graph.summary import summarize


def graph(seed: int = 1, steps: int = 20, cfg: float = 7.0, lora: float = 0.8, clip: float = 1.0) -> dict[str, Any]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "10": {
            "class_type": "LoraLoader",
            "inputs": {
                "lora_name": "detail.safetensors",
                "strength_model": lora,
                "strength_clip": clip,
                "model": ["4", 0],
                "clip": ["4", 1],
            },
        },
        "11": {
            "class_type": "LoraLoaderModelOnly",
            "inputs": {"lora_name": "style.safetensors", "strength_model": 0.5, "model": ["10", 0]},
        },
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["10", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["10", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": steps,
                "cfg": cfg,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["11", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
    }


def meta(prompt: dict[str, Any] | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Metadata as api/gallery.metadata_of gives it."""
    return {"fields": summarize(prompt, params), "params": params or {}, "prompt": prompt, "id": 1}


def by_name(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e for e in entries}


def test_two_seeds_differ_in_the_seed_alone() -> None:
    found = compare(meta(graph(seed=1)), meta(graph(seed=2)))
    assert found["differences"] == [{"name": "seed", "a": 1, "b": 2}]
    same = by_name(found["same"])
    assert same["steps"]["value"] == 20 and same["sampler"]["value"] == "euler"
    assert same["positive"]["value"] == "a red fox" and same["model"]["value"] == "sd15.safetensors"
    assert same["lora:detail.safetensors"]["value"] == 0.8 and same["lora_clip:detail.safetensors"]["value"] == 1.0
    assert same["lora:style.safetensors"]["value"] == 0.5 and "lora_clip:style.safetensors" not in same


def test_steps_cfg_and_lora_strengths_are_compared() -> None:
    found = compare(meta(graph(steps=20, cfg=7.0, lora=0.8)), meta(graph(steps=30, cfg=7, lora=0.6)))
    assert by_name(found["differences"]) == {
        "steps": {"name": "steps", "a": 20, "b": 30},
        "lora:detail.safetensors": {"name": "lora:detail.safetensors", "a": 0.8, "b": 0.6},
    }
    assert "cfg" in by_name(found["same"])  # 7.0 and 7 are the same value


def test_a_lora_only_one_image_has_and_prompts_that_differ() -> None:
    other = graph()
    del other["11"]
    other["3"]["inputs"]["model"] = ["10", 0]
    other["6"]["inputs"]["text"] = "a blue fox"
    found = by_name(compare(meta(graph()), meta(other))["differences"])
    assert found["lora:style.safetensors"] == {"name": "lora:style.safetensors", "a": 0.5, "b": None}
    assert found["positive"] == {"name": "positive", "a": "a red fox", "b": "a blue fox"}


def test_cozygen_params_beyond_the_standard_fields_are_compared() -> None:
    first = meta(graph(), {"Prompt": "a red fox", "upscale": 2, "style": "ink"})
    second = meta(graph(), {"Prompt": "a red fox", "upscale": 4})
    found = compare(first, second)
    assert by_name(found["differences"])["param:upscale"] == {"name": "param:upscale", "a": 2, "b": 4}
    assert by_name(found["differences"])["param:style"] == {"name": "param:style", "a": "ink", "b": None}
    assert "param:Prompt" not in by_name(found["same"]) | by_name(found["differences"])  # it is the positive


def test_images_without_metadata_compare_to_nothing() -> None:
    assert compare({}, {"fields": None, "params": "x", "prompt": []}) == {"differences": [], "same": []}
    assert compare(meta(None), meta(None)) == {"differences": [], "same": []}


def test_power_lora_loader_entries_and_linked_strengths() -> None:
    power = {
        "1": {
            "class_type": "Power Lora Loader (rgthree)",
            "inputs": {
                "lora_1": {"on": True, "lora": "a.safetensors", "strength": 0.7},
                "lora_2": {"on": False, "lora": "off.safetensors", "strength": 1.0},
                "lora_3": {"on": True, "lora": "b.safetensors", "strength": ["9", 0]},
                "➕ Add Lora": "",
            },
        },
        "2": {"class_type": "LoraLoader", "inputs": {"lora_name": "None", "strength_model": 1.0}},
    }
    assert lora_strengths(power) == {"a.safetensors": (0.7, None), "b.safetensors": (True, None)}
    assert lora_strengths("not a graph") == {}
    assert lora_strengths({str(n): {} for n in range(6000)}) == {}


def test_a_lora_known_by_name_alone_is_on() -> None:
    found = parameters({"fields": {"loras": ["x.safetensors", 3]}, "prompt": None})
    assert found["lora:x.safetensors"] is True


def test_the_inputs_are_not_changed() -> None:
    first, second = meta(graph(seed=1)), meta(graph(seed=2))
    before = copy.deepcopy((first, second))
    compare(first, second)
    assert (first, second) == before
