"""The host seam: ComfyUIHost is a core.host.Host, and the api services reach ComfyUI only through the host given
to them (driven here with the unit tests' FakeHost)."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from unit.fake_host import FakeHost

from cozygen.api import prompts, workflows
from cozygen.api.definitions import HostDefinitions
from cozygen.api.host import ComfyUIHost
from cozygen.api.state import CozyGenState
from cozygen.core.errors import BadRequest
from cozygen.core.host import Host
from cozygen.core.media import image_load
from cozygen.core.media.image_load import FileFingerprints
from cozygen.core.workflows.store import WorkflowStore

_: Host = ComfyUIHost()  # mypy checks that ComfyUIHost is a Host


def protocol_methods() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(Host).items()
        if callable(member) and not name.startswith("_")
    }


def test_comfyui_host_has_every_method_of_the_protocol_with_its_parameters() -> None:
    for name, wanted in protocol_methods().items():
        method = getattr(ComfyUIHost, name, None)
        assert method is not None, f"ComfyUIHost has no {name}"
        assert list(inspect.signature(method).parameters) == list(wanted.parameters), name
        assert inspect.iscoroutinefunction(method) == inspect.iscoroutinefunction(getattr(Host, name)), name


def test_building_a_comfyui_host_imports_nothing_of_comfyui() -> None:
    before = set(sys.modules)
    host = ComfyUIHost()
    prompt_id = host.new_prompt_id()
    assert prompt_id == prompt_id.lower() and len(prompt_id) == 36
    assert set(sys.modules) == before


@pytest.fixture
def fake(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path, models={"checkpoints": ["a.safetensors"], "loras": []}, samplers=["euler", "dpmpp_2m"])


def test_definitions_are_read_through_the_host_they_are_given(fake: FakeHost) -> None:
    fake.definitions = {"KSampler": {"input": {"required": {}}}}
    definitions = HostDefinitions(fake)

    async def read() -> tuple[object, object]:
        first = await definitions.get()
        return first, await definitions.get()

    first, again = asyncio.run(read())
    assert first == ({"KSampler": {"input": {"required": {}}}}, {"checkpoints": ["a.safetensors"], "loras": []})
    assert again is first  # kept


def test_definitions_read_while_a_model_arrives_are_not_kept(fake: FakeHost) -> None:
    """An invalidation (a model installed) during a read: that read's caller gets it, the next caller reads again."""
    import threading

    reading, go_on = threading.Event(), threading.Event()
    listed = fake.model_files

    def slow_model_files(folder: str, *, refresh: bool = False) -> list[str]:
        found = listed(folder, refresh=refresh)
        if folder == "checkpoints" and not go_on.is_set():  # listed; the read goes on after the install
            reading.set()
            go_on.wait(10)
        return found

    fake.model_files = slow_model_files  # type: ignore[method-assign]
    definitions = HostDefinitions(fake)

    async def race() -> tuple[Any, Any]:
        early = asyncio.create_task(definitions.get())
        await asyncio.to_thread(reading.wait, 10)
        fake.models["checkpoints"].append("new.safetensors")  # installed while the read above is under way
        definitions.invalidate()
        go_on.set()
        return await early, await definitions.get()

    early, later = asyncio.run(race())
    assert early[1]["checkpoints"] == ["a.safetensors"]  # read before the model came
    assert later[1]["checkpoints"] == ["a.safetensors", "new.safetensors"]


def test_a_workflows_form_is_kept_while_its_file_and_the_definitions_stay(tmp_path: Path) -> None:
    user = tmp_path / "workflows"
    user.mkdir()
    (user / "w.json").write_text(json.dumps({"1": {"class_type": "KSampler", "inputs": {"seed": 1}}}))
    store, forms = WorkflowStore(tmp_path / "shipped", user), HostDefinitions(FakeHost(tmp_path / "host")).forms
    definitions: tuple[dict[str, Any], dict[str, list[str]]] = ({}, {})
    assert forms.known(store, "w.json", definitions) is None
    form = forms.read(store, "w.json", definitions)
    assert form.graph and form.schema and form.outputs == []
    assert forms.known(store, "w.json", definitions) == form
    assert forms.known(store, "w.json", ({}, {})) is None  # other definitions: read again
    (user / "w.json").write_text(json.dumps({"1": {"class_type": "KSampler", "inputs": {"seed": 22}}}))
    assert forms.known(store, "w.json", definitions) is None  # the file changed


def test_choices_come_from_the_host(fake: FakeHost) -> None:
    assert asyncio.run(workflows.choices_for(fake, "samplers_list")) == ["euler", "dpmpp_2m"]
    assert asyncio.run(workflows.choices_for(fake, "scheduler")) == ["normal"]
    assert asyncio.run(workflows.choices_for(fake, "checkpoints")) == ["a.safetensors"]
    with pytest.raises(BadRequest) as refused:
        asyncio.run(workflows.choices_for(fake, "nope"))
    assert refused.value.code == "INVALID_CHOICE_TYPE"
    assert refused.value.message == "invalid type nope"  # seed 004's text; CozyGen's help in detail
    assert "checkpoints, loras" in refused.value.extra["detail"]


def test_model_listing_and_folder_report_ask_the_host(fake: FakeHost) -> None:
    (fake.root / "models" / "checkpoints").mkdir(parents=True)
    (fake.root / "models" / "checkpoints" / "a.safetensors").write_bytes(b"12345")
    assert workflows.model_listing(fake, ["checkpoints"]) == {"checkpoints": [{"name": "a.safetensors", "size": 5}]}
    report = workflows.folder_report(fake)
    assert report["output"] == fake.output_directory()
    assert report["models"] == {folder: [str(fake.root / "models" / folder)] for folder in ("checkpoints", "loras")}


def test_the_wildcard_library_belongs_to_the_state(fake: FakeHost, tmp_path: Path) -> None:
    state = CozyGenState(fake)
    state.data_dir = tmp_path
    library = prompts.library(state)
    assert prompts.library(state) is library is state.wildcards
    other = CozyGenState(fake)
    other.data_dir = tmp_path / "other"
    assert prompts.library(other) is not library
    state.image_pool.shutdown()
    other.image_pool.shutdown()


def test_file_fingerprints_rehash_only_a_changed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    fingerprints = FileFingerprints()
    first = fingerprints.of(path)
    hashed: list[str] = []
    real = image_load.file_fingerprint

    def counted(where: str | Path) -> str:
        hashed.append(str(where))
        return real(where)

    monkeypatch.setattr(image_load, "file_fingerprint", counted)
    assert fingerprints.of(path) == first and hashed == []
    path.write_bytes(b"three")
    assert fingerprints.of(path) != first and hashed == [str(path)]
