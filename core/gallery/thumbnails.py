"""Thumbnails of gallery files, rendered once and kept in a size-capped disk cache.

Blocking code: the web layer calls it from a thread pool, never on the event loop.

* The cache key hashes (root label, relative path, mtime_ns, size, width, format), so a
  changed source never gets a stale thumbnail and ``x.png``/``x.mp4`` never collide.
  A thumbnail lives at ``<folder>/<key[:2]>/<key>.<jpg|webp>`` and is written atomically
  (temp file in the same folder + ``os.replace``), one writer per key at a time.
* Images are decoded at reduced scale where the format allows it (JPEG ``draft``), reduced
  by an integer factor, resized, EXIF-rotated and composited over a dark background.
* Videos give a frame near 0.1 s through PyAV (imported lazily) or an ``ffmpeg`` binary.
* A source that cannot be rendered (audio, corrupt, too large, no video decoder) gets a
  placeholder, cached like any thumbnail. Only a missing source raises (FileNotFoundError).
* The cache keeps a running total of its bytes; a write that pushes it over ``max_bytes``
  evicts the least recently used files (by mtime; a cache hit touches its file) down to 90%.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from ..errors import BadRequest

log = logging.getLogger(__name__)

MIN_WIDTH = 96
MAX_WIDTH = 1024
DEFAULT_WIDTH = 384
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_PIXELS = 100_000_000  # decompression-bomb guard, checked on the header before decoding
RENDER_VERSION = 1  # part of every key: bump it when the rendering changes

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".mov", ".mkv"})
AUDIO_EXTENSIONS = frozenset({".mp3", ".wav", ".flac"})
# Pillow may only parse these, whatever the extension says (keeps exotic decoders away).
PILLOW_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")  # JPEG also opens MPO
# Demuxer forced per extension, so a "video" holding a playlist cannot make FFmpeg open other files or URLs.
VIDEO_DEMUXERS = {".mp4": "mov", ".mov": "mov", ".mkv": "matroska", ".webm": "matroska"}

BACKGROUND = (20, 22, 27)  # #14161b
FOREGROUND = (214, 218, 226)
RESAMPLE = Image.Resampling.BILINEAR  # antialiased triangle filter; the reduce step does most of the work
JPEG_QUALITY = 82
WEBP_QUALITY = 80
WEBP_METHOD = 4
VIDEO_FRAME_AT = 0.1  # seconds after the first frame
VIDEO_MAX_FRAMES = 240  # frames decoded at most while looking for that time
FFMPEG_TIMEOUT = 15.0  # seconds
EVICT_TO = 0.9  # eviction brings the total down to this share of max_bytes
TOUCH_AFTER = 60.0  # a cache hit refreshes its file's mtime when older than this (seconds)
STALE_TEMP_AFTER = 3600.0  # temp files older than this are left-overs of a crash

FORMATS = {"jpeg": ("jpg", "image/jpeg"), "webp": ("webp", "image/webp")}
_WIDTH = re.compile(r"\s*[+-]?\d{1,9}\s*")


@dataclass(frozen=True)
class Thumbnail:
    path: Path
    etag: str  # a quoted strong ETag, ready for the header
    media_type: str
    made: bool  # rendered by this call (False: served from the cache)


def clamp_width(value: Any) -> int:
    """A thumbnail width from an int or a query-string value, clamped to MIN_WIDTH..MAX_WIDTH."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("The thumbnail width must be an integer, for example w=384.", code="INVALID_WIDTH")
    if isinstance(value, str):
        if not _WIDTH.fullmatch(value):
            raise BadRequest("The thumbnail width must be an integer, for example w=384.", code="INVALID_WIDTH")
        value = int(value)
    return max(MIN_WIDTH, min(MAX_WIDTH, value))


def normalize_format(fmt: str) -> str:
    """``jpeg`` (also ``jpg``) or ``webp``."""
    name = fmt.lower().strip() if isinstance(fmt, str) else ""
    name = "jpeg" if name == "jpg" else name
    if name not in FORMATS:
        raise BadRequest("The thumbnail format must be jpeg or webp.", code="INVALID_FORMAT")
    return name


def media_kind(name: str | Path) -> str:
    """``image``, ``video``, ``audio`` or ``other``, from the file extension."""
    suffix = Path(name).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    return "other"


