"""core.media.procedural: deterministic, seed- and text-sensitive, reports every step."""

from __future__ import annotations

import numpy as np
import pytest

from cozygen.core.media.procedural import generate


def test_same_inputs_give_identical_pixels() -> None:
    a = generate(96, 64, seed=7, text="cat", steps=5)
    b = generate(96, 64, seed=7, text="cat", steps=5)
    assert a.shape == (64, 96, 3) and a.dtype == np.float32
    assert np.array_equal(a, b)


@pytest.mark.parametrize("change", [{"seed": 8}, {"text": "dog"}, {"steps": 6}])
def test_each_input_changes_the_image(change: dict) -> None:
    base = {"width": 64, "height": 64, "seed": 7, "text": "cat", "steps": 5}
    assert not np.array_equal(generate(**base), generate(**{**base, **change}))


def test_values_span_the_unit_range_and_are_not_flat() -> None:
    image = generate(128, 128, seed=1, text="", steps=4)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert image.std() > 0.05


def test_progress_is_reported_once_per_step() -> None:
    calls: list[tuple[int, int]] = []
    generate(32, 32, seed=0, steps=7, on_step=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 7) for i in range(1, 8)]


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"height": 5000}, {"steps": 0}])
def test_bad_sizes_are_refused(kwargs: dict) -> None:
    args = {"width": 32, "height": 32, "seed": 0, "steps": 2, **kwargs}
    with pytest.raises(ValueError):
        generate(**args)
