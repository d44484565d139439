"""Spoon Feeder's mount without a server: which fields are prompts, the values a generate request fills,
the real client's statuses, options.dimensions and extracted parameters."""

from __future__ import annotations

import pytest

from cozygen.api.compat.spoonfeeder.prompts import prompt_names, side_of
from cozygen.api.compat.spoonfeeder.sessions import job_values
from cozygen.api.compat.spoonfeeder.shapes import generation, prompts_of, task_row
from cozygen.api.compat.spoonfeeder.workflows import dimensions, extracted, graph_of, ratio_label
from cozygen.core.errors import BadRequest
from cozygen.core.graph.fill import FieldErrors
from cozygen.core.graph.parameter import Parameter
from cozygen.core.jobs.model import CANCELLED, COMPLETED, FAILED, PENDING, RUNNING, Job


@pytest.mark.parametrize(
    ("name", "side"),
    [
        ("prompt", "positive"),
        ("positive", "positive"),
        ("positive_prompt", "positive"),
        ("Positive Prompt", "positive"),
        ("negative_prompt", "negative"),
        ("negative", "negative"),
        ("NegativeText", "negative"),
        ("seed", None),
        ("steps", None),
        ("negative_strength", None),
    ],
)
def test_prompt_sides_by_name(name: str, side: str | None) -> None:
    assert side_of(name) == side


def test_the_first_positive_and_negative_win() -> None:
    assert prompt_names(["seed", "positive", "negative", "positive_2", "negative_2"]) == ("positive", "negative")
    assert prompt_names(["prompt", "steps"]) == ("prompt", None)
    assert prompt_names(["steps"]) == (None, None)


def text(name: str) -> Parameter:
    return Parameter(name=name, label=name, type="text")


def test_a_plain_graphs_prompts_get_both_texts() -> None:
    schema = [text("positive"), text("negative"), Parameter("seed", "Seed", "seed"), Parameter("cfg", "CFG", "float")]
    values, fields = job_values(schema, "a lighthouse", "fog", {"cfg_scale": 6.5, "sampler_name": "euler"})
    assert values == {"positive": "a lighthouse", "negative": "fog", "cfg": 6.5, "seed": -1}
    assert fields == {"positive": "prompt_text", "negative": "negative_prompt"}


def test_a_form_without_a_negative_prompt_takes_the_prompt_only() -> None:
    schema = [Parameter("prompt", "Prompt", "string"), Parameter("size", "Size", "int")]
    values, fields = job_values(schema, "tide", "blur", {"width": 64, "height": 64})
    assert values == {"prompt": "tide", "size": 64} and fields == {"prompt": "prompt_text"}


def test_a_workflow_without_a_prompt_is_refused_on_prompt_text() -> None:
    with pytest.raises(FieldErrors) as refused:
        job_values([Parameter("seed", "Seed", "seed")], "tide", None, {})
    assert set(refused.value.errors) == {"prompt_text"}
    with pytest.raises(FieldErrors):  # a choice named like a prompt is not where a text goes
        job_values([Parameter("prompt_style", "Style", "choice", choices=["a"])], "tide", None, {})


def job(status: str, params: dict | None = None) -> Job:
    finished = 5.0 if status not in (PENDING, RUNNING) else None
    return Job(id="j", prompt_id="p", workflow="w.json", username="u", status=status, params=params or {},
               created_at=1.0, started_at=2.0, finished_at=finished)  # fmt: skip


def test_generations_end_completed_and_task_rows_complete() -> None:
    statuses = {s: generation(job(s))["status"] for s in (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED)}
    assert statuses == {PENDING: "pending", RUNNING: "running", COMPLETED: "completed", FAILED: "failed",
                        CANCELLED: "failed"}  # fmt: skip
    assert generation(job(CANCELLED))["error"] == "the generation was cancelled"
    assert generation(job(COMPLETED))["error"] is None
    assert task_row(job(COMPLETED))["status"] == "complete" and task_row(job(FAILED))["status"] == "failed"


def test_generations_echo_the_prompts_they_ran_with() -> None:
    ran = generation(job(COMPLETED, {"positive": "a lighthouse", "negative": "fog", "seed": 3}))
    assert (ran["prompt_text"], ran["negative_prompt"], ran["seed"]) == ("a lighthouse", "fog", 3)
    assert ran["batch_index"] == 0 and ran["loras_used"] == [] and ran["generation_time_seconds"] == 3.0
    assert prompts_of({"prompt": "x", "negative_prompt": "y"}) == ("x", "y")
    assert prompts_of({"seed": 1}) == (None, None)


def test_dimensions_in_the_real_clients_shape() -> None:
    found = dimensions([[512, 512], [1024, 1024], [1216, 832], [832, 1216], [1344, 768], [512, 768]])
    assert found["common"] == [512, 768, 832, 1024, 1216, 1344]
    assert found["sdxl_optimal"] == [
        {"width": 1024, "height": 1024, "label": "1:1 Square"},
        {"width": 1216, "height": 832, "label": "3:2 Landscape"},
        {"width": 832, "height": 1216, "label": "2:3 Portrait"},
        {"width": 1344, "height": 768, "label": "16:9 Landscape"},
    ]
    assert ratio_label(1152, 896) == "9:7 Landscape" and ratio_label(640, 1536) == "5:12 Portrait"


def test_extracted_parameters_in_the_real_clients_types() -> None:
    graph = {
        "1": {"class_type": "CozyGenString", "inputs": {"param_name": "prompt", "value": "hi"}},
        "2": {"class_type": "CozyGenInt", "inputs": {"param_name": "steps", "value": 4, "min": 1, "max": 9}},
        "3": {"class_type": "CozyGenSeed", "inputs": {"param_name": "seed", "seed": 5}},
    }
    found = {p["nodeId"]: p for p in extracted(graph, {}, {})}
    assert {p["type"] for p in found.values()} <= {"string", "number", "seed", "select"}
    assert found["1"]["type"] == "string" and found["1"]["value"] == "hi" and isinstance(found["1"]["label"], str)
    assert found["2"] == {**found["2"], "type": "number", "value": 4, "min": 1, "max": 9}
    assert found["3"]["type"] == "seed"


def test_workflow_json_is_taken_as_text_or_object() -> None:
    graph = {"1": {"class_type": "SaveImage", "inputs": {}}}
    assert graph_of({"workflowJson": '{"1": {"class_type": "SaveImage", "inputs": {}}}'}) == graph
    assert graph_of({"workflowJson": graph}) == graph
    with pytest.raises(BadRequest):
        graph_of({"workflowJson": "{oops"})
    with pytest.raises(BadRequest):
        graph_of({"workflowJson": "[" * 100 + "]" * 100})
