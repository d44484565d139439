"""CozyGen Video Output: a batch of images as one WebM, MP4 or animated GIF in the output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.gallery.place import saved_whole
from ..core.host import current as current_host
from ..core.media import video_encode
from .output import view_url

FORMATS = list(video_encode.FORMATS)


class CozyGenVideoOutput:
    CATEGORY = "CozyGen"
    DESCRIPTION = (
        "Saves a batch of images as one video (WebM or MP4, written with PyAV) or animated GIF in the output "
        "folder, and tells the CozyGen app about it."
    )
    RETURN_TYPES = ()
    FUNCTION = "save_video"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The frames, in order (a batch of images)."}),
                "frame_rate": ("INT", {"default": 8, "min": 1, "max": 60, "tooltip": "Frames per second."}),
                "loop_count": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 100,
                        "tooltip": "GIF only: how many times it plays (0 = forever). Video players loop on their own.",
                    },
                ),
                "filename_prefix": (
                    "STRING",
                    {"default": "CozyGen/video", "tooltip": "Subfolder and file name prefix inside the output folder."},
                ),
                "format": (
                    FORMATS,
                    {
                        "default": "video/webm",
                        "tooltip": "video/webm (VP9) and video/mp4 (H.264) need PyAV; image/gif needs only Pillow.",
                    },
                ),
                "pingpong": (
                    "BOOLEAN",
                    {"default": False, "tooltip": "Play forward then backward (0 1 2 3 2 1), for a smooth loop."},
                ),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
        }

    def save_video(
        self,
        images: Any,
        frame_rate: int = 8,
        loop_count: int = 0,
        filename_prefix: str = "CozyGen/video",
        format: str = "video/webm",
        pingpong: bool = False,
        prompt: dict | None = None,
        extra_pnginfo: dict | None = None,
    ) -> dict[str, Any]:
        host = current_host()
        ext = video_encode.extension_for(format)
        frames = video_encode.to_uint8(images.cpu().numpy())
        if pingpong:
            frames = video_encode.pingpong(frames)
        height, width = frames.shape[1], frames.shape[2]
        folder, filename, counter, subfolder, _ = host.save_image_path(filename_prefix, width, height)
        name = f"{filename.replace('%batch_num%', '0')}_{counter:05}_.{ext}"
        with saved_whole(Path(folder, name), Path(host.output_directory())) as partial:
            video_encode.write(frames, partial, format, frame_rate, loop_count)
        item = {"filename": name, "subfolder": subfolder, "type": "output", "format": format}
        host.send_message(
            "cozygen_video_ready",
            {
                "status": "video_generated",
                "prompt_id": host.executing_prompt_id(),
                "video_url": view_url(item),
                "filename": name,
                "subfolder": subfolder,
                "type": "output",
                "format": format,
                "frames": int(frames.shape[0]),
            },
            host.prompt_client_id(),  # the prompt's own socket(s); all of them when it has none
        )

        return {"ui": {"gifs" if ext == "gif" else "videos": [item]}}
