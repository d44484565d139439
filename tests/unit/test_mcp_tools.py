"""The MCP tools' catalogue and argument checks (core/mcp), the wait for a job's end, and the endpoint's Host rule
while auth is off (api/mcp)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from cozygen.api.mcp import trusted_host
from cozygen.core.accounts.access import USER, VIEWER
from cozygen.core.errors import BadRequest
from cozygen.core.events import EventHub
from cozygen.core.jobs.model import COMPLETED, PENDING, Job
from cozygen.core.mcp import views
from cozygen.core.mcp.tools import MAX_WAIT, TOOLS, ArgumentErrors, check_arguments, find


def test_every_tool_has_an_object_schema_that_names_its_required_arguments() -> None:
    assert [t.name for t in TOOLS] == [
        "list_workflows", "get_workflow_parameters", "generate", "get_job", "search_gallery", "fetch_image",
    ]  # fmt: skip
    for tool in TOOLS:
        schema = tool.input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])
        assert tool.description and tool.level in (VIEWER, USER)
    assert [t.name for t in TOOLS if t.level == USER] == ["generate"]


def test_defaults_fill_in_and_good_arguments_pass() -> None:
    args = check_arguments(find("generate"), {"workflow": "w.json", "values": {"seed": 1}})
    assert args == {"workflow": "w.json", "values": {"seed": 1}, "num_images": 1, "wait": True,
                    "timeout_seconds": 60.0}  # fmt: skip
    assert check_arguments(find("fetch_image"), {"image_id": 3})["size"] == "thumbnail"
    assert check_arguments(find("list_workflows"), None) == {}


def test_every_bad_argument_is_named_with_what_is_right() -> None:
    with pytest.raises(ArgumentErrors) as caught:
        check_arguments(
            find("generate"),
            {"num_images": 9, "wait": 1, "timeout_seconds": float("nan"), "values": [], "extra": True},
        )
    fields = caught.value.errors
    assert set(fields) == {"workflow", "num_images", "wait", "timeout_seconds", "values", "extra"}
    assert fields["workflow"].startswith("required: text")
    assert fields["num_images"] == "must be a whole number from 1 to 8, not 9"
    assert fields["wait"] == "must be true or false, not 1"  # 1 is no boolean
    assert f"from 1 to {MAX_WAIT}" in fields["timeout_seconds"]
    assert "unknown argument" in fields["extra"] and "workflow" in fields["extra"]
    assert caught.value.status == 400 and caught.value.code == "INVALID_ARGUMENTS"
    with pytest.raises(ArgumentErrors, match="'thumbnail', 'original'"):
        check_arguments(find("fetch_image"), {"image_id": 1, "size": "huge"})
    with pytest.raises(ArgumentErrors, match="whole number of at least 1"):
        check_arguments(find("fetch_image"), {"image_id": True})
    with pytest.raises(ArgumentErrors, match="an object of named arguments"):
        check_arguments(find("get_job"), ["job"])


def test_an_unknown_tool_lists_the_tools() -> None:
    with pytest.raises(BadRequest, match="fetch_image") as caught:
        find("draw")
    assert caught.value.code == "UNKNOWN_TOOL"


def test_parameters_and_jobs_are_shown_compactly() -> None:
    full = {"name": "seed", "label": "Seed", "type": "int", "default": 0, "min": None, "choices": None,
            "description": "", "targets": [["3", "seed"]], "group": None}  # fmt: skip
    shown = views.parameter(full)
    assert shown == {"name": "seed", "label": "Seed", "type": "int", "default": 0}
    job = Job(id="j1", prompt_id="p1", workflow="w.json", username="ann", created_at=1.0)
    viewed = views.job(job.to_dict(), [])
    assert viewed["job_id"] == "j1" and viewed["status"] == PENDING and viewed["images"] == []
    assert "error" not in viewed and "username" not in viewed


def test_waiting_ends_when_the_job_ends_or_the_time_is_up() -> None:
    async def scenario() -> tuple[Job, float, Job, float]:
        hub = EventHub()
        job = Job(id="j1", prompt_id="p1", workflow="w.json", username="ann", created_at=1.0)
        current = {"job": job}

        async def load() -> Job:
            return current["job"]

        async def finish() -> None:
            await asyncio.sleep(0.05)
            current["job"] = dataclasses.replace(job, status=COMPLETED)
            hub.publish("job.completed", {"id": "j1"})

        start = time.monotonic()
        finishing = asyncio.create_task(finish())
        ended = await views.wait_for_end(hub, load, 10)
        took = time.monotonic() - start
        await finishing
        current["job"] = job
        start = time.monotonic()
        waited = await views.wait_for_end(hub, load, 0.2)
        return ended, took, waited, time.monotonic() - start

    ended, took, waited, timed = asyncio.run(scenario())
    assert ended.status == COMPLETED and took < 1.0  # woken by the event, not the one-second re-check
    assert waited.status == PENDING and 0.15 < timed < 1.0


@pytest.mark.parametrize(
    ("host", "trusted"),
    [
        ("127.0.0.1:8188", True),
        ("localhost:8188", True),
        ("[::1]:8188", True),
        ("192.168.1.20:8188", True),
        ("192.168.1.20", True),
        ("evil.example:8188", False),
        ("comfy.local", False),
        ("", False),
    ],
)
def test_while_auth_is_off_only_addresses_and_localhost_are_trusted_hosts(host: str, trusted: bool) -> None:
    assert trusted_host(host) is trusted


def test_importing_cozygen_leaves_the_mcp_sdk_unimported() -> None:
    import subprocess
    import sys

    from support import PROJECT

    code = (
        "import sys; sys.path.insert(0, 'tests'); from support import import_project_as; import_project_as(); "
        "import cozygen.api, cozygen.api.mcp, cozygen.api.compat.cyberimage_mcp; "
        "print(sorted(m for m in ('mcp', 'mcp_types', 'starlette', 'httpx2', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
