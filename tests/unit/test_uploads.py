"""core.media.uploads: judging an uploaded image by its content, the pixel-count guard, safe stored names."""

from __future__ import annotations

import re
import struct
import uuid
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from cozygen.core.errors import BadRequest, TooLarge, UnsupportedType
from cozygen.core.media.uploads import MAX_PIXELS, check_size, require, sniff_image, stored_name
from cozygen.core.paths import clean_name

UUID_PREFIX = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_(.+)$")


def image_file(path: Path, fmt: str, size: tuple[int, int] = (12, 9), **save: object) -> Path:
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new(mode, size).save(path, format=fmt, **save)
    return path


def with_ihdr_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with IHDR claiming another size, its CRC recomputed so the file stays well-formed."""
    assert png[12:16] == b"IHDR"
    data = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + data) & 0xFFFFFFFF)
    return png[:16] + data + crc + png[33:]


# -- sniff_image --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "name", "extension"),
    [
        ("PNG", "photo.jpg", "png"),
        ("JPEG", "photo.png", "jpg"),
        ("WEBP", "notes.txt", "webp"),
        ("PNG", "no_extension", "png"),
        ("GIF", "x.png", "gif"),
        ("BMP", "x.bmp", "bmp"),
        ("TIFF", "x.tiff", "tif"),
    ],
)
def test_sniff_judges_by_content_not_name(tmp_path: Path, fmt: str, name: str, extension: str) -> None:
    path = image_file(tmp_path / name, fmt, (12, 9))
    assert sniff_image(path) == (extension, 12, 9)


def test_sniff_accepts_a_multi_picture_jpeg(tmp_path: Path) -> None:
    # phone cameras write JPEGs with an MPF segment; Pillow reports them as "MPO"
    path = tmp_path / "phone.jpg"
    Image.new("RGB", (16, 8), "red").save(path, format="MPO", save_all=True, append_images=[Image.new("RGB", (16, 8))])
    with Image.open(path) as opened:
        assert opened.format == "MPO"
    assert sniff_image(path) == ("jpg", 16, 8)


@pytest.mark.parametrize(
    "content",
    [
        b"hello, this is not an image\n",
        b"",
        b"\x89PNG\r\n\x1a\n",  # a signature and nothing else
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
)
def test_sniff_refuses_what_is_not_an_image(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(UnsupportedType) as caught:
        sniff_image(path)
    assert caught.value.code == "NOT_AN_IMAGE"
    assert caught.value.status == 415


def test_sniff_refuses_a_png_with_a_broken_chunk(tmp_path: Path) -> None:
    png = image_file(tmp_path / "ok.png", "PNG").read_bytes()
    broken = bytearray(png)
    broken[-20] ^= 0xFF  # inside the image data: its CRC no longer matches
    path = tmp_path / "broken.png"
    path.write_bytes(bytes(broken))
    with pytest.raises(UnsupportedType):
        sniff_image(path)


def test_sniff_refuses_an_image_format_it_does_not_accept(tmp_path: Path) -> None:
    path = image_file(tmp_path / "x.png", "PPM")
    with pytest.raises(UnsupportedType) as caught:
        sniff_image(path)
    assert caught.value.code == "UNSUPPORTED_TYPE"
    assert "PPM" in caught.value.message


def test_with_ihdr_size_makes_a_png_pillow_still_opens(tmp_path: Path) -> None:
    png = image_file(tmp_path / "small.png", "PNG", (4, 4)).read_bytes()
    path = tmp_path / "bigger.png"
    path.write_bytes(with_ihdr_size(png, 30, 20))
    assert sniff_image(path) == ("png", 30, 20)  # a well-formed header: only the claimed size changed


IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (20_000, 20_000),  # past Pillow's own bomb limit
        (10_001, 10_000),  # past MAX_PIXELS, under Pillow's error threshold
    ],
)
@pytest.mark.parametrize("pixels", [True, False], ids=["with-image-data", "header-only"])
def test_sniff_refuses_too_many_pixels_before_decoding(tmp_path: Path, width: int, height: int, pixels: bool) -> None:
    assert width * height > MAX_PIXELS
    png = image_file(tmp_path / "small.png", "PNG", (4, 4)).read_bytes()
    bomb = with_ihdr_size(png, width, height)
    # header-only: no image data at all, so the refusal can only come from the size in IHDR
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb if pixels else bomb[:33] + IEND)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # Pillow may warn first; that is fine
        with pytest.raises(TooLarge) as caught:
            sniff_image(path)
    assert caught.value.code == "TOO_MANY_PIXELS"
    assert caught.value.status == 413


# -- stored_name ---------------------------------------------------------------------------------
def split(name: str) -> tuple[uuid.UUID, str]:
    match = UUID_PREFIX.match(name)
    assert match, name
    return uuid.UUID(match.group(1)), match.group(2)


def test_stored_name_has_a_fresh_uuid4_prefix() -> None:
    first, rest = split(stored_name("cat.png", "png"))
    second, _ = split(stored_name("cat.png", "png"))
    assert first.version == 4 and first != second
    assert rest == "cat.png"


@pytest.mark.parametrize(
    ("client", "extension", "expected"),
    [
        ("cat.png", "png", "cat.png"),
        ("CAT.PNG", "png", "CAT.PNG"),
        ("photo.jpeg", "jpg", "photo.jpeg"),
        ("photo.JPG", "jpg", "photo.JPG"),
        ("scan.tiff", "tif", "scan.tiff"),
        ("photo", "png", "photo.png"),
        ("photo.jpg", "png", "photo.jpg.png"),  # the content decides the extension
        ("photo.png", "webp", "photo.png.webp"),
        ("scan.tiff", "png", "scan.tiff.png"),
        ("photo.jpeg", "png", "photo.jpeg.png"),
        ("../../etc/passwd.png", "png", "passwd.png"),
        ("C:\\Users\\me\\Pictures\\me.jpg", "jpg", "me.jpg"),
        ("dir/sub/", "png", "upload.png"),
        ("my photo (1)!.png", "png", "my photo _1_.png"),
        ("héllo wörld.png", "png", "h_llo w_rld.png"),
        ("a;rm -rf $HOME.png", "png", "a_rm -rf _HOME.png"),
        (".bashrc", "png", "bashrc.png"),
        ("...", "png", "upload.png"),
        ("  ", "jpg", "upload.jpg"),
        ("", "gif", "upload.gif"),
        (None, "png", "upload.png"),
        ("日本語", "png", "_.png"),
    ],
)
def test_stored_name_cleans_the_client_name(client: str | None, extension: str, expected: str) -> None:
    _, rest = split(stored_name(client, extension))
    assert rest == expected


@pytest.mark.parametrize(
    "client",
    [
        "x" * 300 + ".png",
        "a/" * 50 + "b.png",
        "..%2F..%2Fetc%2Fpasswd.png",
        "name\x00.png",
        "new\nline.png",
        ".." + "/" * 3,
        "con.png",
        "a" * 99 + ". b.png",
    ],
)
def test_stored_names_are_always_safe_file_names(client: str) -> None:
    name = stored_name(client, "png")
    _, rest = split(name)
    assert clean_name(name) == name
    assert "/" not in name and "\\" not in name and "\x00" not in name and "\n" not in name
    assert not rest.startswith((".", " "))
    assert name.endswith(".png")
    assert len(rest) <= 100 + len(".png")


# -- small checks -----------------------------------------------------------------------------------
def test_check_size() -> None:
    check_size(10, 10)
    with pytest.raises(TooLarge) as caught:
        check_size(11 * 1024 * 1024, 10 * 1024 * 1024)
    assert caught.value.code == "UPLOAD_TOO_LARGE" and "10 MB" in caught.value.message


def test_require() -> None:
    require(True, "fine", "X")
    with pytest.raises(BadRequest) as caught:
        require(False, "the image field is missing", "MISSING_IMAGE")
    assert (caught.value.code, caught.value.message) == ("MISSING_IMAGE", "the image field is missing")
