"""Which files the gallery lists, and their kinds."""

from __future__ import annotations

IMAGE_EXTS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"})
VIDEO_EXTS = frozenset({"mp4", "webm", "mov", "mkv"})
AUDIO_EXTS = frozenset({"mp3", "wav", "flac"})
MEDIA_EXTS = IMAGE_EXTS | VIDEO_EXTS | AUDIO_EXTS
KINDS = ("all", "image", "video", "audio")
INPUT_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif")


def extension(filename: str) -> str:
    return filename.rpartition(".")[2].lower() if "." in filename else ""


def kind_of(filename: str) -> str | None:
    """image, video or audio for a listed file; None for anything the gallery does not show."""
    ext = extension(filename)
    if ext in IMAGE_EXTS:
        return "image"
    if ext in VIDEO_EXTS:
        return "video"
    if ext in AUDIO_EXTS:
        return "audio"
    return None


def is_hidden(subfolder: str, filename: str = "") -> bool:
    """A dot-name anywhere in the path hides the item unless show_hidden is asked for."""
    parts = [p for p in subfolder.split("/") if p] + ([filename] if filename else [])
    return any(part.startswith(".") for part in parts)
