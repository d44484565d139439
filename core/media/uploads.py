"""Checking uploaded images: content sniffing, a decompression-bomb guard, safe stored names."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import unquote

from ..errors import BadRequest, TooLarge, UnsupportedType

MAX_PIXELS = 100_000_000  # a 10k × 10k image; anything larger is refused before decoding
# MPO is how Pillow names a JPEG carrying extra (multi-picture) frames, as many phone cameras write them
FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
_SAME_EXTENSION = {"jpg": ("jpg", "jpeg"), "tif": ("tif", "tiff")}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def sniff_image(path: Path) -> tuple[str, int, int]:
    """(extension, width, height) of an uploaded image, judged by its content, never its name.

    Blocking (Pillow): run it in a thread.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height, kind = image.width, image.height, image.format
            if width * height > MAX_PIXELS:
                raise TooLarge(
                    f"the image is {width}×{height}; images over {MAX_PIXELS // 1_000_000} megapixels are refused",
                    code="TOO_MANY_PIXELS",
                )
            if kind not in FORMATS:
                raise UnsupportedType(f"{kind} images are not accepted; send PNG, JPEG, WebP, GIF, BMP or TIFF")
            image.verify()
    except (TooLarge, UnsupportedType):
        raise
    except Image.DecompressionBombError:
        raise TooLarge("the image claims too many pixels to be opened safely", code="TOO_MANY_PIXELS") from None
    except Exception:
        raise UnsupportedType(
            "that file is not an image CozyGen can read (PNG, JPEG, WebP, GIF, BMP, TIFF)", code="NOT_AN_IMAGE"
        ) from None
    return FORMATS[kind], width, height


def stored_name(client_name: str | None, extension: str) -> str:
    """``<uuid4>_<client file name>`` as in the seed, with the name cleaned and the right extension."""
    base = unquote(client_name or "").replace("\\", "/").rpartition("/")[2]
    base = _UNSAFE.sub("_", base).strip(" .")[:100] or "upload"
    stem, dot, ext = base.rpartition(".")
    if not dot or ext.lower() not in _SAME_EXTENSION.get(extension, (extension,)):
        base = f"{base}.{extension}"
    return f"{uuid.uuid4()}_{base}"


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise TooLarge(f"the upload is larger than {limit // (1024 * 1024)} MB", code="UPLOAD_TOO_LARGE")


def require(condition: bool, message: str, code: str) -> None:
    if not condition:
        raise BadRequest(message, code=code)
