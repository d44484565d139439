"""core.graph.summary: generation fields out of ComfyUI API-format graphs, friendly or hostile."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo as PilPngInfo

from cozygen.core.graph import links as graph_links
from cozygen.core.graph import summary as prompt_summary
from cozygen.core.graph.summary import FIELDS, parse_prompt_text, seed_meta, summarize, summarize_png_text
from cozygen.core.media.metadata import cozygen_record
from cozygen.core.media.pnginfo import read_png_info


def node(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": class_type, "inputs": inputs}


def link(node_id: str | int, index: int = 0) -> list:
    return [node_id, index]


def sd15_default() -> dict[str, Any]:
    """ComfyUI's default text-to-image graph, as the API format saves it."""
    return {
        "3": node(
            "KSampler",
            seed=156680208700286,
            steps=20,
            cfg=8,
            sampler_name="euler",
            scheduler="normal",
            denoise=1,
            model=link("4"),
            positive=link("6"),
            negative=link("7"),
            latent_image=link("5"),
        ),
        "4": node("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors"),
        "5": node("EmptyLatentImage", width=512, height=768, batch_size=1),
        "6": node("CLIPTextEncode", text="beautiful scenery nature glass bottle landscape", clip=link("4", 1)),
        "7": node("CLIPTextEncode", text="text, watermark", clip=link("4", 1)),
        "8": node("VAEDecode", samples=link("3"), vae=link("4", 2)),
        "9": node("SaveImage", filename_prefix="ComfyUI", images=link("8")),
    }


def flux_custom_advanced() -> dict[str, Any]:
    return {
        "1": node("UNETLoader", unet_name="flux1-dev.safetensors", weight_dtype="default"),
        "2": node("DualCLIPLoader", clip_name1="t5xxl_fp16.safetensors", clip_name2="clip_l.safetensors", type="flux"),
        "3": node("CLIPTextEncode", text="a red fox in the snow", clip=link("2")),
        "4": node("FluxGuidance", conditioning=link("3"), guidance=3.5),
        "5": node("ModelSamplingFlux", model=link("12"), max_shift=1.15, base_shift=0.5, width=1024, height=1024),
        "6": node("BasicGuider", model=link("5"), conditioning=link("4")),
        "7": node("RandomNoise", noise_seed=42),
        "8": node("KSamplerSelect", sampler_name="euler"),
        "9": node("BasicScheduler", model=link("5"), scheduler="simple", steps=28, denoise=1.0),
        "10": node("EmptySD3LatentImage", width=1024, height=768, batch_size=1),
        "11": node(
            "SamplerCustomAdvanced",
            noise=link("7"),
            guider=link("6"),
            sampler=link("8"),
            sigmas=link("9"),
            latent_image=link("10"),
        ),
        "12": node("LoraLoaderModelOnly", model=link("1"), lora_name="fox-style.safetensors", strength_model=0.9),
        "13": node("VAEDecode", samples=link("11"), vae=link("14")),
        "14": node("VAELoader", vae_name="ae.safetensors"),
        "15": node("SaveImage", filename_prefix="flux", images=link("13")),
    }


def test_every_field_of_the_default_graph() -> None:
    assert summarize(sd15_default()) == {
        "positive": "beautiful scenery nature glass bottle landscape",
        "negative": "text, watermark",
        "seed": 156680208700286,
        "steps": 20,
        "cfg": 8.0,
        "sampler": "euler",
        "scheduler": "normal",
        "denoise": 1.0,
        "model": "v1-5-pruned-emaonly.safetensors",
        "loras": [],
        "width": 512,
        "height": 768,
    }


def test_positive_and_negative_are_not_swapped_by_node_order() -> None:
    graph = sd15_default()
    graph["3"]["inputs"]["positive"], graph["3"]["inputs"]["negative"] = link("7"), link("6")
    summary = summarize(graph)
    assert (summary["positive"], summary["negative"]) == (
        "text, watermark",
        "beautiful scenery nature glass bottle landscape",
    )


