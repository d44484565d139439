"""ComfyUI's partner nodes (``comfy_api_nodes``: Flux Pro, DALL-E, Ideogram...): which class types they are, the
partner models CozyGen lists, and the Comfy account key they need.

A partner node runs its model on api.comfy.org (ComfyUI's ``--comfy-api-base``) and authenticates with the API key
of a Comfy account, which ComfyUI reads from the prompt's ``extra_data["api_key_comfy_org"]``. Its definition in
``/object_info`` says ``"api_node": true``. The admin stores the key once (the ``comfy_api_key`` setting); CozyGen
adds it to the jobs whose graph uses a partner node, and to nothing else. ComfyUI 0.3.68 and later keep that
entry out of the queue and history they show (``execution.SENSITIVE_EXTRA_DATA_KEYS``; ``api/host.py`` queues it
the same way), so the key lives only in the queued item while the job waits and runs.

Pure: no ComfyUI, no aiohttp.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

KEY_SETTING = "comfy_api_key"  # core/settings.py's secret
EXTRA_DATA_KEY = "api_key_comfy_org"  # where ComfyUI's partner nodes read it
# The extra_data entries ComfyUI treats as secrets: never in its queue and history answers, nor in CozyGen's records.
SECRET_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")


@dataclass(frozen=True)
class PartnerModel:
    """A model reached through one partner node. ``id`` is also its ``filename`` in DreamLayer's model lists (the
    seed's closed-source entries name no file); ids DreamLayer knows (flux-pro, dall-e-3...) are kept."""

    id: str
    name: str
    provider: str
    node: str  # the ComfyUI class type that runs it

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "filename": self.id, "provider": self.provider, "node": self.node}


PARTNER_MODELS: tuple[PartnerModel, ...] = (
    PartnerModel("flux-pro", "FLUX 1.1 [pro] Ultra", "Black Forest Labs", "FluxProUltraImageNode"),
    PartnerModel("flux-2-pro", "FLUX.2 [pro]", "Black Forest Labs", "Flux2ProImageNode"),
    PartnerModel("flux-kontext-pro", "FLUX.1 Kontext [pro]", "Black Forest Labs", "FluxKontextProImageNode"),
    PartnerModel("flux-kontext-max", "FLUX.1 Kontext [max]", "Black Forest Labs", "FluxKontextMaxImageNode"),
    PartnerModel("dall-e-3", "DALL-E 3", "OpenAI", "OpenAIDalle3"),
    PartnerModel("dall-e-2", "DALL-E 2", "OpenAI", "OpenAIDalle2"),
    PartnerModel("gpt-image-1", "GPT Image 1", "OpenAI", "OpenAIGPTImage1"),
    PartnerModel("ideogram-v3", "Ideogram V3", "Ideogram", "IdeogramV3"),
    PartnerModel("ideogram-v2", "Ideogram V2", "Ideogram", "IdeogramV2"),
    PartnerModel("ideogram-v1", "Ideogram V1", "Ideogram", "IdeogramV1"),
    PartnerModel("nano-banana", "Nano Banana (Gemini 2.5 Flash Image)", "Google", "GeminiImageNode"),
    PartnerModel("nano-banana-pro", "Nano Banana Pro (Gemini 3 Pro Image)", "Google", "GeminiImage2Node"),
    PartnerModel("seedream-4", "Seedream 4", "ByteDance", "ByteDanceSeedreamNode"),
    PartnerModel("seedream-3", "Seedream 3", "ByteDance", "ByteDanceImageNode"),
    PartnerModel("recraft-v3", "Recraft V3", "Recraft", "RecraftTextToImageNode"),
    PartnerModel("stable-image-ultra", "Stable Image Ultra", "Stability AI", "StabilityStableImageUltraNode"),
    PartnerModel("sd3.5", "Stable Diffusion 3.5", "Stability AI", "StabilityStableImageSD_3_5Node"),
    PartnerModel("luma-photon", "Luma Photon", "Luma", "LumaImageNode"),
    PartnerModel("kling-image", "Kling Image", "Kling", "KlingImageGenerationNode"),
    PartnerModel("runway-gen4-image", "Runway Gen-4 Image", "Runway", "RunwayTextToImageNode"),
    PartnerModel("wan-2.5-image", "Wan 2.5 Text to Image", "Alibaba", "WanTextToImageApi"),
)


def partner_classes(object_info: Any) -> frozenset[str]:
    """The class types ``object_info`` marks as partner nodes (``"api_node": true``)."""
    if not isinstance(object_info, Mapping):
        return frozenset()
    return frozenset(
        name for name, spec in object_info.items() if isinstance(spec, Mapping) and spec.get("api_node") is True
    )


def _classes(known: Mapping[str, Any] | Collection[str]) -> Collection[str]:
    return partner_classes(known) if isinstance(known, Mapping) else known


def uses_partner_nodes(graph: Any, known: Mapping[str, Any] | Collection[str]) -> list[str]:
    """The partner class types an API-format ``graph`` uses (sorted, each once). ``known`` is ComfyUI's
    ``object_info`` or the set of partner class types (``Host.partner_nodes``)."""
    if not isinstance(graph, Mapping):
        return []
    classes = _classes(known)
    named = (node.get("class_type") for node in graph.values() if isinstance(node, Mapping))
    return sorted({c for c in named if isinstance(c, str) and c in classes})


def key_for(graph: Any, known: Mapping[str, Any] | Collection[str], key: Any) -> str | None:
    """The key to add to this graph's ``extra_data``: the stored key when the graph uses a partner node, else None
    (a graph without one never carries it)."""
    if not isinstance(key, str) or not key.strip():
        return None
    return key.strip() if uses_partner_nodes(graph, known) else None


def listed_models(known: Mapping[str, Any] | Collection[str]) -> list[dict[str, str]]:
    """The partner models whose node this ComfyUI has, as ``{id, name, filename, provider, node}``."""
    classes = _classes(known)
    return [model.as_dict() for model in PARTNER_MODELS if model.node in classes]


def key_report(report: dict[str, Any], graph: Any, object_info: Any, *, key_set: bool) -> dict[str, Any]:
    """A workflow check (``core/graph/check.py``'s report) with what partner nodes need: for a graph that uses
    any, ``partner_nodes`` (their class types) and ``missing_key`` (``"comfy_api_key"`` while no key is stored,
    which makes ``ok`` false; else None). A report of a graph without partner nodes is returned unchanged."""
    used = uses_partner_nodes(graph, object_info)
    if not used:
        return report
    missing = None if key_set else KEY_SETTING
    return {**report, "ok": bool(report.get("ok")) and missing is None, "partner_nodes": used, "missing_key": missing}


def with_key_state(report: dict[str, Any], *, key_set: bool) -> dict[str, Any]:
    """A kept check (made by :func:`key_report` with the key counted as set) as it stands now: ``missing_key``
    and ``ok`` follow whether a key is stored. A report without partner nodes is returned unchanged."""
    if not report.get("partner_nodes") or key_set:
        return report
    return {**report, "ok": False, "missing_key": KEY_SETTING}
