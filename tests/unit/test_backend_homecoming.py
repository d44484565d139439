"""What comes home from a backend besides PNG outputs, through the dispatcher (the fakes of
test_backend_dispatch.py): a video its savers wrote lands in the backend's output folder as it is and is the job's
result, as a local CozyGen video is; a preview (``temp``) lands in this ComfyUI's temp folder, capped."""

# ruff: noqa: F811 (the tests take the imported ``world`` fixture by its name)
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from unit.test_backend_dispatch import World, launch, new_job, png, world  # noqa: F401 (the fixture)

from cozygen.core.backends import homecoming
from cozygen.core.jobs.model import COMPLETED

WEBM = b"\x1a\x45\xdf\xa3" + b"\x00" * 60  # an EBML header: what the magic check reads
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 40
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 40


def finish(world: World, job: Any, output: dict[str, Any]) -> None:
    world.say("executed", {"node": "6", "output": output, "prompt_id": job.prompt_id})
    world.say("execution_success", {"prompt_id": job.prompt_id})


@pytest.mark.parametrize(("name", "data"), [("clip_00001_.webm", WEBM), ("clip_00001_.mp4", MP4),
                                            ("clip_00001_.webp", WEBP)])  # fmt: skip
def test_a_video_comes_home_as_it_is_and_is_the_jobs_result(world: World, name: str, data: bytes) -> None:
    job = new_job(world)
    launch(world, job)
    world.attic.files[("CozyGen", name)] = data
    finish(world, job, {"images": [{"filename": name, "subfolder": "CozyGen", "type": "output"}], "animated": [True]})
    done = world.record(job.id)
    assert done.status == COMPLETED
    assert done.images == [{"filename": name, "subfolder": "backends/attic/CozyGen", "type": "output"}]
    assert (world.output / "backends/attic/CozyGen" / name).read_bytes() == data  # no record written into it


def test_a_backend_running_cozygen_video_output_itself_names_it_under_videos(world: World) -> None:
    job = new_job(world)
    launch(world, job)
    world.attic.files[("CozyGen", "clip_00001_.webm")] = WEBM
    item = {"filename": "clip_00001_.webm", "subfolder": "CozyGen", "type": "output", "format": "video/webm"}
    finish(world, job, {"videos": [item]})
    assert world.record(job.id).images == [
        {"filename": "clip_00001_.webm", "subfolder": "backends/attic/CozyGen", "type": "output"}
    ]


def test_a_preview_comes_home_into_the_temp_folder(world: World) -> None:
    job = new_job(world)
    launch(world, job)
    world.attic.files[("", "ComfyUI_temp_abcde_00001_.png")] = png()
    world.attic.files[("CozyGen", "plain_00001_.png")] = png()
    preview = {"filename": "ComfyUI_temp_abcde_00001_.png", "subfolder": "", "type": "temp"}
    output = {"filename": "plain_00001_.png", "subfolder": "CozyGen", "type": "output"}
    finish(world, job, {"images": [preview, output]})
    done = world.record(job.id)
    assert done.images == [
        {"filename": "ComfyUI_temp_abcde_00001_.png", "subfolder": "backends/attic", "type": "temp"},
        {"filename": "plain_00001_.png", "subfolder": "backends/attic/CozyGen", "type": "output"},
    ]
    temp = Path(world.host.temp_directory())
    assert (temp / "backends/attic/ComfyUI_temp_abcde_00001_.png").read_bytes() == png()  # no CozyGen record
    assert not (world.output / "backends/attic/ComfyUI_temp_abcde_00001_.png").exists()
    assert not [p for p in temp.iterdir() if p.name.startswith(".")]  # no partial file left


def test_a_preview_and_an_output_of_the_same_name_both_come_home(world: World) -> None:
    job = new_job(world)
    launch(world, job)
    world.attic.files[("", "same.png")] = png()
    same = {"filename": "same.png", "subfolder": ""}
    finish(world, job, {"images": [{**same, "type": "temp"}, {**same, "type": "output"}]})
    assert [i["type"] for i in world.record(job.id).images] == ["temp", "output"]


@pytest.mark.parametrize("item", [{"filename": "../x.png", "subfolder": "", "type": "temp"},
                                  {"filename": "x.png", "subfolder": "../..", "type": "temp"},
                                  {"filename": "x.png", "subfolder": "", "type": "input"}])  # fmt: skip
def test_untrusted_preview_names_are_never_written(world: World, item: dict[str, Any]) -> None:
    job = new_job(world)
    launch(world, job)
    world.attic.files[(item["subfolder"], item["filename"])] = png()
    finish(world, job, {"images": [item]})
    assert world.record(job.id).images == []
    assert [p for p in world.output.parent.rglob("*") if p.is_file()] == []


def test_a_preview_is_capped_smaller_than_an_output(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    caps: list[int] = []
    download = world.attic.download

    async def counting(params: dict[str, str], dest: Path, *, cap: int = 0) -> int:
        caps.append(cap)
        return await download(params, dest, cap=cap)

    monkeypatch.setattr(world.attic, "download", counting)
    job = new_job(world)
    launch(world, job)
    world.attic.files[("", "p.png")] = png()
    finish(world, job, {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"},
                                   {"filename": "p.png", "subfolder": "", "type": "output"}]})  # fmt: skip
    assert caps == [homecoming.MAX_TEMP, homecoming.MAX_OUTPUT]