def test_chained_lora_loaders_in_the_order_they_apply() -> None:
    graph = sd15_default()
    graph.update(
        {
            "10": node(
                "LoraLoader",
                model=link("4"),
                clip=link("4", 1),
                lora_name="detail.safetensors",
                strength_model=0.8,
                strength_clip=1,
            ),
            "11": node(
                "LoraLoader",
                model=link("10"),
                clip=link("10", 1),
                lora_name="style.safetensors",
                strength_model=1,
                strength_clip=1,
            ),
            "12": node("ModelSamplingDiscrete", model=link("11"), sampling="eps", zsnr=False),
            "13": node(
                "LoraLoader",
                model=link("12"),
                clip=link("11", 1),
                lora_name="detail.safetensors",
                strength_model=0.2,
                strength_clip=0.2,
            ),
            "14": node(
                "LoraLoader",
                model=link("13"),
                clip=link("13", 1),
                lora_name="off.safetensors",
                strength_model=0,
                strength_clip=0,
            ),
            "15": node("LoraLoaderModelOnly", model=link("17"), lora_name="None", strength_model=1),
            "17": node("LoraLoaderModelOnly", model=link("14"), lora_name="glow.safetensors", strength_model=1),
            "16": node(
                "LoraLoader",
                model=link("4"),
                clip=link("4", 1),
                lora_name="unused.safetensors",
                strength_model=1,
                strength_clip=1,
            ),
        }
    )
    graph["3"]["inputs"]["model"] = link("15")
    summary = summarize(graph)
    assert summary["loras"] == ["detail.safetensors", "style.safetensors", "glow.safetensors"]
    assert summary["model"] == "v1-5-pruned-emaonly.safetensors"


def test_power_lora_loader_entries() -> None:
    graph = sd15_default()
    graph["10"] = node(
        "Power Lora Loader (rgthree)",
        model=link("4"),
        clip=link("4", 1),
        lora_1={"on": True, "lora": "a.safetensors", "strength": 1.0},
        lora_2={"on": False, "lora": "b.safetensors", "strength": 1.0},
        lora_3={"on": True, "lora": "c.safetensors", "strength": 0.5},
        **{"➕ Add Lora": ""},
    )
    graph["3"]["inputs"]["model"] = link("10")
    assert summarize(graph)["loras"] == ["a.safetensors", "c.safetensors"]


def test_sampler_custom_advanced_follows_noise_guider_sampler_and_sigmas() -> None:
    assert summarize(flux_custom_advanced()) == {
        "positive": "a red fox in the snow",
        "negative": None,
        "seed": 42,
        "steps": 28,
        "cfg": None,
        "sampler": "euler",
        "scheduler": "simple",
        "denoise": 1.0,
        "model": "flux1-dev.safetensors",
        "loras": ["fox-style.safetensors"],
        "width": 1024,
        "height": 768,
    }


def test_sdxl_cfg_guider_with_controlnet_split_sigmas_and_zeroed_negative() -> None:
    graph = {
        "1": node("CheckpointLoaderSimple", ckpt_name="sd_xl_base_1.0.safetensors"),
        "2": node(
            "CLIPTextEncodeSDXL",
            text_g="a lighthouse at dusk",
            text_l="oil painting",
            clip=link("1", 1),
            width=1024,
            height=1024,
        ),
        "3": node("CLIPTextEncode", text="blurry, low quality", clip=link("1", 1)),
        "4": node("ControlNetLoader", control_net_name="canny.safetensors"),
        "5": node(
            "ControlNetApplyAdvanced",
            positive=link("2"),
            negative=link("3"),
            control_net=link("4"),
            image=link("20"),
            strength=0.7,
        ),
        "6": node("CFGGuider", model=link("1"), positive=link("5", 0), negative=link("5", 1), cfg=5.5),
        "7": node("RandomNoise", noise_seed=7),
        "8": node("KSamplerSelect", sampler_name="dpmpp_2m"),
        "9": node("BasicScheduler", model=link("1"), scheduler="karras", steps=30, denoise=0.75),
        "10": node("SplitSigmas", sigmas=link("9"), step=10),
        "11": node(
            "SamplerCustomAdvanced",
            noise=link("7"),
            guider=link("6"),
            sampler=link("8"),
            sigmas=link("10", 1),
            latent_image=link("12"),
        ),
        "12": node("VAEEncode", pixels=link("20"), vae=link("1", 2)),
        "13": node("VAEDecode", samples=link("11"), vae=link("1", 2)),
        "14": node("CozyGenOutput", images=link("13")),
        "20": node("LoadImage", image="photo.png"),
    }
    summary = summarize(graph)
    assert summary == {
        "positive": "a lighthouse at dusk",
        "negative": "blurry, low quality",
        "seed": 7,
        "steps": 30,
        "cfg": 5.5,
        "sampler": "dpmpp_2m",
        "scheduler": "karras",
        "denoise": 0.75,
        "model": "sd_xl_base_1.0.safetensors",
        "loras": [],
        "width": None,  # the latent is an encoded image
        "height": None,
    }

    graph["6"]["inputs"]["negative"] = link("15")
    graph["15"] = node("ConditioningZeroOut", conditioning=link("2"))
    assert summarize(graph)["negative"] is None

    # An image-to-video latent carries its own size even though it starts from an image.
    graph["11"]["inputs"]["latent_image"] = link("16", 2)
    graph["16"] = node(
        "WanImageToVideo",
        positive=link("2"),
        negative=link("3"),
        vae=link("1", 2),
        start_image=link("20"),
        width=832,
        height=480,
        length=81,
    )
    assert (summarize(graph)["width"], summarize(graph)["height"]) == (832, 480)


