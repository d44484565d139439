"""Whether a GIF or WebP moves, and its size, from its first bytes (PNG: ``pnginfo`` sees an APNG's acTL).

A WebP says so in its VP8X header. A GIF has to be walked: blocks are skipped by their lengths (no pixel is
decoded) until a second image, the trailer or ``MAX_GIF_BLOCKS`` blocks. A file that cannot be read, or is
not what its name says, is a still image of unknown size.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from .kinds import extension

MAX_GIF_BLOCKS = 100_000  # sub-blocks walked before a GIF is taken as still


def probe(path: str | os.PathLike[str]) -> tuple[int | None, int | None, bool]:
    """(width, height, animated) of a GIF or WebP at ``path``."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
            if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 13:
                width, height = struct.unpack_from("<HH", head, 6)
                return width, height, _gif_frames(handle, head) > 1
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                return _webp(head)
    except OSError:
        pass
    return None, None, False


def _webp(head: bytes) -> tuple[int | None, int | None, bool]:
    kind = head[12:16]
    if kind == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height, bool(head[20] & 0x02)
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF, False
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, False
    return None, None, False


def _gif_frames(handle: BinaryIO, head: bytes) -> int:
    """Images in a GIF, counted up to two."""
    offset = 13 + (3 * 2 ** ((head[10] & 0x07) + 1) if head[10] & 0x80 else 0)  # the global colour table
    frames, blocks = 0, 0
    handle.seek(offset)
    while frames < 2 and blocks < MAX_GIF_BLOCKS:
        marker = handle.read(1)
        if marker == b"!":  # an extension: its label, then sub-blocks
            if not handle.read(1):
                break
        elif marker == b",":  # an image: descriptor, local colour table, LZW code size, then sub-blocks
            descriptor = handle.read(9)
            if len(descriptor) < 9:
                break
            frames += 1
            local = 3 * 2 ** ((descriptor[8] & 0x07) + 1) if descriptor[8] & 0x80 else 0
            handle.seek(local + 1, os.SEEK_CUR)
        else:  # the trailer, or not a GIF past here
            break
        while blocks < MAX_GIF_BLOCKS:
            blocks += 1
            size = handle.read(1)
            if not size or size == b"\x00":
                break
            handle.seek(size[0], os.SEEK_CUR)
    return frames


def animated_fields(path: str | os.PathLike[str], filename: str) -> dict[str, int | None]:
    """The index's ``animated`` (and a GIF's or WebP's width and height) for a file; PNGs are read elsewhere."""
    if extension(filename) not in ("gif", "webp"):
        return {"animated": 0}
    width, height, moving = probe(path)
    return {"animated": int(moving), "width": width, "height": height}
