"""Rendering one thumbnail: images decoded at reduced scale, a video frame (PyAV or an ffmpeg binary), placeholders.

Blocking code. Images are decoded at reduced scale where the format allows it (JPEG ``draft``),
reduced by an integer factor, resized, EXIF-rotated and composited over a dark background.
Videos give a frame near 0.1 s through PyAV (imported lazily) or an ``ffmpeg`` binary. A source
that cannot be rendered (audio, corrupt, too large, no video decoder) gets a placeholder; only a
missing source raises (FileNotFoundError).
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from pathlib import Path
from typing import cast

from PIL import Image, ImageDraw, ImageOps

from ..errors import BadRequest

log = logging.getLogger(__name__)

MAX_PIXELS = 100_000_000  # decompression-bomb guard, checked on the header before decoding
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

FORMATS = {"jpeg": ("jpg", "image/jpeg"), "webp": ("webp", "image/webp")}  # name: (file extension, media type)


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


def render(source: Path, width: int, fmt: str = "jpeg") -> bytes:
    """Encoded thumbnail bytes for ``source``; a placeholder when it cannot be rendered."""
    return render_many(source, [(width, fmt)])[(width, fmt)]


def render_many(source: Path, sizes: list[tuple[int, str]]) -> dict[tuple[int, str], bytes]:
    """Encoded thumbnails of ``source`` at each (width, format), decoded once; placeholders where it cannot be
    rendered. The widest comes out exactly as ``render`` makes it alone; the narrower are reduced from it."""
    if not sizes:
        return {}
    kind = media_kind(source)
    widest = max(width for width, _ in sizes)
    image: Image.Image | None = None
    try:
        if kind == "image":
            image = render_image(source, widest)
        elif kind == "video":
            image = render_video(source, widest)
    except FileNotFoundError:
        raise
    except Exception as exc:  # a bad source file never raises: it gets a placeholder
        log.warning("thumbnail: cannot render %s: %s: %s", source.name, type(exc).__name__, exc)
        image = None
    made: dict[tuple[int, str], bytes] = {}
    for width, fmt in sizes:
        if image is None:
            shown = placeholder(width, "play" if kind in ("video", "audio") else "image")
        else:
            shown = fit(image, width)
        made[(width, fmt)] = encode(shown, fmt)
    return made


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
        low, high = cast(tuple[float, float], image.getextrema())  # one band: (min, max)
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