def test_conditioning_nodes_are_walked_to_every_encoder() -> None:
    graph = sd15_default()
    graph.update(
        {
            "10": node("CLIPTextEncode", text="golden hour", clip=link("4", 1)),
            "11": node("ConditioningSetArea", conditioning=link("10"), width=256, height=256, x=0, y=0, strength=1),
            "12": node("ConditioningCombine", conditioning_1=link("6"), conditioning_2=link("11")),
            "13": node(
                "ConditioningAverage",
                conditioning_to=link("12"),
                conditioning_from=link("6"),
                conditioning_to_strength=0.5,
            ),
            "14": node("CLIPTextEncodeFlux", clip=link("4", 1), clip_l="", t5xxl="long t5 text", guidance=3.5),
            "15": node("ConditioningConcat", conditioning_to=link("7"), conditioning_from=link("14")),
        }
    )
    graph["3"]["inputs"].update(positive=link("13"), negative=link("15"))
    summary = summarize(graph)
    assert summary["positive"] == "beautiful scenery nature glass bottle landscape\ngolden hour"
    assert summary["negative"] == "text, watermark\nlong t5 text"


def test_seed_text_and_values_through_primitive_and_cozygen_nodes() -> None:
    graph = sd15_default()
    graph.update(
        {
            "20": node("CR Seed", seed=777),
            "21": node("PrimitiveInt", value=link("20")),
            "22": node("PrimitiveStringMultiline", value="a red car on a wet street"),
            "23": node("StringNode", text=link("22")),
            "24": node("CozyGenIntInput", param_name="Step Count", default_value=30, min=1, max=150),
            "25": node("CozyGenChoiceInput", param_name="Sampler", value="dpmpp_2m", choice_type="sampler"),
            "26": node("CozyGenChoiceInput", param_name="Base Model", default_value="dreamshaper_8.safetensors"),
            "27": node("CozyGenFloatInput", param_name="CFG", default_value=6.5),
            "28": node("CozyGenIntInput", param_name="Width", default_value=832),
        }
    )
    graph["3"]["inputs"].update(seed=link("21"), steps=link("24"), sampler_name=link("25"), cfg=link("27"))
    graph["6"]["inputs"]["text"] = link("23")
    graph["4"]["inputs"]["ckpt_name"] = link("26")
    graph["5"]["inputs"]["width"] = link("28")
    summary = summarize(graph)
    assert {k: summary[k] for k in ("positive", "seed", "steps", "sampler", "cfg", "model", "width", "height")} == {
        "positive": "a red car on a wet street",
        "seed": 777,
        "steps": 30,
        "sampler": "dpmpp_2m",
        "cfg": 6.5,
        "model": "dreamshaper_8.safetensors",
        "width": 832,
        "height": 768,
    }

    # The recorded CozyGen params are what the user chose: they win over the node's stored default,
    # even under names that are no summary field.
    chosen = summarize(graph, {"Step Count": 12, "Base Model": "other.safetensors"})
    assert (chosen["steps"], chosen["model"]) == (12, "other.safetensors")


def test_params_win_for_the_fields_they_name() -> None:
    params = {
        "Positive Prompt": "a cat",
        "negative_prompt": "dogs",
        "SEED": "99",
        "cfg": 4,
        "sampler_name": "euler_ancestral",
        "Scheduler": "karras",
        "ckpt_name": "m.safetensors",
        "width": 640,
        "Lora": "extra.safetensors",
        "denoise": "0.5",
        "unrelated": 1,
    }
    summary = summarize(sd15_default(), params)
    assert summary == {
        "positive": "a cat",
        "negative": "dogs",
        "seed": 99,
        "steps": 20,
        "cfg": 4.0,
        "sampler": "euler_ancestral",
        "scheduler": "karras",
        "denoise": 0.5,
        "model": "m.safetensors",
        "loras": ["extra.safetensors"],
        "width": 640,
        "height": 768,
    }


