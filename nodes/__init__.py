"""CozyGen's custom nodes, as ComfyUI discovers them."""

from __future__ import annotations

from . import inputs, legacy
from .output import CozyGenOutput
from .procedural import CozyGenProceduralImage
from .video import CozyGenVideoOutput

_NODES = {
    "CozyGenProceduralImage": (CozyGenProceduralImage, "CozyGen Procedural Image"),
    "CozyGenOutput": (CozyGenOutput, "CozyGen Output"),
    "CozyGenVideoOutput": (CozyGenVideoOutput, "CozyGen Video Output"),
    **inputs.NODES,
    **legacy.NODES,
}

NODE_CLASS_MAPPINGS = {name: node for name, (node, _) in _NODES.items()}
NODE_DISPLAY_NAME_MAPPINGS = {name: display for name, (_, display) in _NODES.items()}
