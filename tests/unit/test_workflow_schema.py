"""core.graph.schema: the parameters of API-format workflows, read against a real /object_info."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from support import load_data

from cozygen.core.errors import BadRequest
from cozygen.core.graph.api_format import ensure_api_format, is_api_format, reject_ui_format
from cozygen.core.graph.object_info import choice_list, input_spec, model_folder
from cozygen.core.graph.parameter import Parameter
from cozygen.core.graph.schema import extract_schema


def load(name: str) -> dict[str, Any]:
    return load_data(f"unit/data/{name}.json")


def by_name(params: list[Parameter]) -> dict[str, Parameter]:
    return {p.name: p for p in params}


def ui_format() -> dict[str, Any]:
    """The editor's format, as ComfyUI's Save writes it (trimmed to two nodes)."""
    return {
        "last_node_id": 9,
        "last_link_id": 9,
        "nodes": [
            {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["v1-5-pruned-emaonly.safetensors"]},
            {
                "id": 3,
                "type": "KSampler",
                "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1],
            },
        ],
        "links": [[1, 4, 0, 3, 0, "MODEL"]],
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


# Format.


def test_api_format_is_recognised_and_the_ui_format_is_not() -> None:
    assert is_api_format(load("sd15_txt2img"))
    assert not is_api_format(ui_format())
    assert not is_api_format({})
    assert not is_api_format([{"class_type": "KSampler"}])
    assert not is_api_format({"3": {"inputs": {}}})  # no class_type
    assert not is_api_format({"3": {"class_type": "KSampler", "inputs": [1, 2]}})


def test_ui_format_is_refused_with_the_export_instructions(object_info: dict) -> None:
    with pytest.raises(BadRequest) as caught:
        reject_ui_format(ui_format())
    assert caught.value.code == "UI_FORMAT"
    assert caught.value.status == 400
    assert "Export (API)" in caught.value.message and "Save (API Format)" in caught.value.message
    with pytest.raises(BadRequest) as again:
        extract_schema(ui_format(), object_info)
    assert again.value.code == "UI_FORMAT"
    reject_ui_format(load("sd15_txt2img"))  # an API-format workflow passes


def test_anything_else_that_is_no_workflow_is_refused() -> None:
    for bad in ({}, [], "text", {"a": 1}):
        with pytest.raises(BadRequest) as caught:
            ensure_api_format(bad)
        assert caught.value.code == "NOT_API_FORMAT"


# object_info.


def test_input_spec_reads_both_combo_forms_and_numbers(object_info: dict) -> None:
    kind, _, choices = input_spec(object_info, "KSampler", "sampler_name")  # [[...], {...}]
    assert kind == "COMBO" and "euler" in choices and "dpmpp_2m" in choices
    kind, _, select = input_spec(object_info, "KSamplerSelect", "sampler_name")  # ["COMBO", {"options": [...]}]
    assert kind == "COMBO" and select == choices
    kind, options, _ = input_spec(object_info, "EmptyLatentImage", "width")
    assert (kind, options["min"], options["max"], options["step"]) == ("INT", 16, 16384, 8)
    assert input_spec(object_info, "DualCLIPLoader", "device")[0] == "COMBO"  # an optional input
    assert input_spec(object_info, "SaveImage", "prompt") == (None, {}, None)  # hidden inputs are not read
    assert input_spec(object_info, "NoSuchNode", "x") == (None, {}, None)


def test_choice_lists_come_from_the_nodes_that_use_them(object_info: dict) -> None:
    assert (
        choice_list("checkpoints", object_info)
        == object_info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    )
    assert choice_list("loras", object_info) == object_info["LoraLoader"]["input"]["required"]["lora_name"][0]
    assert choice_list("scheduler", object_info)[:3] == ["simple", "sgm_uniform", "karras"]
    assert choice_list("ipadapter", object_info) is None
    assert choice_list("ipadapter", object_info, {"ipadapter": ["ip.safetensors"]}) == ["ip.safetensors"]


def test_model_input_names_map_to_their_folders() -> None:
    assert model_folder("CheckpointLoaderSimple", "ckpt_name") == "checkpoints"
    assert model_folder("DualCLIPLoader", "clip_name2") == "text_encoders"
    assert model_folder("UNETLoader", "unet_name") == "diffusion_models"
    assert model_folder("CLIPVisionLoader", "clip_name") == "clip_vision"
    assert model_folder("UpscaleModelLoader", "model_name") == "upscale_models"
    assert model_folder("KSampler", "sampler_name") is None


# Workflows without CozyGen nodes.


def test_default_sd15_workflow(object_info: dict) -> None:
    params = extract_schema(load("sd15_txt2img"), object_info)
    assert [p.name for p in params] == [
        "positive",
        "negative",
        "seed",
        "steps",
        "cfg",
        "sampler_name",
        "scheduler",
        "denoise",
        "width",
        "height",
        "batch_size",
        "checkpoint",
    ]
    p = by_name(params)
    assert p["positive"].type == "text" and p["positive"].targets == [("6", "text")]
    assert p["positive"].default.startswith("beautiful scenery")
    assert p["negative"].targets == [("7", "text")] and p["negative"].default == "text, watermark"
    assert (p["seed"].type, p["seed"].default, p["seed"].min, p["seed"].max) == (
        "seed",
        156680208700286,
        0,
        18446744073709551615,
    )
    assert (p["steps"].type, p["steps"].min, p["steps"].max) == ("int", 1, 10000)
    assert (p["cfg"].type, p["cfg"].step, p["cfg"].max) == ("float", 0.1, 100.0)
    assert p["sampler_name"].choices == object_info["KSampler"]["input"]["required"]["sampler_name"][0]
    assert p["sampler_name"].choice_source == "sampler" and p["scheduler"].choice_source == "scheduler"
    assert (p["denoise"].min, p["denoise"].max) == (0.0, 1.0)
    assert (p["width"].targets, p["width"].step, p["width"].default) == ([("5", "width")], 8, 512)
    assert p["checkpoint"].choice_source == "checkpoints"
    assert p["checkpoint"].choices == ["SDXL/juggernautXL_v9.safetensors", "sd_xl_base_1.0.safetensors", sd15()]
    assert not any(param.required for param in params)
    assert [param.order for param in params] == list(range(len(params)))


def sd15() -> str:
    return "v1-5-pruned-emaonly.safetensors"


def test_bounds_and_choices_follow_object_info_not_a_built_in_list(object_info: dict) -> None:
    info = copy.deepcopy(object_info)
    info["KSampler"]["input"]["required"]["sampler_name"][0] = ["my_sampler"]
    info["KSampler"]["input"]["required"]["steps"][1]["max"] = 150
    p = by_name(extract_schema(load("sd15_txt2img"), info))
    assert p["sampler_name"].choices == ["my_sampler"]
    assert p["steps"].max == 150


def test_without_object_info_types_come_from_the_values(object_info: dict) -> None:
    p = by_name(extract_schema(load("sd15_txt2img"), {}))
    assert p["steps"].type == "int" and p["steps"].min is None
    assert p["seed"].type == "seed" and p["seed"].max == 18446744073709551615
    assert p["sampler_name"].type == "string" and p["sampler_name"].choices is None
    assert p["positive"].type == "text"


def test_sdxl_loras_are_numbered_in_the_order_they_apply(object_info: dict) -> None:
    p = by_name(extract_schema(load("sdxl_two_loras"), object_info))
    assert p["lora_1"].targets == [("10", "lora_name")]  # nearest the checkpoint
    assert p["lora_1"].default == "SDXL/xl_more_art-full_v1.safetensors"
    assert p["lora_1"].choices == object_info["LoraLoader"]["input"]["required"]["lora_name"][0]
    assert p["lora_1"].choice_source == "loras" and p["lora_1"].type == "choice"
    assert (p["lora_1_strength"].targets, p["lora_1_strength"].default) == ([("10", "strength_model")], 0.8)
    assert (p["lora_1_strength"].min, p["lora_1_strength"].max) == (-100.0, 100.0)
    assert p["lora_2"].targets == [("11", "lora_name")]
    assert p["lora_2_clip_strength"].targets == [("11", "strength_clip")]
    assert p["lora_2_clip_strength"].default == 0.5
    assert p["checkpoint"].default == "sd_xl_base_1.0.safetensors"
    assert "lora_3" not in p


def test_model_only_lora_has_no_clip_strength(object_info: dict) -> None:
    workflow = load("sdxl_two_loras")
    workflow["11"] = {
        "class_type": "LoraLoaderModelOnly",
        "inputs": {"lora_name": "pixel-art-xl.safetensors", "strength_model": 0.7, "model": ["10", 0]},
    }
    workflow["6"]["inputs"]["clip"] = workflow["7"]["inputs"]["clip"] = ["10", 1]
    p = by_name(extract_schema(workflow, object_info))
    assert p["lora_2"].targets == [("11", "lora_name")] and p["lora_2_strength"].default == 0.7
    assert "lora_2_clip_strength" not in p and "lora_1_clip_strength" in p


def test_img2img_exposes_the_loaded_image_and_no_size(object_info: dict) -> None:
    p = by_name(extract_schema(load("img2img"), object_info))
    assert p["image"].type == "image" and p["image"].targets == [("10", "image")]
    assert p["image"].default == "example.png" and p["image"].choices is None
    assert p["denoise"].default == 0.87
    assert "width" not in p and "height" not in p  # the size is the image's


def test_flux_custom_sampler_reads_its_helper_nodes(object_info: dict) -> None:
    params = extract_schema(load("flux_txt2img"), object_info)
    p = by_name(params)
    assert p["positive"].targets == [("6", "text")]
    assert "negative" not in p and "cfg" not in p  # BasicGuider: one conditioning, no cfg
    assert p["seed"].targets == [("25", "noise_seed")] and p["seed"].type == "seed"
    assert p["steps"].targets == [("17", "steps")] and p["denoise"].targets == [("17", "denoise")]
    assert p["scheduler"].targets == [("17", "scheduler")] and p["scheduler"].default == "simple"
    assert p["sampler_name"].targets == [("16", "sampler_name")]
    assert p["sampler_name"].choices == object_info["KSampler"]["input"]["required"]["sampler_name"][0]
    assert (p["guidance"].targets, p["guidance"].default, p["guidance"].max) == ([("26", "guidance")], 3.5, 100.0)
    assert p["unet_name"].choices == ["flux1-dev.safetensors", "flux1-schnell.safetensors"]
    assert p["unet_name"].choice_source == "diffusion_models" and "checkpoint" not in p
    assert (p["width"].targets, p["width"].step) == ([("27", "width")], 16)


def test_flux_cfg_guider_gives_cfg_and_a_negative_prompt(object_info: dict) -> None:
    workflow = load("flux_txt2img")
    workflow["22"] = {
        "class_type": "CFGGuider",
        "inputs": {"model": ["12", 0], "positive": ["26", 0], "negative": ["30", 0], "cfg": 2.5},
    }
    workflow["30"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "cartoon", "clip": ["11", 0]}}
    p = by_name(extract_schema(workflow, object_info))
    assert (p["cfg"].targets, p["cfg"].default) == ([("22", "cfg")], 2.5)
    assert p["negative"].targets == [("30", "text")]
    assert p["guidance"].targets == [("26", "guidance")]


def flux_encoder_workflow(t5xxl: str, clip_l: str) -> dict[str, Any]:
    workflow = load("flux_txt2img")
    workflow["6"] = {
        "class_type": "CLIPTextEncodeFlux",
        "inputs": {"clip": ["11", 0], "clip_l": clip_l, "t5xxl": t5xxl, "guidance": 4.0},
    }
    workflow["22"]["inputs"]["conditioning"] = ["6", 0]
    del workflow["26"]
    return workflow


def test_flux_encoder_with_one_text_is_one_prompt_written_twice(object_info: dict) -> None:
    p = by_name(extract_schema(flux_encoder_workflow("a castle", "a castle"), object_info))
    assert p["positive"].targets == [("6", "t5xxl"), ("6", "clip_l")]
    assert "positive_clip_l" not in p
    assert p["guidance"].targets == [("6", "guidance")]  # no FluxGuidance node: the encoder's own


def test_flux_encoder_with_two_texts_is_two_prompts(object_info: dict) -> None:
    p = by_name(extract_schema(flux_encoder_workflow("a castle on a hill at dawn", "castle"), object_info))
    assert p["positive"].targets == [("6", "t5xxl")] and p["positive"].default == "a castle on a hill at dawn"
    assert p["positive_clip_l"].targets == [("6", "clip_l")] and p["positive_clip_l"].default == "castle"


def test_two_samplers_get_their_own_parameters_but_share_nodes(object_info: dict) -> None:
    workflow = load("sd15_txt2img")
    # a second pass (id "2", lower than the first pass's "3") that refines the first pass's latent
    workflow["2"] = copy.deepcopy(workflow["3"])
    workflow["2"]["inputs"].update(seed=7, steps=10, denoise=0.45, latent_image=["3", 0])
    workflow["8"]["inputs"]["samples"] = ["2", 0]
    params = extract_schema(workflow, object_info)
    p = by_name(params)
    assert p["seed"].targets == [("3", "seed")] and p["seed_2"].targets == [("2", "seed")]
    assert p["steps_2"].default == 10 and p["denoise_2"].default == 0.45
    assert p["seed"].group == "Sampling 1" and p["seed_2"].group == "Sampling 2"
    names = [param.name for param in params]
    for shared in ("positive", "negative", "checkpoint", "width"):
        assert names.count(shared) == 1 and f"{shared}_2" not in p
    assert all(len(param.targets) == 1 for param in params)
    assert len({t for param in params for t in param.targets}) == len(params)  # no input twice


def test_a_linked_value_is_not_a_parameter(object_info: dict) -> None:
    workflow = load("sd15_txt2img")
    workflow["3"]["inputs"]["steps"] = ["40", 0]
    workflow["6"]["inputs"]["text"] = ["41", 0]
    workflow["40"] = {"class_type": "PrimitiveInt", "inputs": {"value": 30}}
    workflow["41"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a cat"}}
    p = by_name(extract_schema(workflow, object_info))
    assert "steps" not in p and "positive" not in p
    assert p["negative"].targets == [("7", "text")]


def test_node_that_makes_its_own_image_is_read_like_a_sampler(object_info: dict) -> None:
    workflow = {
        "1": {
            "class_type": "CozyGenProceduralImage",
            "inputs": {"width": 640, "height": 384, "seed": 5, "text": "sunset", "steps": 8, "batch_size": 2},
        },
        "2": {"class_type": "CozyGenOutput", "inputs": {"images": ["1", 0], "filename_prefix": "CozyGen/test"}},
    }
    p = by_name(extract_schema(workflow, object_info))
    assert set(p) == {"positive", "seed", "steps", "width", "height", "batch_size"}
    assert p["positive"].targets == [("1", "text")] and p["positive"].type == "text"
    assert (p["width"].default, p["width"].max, p["width"].step) == (640, 4096, 8)
    assert (p["batch_size"].max, p["steps"].max) == (16, 200)


def test_hostile_graph_with_a_conditioning_loop_ends(object_info: dict) -> None:
    workflow = load("sd15_txt2img")
    workflow["6"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["7", 0]},
    }
    p = by_name(extract_schema(workflow, object_info))
    assert p["positive"].targets == [("7", "text")]
    assert "negative" not in p  # the same encoder: one parameter


# Workflows with CozyGen nodes.


def test_cozygen_nodes_define_the_schema(object_info: dict) -> None:
    params = extract_schema(load("cozygen_nodes"), object_info)
    assert [p.name for p in params] == [
        "prompt",
        "checkpoint",
        "seed",
        "steps",
        "cfg",
        "sampler",
        "style",
        "photo",  # order 8, node 9
        "size",  # order 8, node 10
        "keep_size",
    ]
    p = by_name(params)
    assert (p["prompt"].type, p["prompt"].label, p["prompt"].group) == ("text", "Prompt", "Prompt")
    assert p["prompt"].description == "What to draw" and p["prompt"].targets == [("1", "value")]
    assert (p["seed"].type, p["seed"].randomize, p["seed"].default, p["seed"].targets) == (
        "seed",
        True,
        1234,
        [("2", "seed")],
    )
    assert (p["steps"].min, p["steps"].max, p["steps"].step, p["steps"].default) == (1, 60, 1, 25)
    assert (p["cfg"].type, p["cfg"].min, p["cfg"].max, p["cfg"].step) == ("float", 1.0, 20.0, 0.5)
    assert p["checkpoint"].choices == choice_list("checkpoints", object_info)
    assert p["checkpoint"].choice_source == "checkpoints" and p["checkpoint"].label == "Model"
    assert p["sampler"].choices == object_info["KSampler"]["input"]["required"]["sampler_name"][0]
    assert p["style"].choices == ["photo", "oil painting", "watercolor"] and p["style"].choice_source == "fixed"
    assert (p["photo"].type, p["photo"].targets) == ("image", [("9", "image")])
    assert p["photo"].default == "output::CozyGen::phone_00003_.png"
    assert (p["keep_size"].type, p["keep_size"].default) == ("boolean", False)
    assert "scheduler" not in p and "denoise" not in p  # the graph's own values are not offered


def test_cozygen_choice_of_an_unknown_folder_has_no_choices(object_info: dict) -> None:
    workflow = {
        "1": {
            "class_type": "CozyGenChoice",
            "inputs": {"param_name": "adapter", "choice_type": "ipadapter", "value": "ip-adapter_sd15.safetensors"},
        },
        "2": {"class_type": "CozyGenChoice", "inputs": {"param_name": "lora", "choice_type": "loras", "value": ""}},
    }
    p = by_name(extract_schema(workflow, object_info))
    assert p["adapter"].choices is None and p["adapter"].choice_source == "ipadapter"  # this host cannot say
    assert p["lora"].choices == choice_list("loras", object_info)
    assert p["lora"].default is None and p["lora"].required  # nothing chosen: no default
    models = {"ipadapter": ["ip-adapter_sd15.safetensors", "ip-adapter_sdxl.safetensors"]}
    assert by_name(extract_schema(workflow, object_info, models=models))["adapter"].choices == models["ipadapter"]


def test_cozygen_nodes_sharing_a_name_share_one_value(object_info: dict) -> None:
    workflow = {
        "1": {"class_type": "CozyGenInt", "inputs": {"param_name": "size", "value": 512, "min": 64, "max": 2048}},
        "2": {"class_type": "CozyGenInt", "inputs": {"param_name": "size", "value": 512, "min": 64, "max": 2048}},
        "3": {"class_type": "CozyGenString", "inputs": {"param_name": "size", "value": "large"}},
        "4": {"class_type": "CozyGenFloat", "inputs": {"param_name": "cfg", "value": ["9", 0]}},
        "5": {"class_type": "CozyGenString", "inputs": {"param_name": "", "value": "x"}},
    }
    params = extract_schema(workflow, object_info)
    p = by_name(params)
    assert p["size"].targets == [("1", "value"), ("2", "value")]
    assert p["size_2"].type == "string" and p["size_2"].targets == [("3", "value")]
    assert "cfg" not in p  # its value is a link
    assert p["string_5"].targets == [("5", "value")]  # no param_name: a generated one


def test_legacy_cozygen_nodes(object_info: dict) -> None:
    params = extract_schema(load("cozygen_legacy"), object_info)
    assert [p.name for p in params] == [
        "Positive Prompt",
        "Negative Prompt",
        "Checkpoint",
        "Seed",
        "Steps",
        "CFG",
        "Scheduler",
        "Denoise",
        "Init Image",  # no priority: the legacy default 10
        "Hires",
    ]
    p = by_name(params)
    assert p["Positive Prompt"].type == "text" and p["Negative Prompt"].type == "string"
    assert p["Positive Prompt"].targets == [("1", "default_value")]
    assert p["Checkpoint"].default == sd15()  # value "" falls back to default_choice
    assert p["Checkpoint"].targets == [("6", "value")] and p["Checkpoint"].choice_source == "checkpoints"
    assert p["Scheduler"].default == "karras" and "karras" in p["Scheduler"].choices
    assert (p["Seed"].type, p["Seed"].default, p["Seed"].max) == ("seed", 8675309, 9999999999)
    assert (p["Steps"].type, p["Steps"].min, p["Steps"].max) == ("int", 1, 150)
    assert (p["CFG"].default, p["CFG"].step) == (6.5, 0.5)
    assert (p["Denoise"].type, p["Denoise"].default) == ("float", 0.75)  # the Dynamic node's text, cast
    assert (p["Hires"].type, p["Hires"].default) == ("boolean", True)
    assert p["Init Image"].targets == [("9", "image_filename")] and p["Init Image"].default == "portraits/cat.png"


def test_parameter_round_trips_through_json(object_info: dict) -> None:
    params = extract_schema(load("cozygen_nodes"), object_info)
    dumped = orjson.loads(orjson.dumps([p.to_dict() for p in params]))
    assert dumped[2]["targets"] == [["2", "seed"]] and dumped[2]["randomize"] is True
    assert [Parameter.from_dict(d) for d in dumped] == params
