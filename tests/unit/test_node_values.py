"""The rules behind the input nodes, LoadImage-style decoding and video writing, without ComfyUI."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cozygen.core.graph.node_values import (
    SEED_MAX,
    cast_dynamic,
    check_choice,
    check_range,
    check_seed,
    legacy_choice,
    parse_choices,
    resolve_image_ref,
    split_image_ref,
)
from cozygen.core.media import image_load, video_encode
from cozygen.core.paths import PathRejected


# -- ranges, seeds, choices ------------------------------------------------------------------------
def test_check_range_accepts_the_bounds_and_refuses_anything_outside() -> None:
    check_range(0, 0, 10)
    check_range(10, 0, 10)
    check_range(0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="value 11 is outside the allowed range 0 to 10"):
        check_range(11, 0, 10)
    with pytest.raises(ValueError, match="steps -1 is outside"):
        check_range(-1, 0, 10, name="steps")
    with pytest.raises(ValueError, match=r"min \(3\) is greater than max \(2\)"):
        check_range(2, 3, 2)
    with pytest.raises(ValueError, match="finite"):
        check_range(float("nan"), 0.0, 1.0)


def test_check_seed_is_64_bits_unsigned() -> None:
    check_seed(0)
    check_seed(SEED_MAX)
    for bad in (-1, SEED_MAX + 1, True, 1.0):
        with pytest.raises(ValueError):
            check_seed(bad)


def test_parse_choices_trims_drops_blanks_and_duplicates() -> None:
    assert parse_choices(" a \n\nb\r\na\n  \n c d ") == ["a", "b", "c d"]
    assert parse_choices("") == [] and parse_choices(None) == []


def test_check_choice() -> None:
    check_choice("fixed", "b", ["a", "b"])
    check_choice("loras", "anything", None)  # no list known: nothing to check against
    with pytest.raises(ValueError, match="'c' is not in the fixed choices: 'a', 'b'"):
        check_choice("fixed", "c", ["a", "b"])
    with pytest.raises(ValueError, match="fixed choice list is empty"):
        check_choice("fixed", "c", [])
    with pytest.raises(ValueError, match="not in the available sampler list"):
        check_choice("sampler", "nope", ["euler"])
    with pytest.raises(ValueError, match="no value chosen"):
        check_choice("sampler", "", ["euler"])
    with pytest.raises(ValueError, match=r"\.\.\.$"):
        check_choice("checkpoints", "x", [f"m{i}" for i in range(30)])


def test_legacy_choice_falls_back_like_the_original() -> None:
    assert legacy_choice("b", "a", ["z"]) == "b"
    assert legacy_choice("None", "a", ["z"]) == "a"
    assert legacy_choice("", "None", ["z", "y"]) == "z"
    assert legacy_choice(None, "None", []) == "None"


@pytest.mark.parametrize(
    ("param_type", "text", "expected"),
    [
        ("INT", "42", 42),
        ("INT", "4.5", 0),
        ("INT", "x", 0),
        ("FLOAT", "2.5", 2.5),
        ("FLOAT", "", 0.0),
        ("BOOLEAN", "TRUE", True),
        ("BOOLEAN", "yes", False),
        ("STRING", "hi", "hi"),
        ("DROPDOWN", "euler", "euler"),
    ],
)
def test_cast_dynamic(param_type: str, text: str, expected) -> None:
    got = cast_dynamic(param_type, text)
    assert got == expected and type(got) is type(expected)


# -- image references --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("a.png", ("input", "", "a.png")),
        ("sub/dir/a.png", ("input", "sub/dir", "a.png")),
        ("output::a.png", ("output", "", "a.png")),
        ("output::::a.png", ("output", "", "a.png")),
        ("output::CozyGen::a.png", ("output", "CozyGen", "a.png")),
        ("output::ab::cd::a.png", ("output", "ab::cd", "a.png")),  # split on the last ::
        ("output::deep/sub::a b.png", ("output", "deep/sub", "a b.png")),
    ],
)
def test_split_image_ref(ref: str, expected: tuple[str, str, str]) -> None:
    assert split_image_ref(ref) == expected


@pytest.mark.parametrize(
    "ref", ["", "  ", None, "../a.png", "/abs.png", "output::..::a.png", "a\\b.png", "output::sub::"]
)
def test_split_image_ref_refuses(ref) -> None:
    with pytest.raises(PathRejected):
        split_image_ref(ref)


def test_resolve_image_ref_keeps_each_root(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "s").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "a.png").write_bytes(b"x")
    (tmp_path / "out" / "s" / "b.png").write_bytes(b"x")
    (tmp_path / "outside.png").write_bytes(b"x")
    os.symlink(tmp_path, tmp_path / "in" / "link")
    resolve = lambda ref: resolve_image_ref(ref, tmp_path / "in", tmp_path / "out")  # noqa: E731
    assert resolve("sub/a.png") == tmp_path / "in" / "sub" / "a.png"
    assert resolve("output::s::b.png") == tmp_path / "out" / "s" / "b.png"
    with pytest.raises(ValueError, match="not found in the input folder"):
        resolve("s/b.png")
    with pytest.raises(ValueError, match="not found in the output folder"):
        resolve("output::sub::a.png")
    with pytest.raises(ValueError, match="outside its folder"):
        resolve("link/outside.png")


# -- LoadImage-style decoding -------------------------------------------------------------------------
def _save(tmp_path: Path, name: str, image: Image.Image, **options) -> Path:
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_rgba_gives_rgb_and_one_minus_alpha(tmp_path: Path) -> None:
    pixels = np.zeros((4, 6, 4), dtype=np.uint8)
    pixels[..., 0] = 200
    pixels[:2, :, 3] = 255
    images, masks = image_load.load_frames(_save(tmp_path, "a.png", Image.fromarray(pixels, "RGBA")))
    assert images.shape == (1, 4, 6, 3) and images.dtype == np.float32
    assert np.allclose(images[0, ..., 0], 200 / 255)
    assert masks.shape == (1, 4, 6)
    assert np.all(masks[0, :2] == 0) and np.all(masks[0, 2:] == 1)


def test_no_alpha_gives_loadimages_64_square_zero_mask(tmp_path: Path) -> None:
    images, masks = image_load.load_frames(_save(tmp_path, "g.png", Image.new("L", (5, 3), 128)))
    assert images.shape == (1, 3, 5, 3) and np.allclose(images, 128 / 255)
    assert masks.shape == (1, 64, 64) and not masks.any()


def test_palette_transparency_and_exif_rotation(tmp_path: Path) -> None:
    palette = Image.new("P", (4, 2), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.putpixel((0, 0), 0)
    _, masks = image_load.load_frames(_save(tmp_path, "p.png", palette, transparency=0))
    assert masks[0, 0, 0] == 1 and masks[0, 1, 1] == 0

    exif = Image.Exif()
    exif[0x0112] = 6
    images, _ = image_load.load_frames(_save(tmp_path, "r.jpg", Image.new("RGB", (10, 4)), exif=exif))
    assert images.shape == (1, 10, 4, 3)


def test_mode_i_is_scaled_by_1_over_255(tmp_path: Path) -> None:
    image = Image.fromarray(np.full((2, 2), 255 * 100, dtype=np.int32), "I")
    images, _ = image_load.load_frames(_save(tmp_path, "i.tif", image))
    assert np.allclose(images, 100 / 255)


def test_frames_become_a_batch_and_odd_sized_frames_are_skipped(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 4), (c, 0, 0)) for c in (50, 150, 250)]
    path = _save(tmp_path, "f.gif", frames[0], save_all=True, append_images=frames[1:])
    images, masks = image_load.load_frames(path)
    assert images.shape == (3, 4, 6, 3) and masks.shape[0] == 3
    assert images[0, 0, 0, 0] < images[1, 0, 0, 0] < images[2, 0, 0, 0]

    tiff = [Image.new("RGB", (6, 4)), Image.new("RGB", (3, 3)), Image.new("RGB", (6, 4), (9, 9, 9))]
    path = _save(tmp_path, "m.tif", tiff[0], save_all=True, append_images=tiff[1:])
    images, _ = image_load.load_frames(path)
    assert images.shape == (2, 4, 6, 3)


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not an image file"):
        image_load.load_frames(tmp_path / "x.png")


def test_file_fingerprint_follows_the_content(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = image_load.file_fingerprint(path)
    assert image_load.file_fingerprint(path) == first
    path.write_bytes(b"two!")
    assert image_load.file_fingerprint(path) != first


# -- video --------------------------------------------------------------------------------------------
def test_to_uint8_and_pingpong() -> None:
    frames = video_encode.to_uint8(np.stack([np.full((2, 2, 4), v, dtype=np.float32) for v in (0.0, 0.5, 1.0, 2.0)]))
    assert frames.shape == (4, 2, 2, 3) and frames.dtype == np.uint8
    assert [int(f[0, 0, 0]) for f in frames] == [0, 128, 255, 255]
    order = video_encode.pingpong(np.arange(4)[:, None, None, None])
    assert order.ravel().tolist() == [0, 1, 2, 3, 2, 1]
    assert video_encode.pingpong(np.arange(2)[:, None, None, None]).ravel().tolist() == [0, 1]
    with pytest.raises(ValueError):
        video_encode.to_uint8(np.zeros((0, 2, 2, 3)))


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format 'video/avi'"):
        video_encode.write(np.zeros((1, 2, 2, 3), np.uint8), tmp_path / "x.avi", "video/avi", 8)


def test_gif_frames_duration_and_loop(tmp_path: Path) -> None:
    frames = np.stack([np.full((5, 7, 3), v, dtype=np.uint8) for v in (0, 90, 180)])
    video_encode.write(frames, tmp_path / "a.gif", "image/gif", 10, loop_count=3)
    with Image.open(tmp_path / "a.gif") as image:
        assert image.n_frames == 3 and image.size == (7, 5)
        assert image.info["loop"] == 3 and image.info["duration"] == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]  # no temporary file left


def test_mp4_pads_odd_sizes_and_keeps_every_frame(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    frames = np.random.default_rng(1).integers(0, 256, (5, 9, 13, 3), dtype=np.uint8)
    video_encode.write(frames, tmp_path / "a.mp4", "video/mp4", 24)
    with av.open(str(tmp_path / "a.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (14, 10)
        assert sum(1 for _ in container.decode(stream)) == 5
        assert stream.average_rate == 24


def test_missing_pyav_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("No module named 'av'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    with pytest.raises(RuntimeError, match="pip install av"):
        video_encode.write(np.zeros((1, 2, 2, 3), np.uint8), tmp_path / "a.webm", "video/webm", 8)
    assert not list(tmp_path.iterdir())
    video_encode.write(np.zeros((1, 2, 2, 3), np.uint8), tmp_path / "a.gif", "image/gif", 8)  # GIF needs no PyAV
    assert (tmp_path / "a.gif").stat().st_size > 0
