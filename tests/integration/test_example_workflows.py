"""The shipped example workflows (SD1.5, SDXL, img2img, Flux) against a real ComfyUI that has no model files."""

from __future__ import annotations

import asyncio
import json

import pytest
from support import PROJECT, get, post, run_and_watch

SEED_MAX = 2**64 - 1
# The model files each example needs, by models folder.
MODELS = {
    "sd15_txt2img.json": {"checkpoints": ["v1-5-pruned-emaonly.safetensors"]},
    "sdxl_txt2img.json": {"checkpoints": ["sd_xl_base_1.0.safetensors"]},
    "sd15_img2img.json": {"checkpoints": ["v1-5-pruned-emaonly.safetensors"]},
    "flux_txt2img.json": {
        "diffusion_models": ["flux1-dev.safetensors"],
        "text_encoders": ["clip_l.safetensors", "t5xxl_fp8_e4m3fn.safetensors"],
        "vae": ["ae.safetensors"],
    },
}
SD_FORM = ["prompt", "negative_prompt", "width", "height", "seed", "steps", "cfg", "sampler", "scheduler", "checkpoint"]
FORMS = {
    "sd15_txt2img.json": SD_FORM,
    "sdxl_txt2img.json": SD_FORM,
    "sd15_img2img.json": [
        "image",
        "prompt",
        "negative_prompt",
        "denoise",
        "seed",
        "steps",
        "cfg",
        "sampler",
        "scheduler",
        "checkpoint",
    ],
    "flux_txt2img.json": [
        "prompt",
        "width",
        "height",
        "seed",
        "steps",
        "guidance",
        "sampler",
        "scheduler",
        "model",
        "clip_l",
        "t5xxl",
        "vae",
    ],
}
SEED = {"type": "seed", "randomize": True, "min": 0, "max": SEED_MAX}
# A few concrete fields of some parameters of each example.
EXPECTED = {
    "sd15_txt2img.json": {
        "prompt": {"type": "text", "group": "Prompt"},
        "steps": {"type": "int", "default": 20, "min": 1, "max": 100, "step": 1},
        "cfg": {"type": "float", "default": 7.0, "min": 1.0, "max": 20.0, "step": 0.5},
        "width": {"type": "int", "default": 512, "min": 256, "max": 1024, "step": 64},
        "height": {"type": "int", "default": 512, "min": 256, "max": 1024, "step": 64},
        "seed": SEED,
        "sampler": {"default": "euler", "choice_source": "sampler"},
        "scheduler": {"default": "normal", "choice_source": "scheduler"},
        "checkpoint": {"type": "choice", "choice_source": "checkpoints", "default": "v1-5-pruned-emaonly.safetensors"},
    },
    "sdxl_txt2img.json": {
        "steps": {"type": "int", "default": 25, "min": 1, "max": 100},
        "cfg": {"type": "float", "default": 6.0, "min": 1.0, "max": 20.0, "step": 0.5},
        "width": {"type": "int", "default": 1024, "min": 512, "max": 2048, "step": 64},
        "height": {"type": "int", "default": 1024, "min": 512, "max": 2048, "step": 64},
        "seed": SEED,
        "sampler": {"default": "dpmpp_2m", "choice_source": "sampler"},
        "scheduler": {"default": "karras", "choice_source": "scheduler"},
        "checkpoint": {"type": "choice", "choice_source": "checkpoints", "default": "sd_xl_base_1.0.safetensors"},
    },
    "sd15_img2img.json": {
        "image": {"type": "image", "default": None, "required": True, "group": "Image"},
        "denoise": {"type": "float", "default": 0.6, "min": 0.0, "max": 1.0, "step": 0.05},
        "steps": {"type": "int", "default": 20, "min": 1, "max": 100},
        "seed": SEED,
        "sampler": {"default": "euler", "choice_source": "sampler"},
        "checkpoint": {"type": "choice", "choice_source": "checkpoints", "default": "v1-5-pruned-emaonly.safetensors"},
    },
    "flux_txt2img.json": {
        "guidance": {"type": "float", "default": 3.5, "min": 1.0, "max": 10.0, "step": 0.1},
        "steps": {"type": "int", "default": 20, "min": 1, "max": 100},
        "width": {"type": "int", "default": 1024, "min": 256, "max": 2048},
        "seed": SEED,
        "sampler": {"default": "euler", "choice_source": "sampler"},
        "scheduler": {"default": "simple", "choice_source": "scheduler"},
        "model": {"type": "choice", "choice_source": "diffusion_models", "default": "flux1-dev.safetensors"},
        "clip_l": {"type": "choice", "choice_source": "text_encoders", "default": "clip_l.safetensors"},
        "t5xxl": {"type": "choice", "choice_source": "text_encoders", "default": "t5xxl_fp8_e4m3fn.safetensors"},
        "vae": {"type": "choice", "choice_source": "vae", "default": "ae.safetensors"},
    },
}
# Model-file inputs of the loaders and the CozyGen choice type that must feed each.
MODEL_INPUTS = {
    "ckpt_name": "checkpoints",
    "unet_name": "diffusion_models",
    "clip_name1": "text_encoders",
    "clip_name2": "text_encoders",
    "vae_name": "vae",
    "lora_name": "loras",
}
# Inputs of ComfyUI's nodes that a user sets, and the CozyGen node that must feed each.
SETTINGS = {
    "text": "CozyGenString",
    "seed": "CozyGenSeed",
    "noise_seed": "CozyGenSeed",
    "steps": "CozyGenInt",
    "width": "CozyGenInt",
    "height": "CozyGenInt",
    "cfg": "CozyGenFloat",
    "guidance": "CozyGenFloat",
    "sampler_name": "CozyGenChoice",
    "scheduler": "CozyGenChoice",
    "pixels": "CozyGenImage",
}
LOADERS = {"CheckpointLoaderSimple", "UNETLoader", "DualCLIPLoader", "VAELoader"}
EXAMPLES = list(MODELS)


