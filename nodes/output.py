"""CozyGen Output: saves images like ComfyUI's SaveImage and records what made them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ..core.gallery.place import saved_whole
from ..core.host import current as current_host
from ..core.media.metadata import CHUNK, cozygen_record


class CozyGenOutput:
    CATEGORY = "CozyGen"
    DESCRIPTION = (
        "Saves images to the output folder as PNG with the workflow, the job id and the CozyGen "
        "parameters embedded, and tells the CozyGen app about them."
    )
    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {"images": ("IMAGE", {"tooltip": "The images to save."})},
            "optional": {
                "filename_prefix": (
                    "STRING",
                    {
                        "default": "CozyGen/output",
                        "tooltip": "Subfolder and file name prefix inside the output folder.",
                    },
                ),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
        }

    def save_images(
        self,
        images: Any,
        filename_prefix: str = "CozyGen/output",
        prompt: dict | None = None,
        extra_pnginfo: dict | None = None,
    ) -> dict[str, Any]:
        host = current_host()
        height, width = images[0].shape[0], images[0].shape[1]
        folder, filename, counter, subfolder, _ = host.save_image_path(filename_prefix, width, height)
        prompt_id = host.executing_prompt_id()
        texts = [] if prompt is None else [("prompt", json.dumps(prompt))]  # the same in every image of the batch
        texts += [(key, json.dumps(value)) for key, value in (extra_pnginfo or {}).items()]
        texts.append((CHUNK, json.dumps(cozygen_record(prompt, prompt_id))))
        scratch = Path(host.output_directory())
        results = []
        for batch_number, image in enumerate(images):
            pixels = np.clip(255.0 * image.cpu().numpy(), 0, 255).astype(np.uint8)
            info = PngInfo()
            for key, text in texts:
                info.add_text(key, text)
            name = f"{filename.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
            with saved_whole(Path(folder, name), scratch) as partial:
                Image.fromarray(pixels).save(partial, format="PNG", pnginfo=info, compress_level=4)
            results.append({"filename": name, "subfolder": subfolder, "type": "output"})
            counter += 1
        host.send_message(
            "cozygen_batch_ready",
            {
                "status": "images_generated",
                "prompt_id": prompt_id,
                "images": [{**item, "url": view_url(item)} for item in results],
            },
            host.prompt_client_id(),  # the prompt's own socket(s); all of them when it has none
        )

        return {"ui": {"images": results}}


def view_url(item: dict[str, str]) -> str:
    """The ComfyUI /view address of a saved output (``filename``, ``subfolder``, ``type``)."""
    return "/view?" + urlencode({"filename": item["filename"], "subfolder": item["subfolder"], "type": item["type"]})