def test_params_that_cannot_be_values_are_ignored() -> None:
    summary = summarize(
        sd15_default(), {"seed": "abc", "steps": True, "cfg": [1], "prompt": "  ", "model": "None", 3: "x"}
    )
    assert summary == summarize(sd15_default())
    only = summarize(None, {"prompt": "only params", "steps": 9.0})
    assert (only["positive"], only["steps"], only["seed"], only["loras"]) == ("only params", 9, None, [])


def test_sampler_that_feeds_the_output_wins() -> None:
    graph = sd15_default()
    graph["1"] = node(
        "KSampler",
        seed=5,
        steps=4,
        cfg=1,
        sampler_name="lcm",
        scheduler="normal",
        denoise=1,
        model=link("4"),
        positive=link("7"),
        negative=link("6"),
        latent_image=link("5"),
    )
    assert summarize(graph)["seed"] == 156680208700286
    del graph["9"]  # no output at all: the lowest id wins
    assert summarize(graph)["seed"] == 5


def test_first_pass_is_preferred_over_the_hires_pass() -> None:
    graph = sd15_default()
    graph["3"]["inputs"]["latent_image"] = link("21")
    graph["20"] = node(
        "KSampler",
        seed=1,
        steps=25,
        cfg=7,
        sampler_name="dpmpp_2m",
        scheduler="karras",
        denoise=1,
        model=link("4"),
        positive=link("6"),
        negative=link("7"),
        latent_image=link("5"),
    )
    graph["21"] = node(
        "LatentUpscale", samples=link("20"), upscale_method="nearest-exact", width=1024, height=1536, crop="disabled"
    )
    summary = summarize(graph)
    assert (summary["seed"], summary["steps"], summary["denoise"]) == (1, 25, 1.0)
    assert (summary["width"], summary["height"]) == (512, 768)


def test_custom_sampler_nodes_are_found_but_helpers_are_not_samplers() -> None:
    graph = sd15_default()
    graph["3"] = node(
        "KSampler (Efficient)",
        seed=11,
        steps=15,
        cfg=6,
        sampler_name="euler",
        scheduler="normal",
        denoise=1,
        model=link("30"),
        positive=link("30", 1),
        negative=link("30", 2),
        latent_image=link("30", 3),
        preview_method="auto",
    )
    graph["30"] = node(
        "Efficient Loader",
        ckpt_name="eff.safetensors",
        lora_name="eff-lora.safetensors",
        lora_model_strength=1,
        positive="a castle",
        negative="ugly",
        empty_latent_width=512,
        empty_latent_height=512,
    )
    summary = summarize(graph)
    assert (summary["seed"], summary["positive"], summary["negative"]) == (11, "a castle", "ugly")
    assert (summary["model"], summary["loras"]) == ("eff.safetensors", ["eff-lora.safetensors"])

    # A guider that looks like a sampler (positive, negative, model) but is only part of one.
    flux = flux_custom_advanced()
    flux["6"] = node("MyGuidance", model=link("5"), positive=link("4"), negative=link("3"))
    flux["11"] = node("MySampler", noise_seed=5, steps=9, guider=link("6"), latent_image=link("10"))
    summary = summarize(flux)
    assert (summary["seed"], summary["steps"], summary["positive"]) == (5, 9, "a red fox in the snow")


def test_no_sampler_falls_back_to_loader_and_longest_text() -> None:
    graph = {
        "1": node("CheckpointLoaderSimple", ckpt_name="only.safetensors"),
        "2": node("CLIPTextEncode", text="short", clip=link("1", 1)),
        "3": node("CLIPTextEncode", text="the longest prompt text", clip=link("1", 1)),
        "4": node("LoraLoader", model=link("1"), clip=link("1", 1), lora_name="l.safetensors", strength_model=1),
    }
    summary = summarize(graph)
    assert (summary["model"], summary["positive"], summary["loras"]) == (
        "only.safetensors",
        "the longest prompt text",
        ["l.safetensors"],
    )
    assert summary["seed"] is None and summary["negative"] is None


