"""Seeded procedural images: CozyGen's weights-free generator.

The same width, height, seed, text and steps always give the same pixels. Each
step layers one more band of interfering waves over the image, so ``steps``
changes the picture the way sampling steps do, and gives a progress bar
something real to report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

MAX_SIDE = 4096


PREVIEW_SIDE = 128


def _rng(seed: int, text: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{int(seed)}\x00{text}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _palette(rng: np.random.Generator) -> np.ndarray:
    """Four colour stops (RGB in 0..1) that the field is mapped through."""
    hues = (rng.random() + np.array([0.0, 0.18, 0.42, 0.66]) + rng.normal(0, 0.04, 4)) % 1.0
    saturation = rng.uniform(0.45, 0.9, 4)
    value = np.array([0.12, 0.45, 0.78, 0.98])
    return np.stack([_hsv_to_rgb(h, s, v) for h, s, v in zip(hues, saturation, value, strict=False)])


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def generate(
    width: int,
    height: int,
    seed: int,
    text: str = "",
    steps: int = 8,
    on_step: Callable[[int, int], None] | None = None,
    on_preview: Callable[[int, int, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Return an ``(height, width, 3)`` float32 array with values in 0..1.

    ``on_step(done, total)`` is called after each step, then ``on_preview(done, total, image)`` with the picture so
    far, at most ``PREVIEW_SIDE`` pixels a side (as a sampler's latent preview would be).
    """
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"width and height must be between 1 and {MAX_SIDE}")
    if steps < 1:
        raise ValueError("steps must be at least 1")
    rng = _rng(seed, text)
    palette = _palette(rng)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    scale = 2 * np.pi / max(width, height)
    x *= scale
    y *= scale
    field = np.zeros((height, width), dtype=np.float32)
    for step in range(steps):
        octave = 1.0 + step * 0.75
        for _ in range(3):
            angle = rng.uniform(0, 2 * np.pi)
            frequency = rng.uniform(0.6, 2.2) * octave
            phase = rng.uniform(0, 2 * np.pi)
            wave = np.sin(frequency * (np.cos(angle) * x + np.sin(angle) * y) + phase)
            field += (wave / octave).astype(np.float32)
        if on_step is not None:
            on_step(step + 1, steps)
        if on_preview is not None:
            stride = max(1, -(-max(width, height) // PREVIEW_SIDE))
            on_preview(step + 1, steps, _colour(field[::stride, ::stride], palette))
    return _colour(field, palette)


def _colour(field: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The field, normalised to 0..1, through the palette."""
    low, high = float(field.min()), float(field.max())
    field = (field - low) / (high - low) if high > low else np.zeros_like(field)
    stops = np.linspace(0.0, 1.0, len(palette))
    image = np.stack([np.interp(field, stops, palette[:, c]) for c in range(3)], axis=-1)
    return image.astype(np.float32)
