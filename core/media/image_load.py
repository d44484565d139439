"""Image files as ComfyUI's LoadImage reads them, as numpy arrays (the node makes tensors of them).

Per frame: EXIF orientation applied, 16-bit ``I`` images scaled by 1/255, then RGB. The mask is
``1 - alpha`` (alpha from an RGBA/LA image or a palette image's transparency); a frame without
alpha gets a 64x64 zero mask, as LoadImage gives. Frames of a multi-frame file (GIF, WebP, TIFF)
become a batch; frames whose size differs from the first are skipped; MPO files give their
first frame only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

T = TypeVar("T")
EMPTY_MASK_SIDE = 64
_SINGLE_FRAME_FORMATS = {"MPO"}


def _tolerant(fn: Callable[[Any], T], arg: Any) -> T:
    """Retry once with truncated images allowed (ComfyUI's node_helpers.pillow)."""
    try:
        return fn(arg)
    except (OSError, UnidentifiedImageError, ValueError):
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            return fn(arg)
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _mask_of(frame: Image.Image) -> np.ndarray | None:
    if "A" in frame.getbands():
        alpha = np.asarray(frame.getchannel("A"), dtype=np.float32) / 255.0
    elif frame.mode == "P" and "transparency" in frame.info:
        alpha = np.asarray(frame.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0
    else:
        return None
    return 1.0 - alpha


def load_frames(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 [B, H, W, 3] in 0..1, masks float32 [B, h, w]) for the file at ``path``."""
    try:
        image = _tolerant(Image.open, path)
    except UnidentifiedImageError:
        raise ValueError(f"not an image file: {os.path.basename(str(path))}") from None
    with image:
        frames: list[np.ndarray] = []
        masks: list[np.ndarray | None] = []
        size: tuple[int, int] | None = None
        for raw in ImageSequence.Iterator(image):
            frame = _tolerant(ImageOps.exif_transpose, raw)
            if frame.mode == "I":
                frame = frame.point(lambda v: v * (1 / 255))
            rgb = frame.convert("RGB")
            if size is None:
                size = rgb.size
            if rgb.size != size:
                continue
            frames.append(np.asarray(rgb, dtype=np.float32) / 255.0)
            masks.append(_mask_of(frame))
            if image.format in _SINGLE_FRAME_FORMATS:
                break
    if not frames:
        raise ValueError(f"no frames in image file: {os.path.basename(str(path))}")
    if all(mask is None for mask in masks):
        empty = np.zeros((EMPTY_MASK_SIDE, EMPTY_MASK_SIDE), dtype=np.float32)
        mask_stack = np.stack([empty] * len(frames))
    else:
        height, width = frames[0].shape[:2]
        zeros = np.zeros((height, width), dtype=np.float32)
        mask_stack = np.stack([zeros if mask is None else mask for mask in masks])
    return np.stack(frames), mask_stack


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FileFingerprints:
    """Files' SHA-256, each rehashed only when its size or mtime changes (the last ``limit`` files kept)."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._known: dict[str, tuple[tuple[int, int], str]] = {}  # path -> ((mtime_ns, size), digest)

    def of(self, path: str | Path) -> str:
        key = str(path)
        stat = os.stat(key)
        stamp = (stat.st_mtime_ns, stat.st_size)
        known = self._known.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        value = file_fingerprint(key)
        if len(self._known) > self.limit:
            self._known.clear()
        self._known[key] = (stamp, value)
        return value
