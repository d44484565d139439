"""CozyGen Procedural Image: a seeded picture without model weights.

It lets the whole loop (form, queue, progress, output, gallery) run on a bare
machine, and reports its steps through ComfyUI's own progress bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ..core.host import current as current_host
from ..core.media import procedural


class CozyGenProceduralImage:
    CATEGORY = "CozyGen"
    DESCRIPTION = (
        "Draws a seeded pattern from width, height, seed and text. Needs no model; the same inputs give the same image."
    )
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        side = {"min": 16, "max": procedural.MAX_SIDE, "step": 8}
        return {
            "required": {
                "width": ("INT", {"default": 512, **side, "tooltip": "Image width in pixels."}),
                "height": ("INT", {"default": 512, **side, "tooltip": "Image height in pixels."}),
                "seed": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 0xFFFFFFFFFFFFFFFF,
                        "tooltip": "The same seed and text give the same image.",
                    },
                ),
                "text": (
                    "STRING",
                    {"default": "", "multiline": True, "tooltip": "Any text; it changes the palette and the pattern."},
                ),
                "steps": (
                    "INT",
                    {
                        "default": 8,
                        "min": 1,
                        "max": 200,
                        "tooltip": "Layers of detail; each step is reported on the progress bar.",
                    },
                ),
                "batch_size": (
                    "INT",
                    {"default": 1, "min": 1, "max": 16, "tooltip": "Images to make; image i uses seed + i."},
                ),
            }
        }

    def generate(self, width: int, height: int, seed: int, text: str, steps: int, batch_size: int = 1) -> tuple[Any]:
        import torch  # ComfyUI has loaded it already

        bar = current_host().progress_bar(steps * batch_size)
        images = []
        for index in range(batch_size):

            def on_preview(done: int, _total: int, picture: np.ndarray, offset: int = index * steps) -> None:
                preview = Image.fromarray((picture * 255).round().astype(np.uint8))
                bar.update_absolute(offset + done, preview=("JPEG", preview, procedural.PREVIEW_SIDE))

            images.append(procedural.generate(width, height, seed + index, text, steps, on_preview=on_preview))
        return (torch.from_numpy(np.stack(images)),)
