"""core.media.pnginfo: size and text chunks of a PNG read by walking its chunks, never its pixels."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo as PilPngInfo

from cozygen.core.media import pnginfo
from cozygen.core.media.pnginfo import PngInfo, png_complete, read_png_info, read_png_info_bytes

PROMPT = json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}}})


def save_png(path: Path, info: PilPngInfo | None = None, size: tuple[int, int] = (24, 16)) -> Path:
    Image.new("RGB", size, (200, 30, 30)).save(path, pnginfo=info)
    return path


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of every chunk in a PNG, to check what Pillow wrote and to splice files."""
    found, offset = [], 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        found.append((kind, offset, offset + 12 + length))
        offset += 12 + length
    return found


def kinds(path: Path) -> list[bytes]:
    return [kind for kind, _, _ in chunks(path.read_bytes())]


def insert_before(data: bytes, kind: bytes, extra: bytes) -> bytes:
    start = next(begin for found, begin, _ in chunks(data) if found == kind)
    return data[:start] + extra + data[start:]


def test_text_chunks_and_size_of_a_pillow_png(tmp_path: Path) -> None:
    info = PilPngInfo()
    info.add_text("prompt", PROMPT)
    info.add_text("workflow", '{"nodes": []}')
    path = save_png(tmp_path / "a.png", info, size=(640, 360))
    assert kinds(path).count(b"tEXt") == 2

    assert read_png_info(path) == PngInfo(640, 360, {"prompt": PROMPT, "workflow": '{"nodes": []}'})
    assert read_png_info(str(path)) == read_png_info_bytes(path.read_bytes())


def test_ztxt_is_inflated(tmp_path: Path) -> None:
    info = PilPngInfo()
    info.add_text("comment", "caf\xe9 " * 500, zip=True)
    path = save_png(tmp_path / "z.png", info)
    assert b"zTXt" in kinds(path) and path.stat().st_size < 1000

    assert read_png_info(path).text == {"comment": "caf\xe9 " * 500}


@pytest.mark.parametrize("compressed", [False, True])
def test_itxt_compressed_or_not_is_utf8(tmp_path: Path, compressed: bool) -> None:
    info = PilPngInfo()
    info.add_itxt("prompt", "un chat \u732b sur la lune " * 40, lang="fr", tkey="Invite", zip=compressed)
    path = save_png(tmp_path / "i.png", info)
    data = path.read_bytes()
    itxt = next(data[start:end] for kind, start, end in chunks(data) if kind == b"iTXt")
    assert itxt[8 + len(b"prompt\0")] == int(compressed)  # the compression flag Pillow wrote

    assert read_png_info(path).text == {"prompt": "un chat \u732b sur la lune " * 40}


def test_agrees_with_pillow_on_every_text_kind(tmp_path: Path) -> None:
    info = PilPngInfo()
    info.add_text("plain", "a")
    info.add_text("latin", "caf\xe9 \xbd")
    info.add_text("zipped", "b" * 300, zip=True)
    info.add_itxt("intl", "\u00fc\u732b", zip=False)
    info.add_itxt("intlzip", "\u732b" * 300, zip=True)
    path = save_png(tmp_path / "all.png", info)
    with Image.open(path) as image:
        expected = dict(image.text)

    assert read_png_info(path).text == expected
    assert len(expected) == 5 and expected["latin"] == "caf\xe9 \xbd"


def test_text_larger_than_the_first_read_and_text_after_it(tmp_path: Path) -> None:
    workflow = json.dumps({"nodes": [{"id": i, "widgets_values": ["x" * 50]} for i in range(3000)]})
    assert len(workflow) > 3 * pnginfo.HEAD_READ
    info = PilPngInfo()
    info.add_text("workflow", workflow)
    info.add_text("prompt", PROMPT)
    path = save_png(tmp_path / "big.png", info)

    assert read_png_info(path).text == {"workflow": workflow, "prompt": PROMPT}


def test_keys_skip_unwanted_chunks(tmp_path: Path) -> None:
    info = PilPngInfo()
    info.add_text("workflow", "w" * 200_000)
    info.add_text("prompt", PROMPT)
    info.add_itxt("cozygen", '{"params": {}}', zip=True)
    path = save_png(tmp_path / "k.png", info)

    assert read_png_info(path, keys={"prompt", "cozygen"}).text == {"prompt": PROMPT, "cozygen": '{"params": {}}'}
    assert read_png_info(path, keys=()).text == {}


def test_text_after_idat_needs_scan_all(tmp_path: Path) -> None:
    info = PilPngInfo()
    info.add_text("prompt", PROMPT)
    data = save_png(tmp_path / "src.png", info).read_bytes()
    path = tmp_path / "late.png"
    path.write_bytes(insert_before(data, b"IEND", chunk(b"tEXt", b"late\0after pixels")))
    assert kinds(path)[-3:] == [b"IDAT", b"tEXt", b"IEND"]

    assert read_png_info(path).text == {"prompt": PROMPT}
    assert read_png_info(path, scan_all=True).text == {"prompt": PROMPT, "late": "after pixels"}


