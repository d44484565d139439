"""CozyGen's input, legacy and video nodes on a real ComfyUI: queued on /prompt, watched on /ws."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import av
import numpy as np
import pytest
from PIL import Image
from support import get, post, run_and_watch

NEW_NODES = {
    "CozyGenString": "CozyGen String",
    "CozyGenInt": "CozyGen Int",
    "CozyGenFloat": "CozyGen Float",
    "CozyGenBoolean": "CozyGen Boolean",
    "CozyGenSeed": "CozyGen Seed",
    "CozyGenChoice": "CozyGen Choice",
    "CozyGenImage": "CozyGen Image",
    "CozyGenVideoOutput": "CozyGen Video Output",
}
LEGACY_NODES = {
    "CozyGenDynamicInput": ("CozyGen Dynamic Input", "CozyGen"),
    "CozyGenImageInput": ("CozyGen Image Input", "CozyGen"),
    "CozyGenFloatInput": ("CozyGen Float Input", "CozyGen/Static"),
    "CozyGenIntInput": ("CozyGen Int Input", "CozyGen/Static"),
    "CozyGenStringInput": ("CozyGen String Input", "CozyGen/Static"),
    "CozyGenChoiceInput": ("CozyGen Choice Input", "CozyGen/Static"),
}
FINISHED = ("execution_success", "execution_error", "execution_interrupted")


# -- helpers ------------------------------------------------------------------------------
def run(comfyui, graph: dict, *, ok: bool = True) -> list[dict]:
    _, messages = asyncio.run(run_and_watch(comfyui.url, graph))
    if ok:
        errors = [m["data"] for m in messages if m["type"] == "execution_error"]
        assert messages[-1]["type"] == "execution_success", errors
    return messages


def outputs_of(messages: list[dict], node_id: str, key: str = "images") -> list[dict]:
    return [
        item
        for m in messages
        if m["type"] == "executed" and m["data"]["node"] == node_id
        for item in m["data"]["output"].get(key, [])
    ]


def pixels_of(comfyui, messages: list[dict], node_id: str) -> list[np.ndarray]:
    found = []
    for item in outputs_of(messages, node_id):
        with Image.open(comfyui.output_dir / item["subfolder"] / item["filename"]) as image:
            found.append(np.asarray(image.convert("RGB")))
    assert found, f"node {node_id} saved nothing"
    return found


def form(param_name: str, **inputs: Any) -> dict:
    return {"param_name": param_name, **inputs}


def node(class_type: str, **inputs: Any) -> dict:
    return {"class_type": class_type, "inputs": inputs}


def procedural(**inputs: Any) -> dict:
    values = {"width": 64, "height": 64, "seed": 1, "text": "cozy", "steps": 3, "batch_size": 1, **inputs}
    return node("CozyGenProceduralImage", **values)


def save(source: str, prefix: str = "CozyGen/nodes", slot: int = 0) -> dict:
    return node("CozyGenOutput", images=[source, slot], filename_prefix=prefix)


def _close(got: np.ndarray, expected: np.ndarray) -> bool:
    """Equal up to the one-level rounding of a float round trip (saving truncates 255 * x)."""
    return got.shape == expected.shape and int(np.abs(got.astype(int) - expected.astype(int)).max()) <= 1


def rendered(comfyui, **inputs: Any) -> np.ndarray:
    """The pixels the procedural image gives for literal inputs: what a linked value must reproduce."""
    (image,) = pixels_of(comfyui, run(comfyui, {"1": procedural(**inputs), "2": save("1")}), "2")
    return image


def node_error(reply, node_id: str) -> str:
    assert reply.status == 400, reply.body[:500]
    errors = reply.json()["node_errors"]
    assert node_id in errors, errors
    return json.dumps(errors[node_id])


# -- object_info ----------------------------------------------------------------------------
def test_object_info_lists_every_cozygen_node_with_its_category_and_name(comfyui) -> None:
    info = get(f"{comfyui.url}/object_info").json()
    for name, display in NEW_NODES.items():
        assert info[name]["display_name"] == display
        assert info[name]["category"] == "CozyGen"
        assert info[name]["description"]
        assert not info[name].get("deprecated")
        for section in ("required", "optional"):
            for input_name, spec in info[name]["input"].get(section, {}).items():
                assert len(spec) == 2 and spec[1].get("tooltip"), f"{name}.{input_name} has no tooltip"
    for name, (display, category) in LEGACY_NODES.items():
        assert info[name]["display_name"] == display
        assert info[name]["category"] == category
        assert info[name]["deprecated"] is True  # still runs, but the editor's search offers the new nodes

    common = {"label", "order", "group", "description"}
    for name in ("CozyGenString", "CozyGenInt", "CozyGenFloat", "CozyGenBoolean", "CozyGenSeed", "CozyGenChoice"):
        assert "param_name" in info[name]["input"]["required"]
        assert common <= set(info[name]["input"]["optional"])
    assert info["CozyGenChoice"]["output"] == ["*"]
    choice_types = info["CozyGenChoice"]["input"]["required"]["choice_type"][0]
    assert choice_types[0] == "fixed" and choice_types[-2:] == ["sampler", "scheduler"]
    assert {"checkpoints", "loras", "vae"} <= set(choice_types) and "custom_nodes" not in choice_types
    assert info["CozyGenSeed"]["input"]["required"]["seed"][1]["max"] == 0xFFFFFFFFFFFFFFFF
    assert info["CozyGenImage"]["output"] == ["IMAGE", "MASK"]
    video = info["CozyGenVideoOutput"]
    assert video["output_node"] is True
    assert video["input"]["required"]["format"][0] == ["video/webm", "video/mp4", "image/gif"]
    frame_rate = video["input"]["required"]["frame_rate"][1]
    assert (frame_rate["default"], frame_rate["min"], frame_rate["max"]) == (8, 1, 60)
    # the original names keep their original inputs and defaults
    legacy_int = info["CozyGenIntInput"]["input"]["required"]
    assert list(legacy_int) == [
        "param_name",
        "priority",
        "default_value",
        "min_value",
        "max_value",
        "step",
        "add_randomize_toggle",
    ]
    assert legacy_int["max_value"][1]["default"] == 9999999999
    dynamic = info["CozyGenDynamicInput"]["input"]
    assert set(dynamic["hidden"]) == {"choices", "multiline", "min_value", "max_value", "step"}
    assert dynamic["required"]["param_type"][0] == ["STRING", "INT", "FLOAT", "BOOLEAN", "DROPDOWN"]
    choice = info["CozyGenChoiceInput"]["input"]
    assert "value" in choice["hidden"] and choice["required"]["default_choice"][0][0] == "None"
    assert "euler" in choice["required"]["default_choice"][0]


# -- values into the procedural image --------------------------------------------------------
def test_string_int_and_seed_drive_the_procedural_image_exactly(comfyui) -> None:
    graph = {
        "1": node("CozyGenString", **form("prompt", value="a quiet lake", multiline=True, order=1, group="Prompt")),
        "2": node("CozyGenInt", **form("steps", value=5, min=1, max=50, step=1, label="Steps")),
        "3": node("CozyGenSeed", **form("seed", seed=0xFFFFFFFFFFFFFFF0 - 2, randomize=True)),
        "4": procedural(text=["1", 0], steps=["2", 0], seed=["3", 0], width=48, height=40),
        "5": save("4"),
    }
    messages = run(comfyui, graph)
    progress = [m["data"] for m in messages if m["type"] == "progress" and m["data"]["node"] == "4"]
    assert {p["max"] for p in progress} == {5}
    (linked,) = pixels_of(comfyui, messages, "5")
    assert linked.shape == (40, 48, 3)

    expected = rendered(comfyui, text="a quiet lake", steps=5, seed=0xFFFFFFFFFFFFFFF0 - 2, width=48, height=40)
    assert np.array_equal(linked, expected)

    graph["3"]["inputs"]["seed"] = 12345
    (other,) = pixels_of(comfyui, run(comfyui, graph), "5")
    assert not np.array_equal(linked, other)

    ready = [m["data"] for m in messages if m["type"] == "cozygen_batch_ready"]
    assert len(ready) == 1 and ready[0]["images"][0]["subfolder"] == "CozyGen"


def test_float_and_a_fixed_choice_feed_a_core_nodes_float_and_combo(comfyui) -> None:
    graph = {
        "1": procedural(width=64, height=48),
        "2": node("CozyGenFloat", **form("scale", value=1.5, min=0.5, max=2.0, step=0.25)),
        "3": node(
            "CozyGenChoice",
            **form("method", choice_type="fixed", value="bilinear", choices="nearest-exact\n bilinear \n\nbicubic"),
        ),
        "4": node("ImageScaleBy", image=["1", 0], upscale_method=["3", 0], scale_by=["2", 0]),
        "5": save("4"),
    }
    (scaled,) = pixels_of(comfyui, run(comfyui, graph), "5")
    assert scaled.shape == (72, 96, 3)

    graph["2"]["inputs"]["value"] = 0.5
    (smaller,) = pixels_of(comfyui, run(comfyui, graph), "5")
    assert smaller.shape == (24, 32, 3)


def test_a_choice_of_the_samplers_list_passes_the_name_through(comfyui) -> None:
    graph = {
        "1": node("CozyGenChoice", **form("sampler", choice_type="sampler", value="dpmpp_2m")),
        "2": procedural(text=["1", 0]),
        "3": save("2"),
    }
    (chosen,) = pixels_of(comfyui, run(comfyui, graph), "3")
    assert np.array_equal(chosen, rendered(comfyui, text="dpmpp_2m"))

    graph["1"]["inputs"]["value"] = "no_such_sampler"
    details = node_error(post(f"{comfyui.url}/prompt", {"prompt": graph}), "1")
    assert "no_such_sampler" in details and "sampler list" in details


def test_choice_values_must_be_in_their_list(comfyui) -> None:
    def graph(**choice: Any) -> dict:
        return {
            "1": procedural(),
            "2": node("CozyGenChoice", **form("method", **choice)),
            "3": node("ImageScale", image=["1", 0], upscale_method=["2", 0], width=32, height=32, crop="disabled"),
            "4": save("3"),
        }

    fixed = graph(choice_type="fixed", value="lanczos", choices="area\nbicubic")
    assert "'lanczos' is not in the fixed choices" in node_error(post(f"{comfyui.url}/prompt", {"prompt": fixed}), "2")
    empty = graph(choice_type="fixed", value="area", choices="")
    assert "fixed choice list is empty" in node_error(post(f"{comfyui.url}/prompt", {"prompt": empty}), "2")
    model = graph(choice_type="checkpoints", value="missing.safetensors")
    assert "missing.safetensors" in node_error(post(f"{comfyui.url}/prompt", {"prompt": model}), "2")
    unknown = graph(choice_type="no_such_folder", value="x")
    assert "unknown choice_type" in node_error(post(f"{comfyui.url}/prompt", {"prompt": unknown}), "2")

    (ok,) = pixels_of(comfyui, run(comfyui, graph(choice_type="fixed", value="area", choices="area\nbicubic")), "4")
    assert ok.shape == (32, 32, 3)


def test_boolean_feeds_a_core_boolean_input(comfyui) -> None:
    def stitched(flag: bool) -> np.ndarray:
        graph = {
            "1": procedural(width=64, height=64),
            "2": procedural(width=32, height=32, seed=2),
            "3": node("CozyGenBoolean", **form("match", value=flag)),
            "4": node(
                "ImageStitch",
                image1=["1", 0],
                image2=["2", 0],
                direction="right",
                match_image_size=["3", 0],
                spacing_width=0,
                spacing_color="white",
            ),
            "5": save("4"),
        }
        (image,) = pixels_of(comfyui, run(comfyui, graph), "5")
        return image

    assert stitched(True).shape == (64, 128, 3)  # image2 scaled up to image1's height
    assert stitched(False).shape == (64, 96, 3)  # image2 kept at 32x32 and padded


# -- ranges: never clamped ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("class_type", "inputs", "message"),
    [
        ("CozyGenInt", {"value": 101, "min": 0, "max": 100}, "value 101 is outside the allowed range 0 to 100"),
        ("CozyGenInt", {"value": -1, "min": 0, "max": 100}, "value -1 is outside the allowed range 0 to 100"),
        ("CozyGenInt", {"value": 5, "min": 10, "max": 1}, "min (10) is greater than max (1)"),
        ("CozyGenFloat", {"value": 2.5, "min": 0.0, "max": 2.0}, "value 2.5 is outside the allowed range 0.0 to 2.0"),
    ],
)
def test_an_out_of_range_value_is_refused_by_comfyuis_validation(comfyui, class_type, inputs, message) -> None:
    graph = {
        "1": procedural(),
        "2": node(class_type, **form("n", **inputs)),
        "3": node("ImageScaleBy", image=["1", 0], upscale_method="area", scale_by=1.0)
        if class_type == "CozyGenFloat"
        else procedural(steps=["2", 0]),
        "4": save("3"),
    }
    if class_type == "CozyGenFloat":
        graph["3"]["inputs"]["scale_by"] = ["2", 0]
    details = node_error(post(f"{comfyui.url}/prompt", {"prompt": graph}), "2")
    assert message in details and "custom_validation_failed" in details


def test_a_linked_out_of_range_value_fails_the_run_with_comfyuis_execution_error(comfyui) -> None:
    graph = {
        "1": node("CozyGenInt", **form("outer", value=150, min=0, max=1000)),
        "2": node("CozyGenInt", **form("inner", value=["1", 0], min=1, max=100)),
        "3": procedural(steps=["2", 0]),
        "4": save("3"),
    }
    messages = run(comfyui, graph, ok=False)
    (error,) = [m["data"] for m in messages if m["type"] == "execution_error"]
    assert error["node_id"] == "2" and error["exception_type"] == "ValueError"
    assert "value 150 is outside the allowed range 1 to 100" in error["exception_message"]
    assert not outputs_of(messages, "4")


def test_a_seed_outside_64_bits_is_refused(comfyui) -> None:
    graph = {"1": node("CozyGenSeed", **form("seed", seed=2**64)), "2": procedural(seed=["1", 0]), "3": save("2")}
    node_error(post(f"{comfyui.url}/prompt", {"prompt": graph}), "1")


# -- images: exactly what LoadImage gives ------------------------------------------------------------
def _rgba() -> Image.Image:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    pixels[:10, :, 3] = 0
    pixels[10:20, :, 3] = 128
    pixels[20:, :, 3] = 255
    return Image.fromarray(pixels, "RGBA")


def _exif_rotated() -> bytes:
    image = Image.fromarray(np.random.default_rng(6).integers(0, 256, (20, 36, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def _palette_with_transparency() -> bytes:
    image = Image.fromarray(np.random.default_rng(7).integers(0, 4, (16, 24), dtype=np.uint8), "P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0] + [0] * (256 * 3 - 12))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=2)
    return buffer.getvalue()


def _thirty_two_bit() -> bytes:
    image = Image.fromarray((np.arange(24 * 16, dtype=np.int32).reshape(16, 24) * 150).astype(np.int32), "I")
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF")  # reopens in mode I, which LoadImage scales by 1/255
    return buffer.getvalue()


def _sixteen_bit() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(24 * 16, dtype=np.uint16).reshape(16, 24) * 150).save(buffer, format="PNG")
    return buffer.getvalue()


def _gray() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (12, 1)), "L").save(buffer, format="PNG")
    return buffer.getvalue()


def _gif_frames() -> bytes:
    frames = [Image.new("RGB", (20, 14), colour) for colour in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


IMAGES = {
    "rgba.png": lambda: _png(_rgba()),
    "rotated.jpg": _exif_rotated,
    "palette.png": _palette_with_transparency,
    "sixteen.png": _sixteen_bit,
    "thirty-two.tif": _thirty_two_bit,
    "gray.png": _gray,
    "frames.gif": _gif_frames,
}


def _both_loaders(comfyui, filename: str, reference: str) -> tuple[list, list, list, list]:
    graph = {
        "1": node("LoadImage", image=filename),
        "2": node("CozyGenImage", **form("picture", image=reference)),
        "3": save("1", "CozyGen/load_image"),
        "4": save("2", "CozyGen/cozygen_image"),
        "5": node("MaskToImage", mask=["1", 1]),
        "6": node("MaskToImage", mask=["2", 1]),
        "7": save("5", "CozyGen/load_mask"),
        "8": save("6", "CozyGen/cozygen_mask"),
    }
    messages = run(comfyui, graph)
    return tuple(pixels_of(comfyui, messages, n) for n in ("3", "4", "7", "8"))  # type: ignore[return-value]


@pytest.mark.parametrize("filename", list(IMAGES))
def test_the_image_node_loads_exactly_as_load_image(comfyui, filename: str) -> None:
    (comfyui.input_dir / filename).write_bytes(IMAGES[filename]())
    images, ours, masks, our_masks = _both_loaders(comfyui, filename, filename)
    assert len(ours) == len(images) == (3 if filename.endswith(".gif") else 1)
    for expected, got in zip(images + masks, ours + our_masks, strict=True):
        assert got.shape == expected.shape and np.array_equal(got, expected)
    if filename == "rotated.jpg":
        assert ours[0].shape == (36, 20, 3)  # EXIF orientation applied
    if filename == "rgba.png":  # MASK = 1 - alpha
        assert our_masks[0][5, 5, 0] == 255 and our_masks[0][25, 5, 0] == 0
        assert 126 <= our_masks[0][15, 5, 0] <= 128
    if filename == "gray.png":
        assert our_masks[0].shape == (64, 64, 3) and not our_masks[0].any()  # no alpha: LoadImage's zero mask


def test_the_image_node_reads_the_output_folder_and_stays_inside_its_roots(comfyui) -> None:
    folder = comfyui.output_dir / "earlier run"
    folder.mkdir(exist_ok=True)
    source = _rgba()
    source.save(folder / "made here.png")
    graph = {
        "1": node("CozyGenImage", **form("picture", image="output::earlier run::made here.png")),
        "2": node("ImageInvert", image=["1", 0]),
        "3": save("2"),
    }
    (inverted,) = pixels_of(comfyui, run(comfyui, graph), "3")
    assert _close(inverted, 255 - np.asarray(source.convert("RGB")))

    (comfyui.input_dir / "nested" / "deeper").mkdir(parents=True, exist_ok=True)
    source.save(comfyui.input_dir / "nested" / "deeper" / "in.png")
    graph["1"]["inputs"]["image"] = "nested/deeper/in.png"
    (again,) = pixels_of(comfyui, run(comfyui, graph), "3")
    assert np.array_equal(again, inverted)

    (comfyui.base / "secret.png").write_bytes(_png(source))
    for bad, why in [
        ("../secret.png", "may not contain '..'"),
        ("output::../::secret.png", "may not contain '..'"),
        ("/etc/passwd", "must be relative"),
        ("nothing-here.png", "image not found in the input folder"),
        ("output::earlier run::gone.png", "image not found in the output folder"),
        ("", "no image chosen"),
    ]:
        graph["1"]["inputs"]["image"] = bad
        assert why in node_error(post(f"{comfyui.url}/prompt", {"prompt": graph}), "1"), bad

    (comfyui.input_dir / "escape").symlink_to(comfyui.base, target_is_directory=True)
    graph["1"]["inputs"]["image"] = "escape/secret.png"
    assert "outside its folder" in node_error(post(f"{comfyui.url}/prompt", {"prompt": graph}), "1")


def test_a_changed_file_under_the_same_name_is_read_again(comfyui) -> None:
    path = comfyui.input_dir / "changing.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path)
    graph = {"1": node("CozyGenImage", **form("picture", image="changing.png")), "2": save("1", "CozyGen/changing")}
    (first,) = pixels_of(comfyui, run(comfyui, graph), "2")
    Image.new("RGB", (8, 8), (200, 100, 50)).save(path)
    (second,) = pixels_of(comfyui, run(comfyui, graph), "2")
    assert tuple(first[0, 0]) == (10, 20, 30) and tuple(second[0, 0]) == (200, 100, 50)


# -- workflows saved for the original CozyGen -------------------------------------------------------
def test_an_original_cozygen_workflow_runs_unchanged(comfyui) -> None:
    sub = comfyui.output_dir / "old app"
    sub.mkdir(exist_ok=True)
    source = _rgba().resize((24, 16))
    source.save(sub / "from output.png")
    graph = {
        "10": node(
            "CozyGenStringInput", param_name="Prompt", priority=1, default_value="old cozy", display_multiline=True
        ),
        "11": node(
            "CozyGenIntInput",
            param_name="Steps",
            priority=2,
            default_value=4,
            min_value=1,
            max_value=50,
            step=1,
            add_randomize_toggle=False,
        ),
        "12": node("CozyGenDynamicInput", param_name="Seed", priority=3, param_type="INT", default_value="77"),
        "13": node(
            "CozyGenFloatInput",
            param_name="Scale",
            priority=4,
            default_value=2.0,
            min_value=0.0,
            max_value=1024.0,
            step=0.1,
            add_randomize_toggle=False,
        ),
        "14": node("CozyGenImageInput", param_name="Image", image_filename="output::old app::from output.png"),
        "15": node(
            "CozyGenChoiceInput",
            param_name="Method",
            priority=5,
            choice_type="sampler",
            default_choice="None",
            display_bypass=False,
            value="heun",
        ),
        "20": procedural(text=["10", 0], steps=["11", 0], seed=["12", 0], width=32, height=32),
        "21": node("ImageScaleBy", image=["20", 0], upscale_method="nearest-exact", scale_by=["13", 0]),
        "22": save("21", "CozyGen/old"),
        "23": node("ImageInvert", image=["14", 0]),
        "24": save("23", "CozyGen/old"),
        "25": node("MaskToImage", mask=["14", 1]),
        "26": save("25", "CozyGen/old"),
        "27": procedural(text=["15", 0], width=16, height=16),
        "28": save("27", "CozyGen/old"),
    }
    messages = run(comfyui, graph)
    (scaled,) = pixels_of(comfyui, messages, "22")
    assert scaled.shape == (64, 64, 3)
    plain = rendered(comfyui, text="old cozy", steps=4, seed=77, width=32, height=32)
    assert np.array_equal(scaled[::2, ::2], plain)
    progress = [m["data"] for m in messages if m["type"] == "progress" and m["data"]["node"] == "20"]
    assert {p["max"] for p in progress} == {4}

    (inverted,) = pixels_of(comfyui, messages, "24")
    assert _close(inverted, 255 - np.asarray(source.convert("RGB")))
    (mask,) = pixels_of(comfyui, messages, "26")
    assert _close(mask[..., 0], 255 - np.asarray(source.getchannel("A")))  # LoadImage's mask, not raw alpha

    (picked,) = pixels_of(comfyui, messages, "28")
    assert np.array_equal(picked, rendered(comfyui, text="heun", width=16, height=16))


def test_the_original_choice_node_falls_back_like_the_original(comfyui) -> None:
    def picked(**inputs: Any) -> np.ndarray:
        graph = {
            "1": node(
                "CozyGenChoiceInput",
                param_name="S",
                priority=1,
                choice_type="scheduler",
                display_bypass=False,
                **inputs,
            ),
            "2": procedural(text=["1", 0], width=16, height=16),
            "3": save("2"),
        }
        (image,) = pixels_of(comfyui, run(comfyui, graph), "3")
        return image

    def literal(text: str) -> np.ndarray:
        return rendered(comfyui, text=text, width=16, height=16)

    info = get(f"{comfyui.url}/object_info/KSampler").json()["KSampler"]
    first_scheduler = info["input"]["required"]["scheduler"][0][0]
    assert np.array_equal(picked(default_choice="karras", value="None"), literal("karras"))
    assert np.array_equal(picked(default_choice="None", value=""), literal(first_scheduler))
    assert np.array_equal(picked(default_choice="karras", value="exponential"), literal("exponential"))


def test_the_original_dynamic_node_casts_like_the_original(comfyui) -> None:
    def text_of(param_type: str, default_value: str) -> np.ndarray:
        graph = {
            "1": node(
                "CozyGenDynamicInput", param_name="x", priority=1, param_type=param_type, default_value=default_value
            ),
            "2": procedural(seed=["1", 0], width=16, height=16),
            "3": save("2"),
        }
        (image,) = pixels_of(comfyui, run(comfyui, graph), "3")
        return image

    def seeded(seed: int) -> np.ndarray:
        return rendered(comfyui, seed=seed, width=16, height=16)

    assert np.array_equal(text_of("INT", "41"), seeded(41))
    assert np.array_equal(text_of("INT", "not a number"), seeded(0))


# -- video ------------------------------------------------------------------------------------------
def _video_graph(fmt: str, **extra: Any) -> dict:
    return {
        "1": procedural(width=64, height=48, batch_size=4, steps=2),
        "2": node(
            "CozyGenVideoOutput",
            images=["1", 0],
            frame_rate=12,
            loop_count=2,
            filename_prefix="CozyGen/clip",
            format=fmt,
            pingpong=False,
            **extra,
        ),
    }


def _frames_in(path: Path) -> tuple[int, tuple[int, int], Any]:
    if path.suffix == ".gif":
        with Image.open(path) as image:
            return image.n_frames, image.size, image.info.get("loop")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return len(frames), (stream.width, stream.height), stream.average_rate


@pytest.mark.parametrize(
    ("fmt", "ext", "key", "codecs"),
    [
        ("video/webm", "webm", "videos", {"vp9", "vp8"}),
        ("video/mp4", "mp4", "videos", {"h264", "mpeg4"}),
        ("image/gif", "gif", "gifs", None),
    ],
)
def test_the_video_output_writes_every_frame(comfyui, fmt: str, ext: str, key: str, codecs: set | None) -> None:
    prompt_id, messages = asyncio.run(run_and_watch(comfyui.url, _video_graph(fmt)))
    assert messages[-1]["type"] == "execution_success"
    (item,) = outputs_of(messages, "2", key)
    assert item["type"] == "output" and item["format"] == fmt and item["subfolder"] == "CozyGen"
    assert item["filename"].startswith("clip_") and item["filename"].endswith(f"_.{ext}")
    path = comfyui.output_dir / item["subfolder"] / item["filename"]
    count, size, extra = _frames_in(path)
    assert count == 4 and size == (64, 48)
    if codecs is None:
        assert extra == 2  # loop_count
    else:
        assert extra == 12  # frame rate
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name in codecs
    assert not list(path.parent.glob(".*.part")) and not list(comfyui.output_dir.glob(".*.part"))

    (ready,) = [m["data"] for m in messages if m["type"] == "cozygen_video_ready"]
    assert ready["status"] == "video_generated" and ready["prompt_id"] == prompt_id
    assert ready["filename"] == item["filename"] and ready["subfolder"] == "CozyGen" and ready["type"] == "output"
    query = parse_qs(urlparse(ready["video_url"]).query)
    assert urlparse(ready["video_url"]).path == "/view"
    assert query == {"filename": [item["filename"]], "subfolder": ["CozyGen"], "type": ["output"]}
    served = get(f"{comfyui.url}{ready['video_url']}")
    assert served.status == 200 and served.body == path.read_bytes()


def test_pingpong_from_a_boolean_node_and_odd_sizes(comfyui) -> None:
    graph = _video_graph("video/mp4")
    graph["3"] = node("CozyGenBoolean", **form("pingpong", value=True))
    graph["4"] = node("ImageScale", image=["1", 0], upscale_method="area", width=33, height=21, crop="disabled")
    graph["2"]["inputs"].update(pingpong=["3", 0], images=["4", 0], filename_prefix="CozyGen/odd size/clip")
    messages = run(comfyui, graph)
    (item,) = outputs_of(messages, "2", "videos")
    assert item["subfolder"] == "CozyGen/odd size"
    count, size, _ = _frames_in(comfyui.output_dir / item["subfolder"] / item["filename"])
    assert count == 6 and size == (34, 22)  # 0 1 2 3 2 1, padded to even for 4:2:0
    (ready,) = [m["data"] for m in messages if m["type"] == "cozygen_video_ready"]
    assert "subfolder=CozyGen%2Fodd+size" in ready["video_url"]


def test_a_frame_rate_beyond_60_is_refused(comfyui) -> None:
    graph = _video_graph("image/gif")
    graph["2"]["inputs"]["frame_rate"] = 61
    assert "value_bigger_than_max" in node_error(post(f"{comfyui.url}/prompt", {"prompt": graph}), "2")
