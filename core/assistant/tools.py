"""The assistant's tools: their OpenAI schemas, and the check of each call a model makes.

A call is answered to the model with a ``tool`` message, ``{"ok": true, ...}`` or ``{"ok": false, "error": "<why>"}``
(worded so the model can fix its call), and, when it is valid, becomes an :class:`Action` the phone shows as a chip:
``set_field`` and ``insert_tags`` are applied by the phone at once (the chip undoes them), ``queue`` waits for the
user's confirm. A field is a parameter of the open workflow, named as the form names it or by an alias
(prompt, negative, width, height, steps, seed, cfg); values are checked as the job's fill checks them.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..graph.fill import check_value
from ..graph.parameter import Parameter
from ..llm.model import ToolCall

MAX_TAGS = 20  # tags in one insert_tags call
MAX_VARIATIONS = 4
MAX_TEXT = 8000  # characters of a text value the assistant may set
TEXT_TYPES = ("string", "text")
ALIASES = ("prompt", "negative", "width", "height", "steps", "seed", "cfg")
CONFIRMED, PROPOSED, APPLIED, UNDONE = "confirmed", "proposed", "applied", "undone"

# tag name -> the list's tag (an alias resolved), or None when the tag list does not know it
TagLookup = Callable[[list[str]], Awaitable[dict[str, str | None]]]

_FIELD = {"type": "string", "description": "a field of the open workflow (its name, or prompt/negative/width/height/"
                                           "steps/seed/cfg)"}  # fmt: skip
SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "set_field",
            "description": "Set one field of the user's form (applied at once; the user can undo it).",
            "parameters": {
                "type": "object",
                "properties": {"field": _FIELD, "value": {"description": "the new value, of the field's type"}},
                "required": ["field", "value"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "insert_tags",
            "description": "Add Danbooru tags to a text field (the prompt unless field is given). Only tags of the "
            "tag list are accepted; unknown ones are refused by name.",
            "parameters": {
                "type": "object",
                "properties": {
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TAGS},
                    "field": _FIELD,
                },
                "required": ["tags"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "queue",
            "description": "Propose generating with the form as it is (plus changes): the user confirms first. "
            "variations > 1 queues that many jobs, each with a new seed.",
            "parameters": {
                "type": "object",
                "properties": {
                    "variations": {"type": "integer", "minimum": 1, "maximum": MAX_VARIATIONS},
                    "changes": {"type": "object", "description": "field -> value, for these jobs only"},
                },
            },
        },
    },
]
TOOL_NAMES = tuple(s["function"]["name"] for s in SCHEMAS)


@dataclass
class Action:
    """A valid tool call, as the phone shows it (``to_event``) and as the conversation keeps it (``to_dict``)."""

    id: str
    tool: str
    args: dict[str, Any]
    summary: str
    confirm: bool
    state: str = APPLIED
    jobs: list[str] = field(default_factory=list)
    workflow: str = ""
    values: dict[str, Any] = field(default_factory=dict)  # queue: the form when it was proposed
    seeds: list[str] = field(default_factory=list)  # queue: the seed fields a variation draws anew

    def to_event(self) -> dict[str, Any]:
        return {"id": self.id, "tool": self.tool, "args": self.args, "summary": self.summary, "confirm": self.confirm}

    def shown(self) -> dict[str, Any]:
        """The chip in the conversation's listing: the event, its state and the jobs a confirm queued."""
        return {**self.to_event(), "state": self.state, "jobs": list(self.jobs)}

    def to_dict(self) -> dict[str, Any]:
        return {**self.shown(), "workflow": self.workflow, "values": self.values, "seeds": self.seeds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        return cls(
            id=str(data["id"]), tool=str(data["tool"]), args=dict(data.get("args") or {}),
            summary=str(data.get("summary") or ""), confirm=bool(data.get("confirm")),
            state=str(data.get("state") or APPLIED), jobs=[str(j) for j in data.get("jobs") or []],
            workflow=str(data.get("workflow") or ""), values=dict(data.get("values") or {}),
            seeds=[str(s) for s in data.get("seeds") or []],
        )  # fmt: skip


@dataclass
class Outcome:
    """What the model is told (``reply``), and the action when the call was valid."""

    reply: dict[str, Any]
    action: Action | None = None


class Refused(ValueError):
    """A call the model must fix: the message goes back to it."""


def new_action_id() -> str:
    return "act" + secrets.token_hex(8)


def refused(message: str) -> Outcome:
    return Outcome({"ok": False, "error": message})


class Toolbox:
    """The tools over one workflow's form and the user's values; ``values`` follows the actions as they apply."""

    def __init__(
        self, workflow: str, parameters: Sequence[Parameter], values: Mapping[str, Any], tags: TagLookup
    ) -> None:
        self.workflow, self.parameters, self.tags = workflow, list(parameters), tags
        self.by_name = {p.name: p for p in self.parameters}
        self.values = {k: v for k, v in values.items() if k in self.by_name}

    async def run(self, call: ToolCall) -> Outcome:
        if call.name not in TOOL_NAMES:
            return refused(f"there is no tool {call.name[:60]!r}: use {', '.join(TOOL_NAMES)}")
        try:
            args = orjson.loads(call.arguments or "{}")
        except orjson.JSONDecodeError:
            return refused("the arguments are not valid JSON: send a JSON object")
        if not isinstance(args, dict):
            return refused("the arguments must be a JSON object")
        try:
            if call.name == "set_field":
                return self.set_field(args)
            if call.name == "insert_tags":
                return await self.insert_tags(args)
            return self.queue(args)
        except Refused as why:
            return refused(str(why))

    # -- the tools ---------------------------------------------------------------------------------------
    def set_field(self, args: dict[str, Any]) -> Outcome:
        param = self.field(args.get("field"))
        if "value" not in args:
            raise Refused("give the new value as value")
        value = self.checked(param, args["value"])
        self.values[param.name] = value
        action = Action(new_action_id(), "set_field", {"field": param.name, "value": value},
                        f"{param.label or param.name} → {shown(value)}", confirm=False)  # fmt: skip
        return Outcome({"ok": True, "field": param.name, "value": value}, action)

    async def insert_tags(self, args: dict[str, Any]) -> Outcome:
        param = self.field(args.get("field") if args.get("field") not in (None, "") else "prompt")
        if param.type not in TEXT_TYPES:
            raise Refused(f"{param.name} is a {param.type} field, not text: tags go into the prompt or negative")
        asked = args.get("tags")
        if not isinstance(asked, list) or not asked or not all(isinstance(t, str) and t.strip() for t in asked):
            raise Refused("tags must be a list of tag names")
        if len(asked) > MAX_TAGS:
            raise Refused(f"send at most {MAX_TAGS} tags at once")
        names = list(dict.fromkeys(t.strip() for t in asked))
        found = await self.tags(names)
        unknown = [name for name in names if not found.get(name)]
        known = list(dict.fromkeys(str(found[name]) for name in names if found.get(name)))
        if not known:
            raise Refused(f"none of these tags is in the tag list: {', '.join(unknown)}; use existing Danbooru tags")
        current = self.values.get(param.name, param.default)
        text = current if isinstance(current, str) else ""
        value = join_tags(text, known)
        if len(value) > MAX_TEXT:
            raise Refused(f"{param.name} would be longer than {MAX_TEXT} characters")
        self.values[param.name] = value
        action = Action(new_action_id(), "insert_tags", {"field": param.name, "tags": known, "value": value},
                        f"{param.label or param.name} + {', '.join(known)}", confirm=False)  # fmt: skip
        reply: dict[str, Any] = {"ok": True, "field": param.name, "inserted": known}
        if unknown:
            reply["refused"] = {name: "not in the tag list" for name in unknown}
        return Outcome(reply, action)

    def queue(self, args: dict[str, Any]) -> Outcome:
        variations = args.get("variations", 1)
        if isinstance(variations, float) and variations.is_integer():
            variations = int(variations)
        if not isinstance(variations, int) or isinstance(variations, bool) or not 1 <= variations <= MAX_VARIATIONS:
            raise Refused(f"variations must be a whole number from 1 to {MAX_VARIATIONS}")
        asked = args.get("changes") or {}
        if not isinstance(asked, dict):
            raise Refused("changes must be an object of field -> value")
        changes, errors = {}, []
        for name, value in asked.items():
            try:
                param = self.field(name)
                changes[param.name] = self.checked(param, value)
            except Refused as why:
                errors.append(str(why))
        if errors:
            raise Refused("; ".join(errors))
        n = f"{variations} jobs" if variations > 1 else "1 job"
        listed = ", ".join(f"{k} {shown(v)}" for k, v in changes.items())
        summary = f"queue {n}" + (f" with {listed}" if changes else "")
        action = Action(
            new_action_id(), "queue", {"variations": variations, "changes": changes}, summary, confirm=True,
            state=PROPOSED, workflow=self.workflow, values=dict(self.values),
            seeds=[p.name for p in self.parameters if p.type == "seed"],
        )  # fmt: skip
        return Outcome({"ok": True, "pending": "the user confirms it on the phone"}, action)

    # -- shared ------------------------------------------------------------------------------------------
    def field(self, name: Any) -> Parameter:
        """The parameter ``name`` names (exactly, by its label, or by an alias), or Refused listing the fields."""
        found = resolve_field(name, self.parameters) if isinstance(name, str) else None
        if found is None:
            listed = ", ".join(p.name for p in self.parameters[:40])
            raise Refused(f"this workflow has no field {str(name)[:60]!r}; its fields are: {listed}")
        return found

    def checked(self, param: Parameter, value: Any) -> Any:
        if param.type == "image":
            raise Refused(f"{param.name} is an image: the user chooses it on the phone")
        if value is None:
            raise Refused(f"give a value for {param.name}")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise Refused(f"{param.name} takes at most {MAX_TEXT} characters")
        if param.type == "seed" and value == -1:
            return -1  # a new random seed, drawn when the job is filled
        try:
            return check_value(param, value)
        except ValueError as why:
            raise Refused(f"{param.name}: {why}") from None


def resolve_field(name: str, parameters: Sequence[Parameter]) -> Parameter | None:
    """A parameter by its name, its label (any case) or an alias word: prompt and negative are text fields (the
    negative one named so), width/height/steps/seed/cfg the field named or labelled with the word."""
    wanted = name.strip()
    low = wanted.lower().replace(" ", "_")
    for param in parameters:
        if param.name == wanted:
            return param
    for param in parameters:
        if low in (param.name.lower(), (param.label or "").lower().replace(" ", "_")):
            return param
    if low in ("negative", "negative_prompt", "neg"):
        return next((p for p in parameters if p.type in TEXT_TYPES and _negative(p)), None)
    if low in ("prompt", "positive", "positive_prompt"):
        texts = [p for p in parameters if p.type in TEXT_TYPES and not _negative(p)]
        named = [p for p in texts if any(w in _words(p) for w in ("prompt", "positive", "text"))]
        return (named or texts)[0] if texts else None
    if low in ALIASES:  # width, height, steps, seed, cfg
        return next((p for p in parameters if low in _words(p) or any(t[1] == low for t in p.targets)), None)
    return None


def _words(param: Parameter) -> str:
    return f"{param.name} {param.label or ''}".lower()


def _negative(param: Parameter) -> bool:
    return "negative" in _words(param) or param.name.lower().startswith("neg")


def join_tags(text: str, tags: list[str]) -> str:
    """``text`` with the tags not in it yet appended, comma separated (underscores written as spaces)."""
    present = {piece.strip().lower().replace(" ", "_") for piece in text.split(",")}
    added = [tag.replace("_", " ") if any(c.isalpha() for c in tag) else tag for tag in tags
             if tag.lower() not in present]  # fmt: skip
    if not added:
        return text
    head = text.rstrip().rstrip(",")
    return f"{head}, {', '.join(added)}" if head else ", ".join(added)


def shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    return orjson.dumps(value).decode()
