"""Which of a workflow's parameters are its positive and negative prompts, by their names.

A CozyGen form names them (``prompt``, ``negative_prompt``, ``positive_prompt``…); a plain graph's schema
(:mod:`core.graph.graph_params`) names them ``positive`` and ``negative``. Names are read the way the
summary reads recorded parameters (:data:`core.graph.summary.PARAM_FIELDS`), then by the words they contain.
The first match wins: a second sampler's ``positive_2`` is not the prompt Spoon Feeder sends.
"""

from __future__ import annotations

from collections.abc import Iterable

from ....core.graph.summary import PARAM_FIELDS


def side_of(name: str) -> str | None:
    """``positive``, ``negative`` or None for a parameter name."""
    plain = name.lower().replace(" ", "").replace("_", "").replace("-", "")
    side = PARAM_FIELDS.get(plain)
    if side in ("positive", "negative"):
        return side
    if "negative" in plain:
        return "negative" if "prompt" in plain or "text" in plain else None
    return "positive" if "prompt" in plain else None


def prompt_names(names: Iterable[str]) -> tuple[str | None, str | None]:
    """The names of the positive and of the negative prompt among ``names`` (None where there is none)."""
    positive = negative = None
    for name in names:
        side = side_of(name)
        if side == "positive" and positive is None:
            positive = name
        elif side == "negative" and negative is None:
            negative = name
    return positive, negative