def test_cyclic_and_dangling_links_do_not_raise() -> None:
    graph = {
        "1": node(
            "KSampler",
            seed=link("2"),
            steps=link("99"),
            cfg="high",
            sampler_name=link("1"),
            scheduler=None,
            denoise=link("5"),
            model=link("3"),
            positive=link("4"),
            negative=link("404", 0),
            latent_image=link("6"),
        ),
        "2": node("PrimitiveInt", value=link("2")),
        "3": node("LoraLoader", model=link("7"), lora_name="loop.safetensors", strength_model=1),
        "7": node("ModelSamplingSD3", model=link("3"), shift=3),
        "4": node("ConditioningCombine", conditioning_1=link("4"), conditioning_2=link("8")),
        "8": node("ConditioningSetArea", conditioning=link("4")),
        "5": node("PrimitiveFloat", value=link("1")),
        "6": node("LatentUpscale", samples=link("9"), width=1, height=1),
        "9": node("RepeatLatentBatch", samples=link("6"), amount=2),
        "10": node("SaveImage", images=link("11")),
        "11": node("VAEDecode", samples=link("1"), vae=link("11")),
    }
    summary = summarize(graph)
    assert summary == {**dict.fromkeys(FIELDS), "loras": ["loop.safetensors"]}


def test_long_chains_stop_at_the_depth_limit() -> None:
    graph = sd15_default()
    for i in range(100, 5100):
        graph[str(i)] = node(
            "ConditioningSetTimestepRange", conditioning=link(i - 1 if i > 100 else "6"), start=0, end=1
        )
    graph["3"]["inputs"]["positive"] = link("5099")
    summary = summarize(graph)
    assert summary["positive"] is None and summary["negative"] == "text, watermark"


def test_graphs_past_the_node_cap_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_summary, "MAX_NODES", 8)
    graph = sd15_default()
    assert summarize(graph)["seed"] == 156680208700286
    graph.update({"10": node("Note"), "11": node("Note")})
    assert summarize(graph, {"steps": 5}) == {**dict.fromkeys(FIELDS), "loras": [], "steps": 5}


def test_one_link_budget_for_all_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_links, "MAX_HOPS", 0)
    summary = summarize(sd15_default())
    assert (summary["positive"], summary["negative"], summary["width"]) == (None, None, None)
    assert (summary["seed"], summary["model"]) == (156680208700286, "v1-5-pruned-emaonly.safetensors")

    monkeypatch.setattr(graph_links, "MAX_HOPS", 2)  # one hop to each encoder, none left for the latent
    summary = summarize(sd15_default())
    assert (summary["positive"], summary["negative"]) == (
        "beautiful scenery nature glass bottle landscape",
        "text, watermark",
    )
    assert summary["width"] is None


@pytest.mark.parametrize(
    "prompt",
    [
        None,
        [],
        "KSampler",
        42,
        {"1": None, "2": [], "3": "x"},
        {"1": {"class_type": 5, "inputs": [1, 2]}, "2": {"inputs": {"seed": 3}}},
        {
            "1": node(
                "KSampler",
                seed=True,
                steps=1.5,
                cfg=float("nan"),
                positive=[True, 0],
                negative=[["1"], 0],
                model=[1, 2, 3],
            )
        },
        {"1": node("KSampler", seed="12", cfg=10**400, positive=link(1), negative=link("1", True), model=link({}, 0))},
        {1: node("KSampler", model=link(2)), 2: node("CheckpointLoaderSimple", ckpt_name=["x"])},
        {"1": node("KSampler", **{"1": 2}), "2": {"class_type": "KSampler", "inputs": {None: 1, 3: link("1")}}},
    ],
)
def test_junk_gives_empty_fields(prompt: Any) -> None:
    summary = summarize(prompt)
    assert list(summary) == list(FIELDS)
    assert summary["loras"] == [] and all(summary[k] is None for k in FIELDS if k != "loras")