class ThumbnailCache:
    """A folder of rendered thumbnails with a size cap. Thread-safe; every method blocks."""

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._total: int | None = None  # running byte total, None until the first scan
        self._total_lock = threading.Lock()
        self._keys_lock = threading.Lock()
        self._key_locks: dict[str, list[Any]] = {}  # key -> [lock, holders]

    def key(self, root: str, relative: str, stat: os.stat_result, width: int, fmt: str) -> str:
        fields = [RENDER_VERSION, root, relative, stat.st_mtime_ns, stat.st_size, clamp_width(width)]
        fields.append(normalize_format(fmt))
        return hashlib.blake2b(json.dumps(fields).encode(), digest_size=20).hexdigest()

    def path_for(self, key: str, fmt: str) -> Path:
        return self.folder / key[:2] / f"{key}.{FORMATS[normalize_format(fmt)][0]}"

    def get_or_make(self, source: Path, *, root: str, relative: str, width: int, fmt: str = "jpeg") -> Thumbnail:
        """The cached thumbnail of ``source``, rendered now when missing. Raises FileNotFoundError only."""
        width = clamp_width(width)
        fmt = normalize_format(fmt)
        source = Path(source)
        stat = os.stat(source)
        key = self.key(root, relative, stat, width, fmt)
        path = self.path_for(key, fmt)
        media_type = FORMATS[fmt][1]
        if self._serve(path):
            return Thumbnail(path, f'"{key}"', media_type, made=False)
        with self._locked(key):
            if self._serve(path):
                return Thumbnail(path, f'"{key}"', media_type, made=False)
            self._store(path, render(source, width, fmt))
        return Thumbnail(path, f'"{key}"', media_type, made=True)

    def clear(self) -> None:
        """Delete every thumbnail: remove the folder and create it again."""
        with self._total_lock:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._total = None  # writes in flight may still land: count again on next use

    def stats(self) -> dict[str, int]:
        with self._total_lock:
            entries = self._scan()
            self._total = sum(size for _, size, _ in entries)
            return {"files": len(entries), "bytes": self._total, "max_bytes": self.max_bytes}

    # -- internals ---------------------------------------------------------------------------

    def _serve(self, path: Path) -> bool:
        """Whether ``path`` holds a thumbnail; refreshes its mtime so eviction sees the use."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        if stat.st_size == 0:  # an empty file left by a crash: render again
            return False
        if time.time() - stat.st_mtime > TOUCH_AFTER:
            try:
                os.utime(path)
            except OSError:
                pass
        return True

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        with self._keys_lock:
            entry = self._key_locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._keys_lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._key_locks[key]

    def _store(self, path: Path, data: bytes) -> None:
        with self._total_lock:
            if self._total is None:
                self._total = sum(size for _, size, _ in self._scan())
        for attempt in (1, 2):  # clear() may remove the folder between mkdir and replace
            try:
                replaced = _write_atomic(path, data)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        with self._total_lock:
            self._total = (self._total or 0) + len(data) - replaced
            if self._total > self.max_bytes:
                self._evict(keep=path)

    def _evict(self, keep: Path) -> None:
        """Remove the least recently used files until the total is at most EVICT_TO of the cap."""
        entries = sorted(self._scan())
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * EVICT_TO)
        for _, size, path in entries:
            if total <= target:
                break
            if path == keep:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("thumbnail cache: cannot remove %s: %s", path, exc)
                continue
            total -= size
        self._total = total

    def _scan(self) -> list[tuple[int, int, Path]]:
        """(mtime_ns, size, path) of every thumbnail; removes temp files left by a crash."""
        found: list[tuple[int, int, Path]] = []
        now = time.time()
        for shard in _entries(self.folder):
            if not shard.is_dir(follow_symlinks=False):
                continue
            for entry in _entries(Path(shard.path)):
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    if entry.name.endswith(".tmp"):
                        if now - stat.st_mtime > STALE_TEMP_AFTER:
                            os.unlink(entry.path)
                        continue
                except FileNotFoundError:
                    continue
                found.append((stat.st_mtime_ns, stat.st_size, Path(entry.path)))
        return found


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _write_atomic(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` through a temp file in the same folder; the size of the file replaced."""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    except FileNotFoundError:  # a new shard folder (or a new cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        try:
            replaced = path.stat().st_size
        except FileNotFoundError:
            replaced = 0
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return replaced


# -- rendering ---------------------------------------------------------------------------------


def render(source: Path, width: int, fmt: str = "jpeg") -> bytes:
    """Encoded thumbnail bytes for ``source``; a placeholder when it cannot be rendered."""
    kind = media_kind(source)
    image: Image.Image | None = None
    try:
        if kind == "image":
            image = render_image(source, width)
        elif kind == "video":
            image = render_video(source, width)
    except FileNotFoundError:
        raise
    except Exception as exc:  # a bad source file never raises: it gets a placeholder
        log.warning("thumbnail: cannot render %s: %s: %s", source.name, type(exc).__name__, exc)
        image = None
    if image is None:
        image = placeholder(width, "play" if kind in ("video", "audio") else "image")
    return encode(image, fmt)


def render_image(source: Path, width: int) -> Image.Image | None:
    """An RGB image fitting in width×width, or None for a decompression bomb (never decoded)."""
    with Image.open(source, formats=PILLOW_FORMATS) as image:
        if image.width * image.height > MAX_PIXELS:
            log.warning("thumbnail: %s is %dx%d, over the pixel limit", source.name, image.width, image.height)
            return None
        if image.format in ("JPEG", "MPO"):
            image.draft(None, fit_size(image.size, width))  # DCT-domain downscale by up to 8
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        result = fit(flatten(image), width)
        return image.copy() if result is image else result  # closing the file spoils ``image``


