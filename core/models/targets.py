"""Where a model download may land: a checked name inside the first directory of a ComfyUI model folder.

A name is relative (``/`` separators, subfolders allowed), has a model extension, and after ``realpath`` stays
inside the folder's directory, so neither ``..``, an absolute path nor a symlink can send a file elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from ..host import Host

MODEL_EXTENSIONS = frozenset({".safetensors", ".gguf", ".ckpt", ".pt", ".pth", ".bin", ".sft"})
PICKLE_EXTENSIONS = frozenset({".ckpt", ".pt", ".pth", ".bin"})
PART_SUFFIX = ".part"
_MAX_SEGMENT_BYTES = 255
_MAX_NAME = 1024


@dataclass(frozen=True)
class Target:
    folder: str  # a ComfyUI model folder name (checkpoints, loras, ...)
    name: str  # relative to it, "/" separated
    path: str  # the final file
    part_path: str  # the file while it downloads

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="INVALID_MODEL_NAME")


def extension(name: str) -> str:
    return os.path.splitext(name.rsplit("/", 1)[-1])[1].lower()


def check_name(name: Any) -> str:
    """The model name, normalised, or 400 ``INVALID_MODEL_NAME`` saying what is wrong."""
    allowed = ", ".join(sorted(MODEL_EXTENSIONS))
    if not isinstance(name, str) or not name.strip():
        raise _invalid(f"give the model's file name, ending in one of {allowed}")
    if len(name) > _MAX_NAME:
        raise _invalid(f"a model name has at most {_MAX_NAME} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "\\" in name:
        raise _invalid("a model name has no control characters or backslashes (use / between folders)")
    if name.startswith("/"):
        raise _invalid("a model name is relative to its folder (no leading /)")
    segments = name.split("/")
    for segment in segments:
        if not segment or segment != segment.strip():
            raise _invalid(f"{name!r} has an empty folder name or one with spaces at its ends")
        if segment.startswith("."):
            raise _invalid(f"{name!r} has a part starting with '.' ('..' and hidden names are not allowed)")
        if len(segment.encode()) > _MAX_SEGMENT_BYTES:
            raise _invalid(f"each part of a model name has at most {_MAX_SEGMENT_BYTES} bytes")
    stem, ext = os.path.splitext(segments[-1])
    if not stem or ext.lower() not in MODEL_EXTENSIONS:
        raise _invalid(f"{name!r} is not a model file: the name must end in one of {allowed}")
    return "/".join(segments)


def resolve_target(host: Host, folder: Any, name: Any) -> Target:
    """The checked target of ``name`` in the model folder ``folder`` (400 ``UNKNOWN_FOLDER``/``INVALID_MODEL_NAME``)."""
    folders = host.model_folders()
    if not isinstance(folder, str) or folder not in folders:
        shown = ", ".join(sorted(folders)[:30])
        raise BadRequest(f"unknown model folder {str(folder)[:80]!r}; ComfyUI has: {shown}", code="UNKNOWN_FOLDER")
    checked = check_name(name)
    directories = host.model_folder_paths(folder)
    if not directories:
        raise BadRequest(f"the model folder {folder!r} has no directory on this server", code="UNKNOWN_FOLDER")
    base = os.path.realpath(directories[0])
    path = os.path.realpath(os.path.join(base, *checked.split("/")))
    if os.path.commonpath([base, path]) != base or path == base:
        raise _invalid(f"{checked!r} would land outside the {folder} folder (a symlink?)")
    return Target(folder, checked, path, path + PART_SUFFIX)


def pickle_warning(name: str) -> str | None:
    """A warning for pickle-based formats, which can run code when loaded; None for the safe ones."""
    ext = extension(name)
    if ext not in PICKLE_EXTENSIONS:
        return None
    return (
        f"{ext} files are Python pickles: loading one can run code its author put in it. "
        "Use it only from a source you trust, or prefer a .safetensors version."
    )