def example(name: str) -> dict:
    return json.loads((PROJECT / "workflows" / name).read_text())


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-examples")


@pytest.fixture(scope="module")
def ksampler(server) -> dict:
    return get(f"{server.url}/object_info/KSampler").json()["KSampler"]["input"]["required"]


@pytest.fixture
def placeholders(server):
    """Create empty model files; they are removed, and the host's lists read again, after the test."""
    made = []

    def create(models: dict[str, list[str]]) -> None:
        for folder, names in models.items():
            for name in names:
                path = server.base / "models" / folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
                made.append(path)

    yield create
    for path in made:
        path.unlink(missing_ok=True)
    assert post(f"{server.url}/cozygen/api/workflows/sd15_txt2img.json/check?refresh=1").status == 200


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_setting_comes_from_a_cozygen_node(name: str) -> None:
    graph = example(name)
    assert all(node_id.isdigit() and node["_meta"]["title"].strip() for node_id, node in graph.items())
    outputs = [node for node in graph.values() if node["class_type"] == "CozyGenOutput"]
    assert [node["inputs"]["filename_prefix"] for node in outputs] == [f"CozyGen/{name.removesuffix('.json')}"]
    assert not [node for node in graph.values() if node["class_type"] in ("SaveImage", "LoadImage")]
    fed = []
    for node in graph.values():
        for input_name, value in node["inputs"].items():
            wanted = MODEL_INPUTS.get(input_name) or SETTINGS.get(input_name)
            if wanted is None or node["class_type"].startswith("CozyGen"):
                continue
            assert isinstance(value, list), (node["_meta"]["title"], input_name, value)
            source = graph[value[0]]
            if input_name in MODEL_INPUTS:
                assert source["class_type"] == "CozyGenChoice" and source["inputs"]["choice_type"] == wanted
            else:
                assert source["class_type"] == wanted, (node["_meta"]["title"], input_name)
            fed.append(input_name)
    assert {"seed", "noise_seed"} & set(fed) and {"steps", "sampler_name", "scheduler", "text"} <= set(fed)


