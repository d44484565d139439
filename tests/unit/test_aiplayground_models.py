"""AI Playground's model requests and events (api/compat/aiplayground_models.py), both shapes: its real client's
and its seed document's."""

from __future__ import annotations

from typing import Any

import pytest

from cozygen.api.compat.aiplayground_models import (
    completed_event,
    error_event,
    folder_of,
    human,
    present,
    progress_event,
    wanted_models,
)
from cozygen.core.errors import BadRequest

FOLDERS = ["checkpoints", "loras", "vae", "upscale_models", "diffusion_models", "text_encoders", "embeddings"]


def test_the_real_clients_list_names_repo_files_by_type_number_or_name() -> None:
    body = {
        "data": [
            {"repo_id": "owner/sd/sub/model.safetensors", "type": 1, "backend": "comfyui"},
            {"repo_id": "owner/styles/lcm.safetensors", "type": "defaultLora", "backend": "comfyui"},
            {"repo_id": "owner/flux/ae.safetensors", "type": "vae"},
            {"repo_id": "owner/t5/t5.safetensors", "type": 101},
        ]
    }
    wanted, seed = wanted_models(body, FOLDERS)
    assert seed is False
    assert [(w.folder, w.name, w.source.repo, w.source.file) for w in wanted] == [
        ("checkpoints", "model.safetensors", "owner/sd", "sub/model.safetensors"),
        ("loras", "lcm.safetensors", "owner/styles", "lcm.safetensors"),
        ("vae", "ae.safetensors", "owner/flux", "ae.safetensors"),
        ("text_encoders", "t5.safetensors", "owner/t5", "t5.safetensors"),
    ]
    assert wanted[0].repo_id == "owner/sd/sub/model.safetensors" and wanted[0].backend == "comfyui"


def test_the_seed_documents_object_with_a_destination_folder() -> None:
    body = {
        "data": {
            "repo": "owner/sd",
            "filename": "model.safetensors",
            "type": "checkpoint",
            "destination": "checkpoints/sd15",
        }
    }
    (model,), seed = wanted_models(body, FOLDERS)
    assert seed is True
    assert (model.folder, model.name, model.path) == (
        "checkpoints",
        "sd15/model.safetensors",
        "checkpoints/sd15/model.safetensors",
    )
    (model,), _ = wanted_models({"data": {"repo": "o/r", "filename": "x.safetensors", "type": "lora"}}, FOLDERS)
    assert (model.folder, model.name) == ("loras", "x.safetensors")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": []},
        {"data": [{"repo_id": "owner/whole-repo", "type": "checkpoint"}]},  # a diffusers folder, not one file
        {"data": [{"repo_id": "owner/r/x.safetensors", "type": "llm"}]},
        {"data": [{"repo_id": "../../x/y.safetensors", "type": "checkpoint"}]},
        {"data": ["owner/r/x.safetensors"]},
        {"data": {"repo": "owner/r"}},
        {"data": [{"repo_id": "o/r/x.safetensors", "type": 1}] * 51},
    ],
)
def test_requests_that_name_no_model_file_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        wanted_models(body, FOLDERS)


def test_a_folder_name_is_a_type_too() -> None:
    assert folder_of("upscale_models", FOLDERS) == "upscale_models"
    assert folder_of("ESRGAN", FOLDERS) == "upscale_models"
    with pytest.raises(BadRequest) as refused:
        folder_of(True, FOLDERS)
    assert refused.value.code == "UNKNOWN_FOLDER"


def test_sizes_read_as_ai_playground_shows_them() -> None:
    assert [human(n) for n in (0, 10, 1536, 5 * 2**20, int(1.25 * 2**30))] == ["0B", "10B", "1.5KB", "5.0MB", "1.2GB"]
    assert human(None) == "0B"


def test_the_events_carry_ai_playgrounds_fields() -> None:
    (model,), _ = wanted_models({"data": [{"repo_id": "o/r/m.safetensors", "type": "checkpoint"}]}, FOLDERS)
    view = {"done": 512 * 2**20, "total": 2**30, "percent": 50.0, "speed": 12.5 * 2**20}
    assert progress_event(model, view) == {
        "type": "download_model_progress",
        "repo_id": "o/r/m.safetensors",
        "download_size": "512.0MB",
        "total_size": "1.0GB",
        "percent": 50.0,
        "speed": "12.5MB/s",
        "status": "downloading",
        "progress": 50.0,
    }
    assert completed_event(model) == {
        "type": "download_model_completed",
        "repo_id": "o/r/m.safetensors",
        "status": "complete",
        "path": "checkpoints/m.safetensors",
    }
    full = error_event("NOT_ENOUGH_DISK_SPACE", "no room", {"need": 3 * 2**30, "free": 2**30})
    assert full["err_type"] == "not_enough_disk_space" and full["message"] == "no room"
    assert (full["need"], full["free"], full["requires_space"], full["free_space"]) == (
        "3.0GB",
        "1.0GB",
        "3.0GB",
        "1.0GB",
    )
    assert error_event("HASH_MISMATCH", "bad")["err_type"] == "download_exception"


def test_a_model_is_present_by_its_name_in_its_folder_or_any() -> None:
    models = {"checkpoints": ["sd/m.safetensors"], "loras": ["l.safetensors"]}
    assert present(models, "m.safetensors", "checkpoints") == "checkpoints/sd/m.safetensors"
    assert present(models, "m.safetensors", "loras") is None
    assert present(models, "l.safetensors", None) == "loras/l.safetensors"
