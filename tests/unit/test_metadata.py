"""core.media.metadata: the CozyGen parameter map recorded in saved files."""

from __future__ import annotations

from cozygen.core.media.metadata import cozygen_params, cozygen_record


def test_params_come_from_cozygen_input_nodes_only() -> None:
    prompt = {
        "1": {"class_type": "CozyGenStringInput", "inputs": {"param_name": "Prompt", "default_value": "a cat"}},
        "2": {
            "class_type": "CozyGenChoiceInput",
            "inputs": {"param_name": "Model", "value": "m.safetensors", "default_choice": "None"},
        },
        "3": {"class_type": "CozyGenImageInput", "inputs": {"param_name": "Photo", "image_filename": "in.png"}},
        "4": {"class_type": "KSampler", "inputs": {"param_name": "not ours", "seed": 1}},
        "5": {"class_type": "CozyGenIntInput", "inputs": {"param_name": "Steps", "default_value": ["9", 0]}},
        "6": {"class_type": "CozyGenOutput", "inputs": {"images": ["1", 0]}},
    }
    assert cozygen_params(prompt) == {"Prompt": "a cat", "Model": "m.safetensors", "Photo": "in.png"}


def test_record_carries_version_and_prompt_id() -> None:
    record = cozygen_record(None, "abc")
    assert record == {"version": 1, "prompt_id": "abc", "params": {}}
