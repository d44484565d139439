"""The parameters a phone form (or a script) can set on an API-format ComfyUI workflow.

:func:`extract_schema` reads a workflow and ComfyUI's ``/object_info`` and returns a list
of :class:`Parameter`. Each parameter says where its value is written (``targets``: pairs
of node id and input name), its type, its default (the value now in the workflow), and its
bounds or choices, which always come from ``object_info`` (never from hard-coded lists).

Two ways to find them:

- A workflow with CozyGen input nodes (``CozyGenString`` … ``CozyGenImage``, or the original
  CozyGen's ``CozyGen*Input`` classes) is described by those nodes alone, in their
  ``order``/``priority`` and then node id order. The value is written on the CozyGen node
  itself (``value``/``seed``/``image``; ``default_value``/``value``/``image_filename`` for
  the legacy classes).
- Otherwise the graph is read from each sampler (KSampler, KSamplerAdvanced, SamplerCustom,
  SamplerCustomAdvanced with its noise/guider/sampler/sigmas nodes): the prompts of the text
  encoders its conditioning comes from, seed, steps, cfg (and a FluxGuidance guidance), sampler,
  scheduler, denoise, the empty latent's size, the checkpoint or diffusion model and the LoRAs
  on its model chain; and every LoadImage. With several samplers the second one's own
  parameters are named ``seed_2``, ``steps_2``… and grouped apart; a node they share (one
  checkpoint, one empty latent) gives one parameter. An input that is a link is never a parameter.

The first is :mod:`.cozygen_params`, the second :mod:`.graph_params`; :class:`.parameter.Parameter`
is the parameter, :mod:`.object_info` reads the specs and :mod:`.api_format` the workflow's format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .api_format import ensure_api_format
from .app_mode import app_mode
from .cozygen_params import cozygen_schema
from .graph_params import GraphSchema
from .links import id_key
from .node_values import COZYGEN_INPUT_NODES
from .parameter import Parameter


def extract_schema(
    workflow: Any, object_info: Any, *, models: Mapping[str, Any] | None = None, ui: Any = None
) -> list[Parameter]:
    """The parameters of ``workflow`` (API format; BadRequest for the UI format), in display order.

    ``ui``, the editor's document ``workflow`` was converted from: its App-mode selection
    (:mod:`.app_mode`), when it has one, decides the parameters.

    ``models`` (folder → file names), when given, supplies choice lists for CozyGen choice nodes
    whose folder no node class of ``object_info`` lists.
    """
    return extract_form(workflow, object_info, models=models, ui=ui)[0]


def extract_form(
    workflow: Any, object_info: Any, *, models: Mapping[str, Any] | None = None, ui: Any = None
) -> tuple[list[Parameter], list[str]]:
    """:func:`extract_schema`'s parameters, and the ids of the output nodes whose images a job's results show
    (App mode's chosen outputs; empty: every output)."""
    ensure_api_format(workflow)
    object_info = object_info if isinstance(object_info, dict) else {}
    selected = app_mode(ui, workflow, object_info) if ui is not None else None
    if selected is not None:
        return selected.parameters, selected.outputs
    cozygen = sorted(
        (str(node_id) for node_id, node in workflow.items() if node.get("class_type") in COZYGEN_INPUT_NODES),
        key=id_key,
    )
    if cozygen:
        return cozygen_schema(workflow, cozygen, object_info, models), []
    return GraphSchema(workflow, object_info).build(), []
