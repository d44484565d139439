"""core.graph.check: missing nodes, missing models and invalid values against a real /object_info."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support import load_data

from cozygen.core.errors import BadRequest
from cozygen.core.graph.check import check


def load(name: str) -> dict[str, Any]:
    return load_data(f"unit/data/{name}.json")


def listed(object_info: dict, class_type: str, name: str) -> list[str]:
    return list(object_info[class_type]["input"]["required"][name][0])


@pytest.fixture(scope="module")
def models(object_info: dict) -> dict[str, list[str]]:
    """What the server's folder listings would say, consistent with the object_info fixture."""
    return {
        "checkpoints": listed(object_info, "CheckpointLoaderSimple", "ckpt_name"),
        "loras": listed(object_info, "LoraLoader", "lora_name"),
        "vae": ["ae.safetensors", "sdxl_vae.safetensors"],
        "diffusion_models": listed(object_info, "UNETLoader", "unet_name"),
        "text_encoders": listed(object_info, "DualCLIPLoader", "clip_name1"),
    }


@pytest.mark.parametrize("name", ["sd15_txt2img", "sdxl_two_loras", "img2img", "flux_txt2img"])
def test_workflows_that_can_run_are_ok(object_info: dict, models: dict, name: str) -> None:
    assert check(load(name), object_info, models) == {
        "ok": True,
        "missing_nodes": [],
        "missing_models": {},
        "invalid_values": [],
    }


def test_missing_nodes_are_grouped_by_class_with_their_pack(object_info: dict, models: dict) -> None:
    workflow = load("sd15_txt2img")
    workflow["20"] = {
        "class_type": "UltimateSDUpscale",
        "inputs": {"image": ["8", 0], "upscale_by": 2},
        "_meta": {"title": "Ultimate SD Upscale"},
        "properties": {"aux_id": "ssitu/ComfyUI_UltimateSDUpscale", "Node name for S&R": "UltimateSDUpscale"},
    }
    workflow["12"] = {
        "class_type": "IPAdapterAdvanced",
        "inputs": {"model": ["4", 0], "weight": 0.8},
        "_meta": {"title": "IPAdapter Advanced", "cnr_id": "comfyui_ipadapter_plus"},
    }
    workflow["13"] = copy.deepcopy(workflow["12"])
    workflow["14"] = {"class_type": "MysteryNode", "inputs": {}, "_meta": {"title": "?"}}
    report = check(workflow, object_info, models)
    assert report["ok"] is False
    assert report["missing_nodes"] == [
        {"class_type": "IPAdapterAdvanced", "node_ids": ["12", "13"], "pack": "comfyui_ipadapter_plus"},
        {"class_type": "MysteryNode", "node_ids": ["14"]},
        {"class_type": "UltimateSDUpscale", "node_ids": ["20"], "pack": "ssitu/ComfyUI_UltimateSDUpscale"},
    ]
    assert report["missing_models"] == {} and report["invalid_values"] == []


def test_missing_models_are_listed_per_folder(object_info: dict, models: dict) -> None:
    flux = load("flux_txt2img")
    flux["12"]["inputs"]["unet_name"] = "flux1-krea-dev.safetensors"
    flux["11"]["inputs"]["clip_name1"] = "t5xxl_fp8_e4m3fn_scaled.safetensors"
    flux["10"]["inputs"]["vae_name"] = "FLUX/ae_v2.safetensors"
    report = check(flux, object_info, models)
    assert report["missing_models"] == {
        "vae": ["FLUX/ae_v2.safetensors"],
        "text_encoders": ["t5xxl_fp8_e4m3fn_scaled.safetensors"],
        "diffusion_models": ["flux1-krea-dev.safetensors"],
    }
    assert report["invalid_values"] == [] and report["ok"] is False

    sdxl = load("sdxl_two_loras")
    sdxl["4"]["inputs"]["ckpt_name"] = "ponyDiffusionV6XL.safetensors"
    sdxl["10"]["inputs"]["lora_name"] = "gone.safetensors"
    sdxl["11"]["inputs"]["lora_name"] = "gone.safetensors"  # named once
    assert check(sdxl, object_info, models)["missing_models"] == {
        "checkpoints": ["ponyDiffusionV6XL.safetensors"],
        "loras": ["gone.safetensors"],
    }


