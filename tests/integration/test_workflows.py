"""Workflows, choices, aliases, workflow types, presets and host options against a real ComfyUI."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from support import PROJECT, get, load_data, post

DEMO_NAME = "cozygen_procedural_demo.json"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-workflows")


def test_workflows_list_read_and_save(server) -> None:
    url = server.url
    assert DEMO_NAME in get(f"{url}/cozygen/workflows").json()["workflows"]
    demo = get(f"{url}/cozygen/workflows/{DEMO_NAME}").json()
    assert demo == json.loads((PROJECT / "workflows" / DEMO_NAME).read_text())
    missing = get(f"{url}/cozygen/workflows/nope.json")
    assert missing.status == 404 and missing.json()["error"] == "not found"
    broken = server.user_dir / "cozygen" / "workflows"
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "broken.json").write_text("{not json")
    bad = get(f"{url}/cozygen/workflows/broken.json")
    assert bad.status == 400 and bad.json()["error"] == "bad json"

    saved = post(f"{url}/cozygen/workflows/mine", demo)
    assert saved.json() == {"status": "ok", "filename": "mine.json"}
    assert json.loads((broken / "mine.json").read_text()) == demo
    assert "mine.json" in get(f"{url}/cozygen/workflows").json()["workflows"]
    ui_format = {"nodes": [{"id": 1, "type": "KSampler"}], "links": [], "version": 0.4}
    refused = post(f"{url}/cozygen/workflows/ui.json", ui_format)
    assert refused.status == 400 and refused.json()["code"] == "UI_FORMAT" and "API" in refused.json()["error"]
    for name in ("..%2Fescape.json", "a%5Cb.json"):
        assert post(f"{url}/cozygen/workflows/{name}", demo).status == 400
    assert post(f"{url}/cozygen/workflows/x.json", {"1": {"inputs": {}}}).json()["code"] == "NOT_API_FORMAT"
    assert not (server.base / "escape.json").exists()


def test_choices_come_from_the_host(server) -> None:
    url = server.url
    info = get(f"{url}/object_info/KSampler").json()["KSampler"]["input"]["required"]
    assert get(f"{url}/cozygen/get_choices?type=sampler").json()["choices"] == info["sampler_name"][0]
    assert get(f"{url}/cozygen/get_choices?type=schedulers_list").json()["choices"] == info["scheduler"][0]
    (server.base / "models" / "checkpoints").mkdir(parents=True, exist_ok=True)
    assert get(f"{url}/cozygen/get_choices?type=checkpoints").json() == {"choices": []}
    (server.base / "models" / "checkpoints" / "sub").mkdir(exist_ok=True)
    (server.base / "models" / "checkpoints" / "sub" / "tiny.safetensors").write_bytes(b"0" * 10)
    refreshed = get(f"{url}/cozygen/get_choices?type=checkpoints&refresh=true").json()["choices"]
    assert refreshed == ["sub/tiny.safetensors"]
    assert get(f"{url}/cozygen/get_choices").json()["code"] == "MISSING_TYPE"
    assert get(f"{url}/cozygen/get_choices?type=bogus").status == 400
    models = get(f"{url}/cozygen/api/models?folder=checkpoints").json()["folders"]
    assert models == {"checkpoints": [{"name": "sub/tiny.safetensors", "size": 10}]}
    assert "loras" in get(f"{url}/cozygen/api/models").json()["folders"]
    options = get(f"{url}/cozygen/api/options").json()
    assert options["samplers"] == info["sampler_name"][0] and options["checkpoints"] == ["sub/tiny.safetensors"]
    assert options["steps"]["min"] == info["steps"][1]["min"] and [1024, 1024] in options["dimensions"]["common"]
    paths = get(f"{url}/cozygen/api/settings/paths").json()
    assert paths["output"] == str(server.output_dir) and paths["editable"] is False


def test_aliases_are_validated_and_kept(server) -> None:
    url = server.url
    assert get(f"{url}/cozygen/api/aliases").json() == {}
    aliases = {
        "items": {"portrait": "a portrait, soft light", "cat": "a $portrait$ of a cat"},
        "categories": {"cat": "animals"},
    }
    assert post(f"{url}/cozygen/api/aliases", aliases).json() == {"status": "ok"}
    stored = get(f"{url}/cozygen/api/aliases").json()
    assert stored["items"] == aliases["items"] and stored["categoryList"] == ["animals"]
    for bad in ([1, 2], {"items": {"bad name$": "x"}}, {"items": {"ok": 3}}, {"items": {}, "categories": {"x": "y"}}):
        reply = post(f"{url}/cozygen/api/aliases", bad)
        assert reply.status == 400 and reply.json()["code"] in ("INVALID_ALIASES", "INVALID_JSON"), reply.body
    assert get(f"{url}/cozygen/api/aliases").json() == stored


def test_workflow_types(server) -> None:
    url = server.url
    body = get(f"{url}/cozygen/api/workflow_types").json()
    assert body["choices"] == ["image-to-image", "image-to-video", "text-to-image", "text-to-video"]
    assert post(f"{url}/cozygen/api/workflow_types", {"workflow": DEMO_NAME, "mode": "t2i"}).json()["workflows"] == {
        DEMO_NAME: "text-to-image"
    }
    assert post(f"{url}/cozygen/api/workflow_types", {"workflow": DEMO_NAME, "mode": "sideways"}).status == 400
    assert post(f"{url}/cozygen/api/workflow_types", {"mode": "t2i"}).json()["code"] == "MISSING_WORKFLOW"
    assert post(f"{url}/cozygen/api/workflow_types", {"workflow": DEMO_NAME, "mode": None}).json()["workflows"] == {}


def test_presets_upsert_delete_and_survive_fifty_writers(server) -> None:
    url, wf = server.url, DEMO_NAME
    first = post(
        f"{url}/cozygen/api/workflow_presets", {"workflow": wf, "preset": {"name": "Portrait", "values": {"steps": 30}}}
    )
    saved = first.json()["preset"]
    assert (
        first.json()["user"] == "default" and saved["values"] == {"steps": 30} and saved["created"] == saved["updated"]
    )
    again = post(
        f"{url}/cozygen/api/workflow_presets", {"workflow": wf, "preset": {"name": "portrait", "values": {"steps": 40}}}
    )
    assert again.json()["preset"]["id"] == saved["id"] and again.json()["preset"]["name"] == "portrait"
    assert len(again.json()["presets"]) == 1

    def write(n: int) -> int:
        body = {"workflow": wf, "preset": {"name": f"p{n}", "values": {"seed": n}}}
        return post(f"{url}/cozygen/api/workflow_presets", body).status

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(write, range(50)))
    assert statuses == [200] * 50
    listed = get(f"{url}/cozygen/api/workflow_presets?workflow={quote(wf)}").json()["presets"]
    assert {p["name"] for p in listed} == {f"p{n}" for n in range(50)} | {"portrait"}
    assert all(p["values"] == {"seed": int(p["name"][1:])} for p in listed if p["name"] != "portrait")
    assert [p["updated"] for p in listed] == sorted((p["updated"] for p in listed), reverse=True)
    deleted = post(f"{url}/cozygen/api/workflow_presets", {"workflow": wf, "delete": saved["id"]}).json()
    assert saved["id"] not in {p["id"] for p in deleted["presets"]} and "preset" not in deleted
    grouped = get(f"{url}/cozygen/api/workflow_presets").json()
    assert len(grouped["workflows"][wf]) == 50 and grouped["user"] == "default"
    for body, code in [
        ({"preset": {"name": "x"}}, "MISSING_WORKFLOW"),
        ({"workflow": wf, "preset": "x"}, "INVALID_PRESET"),
        ({"workflow": wf, "preset": {"name": "  "}}, "MISSING_PRESET_NAME"),
    ]:
        assert post(f"{url}/cozygen/api/workflow_presets", body).json()["code"] == code


def test_dreamlayer_model_lists_and_paths(server) -> None:
    base = f"{server.url}/cozygen/compat/dreamlayer/api"
    (server.base / "models" / "loras").mkdir(parents=True, exist_ok=True)
    (server.base / "models" / "loras" / "detail_tweaker.safetensors").write_bytes(b"0")
    get(f"{server.url}/cozygen/get_choices?type=loras&refresh=1")
    loras = get(f"{base}/lora-models").json()
    assert loras == {
        "status": "success",
        "models": [
            {"id": "detail_tweaker.safetensors", "name": "detail_tweaker", "filename": "detail_tweaker.safetensors"}
        ],
    }
    for path in ("models", "upscaler-models", "controlnet/models"):
        reply = get(f"{base}/{path}").json()
        assert reply["status"] == "success" and isinstance(reply["models"], list)
    refused = post(f"{base}/settings/paths", {"outputDirectory": "/tmp/elsewhere"})
    assert refused.status == 409 and "extra_model_paths.yaml" in refused.json()["error"]
    assert refused.json()["output"] == str(server.output_dir)


def test_the_editor_extension_is_served(server) -> None:
    listed = get(f"{server.url}/extensions").json()
    script = "/extensions/ComfyUI-CozyGen-workflows/cozygen.js"
    assert script in listed and [s for s in listed if "CozyGen" in s] == [script]  # only web/extension is loaded
    body = get(f"{server.url}{script}").body.decode()
    assert "CozyGen.SendWorkflow" in body and "graphToPrompt" in body and "/cozygen/workflows/" in body


def unit_data(name: str) -> dict:
    return load_data(f"unit/data/{name}")


def test_schema_of_a_plain_comfyui_workflow_comes_from_the_host(server) -> None:
    url = server.url
    sd15 = unit_data("sd15_txt2img.json")
    assert post(f"{url}/cozygen/workflows/plain_sd15.json", sd15).status == 200
    schema = get(f"{url}/cozygen/api/workflows/plain_sd15.json/schema").json()["parameters"]
    by_name = {p["name"]: p for p in schema}
    assert {"positive", "negative", "seed", "steps", "cfg", "sampler_name", "scheduler", "width", "height"} <= set(
        by_name
    )
    info = get(f"{url}/object_info/KSampler").json()["KSampler"]["input"]["required"]
    assert by_name["sampler_name"]["choices"] == info["sampler_name"][0]
    assert by_name["steps"]["min"] == info["steps"][1]["min"] and by_name["steps"]["max"] == info["steps"][1]["max"]
    assert by_name["seed"]["type"] == "seed" and by_name["positive"]["type"] in ("text", "string")
    demo = get(f"{url}/cozygen/api/workflows/{DEMO_NAME}/schema").json()["parameters"]
    assert {p["name"] for p in demo} >= {"seed", "steps"}
    assert get(f"{url}/cozygen/api/workflows/nope.json/schema").status == 404


def test_check_names_missing_nodes_and_models(server) -> None:
    url = server.url
    sd15 = unit_data("sd15_txt2img.json")
    ckpt = next(n["inputs"]["ckpt_name"] for n in sd15.values() if n["class_type"] == "CheckpointLoaderSimple")
    sd15["99"] = {"class_type": "FancyUpscaler", "inputs": {}, "_meta": {"title": "x", "cnr_id": "comfyui-fancy"}}
    report = post(f"{url}/cozygen/api/workflows/check", {"workflow": sd15}).json()
    assert report["ok"] is False
    assert report["missing_models"]["checkpoints"] == [ckpt]
    (missing,) = report["missing_nodes"]
    assert (
        missing["class_type"] == "FancyUpscaler"
        and missing["node_ids"] == ["99"]
        and missing["pack"] == "comfyui-fancy"
    )
    demo = post(f"{url}/cozygen/api/workflows/{DEMO_NAME}/check").json()
    assert demo == {**demo, "ok": True, "missing_nodes": [], "missing_models": {}}
    assert post(f"{url}/cozygen/api/workflows/check", {"nodes": [], "links": []}).json()["code"] == "UI_FORMAT"


def test_spoonfeeder_workflows_over_the_same_store(server) -> None:
    base = f"{server.url}/cozygen/compat/spoonfeeder/api/comfyui"
    options = get(f"{base}/options").json()
    assert options["success"] is True and "euler" in options["data"]["samplers"]
    assert 1024 in options["data"]["dimensions"]["common"]  # the real Spoon Feeder's {common, sdxl_optimal}
    body = {
        "name": "SD15 basic",
        "description": "txt2img",
        "workflowJson": unit_data("sd15_txt2img.json"),
        "defaultParameters": {"steps": 25},
    }
    created = post(f"{base}/workflows", body)
    assert created.status == 201, created.body
    data = created.json()["data"]
    assert data["id"] == "SD15 basic.json" and data["name"] == "SD15 basic"
    fields = {(p["nodeId"], p["field"]): p for p in data["extracted_parameters"]}
    seed = next(p for p in data["extracted_parameters"] if p["type"] == "seed")
    assert fields[(seed["nodeId"], seed["field"])]["field"] in ("seed", "noise_seed")
    assert "SD15 basic.json" in get(f"{server.url}/cozygen/workflows").json()["workflows"]  # the same store
    one = get(f"{base}/workflows/{quote(data['id'])}").json()["data"]
    assert json.loads(one["workflow_json"]) == body["workflowJson"] and one["default_parameters"] == {"steps": 25}
    patched = request_json(
        "PATCH",
        f"{base}/workflows/{quote(data['id'])}/parameters",
        {"default_parameters": {"steps": 30}, "is_default": True},
    )
    assert patched["data"]["is_default"] is True and patched["data"]["default_parameters"] == {"steps": 30}
    renamed = request_json("PUT", f"{base}/workflows/{quote(data['id'])}", {"name": "SD15 v2"})
    assert renamed["data"]["name"] == "SD15 v2"
    listed = {w["id"]: w for w in get(f"{base}/workflows").json()["data"]}
    assert listed[data["id"]]["is_default"] is True and listed[DEMO_NAME]["is_default"] is False
    assert request_json("DELETE", f"{base}/workflows/{quote(data['id'])}")["data"]["deleted"] is True
    assert get(f"{base}/workflows/{quote(data['id'])}").status == 404
    assert request_json("DELETE", f"{base}/workflows/{DEMO_NAME}")["code"] == "SHIPPED_WORKFLOW"


def request_json(method: str, url: str, body=None) -> dict:
    from support import request

    return request(method, url, body).json()


def test_aiplayground_health_and_requirements(server) -> None:
    base = f"{server.url}/cozygen/compat/aiplayground"
    assert get(f"{base}/healthy").json()["status"] == "ok"
    (server.base / "models" / "checkpoints").mkdir(parents=True, exist_ok=True)
    (server.base / "models" / "checkpoints" / "DreamShaper_8_pruned.safetensors").write_bytes(b"0")
    get(f"{server.url}/cozygen/get_choices?type=checkpoints&refresh=1")
    wanted = {
        "customNodes": ["https://github.com/someone/ComfyUI-Missing@abc123", "me/ComfyUI-CozyGen-workflows@main"],
        "requiredModels": [
            {"type": "checkpoint", "name": "dreamshaper-8", "path": "DreamShaper_8_pruned.safetensors"},
            {"type": "lora", "name": "gone", "path": "gone.safetensors"},
        ],
    }
    answer = post(f"{base}/api/comfyUi/checkWorkflowRequirements", {"workflow": wanted}).json()
    assert answer == {
        "code": 0,
        "data": {
            "valid": False,
            "missingNodes": ["https://github.com/someone/ComfyUI-Missing@abc123"],
            "missingModels": ["gone.safetensors"],
            "missingPackages": [],
        },
        "needsInstallation": True,  # what AI Playground's own client reads (a custom node is missing)
    }
    graph = unit_data("sd15_txt2img.json")
    real = post(f"{base}/api/comfyUi/checkWorkflowRequirements", {"workflow": graph}).json()["data"]
    assert real["valid"] is False and real["missingNodes"] == [] and real["missingModels"]


def test_a_cozygen_form_is_filled_checked_and_runs_on_the_host(server) -> None:
    import asyncio

    from support import run_and_watch

    url, name = server.url, "cozygen_procedural_form.json"
    schema = get(f"{url}/cozygen/api/workflows/{name}/schema").json()["parameters"]
    assert [p["name"] for p in schema] == ["prompt", "seed", "steps", "size"]
    assert schema[2] == {**schema[2], "type": "int", "min": 1, "max": 50, "default": 12, "label": "Steps"}
    bad = post(f"{url}/cozygen/api/workflows/{name}/fill", {"values": {"steps": 500, "size": "big", "colour": 1}})
    assert bad.status == 400 and bad.json()["code"] == "INVALID_VALUES"
    assert set(bad.json()["fields"]) == {"steps", "size", "colour"}
    post(f"{url}/cozygen/api/aliases", {"items": {"mood": "warm lamplight"}})
    filled = post(
        f"{url}/cozygen/api/workflows/{name}/fill",
        {"values": {"prompt": "a $mood$ room", "steps": 3, "size": 128, "seed": -1}},
    )
    assert filled.status == 200, filled.body
    params = filled.json()["params"]
    assert params["prompt"] == "a warm lamplight room" and filled.json()["raw"]["prompt"] == "a $mood$ room"
    assert isinstance(params["seed"], int) and params["seed"] >= 0
    _, messages = asyncio.run(run_and_watch(url, filled.json()["prompt"]))
    assert messages[-1]["type"] == "execution_success"
    images = [i for m in messages if m["type"] == "executed" for i in m["data"]["output"].get("images", [])]
    from PIL import Image

    with Image.open(server.output_dir / images[0]["subfolder"] / images[0]["filename"]) as image:
        assert image.size == (128, 128)
        record = json.loads(image.text["cozygen"])
    assert record["params"]["seed"] == params["seed"] and record["params"]["prompt"] == "a warm lamplight room"
