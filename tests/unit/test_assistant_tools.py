"""The assistant's tools over a real form's parameters: field aliases, values checked as a job's fill checks them,
tags checked against a tag list (aliases resolved, unknown ones refused by name), queue proposals; and the system
prompt, which names the form and nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from cozygen.core.assistant.context import MAX_CHOICES, system_prompt
from cozygen.core.assistant.tools import PROPOSED, SCHEMAS, Toolbox, join_tags, resolve_field
from cozygen.core.graph.parameter import Parameter
from cozygen.core.llm.model import ToolCall

SAMPLERS = [f"sampler_{n}" for n in range(45)]
PARAMS = [
    Parameter(name="prompt", label="Prompt", type="text", default="a lake", targets=[("1", "value")]),
    Parameter(name="negative_prompt", label="Negative prompt", type="text", default="blurry", targets=[("2", "value")]),
    Parameter(name="width", label="Width", type="int", default=512, min=256, max=1024, targets=[("3", "value")]),
    Parameter(name="height", label="Height", type="int", default=512, min=256, max=1024, targets=[("4", "value")]),
    Parameter(name="seed", label="Seed", type="seed", default=42, min=0, max=2**64 - 1, targets=[("5", "seed")]),
    Parameter(name="steps", label="Steps", type="int", default=20, min=1, max=100, targets=[("6", "value")]),
    Parameter(name="cfg", label="CFG scale", type="float", default=7.0, min=1.0, max=20.0, targets=[("7", "value")]),
    Parameter(name="sampler", label="Sampler", type="choice", default="sampler_0", choices=SAMPLERS),
    Parameter(name="init", label="Init image", type="image", default="a.png"),
]
TAGS = {"long_hair": "long_hair", "1girl": "1girl", "longhair": "long_hair", "smile": "smile"}  # an alias too


async def lookup(names: list[str]) -> dict[str, str | None]:
    return {n: TAGS.get(n.strip().lower().replace(" ", "_")) for n in names}


def box(values: dict[str, Any] | None = None) -> Toolbox:
    return Toolbox("sd15.json", PARAMS, values or {"prompt": "a lake at dawn"}, lookup)


def call(box_: Toolbox, name: str, args: Any) -> Any:
    text = args if isinstance(args, str) else orjson.dumps(args).decode()
    return asyncio.run(box_.run(ToolCall("call_1", name, text)))


@pytest.mark.parametrize(
    ("asked", "field"),
    [("prompt", "prompt"), ("negative", "negative_prompt"), ("Negative prompt", "negative_prompt"),
     ("width", "width"), ("height", "height"), ("steps", "steps"), ("seed", "seed"), ("cfg", "cfg"),
     ("CFG scale", "cfg"), ("positive", "prompt"), ("nothing", None)],
)  # fmt: skip
def test_fields_by_name_label_or_alias(asked: str, field: str | None) -> None:
    found = resolve_field(asked, PARAMS)
    assert (found.name if found else None) == field


def test_the_aliases_find_fields_named_otherwise() -> None:
    params = [Parameter(name="positive", label="Prompt", type="text"), Parameter(name="neg", label="Neg", type="text"),
              Parameter(name="n", label="Sampling steps", type="int", min=1, max=9)]  # fmt: skip
    assert [resolve_field(a, params).name for a in ("prompt", "negative", "steps")] == ["positive", "neg", "n"]


def test_set_field_is_checked_and_applied() -> None:
    tools = box()
    done = call(tools, "set_field", {"field": "steps", "value": 30})
    assert done.reply == {"ok": True, "field": "steps", "value": 30}
    assert done.action.to_event() == {"id": done.action.id, "tool": "set_field",
                                      "args": {"field": "steps", "value": 30}, "summary": "Steps → 30",
                                      "confirm": False}  # fmt: skip
    assert tools.values["steps"] == 30
    assert call(tools, "set_field", {"field": "cfg", "value": 8}).action.args == {"field": "cfg", "value": 8.0}


@pytest.mark.parametrize(
    ("args", "says"),
    [({"field": "steps", "value": 500}, "steps: 500 is above the maximum 100"),
     ({"field": "width", "value": "wide"}, "width: must be a whole number"),
     ({"field": "sampler", "value": "dpm_fancy"}, "'dpm_fancy' is not one of the choices"),
     ({"field": "lora", "value": 1}, "this workflow has no field 'lora'; its fields are: prompt, negative_prompt"),
     ({"field": "init", "value": "../../etc/passwd"}, "init is an image: the user chooses it on the phone"),
     ({"field": "prompt"}, "give the new value as value"),
     ({"field": "prompt", "value": "x" * 9000}, "prompt takes at most 8000 characters")],
)  # fmt: skip
def test_a_wrong_set_field_is_refused_with_the_reason(args: dict[str, Any], says: str) -> None:
    tools = box()
    done = call(tools, "set_field", args)
    assert done.action is None and done.reply["ok"] is False
    assert says in done.reply["error"]
    assert tools.values == {"prompt": "a lake at dawn"}


def test_arguments_that_are_not_an_object_and_unknown_tools_are_refused() -> None:
    refused = {"ok": False, "error": "the arguments are not valid JSON: send a JSON object"}
    assert call(box(), "set_field", "{not json").reply == refused
    assert call(box(), "set_field", "[1]").reply["error"] == "the arguments must be a JSON object"
    assert "there is no tool 'rm_rf'" in call(box(), "rm_rf", {}).reply["error"]


def test_insert_tags_takes_tags_of_the_list_resolves_aliases_and_names_the_unknown() -> None:
    tools = box()
    done = call(tools, "insert_tags", {"tags": ["1girl", "longhair", "sparkly_unicorn_hat"]})
    assert done.reply == {"ok": True, "field": "prompt", "inserted": ["1girl", "long_hair"],
                          "refused": {"sparkly_unicorn_hat": "not in the tag list"}}  # fmt: skip
    value = "a lake at dawn, 1girl, long hair"
    assert done.action.args == {"field": "prompt", "tags": ["1girl", "long_hair"], "value": value}
    assert tools.values["prompt"] == "a lake at dawn, 1girl, long hair"
    again = call(tools, "insert_tags", {"tags": ["long_hair", "smile"], "field": "negative"})
    assert again.action.args["value"] == "blurry, long hair, smile"  # the form's default, then the tags


@pytest.mark.parametrize(
    ("args", "says"),
    [({"tags": ["nope_tag", "other_nope"]}, "none of these tags is in the tag list: nope_tag, other_nope"),
     ({"tags": ["smile"], "field": "steps"}, "steps is a int field, not text"),
     ({"tags": "smile"}, "tags must be a list of tag names"),
     ({"tags": ["smile"] * 21}, "send at most 20 tags at once")],
)  # fmt: skip
def test_a_wrong_insert_tags_is_refused(args: dict[str, Any], says: str) -> None:
    done = call(box(), "insert_tags", args)
    assert done.action is None and says in done.reply["error"]


def test_tags_already_in_the_text_are_not_added_twice() -> None:
    assert join_tags("1girl, long hair", ["long_hair", "smile"]) == "1girl, long hair, smile"
    assert join_tags("", ["smile"]) == "smile"
    assert join_tags("smile,", ["smile"]) == "smile,"


def test_queue_is_a_proposal_with_checked_changes() -> None:
    tools = box()
    done = call(tools, "queue", {"variations": 3, "changes": {"steps": 8, "cfg": 5}})
    assert done.reply["ok"] is True
    action = done.action
    assert action.confirm is True and action.state == PROPOSED
    assert action.args == {"variations": 3, "changes": {"steps": 8, "cfg": 5.0}}
    assert action.workflow == "sd15.json" and action.values == {"prompt": "a lake at dawn"} and action.seeds == ["seed"]
    assert "variations must be a whole number from 1 to 4" in call(tools, "queue", {"variations": 5}).reply["error"]
    wrong = call(tools, "queue", {"changes": {"steps": 0, "shoes": 1}}).reply["error"]
    assert "steps: 0 is below the minimum 1" in wrong and "no field 'shoes'" in wrong


def test_the_schemas_are_openai_function_tools() -> None:
    assert [s["function"]["name"] for s in SCHEMAS] == ["set_field", "insert_tags", "queue"]
    assert all(s["type"] == "function" and s["function"]["parameters"]["type"] == "object" for s in SCHEMAS)


def test_the_system_prompt_names_the_form_with_bounds_choices_and_current_values() -> None:
    text = system_prompt("sd15.json", PARAMS, {"prompt": "a lake at dawn", "steps": 33})
    assert "The open workflow is 'sd15.json'" in text
    assert '- prompt (text, "Prompt"): "a lake at dawn"' in text
    assert '- steps (int, 1..100, "Steps"): 33' in text
    assert '- negative_prompt (text, "Negative prompt"): "blurry"' in text  # not sent: the form's default
    assert f"sampler_{MAX_CHOICES - 1}" in text and f"sampler_{MAX_CHOICES}," not in text
    assert f"(+{len(SAMPLERS) - MAX_CHOICES} more)" in text
    assert 'init (image, "Init image", chosen on the phone)' in text
