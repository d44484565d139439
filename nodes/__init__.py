"""CozyGen's custom nodes, as ComfyUI discovers them."""

from __future__ import annotations

from .output import CozyGenOutput
from .procedural import CozyGenProceduralImage

NODE_CLASS_MAPPINGS = {
    "CozyGenProceduralImage": CozyGenProceduralImage,
    "CozyGenOutput": CozyGenOutput,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "CozyGenProceduralImage": "CozyGen Procedural Image",
    "CozyGenOutput": "CozyGen Output",
}