def test_models_on_disk_or_with_other_separators_are_not_missing(object_info: dict, models: dict) -> None:
    sdxl = load("sdxl_two_loras")
    sdxl["10"]["inputs"]["lora_name"] = "SDXL\\xl_more_art-full_v1.safetensors"  # saved on Windows
    sdxl["11"]["inputs"]["lora_name"] = "new_today.safetensors"  # on disk, object_info not refreshed yet
    assert check(sdxl, object_info, {**models, "loras": [*models["loras"], "new_today.safetensors"]})["ok"] is True
    assert check(sdxl, object_info, models)["missing_models"] == {"loras": ["new_today.safetensors"]}


def test_unknown_model_inputs_find_their_folder_through_the_listings(object_info: dict, models: dict) -> None:
    info = {
        **object_info,
        # a custom node's loader (Impact Pack's SAMLoader): a model input no built-in rule knows
        "SAMLoader": {
            "input": {"required": {"model_name": [["sam_vit_b_01ec64.pth"]], "device_mode": [["AUTO", "CPU"]]}}
        },
    }
    workflow = {
        "1": {"class_type": "SAMLoader", "inputs": {"model_name": "sam_vit_h_4b8939.pth", "device_mode": "AUTO"}}
    }
    report = check(workflow, info, {**models, "sams": ["sam_vit_b_01ec64.pth"]})
    assert report["missing_models"] == {"sams": ["sam_vit_h_4b8939.pth"]}
    assert check(workflow, info, models)["missing_models"] == {"other": ["sam_vit_h_4b8939.pth"]}


def test_invalid_values_are_reported_per_input(object_info: dict, models: dict) -> None:
    workflow = load("img2img")
    inputs = workflow["3"]["inputs"]
    inputs.update(steps=0, cfg=101.5, sampler_name="euler_a", scheduler="Karras", seed="abc")
    del inputs["denoise"]
    inputs["positive"] = ["99", 0]
    workflow["10"]["inputs"]["image"] = "not_uploaded.png"
    report = check(workflow, object_info, models)
    assert report["ok"] is False and report["missing_models"] == {}
    problems = {(e["node_id"], e["input"]): e for e in report["invalid_values"]}
    assert set(problems) == {
        ("3", "seed"),
        ("3", "steps"),
        ("3", "cfg"),
        ("3", "sampler_name"),
        ("3", "scheduler"),
        ("3", "positive"),
        ("3", "denoise"),
        ("10", "image"),
    }
    assert problems[("3", "steps")] == {
        "node_id": "3",
        "class_type": "KSampler",
        "input": "steps",
        "value": 0,
        "problem": "0 is below the minimum 1",
    }
    assert problems[("3", "cfg")]["problem"] == "101.5 is above the maximum 100.0"
    assert problems[("3", "seed")]["problem"] == "'abc' is not a number"
    assert problems[("3", "sampler_name")]["problem"].startswith("'euler_a' is not one of the choices (euler, ")
    assert problems[("3", "scheduler")]["value"] == "Karras"  # case counts
    assert problems[("3", "positive")]["problem"] == "linked to node 99, which is not in the workflow"
    assert problems[("3", "denoise")]["problem"] == "a required input is missing"
    assert problems[("10", "image")]["problem"] == "'not_uploaded.png' is not in ComfyUI's input folder"


def test_numeric_strings_that_comfyui_converts_are_accepted(object_info: dict, models: dict) -> None:
    workflow = load("sd15_txt2img")
    workflow["3"]["inputs"]["steps"] = "25"
    assert check(workflow, object_info, models)["ok"] is True
    workflow["3"]["inputs"]["steps"] = "25000"
    assert check(workflow, object_info, models)["invalid_values"][0]["problem"] == "25000.0 is above the maximum 10000"