def test_scan_all_skips_many_idat_chunks_unread(tmp_path: Path) -> None:
    # Image data that is not even valid zlib: it must be skipped, never decoded.
    data = save_png(tmp_path / "src.png").read_bytes()
    junk = b"".join(chunk(b"IDAT", bytes([i]) * 70_000) for i in range(20))
    path = tmp_path / "junk.png"
    path.write_bytes(insert_before(data, b"IEND", junk + chunk(b"zTXt", b"tail\0\0" + zlib.compress(b"end"))))

    assert read_png_info(path, scan_all=True) == PngInfo(24, 16, {"tail": "end"})


def test_truncated_file_gives_what_was_read_before_the_cut(tmp_path: Path) -> None:
    info = PilPngInfo()
    info.add_text("first", "one")
    info.add_text("second", "two" * 100)
    data = save_png(tmp_path / "full.png", info).read_bytes()
    second = next(start for kind, start, _ in chunks(data) if kind == b"tEXt" and data[start + 8 :].startswith(b"sec"))
    cut = tmp_path / "cut.png"

    cut.write_bytes(data[: second + 20])  # inside the second text chunk
    assert read_png_info(cut) == PngInfo(24, 16, {"first": "one"})
    cut.write_bytes(data[: second + 5])  # inside its header
    assert read_png_info(cut) == PngInfo(24, 16, {"first": "one"})
    cut.write_bytes(data[:30])  # inside IHDR
    assert read_png_info(cut) is None
    assert read_png_info_bytes(data[:33]) == PngInfo(24, 16, {})


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xd8\xff\xe0 a jpeg",
        b"not a png at all, only text" * 10,
        b"\x89PNG\r\n\x1a\n" + chunk(b"tEXt", b"a\0b"),
    ],
    ids=["empty", "jpeg", "text", "no-ihdr"],
)
def test_not_a_png_gives_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    assert read_png_info(path) is None
    assert read_png_info_bytes(content) is None


def test_missing_file_or_folder_gives_none(tmp_path: Path) -> None:
    assert read_png_info(tmp_path / "nope.png") is None
    assert read_png_info(tmp_path) is None
    assert read_png_info("bad\0name.png") is None


def test_hostile_chunks_are_skipped_not_fatal(tmp_path: Path) -> None:
    data = save_png(tmp_path / "src.png").read_bytes()
    bomb = zlib.compress(b"\0" * (pnginfo.MAX_TEXT_CHUNK + 1), 9)
    extra = b"".join(
        [
            chunk(b"zTXt", b"bomb\0\0" + bomb),  # inflates past the cap
            chunk(b"zTXt", b"broken\0\0not zlib at all"),
            chunk(b"zTXt", b"cut\0\0" + zlib.compress(b"x" * 1000)[:-8]),
            chunk(b"zTXt", b"method\0\x01" + zlib.compress(b"x")),  # unknown compression method
            chunk(b"iTXt", b"itxt\0\x01\x00en"),  # no translated keyword
            chunk(b"tEXt", b"no separator"),
            chunk(b"tEXt", b"\0empty keyword"),
            chunk(b"tEXt", b"k" * 80 + b"\0keyword too long"),
            chunk(b"tEXt", b"ok\0kept"),
        ]
    )
    path = tmp_path / "hostile.png"
    path.write_bytes(insert_before(data, b"IDAT", extra))
    assert len(bomb) < pnginfo.MAX_TEXT_CHUNK

    assert read_png_info(path) == PngInfo(24, 16, {"ok": "kept"})


def test_a_chunk_claiming_gigabytes_ends_the_walk(tmp_path: Path) -> None:
    data = save_png(tmp_path / "src.png").read_bytes()
    huge = struct.pack(">I", 0xFFFF_FFF0) + b"tEXt" + b"big\0..."
    path = tmp_path / "huge.png"
    path.write_bytes(insert_before(data, b"IDAT", chunk(b"tEXt", b"before\0yes") + huge))

    assert read_png_info(path, scan_all=True) == PngInfo(24, 16, {"before": "yes"})


def test_total_text_budget_drops_chunks_past_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pnginfo, "MAX_TEXT_TOTAL", 1000)
    info = PilPngInfo()
    info.add_text("a", "1" * 600)
    info.add_text("b", "2" * 600)
    info.add_text("c", "3" * 100)
    path = save_png(tmp_path / "budget.png", info)

    assert read_png_info(path).text == {"a": "1" * 600, "c": "3" * 100}


def test_png_complete_only_when_iend_ends_the_file(tmp_path: Path) -> None:
    data = save_png(tmp_path / "whole.png").read_bytes()
    assert png_complete(tmp_path / "whole.png")
    for name, content in {
        "partial": data[:-1],
        "no-iend": data[:-12],
        "half": data[: len(data) // 2],
        "trailing": data + b"\0",
        "not-png": b"GIF89a" + data[6:],
        "only-iend": pnginfo.SIGNATURE + pnginfo.IEND_CHUNK,
    }.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(content)
        assert not png_complete(path), name
    assert not png_complete(tmp_path / "missing.png")
    assert not png_complete(tmp_path)