@pytest.mark.parametrize("name", EXAMPLES)
def test_schema_lists_the_cozygen_parameters_in_order(server, ksampler, name: str) -> None:
    reply = get(f"{server.url}/cozygen/api/workflows/{name}/schema")
    assert reply.status == 200, reply.body
    schema = reply.json()["parameters"]
    assert [p["name"] for p in schema] == FORMS[name]
    assert [p["order"] for p in schema] == list(range(1, len(schema) + 1))
    graph = example(name)
    for param in schema:
        assert param["label"] and param["group"] and param["description"], param["name"]
        assert [graph[node_id]["class_type"].startswith("CozyGen") for node_id, _ in param["targets"]] == [True]
    by_name = {p["name"]: p for p in schema}
    for param_name, fields in EXPECTED[name].items():
        assert by_name[param_name] == {**by_name[param_name], **fields}, param_name
    assert by_name["sampler"]["choices"] == ksampler["sampler_name"][0]
    assert by_name["scheduler"]["choices"] == ksampler["scheduler"][0]
    for param in schema:
        if param["choice_source"] in MODELS[name]:
            assert param["choices"] == [], param["name"]  # this host has no model files


@pytest.mark.parametrize("name", EXAMPLES)
def test_check_names_exactly_the_missing_model_files(server, name: str) -> None:
    reply = post(f"{server.url}/cozygen/api/workflows/{name}/check")
    assert reply.status == 200, reply.body
    report = reply.json()
    assert report == {**report, "ok": False, "missing_nodes": [], "invalid_values": []}
    assert {folder: sorted(names) for folder, names in report["missing_models"].items()} == MODELS[name]
    # each has a source to download it from: the catalogue CozyGen ships (data/model_sources.json)
    sources = {(s["folder"], s["name"]): s for s in report["model_sources"]}
    assert set(sources) == {(folder, n) for folder, names in MODELS[name].items() for n in names}
    assert all(s["known"] and s["origin"] == "catalogue" and s["source"]["hf"] for s in sources.values()), sources


def test_placeholder_model_files_satisfy_the_check(server, placeholders) -> None:
    url = server.url
    placeholders(MODELS["sd15_txt2img.json"])
    report = post(f"{url}/cozygen/api/workflows/sd15_txt2img.json/check?refresh=1").json()
    assert report == {"ok": True, "missing_nodes": [], "missing_models": {}, "invalid_values": [], "model_sources": []}
    schema = get(f"{url}/cozygen/api/workflows/sd15_txt2img.json/schema").json()["parameters"]
    checkpoint = next(p for p in schema if p["name"] == "checkpoint")
    assert checkpoint["choices"] == ["v1-5-pruned-emaonly.safetensors"]
    sdxl = post(f"{url}/cozygen/api/workflows/sdxl_txt2img.json/check").json()
    assert sdxl["ok"] is False and sdxl["missing_models"] == {"checkpoints": ["sd_xl_base_1.0.safetensors"]}


@pytest.mark.parametrize("name", EXAMPLES)
def test_filled_example_passes_comfyui_validation(server, placeholders, name: str) -> None:
    """ComfyUI itself accepts the graph (classes, input names, link types); it fails only on loading an empty file."""
    from PIL import Image

    url = server.url
    placeholders(MODELS[name])
    assert post(f"{url}/cozygen/api/workflows/{name}/check?refresh=1").json()["ok"] is True
    values = {}
    if "img2img" in name:
        Image.new("RGB", (64, 64), "teal").save(server.input_dir / "example_start.png")
        values["image"] = "example_start.png"
    filled = post(f"{url}/cozygen/api/workflows/{name}/fill", {"values": values})
    assert filled.status == 200, filled.body
    _, messages = asyncio.run(run_and_watch(url, filled.json()["prompt"]))  # asserts /prompt answered 200
    last = messages[-1]
    assert last["type"] == "execution_error" and last["data"]["node_type"] in LOADERS, last
    wanted = {file for files in MODELS[name].values() for file in files}
    assert wanted & set(sum(last["data"]["current_inputs"].values(), [])), last["data"]["current_inputs"]