def test_cozygen_choice_nodes_are_checked_against_their_choice_type(object_info: dict, models: dict) -> None:
    info = object_info  # holds the CozyGen nodes' real entries
    workflow = load("cozygen_nodes")
    assert check(workflow, info, models)["ok"] is True
    workflow["5"]["inputs"]["value"] = "juggernautXL_v10.safetensors"
    workflow["6"]["inputs"]["value"] = "Euler"
    workflow["7"]["inputs"]["value"] = "pastel"
    report = check(workflow, info, models)
    assert report["missing_models"] == {"checkpoints": ["juggernautXL_v10.safetensors"]}
    assert [(e["node_id"], e["input"], e["problem"]) for e in report["invalid_values"]] == [
        ("6", "value", "'Euler' is not one of the sampler choices"),
        ("7", "value", "'pastel' is not one of the fixed choices"),
    ]


def test_legacy_choice_falls_back_to_its_default_choice(object_info: dict, models: dict) -> None:
    workflow = load("cozygen_legacy")
    assert check(workflow, object_info, models)["ok"] is True
    workflow["6"]["inputs"]["default_choice"] = "old_model.safetensors"  # value "" → default_choice is used
    assert check(workflow, object_info, models)["missing_models"] == {"checkpoints": ["old_model.safetensors"]}
    workflow["6"]["inputs"]["value"] = "sd_xl_base_1.0.safetensors"  # a value set wins over default_choice
    assert check(workflow, object_info, models)["ok"] is True
    workflow["7"]["inputs"]["value"] = "Karras"
    assert [
        (e["node_id"], e["input"], e["problem"]) for e in check(workflow, object_info, models)["invalid_values"]
    ] == [("7", "value", "'Karras' is not one of the scheduler choices")]


def test_cozygen_number_outside_its_own_bounds_is_invalid(object_info: dict, models: dict) -> None:
    workflow = load("cozygen_nodes")
    workflow["3"]["inputs"]["value"] = 61  # steps: min 1, max 60 on the node
    workflow["4"]["inputs"]["value"] = 0.5  # cfg: min 1.0
    report = check(workflow, object_info, models)
    assert [(e["node_id"], e["problem"]) for e in report["invalid_values"]] == [
        ("3", "61 is above the maximum 60"),
        ("4", "0.5 is below the minimum 1.0"),
    ]


def test_ui_format_is_refused(object_info: dict) -> None:
    with pytest.raises(BadRequest) as caught:
        check({"nodes": [], "links": [], "version": 0.4}, object_info, {})
    assert caught.value.code == "UI_FORMAT"


def test_without_model_listings_object_info_alone_decides(object_info: dict) -> None:
    workflow = load("sd15_txt2img")
    workflow["4"]["inputs"]["ckpt_name"] = "dreamshaper_8.safetensors"
    report = check(workflow, object_info, None)
    assert report["missing_models"] == {"checkpoints": ["dreamshaper_8.safetensors"]}


def test_links_of_the_wrong_type_or_slot_are_reported(object_info: dict) -> None:
    workflow = load("sd15_txt2img")
    decode = next(i for i, n in workflow.items() if n["class_type"] == "VAEDecode")
    loader = next(i for i, n in workflow.items() if n["class_type"] == "CheckpointLoaderSimple")
    assert not [v for v in check(workflow, object_info)["invalid_values"] if v["input"] == "vae"]
    workflow[decode]["inputs"]["vae"] = [loader, 1]  # the checkpoint's CLIP, not its VAE
    (wrong,) = [v for v in check(workflow, object_info)["invalid_values"] if v["input"] == "vae"]
    assert wrong["problem"] == f"node {loader} gives CLIP here, but this input takes VAE"
    workflow[decode]["inputs"]["vae"] = [loader, 7]
    (slot,) = [v for v in check(workflow, object_info)["invalid_values"] if v["input"] == "vae"]
    assert slot["problem"] == f"linked to output 7 of node {loader}, which has 3 outputs"
