"""The MCP tools CozyGen offers: their names, descriptions, input schemas and the level each needs, and the check
of a call's arguments against them (every bad argument at once, with what would be right).

Plain data and no MCP import: the protocol layer (api/mcp/) turns these into the SDK's types.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..accounts.access import USER, VIEWER
from ..errors import BadRequest
from ..gallery.thumbnails import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH
from ..jobs.model import MAX_IMAGES

MAX_WAIT = 240.0  # seconds a generate call may hold its answer (MCP clients read for 300 s by default)
DEFAULT_WAIT = 60.0
MAX_RESULTS = 50
ORIGINAL_MAX_BYTES = 5 * 1024 * 1024  # an original image in one tool answer (base64 makes it a third larger)
KINDS = ("image", "video", "audio", "all")
SIZES = ("thumbnail", "original")


class ArgumentErrors(BadRequest):
    """A tool call's bad arguments, each named with what it should be."""

    code = "INVALID_ARGUMENTS"

    def __init__(self, tool: str, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        shown = "; ".join(f"{name}: {message}" for name, message in self.errors.items())
        super().__init__(f"bad arguments for {tool}: {shown}", extra={"fields": self.errors})


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    level: str  # the access level a caller's role must reach (core.accounts.access)
    properties: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @property
    def read_only(self) -> bool:
        return self.level == VIEWER

    @property
    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": self.properties,
            "required": list(self.required),
            "additionalProperties": False,
        }


@dataclass
class ImagePart:
    data: bytes
    mime_type: str


@dataclass
class ToolResult:
    """What a tool answers: JSON data, and images to show (MCP image content)."""

    data: dict[str, Any]
    images: list[ImagePart] = field(default_factory=list)


WORKFLOW = {"type": "string", "description": "A workflow's file name, as list_workflows gives it"}
TOOLS = (
    Tool(
        "list_workflows",
        "List workflows",
        "The workflows this CozyGen can run (file names). Read one's form with get_workflow_parameters.",
        VIEWER,
    ),
    Tool(
        "get_workflow_parameters",
        "Workflow parameters",
        "The form of one workflow: each parameter's name, type, default, limits and choices. Pass values by "
        "these names to generate.",
        VIEWER,
        {"workflow": WORKFLOW},
        ("workflow",),
    ),
    Tool(
        "generate",
        "Generate",
        "Queue a job on a workflow with parameter values (missing ones take their defaults). With wait (the "
        "default) the answer comes when the job ends or the timeout passes, with thumbnails of its images; "
        "otherwise at once with the job id to poll with get_job.",
        USER,
        {
            "workflow": WORKFLOW,
            "values": {
                "type": "object",
                "description": "Parameter name -> value, as get_workflow_parameters lists them",
                "additionalProperties": True,
            },
            "num_images": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGES, "default": 1},
            "wait": {"type": "boolean", "default": True, "description": "Wait for the job to end"},
            "timeout_seconds": {
                "type": "number",
                "minimum": 1,
                "maximum": MAX_WAIT,
                "default": DEFAULT_WAIT,
                "description": "How long to wait at most; the job goes on after it (poll with get_job)",
            },
        },
        ("workflow",),
    ),
    Tool(
        "get_job",
        "Get a job",
        "A job's status (pending, running, completed, failed, cancelled, interrupted), progress and images "
        "(their ids go to fetch_image).",
        VIEWER,
        {"job_id": {"type": "string", "description": "The id generate answered"}},
        ("job_id",),
    ),
    Tool(
        "search_gallery",
        "Search the gallery",
        "Your outputs, newest first: by words of their prompt and by model. Each result's id goes to fetch_image.",
        VIEWER,
        {
            "query": {"type": "string", "description": "Words of the prompt"},
            "model": {"type": "string", "description": "A model (checkpoint) name"},
            "kind": {"type": "string", "enum": list(KINDS), "default": "image"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS, "default": 20},
            "cursor": {"type": "string", "description": "next_cursor of the previous page"},
            "include_others": {
                "type": "boolean",
                "default": False,
                "description": "Also outputs that are not of your jobs, where the gallery shows them to you",
            },
        },
    ),
    Tool(
        "fetch_image",
        "Fetch an image",
        f"An image of the gallery as image content: a thumbnail (max_width wide, {DEFAULT_WIDTH} by default), or "
        f"the original file when it is at most {ORIGINAL_MAX_BYTES // (1024 * 1024)} MiB.",
        VIEWER,
        {
            "image_id": {"type": "integer", "minimum": 1, "description": "An id from get_job or search_gallery"},
            "size": {"type": "string", "enum": list(SIZES), "default": "thumbnail"},
            "max_width": {"type": "integer", "minimum": MIN_WIDTH, "maximum": MAX_WIDTH, "default": DEFAULT_WIDTH},
        },
        ("image_id",),
    ),
)
BY_NAME = {tool.name: tool for tool in TOOLS}


def find(name: str) -> Tool:
    tool = BY_NAME.get(name)
    if tool is None:
        raise BadRequest(f"no tool {name!r}; the tools are: {', '.join(BY_NAME)}", code="UNKNOWN_TOOL")
    return tool


def describe(spec: Mapping[str, Any]) -> str:
    """What a schema property wants, in words."""
    kind = spec.get("type")
    if "enum" in spec:
        return "one of " + ", ".join(repr(v) for v in spec["enum"])
    words = {"integer": "a whole number", "number": "a number", "string": "text", "boolean": "true or false",
             "object": "an object"}.get(str(kind), str(kind))  # fmt: skip
    if "minimum" in spec and "maximum" in spec:
        words += f" from {spec['minimum']} to {spec['maximum']}"
    elif "minimum" in spec:
        words += f" of at least {spec['minimum']}"
    return words


def fits(spec: Mapping[str, Any], value: Any) -> bool:
    kind = spec.get("type")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "object":
        ok = isinstance(value, dict)
    else:
        ok = True
    if ok and "enum" in spec:
        ok = value in spec["enum"]
    if ok and kind in ("integer", "number"):
        ok = spec.get("minimum", -math.inf) <= value <= spec.get("maximum", math.inf)
    return ok


def check_arguments(tool: Tool, arguments: Any) -> dict[str, Any]:
    """The arguments with defaults filled in, or ArgumentErrors naming every bad one."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ArgumentErrors(tool.name, {"arguments": "an object of named arguments"})
    errors: dict[str, str] = {}
    for name in arguments:
        if name not in tool.properties:
            known = ", ".join(tool.properties) or "none"
            errors[name] = f"unknown argument (this tool takes: {known})"
    for name in tool.required:
        if arguments.get(name) is None:
            errors[name] = f"required: {describe(tool.properties[name])}"
    checked: dict[str, Any] = {}
    for name, spec in tool.properties.items():
        value = arguments.get(name)
        if value is None:
            checked[name] = spec.get("default")
        elif not fits(spec, value):
            errors[name] = f"must be {describe(spec)}, not {value!r}"[:300]
        else:
            checked[name] = value
    if errors:
        raise ArgumentErrors(tool.name, errors)
    return checked
