"""One value a caller may set on a workflow (:class:`Parameter`), and the number rules both schema readers share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TYPES = ("string", "text", "int", "float", "boolean", "seed", "choice", "image")


@dataclass
class Parameter:
    """One value a caller may set. ``targets`` are the (node id, input name) pairs it is written to."""

    name: str
    label: str
    type: str
    default: Any = None
    min: float | int | None = None
    max: float | int | None = None
    step: float | int | None = None
    choices: list[Any] | None = None
    choice_source: str | None = None
    required: bool = False
    group: str | None = None
    order: int = 0
    description: str = ""
    targets: list[tuple[str, str]] = field(default_factory=list)
    randomize: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "choices": None if self.choices is None else list(self.choices),
            "choice_source": self.choice_source,
            "required": self.required,
            "group": self.group,
            "order": self.order,
            "description": self.description,
            "targets": [[node_id, name] for node_id, name in self.targets],
            "randomize": self.randomize,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parameter:
        """The inverse of :meth:`to_dict` (a schema sent back by a client or kept in a store)."""
        targets = [
            (str(t[0]), str(t[1])) for t in data.get("targets") or () if isinstance(t, list | tuple) and len(t) == 2
        ]
        choices = data.get("choices")
        return cls(
            name=str(data["name"]),
            label=str(data.get("label") or data["name"]),
            type=str(data.get("type") or "string"),
            default=data.get("default"),
            min=data.get("min"),
            max=data.get("max"),
            step=data.get("step"),
            choices=list(choices) if isinstance(choices, list) else None,
            choice_source=data.get("choice_source"),
            required=bool(data.get("required")),
            group=data.get("group"),
            order=int(data.get("order") or 0),
            description=str(data.get("description") or ""),
            targets=targets,
            randomize=bool(data.get("randomize")),
        )


def unique_name(name: str, taken: Mapping[str, Any]) -> str:
    """``name``, or ``name_2``, ``name_3``… the first not in ``taken``."""
    if name not in taken:
        return name
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    return f"{name}_{number}"


def finite_number(value: Any) -> int | float | None:
    """``value`` when it is a finite int or float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def whole_number(value: int | float | None) -> int | None:
    """``value`` as an int when it is whole, else None."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else None
