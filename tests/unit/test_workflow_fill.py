"""core.graph.fill: checked values written into every target of a copy of the workflow."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from support import load_data

from cozygen.core.errors import BadRequest
from cozygen.core.graph.fill import MAX_ALIAS_DEPTH, RANDOM_SEED_MAX, FieldErrors, alias_table, expand_aliases, fill
from cozygen.core.graph.parameter import Parameter
from cozygen.core.graph.schema import extract_schema


def load(name: str) -> dict[str, Any]:
    return load_data(f"unit/data/{name}.json")


@pytest.fixture
def sd15(object_info: dict) -> tuple[dict, list[Parameter]]:
    workflow = load("sd15_txt2img")
    return workflow, extract_schema(workflow, object_info)


def errors_of(workflow: dict, schema: list, values: dict, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        fill(workflow, schema, values, **kwargs)
    return caught.value.errors


# Writing values.


def test_values_are_written_into_a_copy(sd15: tuple) -> None:
    workflow, schema = sd15
    before = copy.deepcopy(workflow)
    filled = fill(workflow, schema, {"positive": "a red bicycle", "steps": 12, "cfg": 6.5, "sampler_name": "dpmpp_2m"})
    inputs = filled.graph["3"]["inputs"]
    assert (inputs["steps"], inputs["cfg"], inputs["sampler_name"]) == (12, 6.5, "dpmpp_2m")
    assert filled.graph["6"]["inputs"]["text"] == "a red bicycle"
    assert inputs["model"] == ["4", 0]  # links untouched
    assert workflow == before  # the caller's workflow is not changed
    assert filled.params["steps"] == 12 and filled.params["positive"] == "a red bicycle"
    assert filled.params["negative"] == "text, watermark"  # left out: the default
    assert filled.params["seed"] != 156680208700286  # a seed taken from the graph draws a new one per job
    assert fill(workflow, schema, {"seed__randomize": False}).params["seed"] == 156680208700286  # unless told not
    assert set(filled.params) == {p.name for p in schema}
    assert filled.raw == {}


def test_one_value_is_written_into_every_target(object_info: dict) -> None:
    workflow = load("flux_txt2img")
    workflow["6"] = {
        "class_type": "CLIPTextEncodeFlux",
        "inputs": {"clip": ["11", 0], "clip_l": "a castle", "t5xxl": "a castle", "guidance": 3.5},
    }
    schema = extract_schema(workflow, object_info)
    graph = fill(workflow, schema, {"positive": "a lighthouse"}).graph
    assert graph["6"]["inputs"]["t5xxl"] == graph["6"]["inputs"]["clip_l"] == "a lighthouse"


def test_schema_may_be_given_as_dicts(sd15: tuple) -> None:
    workflow, schema = sd15
    filled = fill(workflow, [p.to_dict() for p in schema], {"width": 768})
    assert filled.graph["5"]["inputs"]["width"] == 768
    assert errors_of(workflow, [p.to_dict() for p in schema], {"width": 7}) == {"width": "7 is below the minimum 16"}


def test_values_must_be_an_object(sd15: tuple) -> None:
    workflow, schema = sd15
    with pytest.raises(BadRequest) as caught:
        fill(workflow, schema, ["steps", 20])  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_VALUES"
    assert fill(workflow, schema, None).params["steps"] == 20


# Every error at once.


def test_every_bad_field_is_reported_at_once(sd15: tuple) -> None:
    workflow, schema = sd15
    schema = [*schema, Parameter(name="mask", label="Mask", type="image", targets=[("5", "mask")], required=True)]
    values = {
        "steps": True,  # JSON true is no int
        "cfg": 200,  # above the maximum
        "sampler_name": "Euler",  # choices are case-sensitive
        "seed": "12",  # numeric strings are not numbers
        "width": 8,  # below the minimum
        "positive": 5,  # not a string
        "denoise": "0.5",
        "upscale": 2,  # unknown
        # "mask" left out: it has no default
    }
    with pytest.raises(FieldErrors) as caught:
        fill(workflow, schema, values)
    error = caught.value
    assert (error.status, error.code) == (400, "INVALID_VALUES")
    assert set(error.errors) == {
        "steps",
        "cfg",
        "sampler_name",
        "seed",
        "width",
        "positive",
        "denoise",
        "upscale",
        "mask",
    }
    assert error.errors["steps"] == "must be a whole number, not true"
    assert error.errors["cfg"] == "200 is above the maximum 100.0"
    assert error.errors["sampler_name"].startswith("'Euler' is not one of the choices (euler, ")
    assert error.errors["seed"] == "must be a whole number, not '12'"
    assert error.errors["width"] == "8 is below the minimum 16"
    assert error.errors["positive"] == "must be a string, not 5"
    assert error.errors["denoise"] == "must be a finite number, not '0.5'"
    assert error.errors["upscale"] == "unknown parameter"
    assert error.errors["mask"].startswith("required")
    body = error.to_dict()
    assert body["code"] == "INVALID_VALUES" and body["fields"] == error.errors
    assert body["error"].startswith("9 invalid values: ")


def test_integral_floats_are_ints_and_ints_are_floats(sd15: tuple) -> None:
    workflow, schema = sd15
    filled = fill(workflow, schema, {"steps": 20.0, "cfg": 7, "seed": 3.0})
    assert filled.params["steps"] == 20 and type(filled.params["steps"]) is int
    assert filled.params["cfg"] == 7.0 and type(filled.params["cfg"]) is float
    assert filled.graph["3"]["inputs"]["seed"] == 3 and type(filled.graph["3"]["inputs"]["seed"]) is int
    assert errors_of(workflow, schema, {"steps": 20.5, "cfg": False, "denoise": float("nan")}) == {
        "steps": "must be a whole number, not 20.5",
        "cfg": "must be a finite number, not false",
        "denoise": "must be a finite number, not nan",
    }


def test_boolean_and_choice_types_are_strict(object_info: dict) -> None:
    workflow = load("cozygen_nodes")
    schema = extract_schema(workflow, object_info)
    errors = errors_of(workflow, schema, {"keep_size": 1, "style": "Photo", "checkpoint": "missing.safetensors"})
    assert errors["keep_size"] == "must be true or false, not 1"
    assert errors["style"] == "'Photo' is not one of the choices (photo, oil painting, watercolor)"
    assert errors["checkpoint"].startswith("'missing.safetensors' is not one of the choices")
    filled = fill(workflow, schema, {"keep_size": True, "style": "watercolor"})
    assert filled.graph["8"]["inputs"]["value"] is True and filled.graph["7"]["inputs"]["value"] == "watercolor"


def test_choice_with_an_unknown_list_takes_any_name() -> None:
    workflow = {"1": {"class_type": "CozyGenChoice", "inputs": {"param_name": "adapter", "value": "a.safetensors"}}}
    schema = [
        Parameter(
            name="adapter",
            label="Adapter",
            type="choice",
            choices=None,
            choice_source="ipadapter",
            default="a.safetensors",
            targets=[("1", "value")],
        )
    ]
    assert fill(workflow, schema, {"adapter": "b.safetensors"}).graph["1"]["inputs"]["value"] == "b.safetensors"
    assert errors_of(workflow, schema, {"adapter": ""}) == {"adapter": "must be a name, not ''"}
    schema[0].choices = []  # a folder this host lists, with nothing in it: no name can be right
    assert errors_of(workflow, schema, {"adapter": "b.safetensors"}) == {
        "adapter": "there is nothing to choose in ipadapter on this host: add a file there first"
    }


def test_required_only_without_a_default_and_null_means_the_default(sd15: tuple) -> None:
    workflow, schema = sd15
    assert fill(workflow, schema, {"steps": None}).params["steps"] == 20
    workflow = {"1": {"class_type": "CozyGenImage", "inputs": {"param_name": "photo", "image": ""}}}
    schema = extract_schema(workflow, {})
    assert schema[0].required and schema[0].default is None
    assert errors_of(workflow, schema, {}) == {"photo": "required: this parameter has no default, give a value"}
    assert fill(workflow, schema, {"photo": "cat.png"}).graph["1"]["inputs"]["image"] == "cat.png"


# Images.


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("../secrets.png", "'..'"),
        ("/etc/passwd", "relative"),
        ("sub\\cat.png", "backslash"),
        ("output::../up::x.png", "'..'"),
        ("", "no image"),
        (5, "image path"),
    ],
)
def test_bad_image_references_are_refused(object_info: dict, value: Any, words: str) -> None:
    workflow = load("cozygen_nodes")
    errors = errors_of(workflow, extract_schema(workflow, object_info), {"photo": value})
    assert list(errors) == ["photo"] and words in errors["photo"]


def test_image_references_are_cleaned_and_translated_for_load_image(object_info: dict) -> None:
    workflow = load("cozygen_nodes")
    schema = extract_schema(workflow, object_info)
    assert fill(workflow, schema, {"photo": "output::CozyGen/2024::a.png"}).graph["9"]["inputs"]["image"] == (
        "output::CozyGen/2024::a.png"
    )  # the CozyGen node reads the output form itself
    assert fill(workflow, schema, {"photo": "uploads/./b.png"}).params["photo"] == "uploads/b.png"

    img2img = load("img2img")
    schema = extract_schema(img2img, object_info)
    graph = fill(img2img, schema, {"image": "output::CozyGen::phone_00001_.png"}).graph
    assert graph["10"]["inputs"]["image"] == "CozyGen/phone_00001_.png [output]"  # ComfyUI's annotated path
    assert fill(img2img, schema, {"image": "output::top.png"}).graph["10"]["inputs"]["image"] == "top.png [output]"
    assert fill(img2img, schema, {"image": "pets/dog.png"}).graph["10"]["inputs"]["image"] == "pets/dog.png"


# Seeds.


def test_seed_minus_one_is_drawn_from_the_rng(sd15: tuple) -> None:
    workflow, schema = sd15
    first = fill(workflow, schema, {"seed": -1}, rng=random.Random(7))
    again = fill(workflow, schema, {"seed": -1}, rng=random.Random(7))
    expected = random.Random(7).randint(0, RANDOM_SEED_MAX)
    assert first.params["seed"] == again.params["seed"] == expected
    assert first.graph["3"]["inputs"]["seed"] == expected
    other = fill(workflow, schema, {"seed": -1}, rng=random.Random(8))
    assert other.params["seed"] != expected
    assert 0 <= fill(workflow, schema, {"seed": -1}).params["seed"] <= RANDOM_SEED_MAX


def test_seed_randomize_flag(sd15: tuple) -> None:
    workflow, schema = sd15
    expected = random.Random(1).randint(0, RANDOM_SEED_MAX)
    flagged = fill(workflow, schema, {"seed": 5, "seed__randomize": True}, rng=random.Random(1))
    assert flagged.params["seed"] == expected and "seed__randomize" not in flagged.params
    assert fill(workflow, schema, {"seed__randomize": True}, rng=random.Random(1)).params["seed"] == expected
    assert fill(workflow, schema, {"seed": 5, "seed__randomize": False}).params["seed"] == 5
    assert errors_of(workflow, schema, {"seed__randomize": "yes", "steps__randomize": True}) == {
        "seed__randomize": "must be true or false",
        "steps__randomize": "unknown parameter",
    }
    assert errors_of(workflow, schema, {"seed": -2}) == {"seed": "-2 is below the minimum 0"}


def test_schema_randomize_applies_when_no_seed_is_given(object_info: dict) -> None:
    workflow = load("cozygen_nodes")
    schema = extract_schema(workflow, object_info)
    assert next(p for p in schema if p.name == "seed").randomize
    expected = random.Random(3).randint(0, RANDOM_SEED_MAX)
    filled = fill(workflow, schema, {}, rng=random.Random(3))
    assert filled.params["seed"] == expected and filled.graph["2"]["inputs"]["seed"] == expected
    assert fill(workflow, schema, {"seed": 99}).params["seed"] == 99  # a seed the caller chose wins
    assert fill(workflow, schema, {"seed__randomize": False}).params["seed"] == 1234  # the node's own


def test_random_seed_stays_within_a_smaller_maximum(object_info: dict) -> None:
    workflow = load("cozygen_legacy")
    schema = extract_schema(workflow, object_info)
    seeds = {fill(workflow, schema, {"Seed": -1}, rng=random.Random(n)).params["Seed"] for n in range(20)}
    assert len(seeds) == 20 and max(seeds) <= 9999999999


# Aliases.

ALIASES = {
    "items": {
        "noir": "black and white, high contrast",
        "hero": "a knight, $noir$",
        "neon": "neon lights",
        "a1": "$a2$",
        "a2": "$a3$",
        "a3": "$a4$",
        "a4": "$a5$",
        "a5": "$a6$",
        "a6": "$a7$",
        "a7": "end",
        "loop": "again $loop$",
    },
    "categories": {"noir": "style", "neon": "lighting"},
    "categoryList": ["style", "lighting"],
}


def test_aliases_expand_in_string_values_and_keep_the_raw_text(sd15: tuple) -> None:
    workflow, schema = sd15
    filled = fill(workflow, schema, {"positive": "$hero$, $lighting::neon$", "negative": "plain"}, aliases=ALIASES)
    expected = "a knight, black and white, high contrast, neon lights"
    assert filled.graph["6"]["inputs"]["text"] == filled.params["positive"] == expected
    assert filled.raw == {"positive": "$hero$, $lighting::neon$"}  # the negative had nothing to expand


def test_alias_categories_must_match() -> None:
    items, categories = alias_table(ALIASES)
    assert expand_aliases("$style::noir$", items, categories) == "black and white, high contrast"
    assert expand_aliases("$lighting::noir$", items, categories) == "$lighting::noir$"
    assert expand_aliases("$style::missing$ $unknown$ costs $5", items, categories) == (
        "$style::missing$ $unknown$ costs $5"
    )


def test_alias_recursion_stops_at_the_depth_limit() -> None:
    items, categories = alias_table(ALIASES)
    assert MAX_ALIAS_DEPTH == 5
    assert expand_aliases("$a3$", items, categories) == "end"  # four rounds
    assert expand_aliases("$a1$", items, categories) == "$a6$"  # five rounds, then it stops
    assert expand_aliases("$loop$", items, categories) == "again " * 5 + "$loop$"


def test_flat_alias_maps_are_accepted(sd15: tuple) -> None:
    workflow, schema = sd15
    filled = fill(workflow, schema, {"positive": "$cat$ on a sofa"}, aliases={"cat": "a tabby cat", "n": 3})
    assert filled.params["positive"] == "a tabby cat on a sofa"
    assert alias_table({"cat": "a tabby cat", "n": 3}) == ({"cat": "a tabby cat"}, {})
    assert alias_table(None) == ({}, {}) and alias_table(["x"]) == ({}, {})


def test_aliases_do_not_touch_choices_and_cannot_grow_without_end(sd15: tuple) -> None:
    workflow, schema = sd15
    errors = errors_of(workflow, schema, {"sampler_name": "$s$"}, aliases={"s": "euler"})
    assert list(errors) == ["sampler_name"]
    errors = errors_of(workflow, schema, {"positive": "$big$ $big$"}, aliases={"big": "y" * 150_000})
    assert errors == {"positive": "is longer than 200000 characters once its aliases are expanded"}


def test_defaults_are_expanded_too(sd15: tuple) -> None:
    workflow, schema = sd15
    workflow = copy.deepcopy(workflow)
    workflow["7"]["inputs"]["text"] = "$neg$"
    schema = extract_schema(workflow, load("object_info_sample"))
    filled = fill(workflow, schema, {}, aliases={"neg": "lowres"})
    assert filled.graph["7"]["inputs"]["text"] == "lowres" and filled.raw == {"negative": "$neg$"}


# Legacy nodes.


def test_legacy_dynamic_node_gets_its_value_as_text(object_info: dict) -> None:
    workflow = load("cozygen_legacy")
    schema = extract_schema(workflow, object_info)
    filled = fill(
        workflow, schema, {"Denoise": 0.5, "Hires": False, "Steps": 30, "Checkpoint": "sd_xl_base_1.0.safetensors"}
    )
    assert filled.graph["8"]["inputs"]["default_value"] == "0.5"  # a STRING input on that node
    assert filled.graph["10"]["inputs"]["default_value"] == "false"
    assert filled.graph["4"]["inputs"]["default_value"] == 30  # the Int node takes an int
    assert filled.graph["6"]["inputs"]["value"] == "sd_xl_base_1.0.safetensors"
    assert filled.params["Denoise"] == 0.5 and filled.params["Hires"] is False


def test_wildcards_and_choices_expand_with_the_jobs_seed_before_aliases(sd15: tuple) -> None:
    from cozygen.core.prompts.wildcards import Wildcard

    workflow, schema = sd15
    wildcards = {
        "animal": Wildcard("animal", ("a fox", "an owl", "a $pet$"), "shipped"),
        "light": Wildcard("light", ("{dawn|dusk} light",), "shipped"),
    }
    values = {"positive": "__animal__ in __light__, {oil|ink}", "negative": "blurry", "seed": 7}
    first = fill(workflow, schema, values, wildcards=wildcards, aliases={"pet": "tabby cat"})
    again = fill(workflow, schema, values, wildcards=wildcards, aliases={"pet": "tabby cat"})
    text = first.params["positive"]
    assert text == again.params["positive"]  # the same seed, the same choices
    assert "__" not in text and "{" not in text and "$" not in text and " light, " in text
    assert first.raw["positive"] == values["positive"] and "negative" not in first.raw
    outcomes = {
        fill(workflow, schema, {**values, "seed": n}, wildcards=wildcards).params["positive"] for n in range(40)
    }
    assert len(outcomes) > 4  # other seeds, other choices
    untouched = fill(workflow, schema, values)  # without wildcards the text goes through as it was
    assert untouched.params["positive"] == values["positive"]
    errors = errors_of(workflow, schema, {"positive": "__dragon__"}, wildcards=wildcards)
    assert list(errors) == ["positive"] and "unknown wildcard __dragon__" in errors["positive"]