def test_random_graphs_never_raise() -> None:
    rng = random.Random(20240601)
    names = [
        "seed",
        "noise_seed",
        "text",
        "model",
        "positive",
        "negative",
        "latent_image",
        "guider",
        "noise",
        "sigmas",
        "sampler",
        "value",
        "conditioning",
        "samples",
        "lora_name",
        "ckpt_name",
        "width",
        "steps",
        "cfg",
    ]
    types = [
        "KSampler",
        "SamplerCustomAdvanced",
        "CFGGuider",
        "CLIPTextEncode",
        "LoraLoader",
        "SaveImage",
        "CozyGenIntInput",
        "EmptyLatentImage",
        "RandomNoise",
        "BasicScheduler",
        "Whatever",
    ]

    def junk(ids: list[str]) -> Any:
        return rng.choice(
            [
                link(rng.choice(ids), 0),
                link("missing", 1),
                rng.randint(-5, 5),
                rng.random(),
                "txt",
                "",
                None,
                [1],
                {"on": True, "lora": 3},
                True,
                link(rng.randint(0, 30), 0),
            ]
        )

    for _ in range(400):
        ids = [str(i) for i in range(rng.randint(1, 25))]
        graph = {
            i: {
                "class_type": rng.choice(types),
                "inputs": {rng.choice(names): junk(ids) for _ in range(6)} | {"param_name": "seed"},
            }
            for i in ids
        }
        summary = summarize(graph, {"seed": junk(ids)})
        assert list(summary) == list(FIELDS) and isinstance(summary["loras"], list)
        seed_meta(summary)


def test_seed_meta_shape() -> None:
    assert seed_meta(summarize(sd15_default())) == {
        "model": "v1-5-pruned-emaonly.safetensors",
        "prompt": "beautiful scenery nature glass bottle landscape",
        "loras": [],
        "has_prompt": True,
    }
    assert seed_meta(summarize(flux_custom_advanced()))["loras"] == ["fox-style.safetensors"]
    assert seed_meta(summarize({"1": node("VAEDecode")})) == {"has_prompt": True}
    assert seed_meta({"loras": ["x.safetensors"]}) == {
        "model": None,
        "prompt": None,
        "loras": ["x.safetensors"],
        "has_prompt": True,
    }


@pytest.mark.parametrize(
    ("text", "is_graph"),
    [
        (json.dumps(sd15_default()), True),
        ('{"1": {"class_type": "X", "inputs": {}}}', True),
        ('{"nodes": [{"id": 1}], "links": []}', False),  # the editor's workflow format
        ("{}", False),
        ("[1, 2]", False),
        ('"just a string"', False),
        ("{not json", False),
        ("[" * 100_000, False),
        ("", False),
        (None, False),
    ],
)
def test_parse_prompt_text(text: str | None, is_graph: bool) -> None:
    parsed = parse_prompt_text(text)
    assert (parsed == json.loads(text)) if is_graph else parsed is None


def test_summarize_png_text_reads_prompt_and_cozygen_params() -> None:
    graph = sd15_default()
    record = {"version": 1, "prompt_id": "p1", "params": {"Prompt": "from params", "Seed": 3}}
    found, summary = summarize_png_text({"prompt": json.dumps(graph), "cozygen": json.dumps(record), "workflow": "{}"})
    assert found == graph
    assert (summary["positive"], summary["seed"], summary["negative"]) == ("from params", 3, "text, watermark")

    found, summary = summarize_png_text({"extra_pnginfo": json.dumps({"prompt": graph})})
    assert found == graph and summary["model"] == "v1-5-pruned-emaonly.safetensors"

    found, summary = summarize_png_text({"prompt": "garbage", "cozygen": "[not a record"})
    assert found is None and summary == {**dict.fromkeys(FIELDS), "loras": []}


def test_from_a_saved_png_to_gallery_meta(tmp_path: Path) -> None:
    graph = copy.deepcopy(sd15_default())
    graph["20"] = node("CozyGenStringInput", param_name="Positive Prompt", default_value="a lighthouse \u2603")
    graph["6"]["inputs"]["text"] = link("20")
    info = PilPngInfo()
    info.add_text("prompt", json.dumps(graph))
    info.add_text("workflow", json.dumps({"nodes": []}))
    info.add_text("cozygen", json.dumps(cozygen_record(graph, "job-1")))
    path = tmp_path / "out.png"
    Image.new("RGB", (64, 96)).save(path, pnginfo=info)

    png = read_png_info(path, keys={"prompt", "cozygen"})
    assert png is not None and (png.width, png.height) == (64, 96)
    found, summary = summarize_png_text(png.text)
    assert found == graph
    assert seed_meta(summary) == {
        "model": "v1-5-pruned-emaonly.safetensors",
        "prompt": "a lighthouse \u2603",
        "loras": [],
        "has_prompt": True,
    }
