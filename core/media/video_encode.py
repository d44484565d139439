"""Frames (uint8 numpy arrays) to WebM, MP4 (PyAV) or GIF (Pillow).

PyAV ships with ComfyUI; it is imported only when a video is written, and its absence
is reported as a RuntimeError that says what to install. Files are written under a
hidden temporary name beside the target and renamed into place, so nothing ever sees
half a video.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

FORMATS = {"video/webm": "webm", "video/mp4": "mp4", "image/gif": "gif"}
# codec preference per container, with the encoder options that give a good small file
_CODECS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "webm": [
        ("libvpx-vp9", {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}),
        ("libvpx", {"crf": "10", "b": "2M", "deadline": "realtime", "cpu-used": "8"}),
    ],
    "mp4": [
        ("libx264", {"crf": "19", "preset": "veryfast"}),
        ("mpeg4", {"qscale": "3"}),
    ],
}


def extension_for(fmt: str) -> str:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None


def to_uint8(frames: Any) -> np.ndarray:
    """[B, H, W, C] floats in 0..1 (C 1, 3 or 4) to uint8 RGB."""
    array = np.asarray(frames, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[0] == 0:
        raise ValueError(f"expected a batch of images [frames, height, width, channels], got shape {array.shape}")
    channels = array.shape[-1]
    if channels == 1:
        array = np.repeat(array, 3, axis=-1)
    elif channels >= 3:
        array = array[..., :3]
    else:
        raise ValueError(f"images with {channels} channels cannot be written as video")
    return np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)


def pingpong(frames: np.ndarray) -> np.ndarray:
    """Forward then back without repeating the end frames: 0 1 2 3 → 0 1 2 3 2 1."""
    if len(frames) < 3:
        return frames
    return np.concatenate([frames, frames[-2:0:-1]], axis=0)


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad to even width and height (4:2:0 encoders need it) by repeating the last row/column."""
    pad_h = frames.shape[1] % 2
    pad_w = frames.shape[2] % 2
    if not pad_h and not pad_w:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def write(frames: np.ndarray, path: str | Path, fmt: str, frame_rate: int, loop_count: int = 0) -> None:
    """Write uint8 RGB frames [B, H, W, 3] to ``path`` in ``fmt`` (a key of FORMATS; ``path``'s own extension
    does not matter, so it can be a partial file)."""
    ext = extension_for(fmt)
    if frame_rate < 1:
        raise ValueError(f"frame_rate must be at least 1, got {frame_rate}")
    if ext == "gif":
        _write_gif(frames, Path(path), frame_rate, loop_count)
    else:
        _write_video(frames, Path(path), ext, frame_rate)


def _write_gif(frames: np.ndarray, path: Path, frame_rate: int, loop_count: int) -> None:
    images = [Image.fromarray(frame) for frame in frames]
    duration = max(20, round(1000 / frame_rate))  # browsers slow anything under 20 ms down
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration,
        loop=loop_count,
        disposal=1,
        optimize=False,
    )


def _av() -> Any:
    try:
        import av
    except ImportError as error:
        raise RuntimeError(
            "Saving WebM or MP4 video needs PyAV, which ComfyUI normally installs. "
            "Install it into ComfyUI's Python with: python -m pip install av "
            f"(or choose image/gif). ({error})"
        ) from None
    return av


def available_codec(av: Any, candidates: Sequence[tuple[str, dict[str, str]]]) -> tuple[str, dict[str, str]]:
    for name, options in candidates:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # unknown or decoder-only in this FFmpeg build
            continue
        return name, options
    names = ", ".join(name for name, _ in candidates)
    raise RuntimeError(f"this PyAV's FFmpeg has none of the encoders {names}; choose another format")


def _write_video(frames: np.ndarray, path: Path, ext: str, frame_rate: int) -> None:
    av = _av()
    codec, options = available_codec(av, _CODECS[ext])
    frames = _even(frames)
    container_options = {"movflags": "+faststart"} if ext == "mp4" else {}
    with av.open(str(path), mode="w", format=ext, options=container_options) as container:
        stream = container.add_stream(codec, rate=Fraction(frame_rate))
        stream.width = int(frames.shape[2])
        stream.height = int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        stream.options = dict(options)
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