def render_video(source: Path, width: int) -> Image.Image | None:
    """A frame near VIDEO_FRAME_AT s fitting in width×width, or None when no decoder can read it."""
    frame = _frame_with_pyav(source)
    if frame is None:
        frame = _frame_with_ffmpeg(source, width)
    return None if frame is None else fit(flatten(frame), width)


def _frame_with_pyav(source: Path) -> Image.Image | None:
    try:
        import av
    except ImportError:
        return None
    demuxer = VIDEO_DEMUXERS.get(source.suffix.lower())
    try:
        with av.open(str(source), format=demuxer) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            context = stream.codec_context
            if context.width * context.height > MAX_PIXELS:
                return None
            first = chosen = None
            for index, frame in enumerate(container.decode(stream)):
                if first is None:
                    first = frame
                if frame.time is not None and first.time is not None and frame.time - first.time >= VIDEO_FRAME_AT:
                    chosen = frame
                    break
                if index >= VIDEO_MAX_FRAMES:
                    break
            frame = chosen or first
            if frame is None:
                return None
            image = frame.to_image()
            rotation = round(getattr(frame, "rotation", 0) or 0) % 360  # counter-clockwise degrees
            turn = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
            return image.transpose(turn[rotation]) if rotation in turn else image
    except FileNotFoundError:
        raise
    except Exception as exc:
        log.info("thumbnail: PyAV cannot read %s: %s", source.name, exc)
        return None


def _frame_with_ffmpeg(source: Path, width: int) -> Image.Image | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    demuxer = VIDEO_DEMUXERS.get(source.suffix.lower())
    scale = f"scale='min(iw,{width})':'min(ih,{width})':force_original_aspect_ratio=decrease"
    for seek in (["-ss", str(VIDEO_FRAME_AT)], []):  # a clip shorter than 0.1 s: its first frame
        command = [exe, "-nostdin", "-v", "error", *seek, *(["-f", demuxer] if demuxer else [])]
        command += ["-i", str(source.absolute()), "-frames:v", "1", "-an", "-sn", "-vf", scale]
        command += ["-f", "image2pipe", "-c:v", "ppm", "pipe:1"]
        try:
            result = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("thumbnail: ffmpeg failed on %s: %s", source.name, exc)
            return None
        if result.returncode == 0 and result.stdout:
            image = Image.open(io.BytesIO(result.stdout), formats=["PPM"])
            image.load()
            return image
    return None


def fit_size(size: tuple[int, int], width: int) -> tuple[int, int]:
    """``size`` scaled down (never up) to fit inside a width×width box, keeping its aspect."""
    w, h = size
    if w <= width and h <= width:
        return w, h
    if w >= h:
        return width, max(1, round(h * width / w))
    return max(1, round(w * width / h)), width


def fit(image: Image.Image, width: int) -> Image.Image:
    """Reduce by an integer factor (cheap box filter), then resize the rest of the way."""
    target = fit_size(image.size, width)
    if target == image.size:
        return image
    return image.resize(target, RESAMPLE, reducing_gap=1.0)


def flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited over BACKGROUND and high bit depths scaled to 8 bits."""
    if image.mode == "RGB" and not image.has_transparency_data:
        return image
    if image.mode == "F":
        low, high = image.getextrema()
        span = (high - low) or 1.0
        image = image.point(lambda v: (v - low) * 255.0 / span).convert("L")
    elif image.mode == "I" or image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda v: v / 257).convert("L")
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, (0, 0), rgba)
        return flat
    return image.convert("RGB")


def placeholder(width: int, glyph: str = "play") -> Image.Image:
    """A dark width × width·9/16 card with a light play triangle (``play``) or picture mark (``image``)."""
    w, h = width * 2, max(2, round(width * 9 / 16)) * 2  # drawn at 2x, then reduced: smooth edges
    image = Image.new("RGB", (w, h), BACKGROUND)
    draw = ImageDraw.Draw(image)
    cx, cy, r = w / 2, h / 2, h * 0.18
    if glyph == "play":
        draw.polygon([(cx - r * 0.8, cy - r), (cx - r * 0.8, cy + r), (cx + r, cy)], fill=FOREGROUND)
    else:
        box = (cx - r * 1.3, cy - r, cx + r * 1.3, cy + r)
        draw.rectangle(box, outline=FOREGROUND, width=max(2, round(r / 8)))
        draw.polygon([(box[0], box[3]), (cx - r * 0.3, cy - r * 0.2), (cx + r * 0.4, box[3])], fill=FOREGROUND)
        draw.ellipse((cx + r * 0.45, cy - r * 0.6, cx + r * 0.85, cy - r * 0.2), fill=FOREGROUND)
    return image.reduce(2)


def encode(image: Image.Image, fmt: str) -> bytes:
    """JPEG (quality 82, baseline, not optimized: speed first) or WebP (quality 80, method 4)."""
    buffer = io.BytesIO()
    if normalize_format(fmt) == "webp":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    else:
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return buffer.getvalue()
