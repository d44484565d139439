"""The one place a user-supplied file name, subfolder or path meets the disk.

Every route that takes a path resolves it here against its allowed root. Absolute
paths, ``..``, NUL, backslashes, drive letters and symlinks that lead outside the
root are refused with a 400 before anything is touched.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from .errors import BadRequest

MAX_NAME_BYTES = 255
_DRIVE = re.compile(r"^[A-Za-z]:")


class PathRejected(BadRequest):
    code = "INVALID_PATH"


class NameRejected(BadRequest):
    code = "INVALID_NAME"


# Characters that reorder or hide text: a name with them reads differently from what it is.
_INVISIBLE = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_relative(value: Any, *, what: str = "subfolder") -> str:
    """A relative path as ``a/b`` ('' for the root), or PathRejected saying why."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PathRejected(f"the {what} must be a string")
    if "\x00" in value:
        raise PathRejected(f"the {what} contains a NUL byte")
    if "\\" in value:
        raise PathRejected(f"the {what} contains a backslash; use '/' between folders")
    if value.startswith("/") or _DRIVE.match(value):
        raise PathRejected(f"the {what} must be relative, not absolute: {value!r}")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathRejected(f"the {what} may not contain '..': {value!r}")
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise PathRejected(f"a name in the {what} is longer than {MAX_NAME_BYTES} bytes")
    return "/".join(parts)


def clean_name(value: Any, *, what: str = "filename") -> str:
    """A single file name (no folder part)."""
    if not isinstance(value, str) or not value.strip():
        raise PathRejected(f"the {what} is missing", code="MISSING_FILENAME")
    name = value.strip()
    if "/" in name:
        raise PathRejected(f"the {what} must be a bare name without '/': {name!r}")
    cleaned = clean_relative(name, what=what)
    if cleaned != name:
        raise PathRejected(f"the {what} is not a valid file name: {name!r}")
    return name


def new_name(value: Any, *, what: str = "folder name") -> str:
    """A name a person gives a new folder (or file): one visible, printable path part of at most MAX_NAME_BYTES,
    spaces around it dropped; NameRejected (400 INVALID_NAME) saying why not."""
    if not isinstance(value, str) or not value.strip(" "):
        raise NameRejected(f"the {what} is empty: type a name")
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in _INVISIBLE), None)
    if bad is not None:
        raise NameRejected(
            f"the {what} contains a control character (U+{ord(bad):04X}); use letters, digits, spaces and punctuation"
        )
    name = value.strip(" ")
    if "/" in name or "\\" in name:
        raise NameRejected(f"the {what} cannot contain '/' or '\\': make one folder at a time, then the next inside it")
    if name in (".", ".."):
        raise NameRejected(f"{name!r} cannot be a {what}: it means this folder or its parent")
    if name.startswith("."):
        raise NameRejected(f"a {what} starting with '.' is hidden from the gallery; start it with a letter or a digit")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise NameRejected(f"the {what} is {size} bytes long (UTF-8); shorten it to at most {MAX_NAME_BYTES}")
    return name


@functools.lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    """A root's real path (the roots are ComfyUI's folders, fixed while it runs; resolving one costs an lstat per
    component, on every request otherwise)."""
    return os.path.realpath(root)


def within(root: Path, relative: str) -> Path:
    """``root/relative`` for a path already cleaned; refuses symlinks that lead outside the root."""
    base = _real_root(str(root))
    target = os.path.join(base, relative) if relative else base
    real = os.path.realpath(target)
    if real != base and not real.startswith(os.path.join(base, "")):
        raise PathRejected("that path leads outside its folder (through a symbolic link)")
    return Path(target)


def resolve(root: Path, subfolder: Any = "", filename: Any = None) -> tuple[Path, str, str]:
    """Clean and resolve (subfolder, filename) under root: (absolute path, subfolder, filename)."""
    sub = clean_relative(subfolder)
    if filename is None:
        return within(root, sub), sub, ""
    name = clean_name(filename)
    return within(root, f"{sub}/{name}" if sub else name), sub, name


def split_relative(relative: Any, *, what: str = "path") -> tuple[str, str]:
    """``a/b/c.png`` → (``a/b``, ``c.png``), cleaned."""
    cleaned = clean_relative(relative, what=what)
    if not cleaned:
        raise PathRejected(f"the {what} is missing", code="MISSING_PATH")
    sub, _, name = cleaned.rpartition("/")
    return sub, name
