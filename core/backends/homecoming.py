"""Outputs of a remote job fetched home: from the backend's ``/view`` into the local output folder.

What the backend says about its files is untrusted: a name or subfolder that core/paths refuses (``..``, absolute,
NUL, backslash), a type other than ``output`` or ``temp``, an extension outside the gallery's media, or content
that is not what its extension says is not fetched. The local place is CozyGen's choice: ``<output>/<backend
folder>/<its subfolder>/<its name>``, under a free name (never replacing a file), written whole (a hidden partial
file first). A PNG gets CozyGen's text chunks (the job's own graph as ``prompt``, and the ``cozygen`` record
nodes/output.py writes), so the gallery, search, history and reproduce treat it as a local output. Videos (what
plain.py's video savers write: WebM, MP4, animated WebP) come home as they are, as a local CozyGen video carries
no CozyGen record either. A ``temp`` file (a PreviewImage's) goes the same way into this ComfyUI's temp folder,
capped smaller and without CozyGen's record, as a local preview is.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import struct
import uuid
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from ..gallery.place import OUTPUT_PREFIX, PARTIAL_SUFFIX, move_to_free_name
from ..media.metadata import CHUNK, cozygen_record
from ..paths import clean_name, clean_relative, new_name, within
from .model import Backend
from .remote import RemoteComfyUI, RemoteError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_OUTPUT = 1024 * 1024 * 1024  # bytes of one output fetched home
MAX_TEMP = 64 * 1024 * 1024  # bytes of one temp file (a preview) fetched home
FOLDER_TYPES = ("output", "temp")
MAX_REWRITTEN = 256 * 1024 * 1024  # a PNG larger than this keeps the backend's chunks only (read whole to rewrite)
REPLACED_KEYS = frozenset({"prompt", "workflow", CHUNK})
MEDIA = {  # extension -> a test of the first bytes (None: any)
    ".png": lambda b: b.startswith(PNG_SIGNATURE),
    ".jpg": lambda b: b.startswith(b"\xff\xd8\xff"),
    ".jpeg": lambda b: b.startswith(b"\xff\xd8\xff"),
    ".webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    ".gif": lambda b: b[:6] in (b"GIF87a", b"GIF89a"),
    ".mp4": lambda b: b[4:8] == b"ftyp",
    ".webm": lambda b: b.startswith(b"\x1a\x45\xdf\xa3"),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def backend_folder(backend: Backend) -> str:
    """Where a backend's outputs land inside the output folder: its ``subfolder``, else ``backends/<name>``."""
    if backend.subfolder:
        return clean_relative(backend.subfolder)
    name = _UNSAFE.sub("_", backend.name).strip(" ._") or backend.id
    return f"backends/{name[:64]}"


def folder_type(item: Any) -> str | None:
    """``output`` or ``temp``: the folder an entry of a backend's ``images`` names, or None (input, anything else)."""
    kind = str(item.get("type") or "output") if isinstance(item, Mapping) else None
    return kind if kind in FOLDER_TYPES else None


def checked_item(item: Any) -> tuple[str, str] | None:
    """(subfolder, filename) of one entry of a backend's ``images``, or None when it is not one to fetch."""
    if folder_type(item) is None:
        return None
    try:
        name = new_name(clean_name(item.get("filename")), what="file name")
        sub = clean_relative(item.get("subfolder") or "")
        for part in sub.split("/") if sub else ():
            new_name(part)  # no control characters, nothing hidden
    except BadRequest:
        return None
    if Path(name).suffix.lower() not in MEDIA:
        return None
    return sub, name


def local_names(name: str) -> list[str]:
    """The name, then ``<stem>_<n><ext>``: the first free one is taken."""
    stem, ext = os.path.splitext(name)
    return [name, *(f"{stem}_{n}{ext}" for n in range(1, 1000))]


def png_text(key: str, text: str) -> bytes:
    """One ``tEXt`` chunk (``text`` must be Latin-1: JSON dumped with ASCII escapes is)."""
    body = key.encode("latin-1") + b"\0" + text.encode("latin-1")
    return struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))


def with_texts(data: bytes, texts: list[tuple[str, str]]) -> bytes:
    """A PNG with ``texts`` before its end, any text chunk of the same keys dropped; ValueError if not a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    out, at, keys = [PNG_SIGNATURE], len(PNG_SIGNATURE), {k for k, _ in texts}
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(data):
            raise ValueError("a truncated PNG")
        if kind == b"IEND":
            out.extend(png_text(k, t) for k, t in texts)
            out.append(data[at:end])
            return b"".join(out)
        if kind in (b"tEXt", b"iTXt", b"zTXt"):
            key = data[at + 8 : at + 8 + min(length, 80)].split(b"\0", 1)[0].decode("latin-1")
            if key in keys:
                at = end
                continue
        out.append(data[at:end])
        at = end
    raise ValueError("a PNG without an end")


def metadata_texts(graph: Mapping[str, Any] | None, prompt_id: str) -> list[tuple[str, str]]:
    """What CozyGen Output writes into a PNG: the graph as run (CozyGen's own) and the cozygen record."""
    texts = [] if graph is None else [("prompt", json.dumps(graph))]
    texts.append((CHUNK, json.dumps(cozygen_record(dict(graph or {}), prompt_id))))
    return texts


def _finish(
    partial: Path, folder: Path, name: str, graph: Mapping[str, Any] | None, prompt_id: str, *, record: bool = True
) -> str:
    """In a thread: check the content, add CozyGen's texts to a PNG (``record``), and move it under a free name in
    ``folder``."""
    with open(partial, "rb") as file:
        head = file.read(16)
    test = MEDIA[Path(name).suffix.lower()]
    if not test(head):
        raise RemoteError(f"the backend sent something that is not a {Path(name).suffix} file for {name!r}")
    if record and head.startswith(PNG_SIGNATURE) and partial.stat().st_size <= MAX_REWRITTEN:
        try:
            rewritten = with_texts(partial.read_bytes(), metadata_texts(graph, prompt_id))
        except ValueError as exc:
            raise RemoteError(f"the backend sent a broken PNG for {name!r}: {exc}") from None
        partial.write_bytes(rewritten)
    folder.mkdir(parents=True, exist_ok=True)
    return move_to_free_name(partial, folder, local_names(name))


async def fetch_home(
    client: RemoteComfyUI,
    item: Mapping[str, Any],
    *,
    output_root: Path,
    folder: str,
    graph: Mapping[str, Any] | None,
    prompt_id: str,
    cap: int = MAX_OUTPUT,
    temp_root: Path | None = None,
) -> dict[str, str] | None:
    """Fetch one output the backend named into ``output_root/folder/...`` (a ``temp`` one into ``temp_root``, None
    leaving those out); its local entry (as a local job's images name them), or None when the entry is not one to
    fetch. Raises RemoteError when the fetch fails."""
    checked, kind = checked_item(item), folder_type(item)
    root = temp_root if kind == "temp" else output_root
    if checked is None or kind is None or root is None:
        return None
    sub, name = checked
    local_sub = "/".join(p for p in (folder, sub) if p)
    target = within(root, local_sub)  # refuses a symlink leading out
    if kind == "temp":  # ComfyUI makes its temp folder only when something is previewed
        await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    partial = root / f"{OUTPUT_PREFIX}{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
    cap = cap if kind == "output" else min(cap, MAX_TEMP)
    try:
        await client.download({"filename": name, "subfolder": sub, "type": kind}, partial, cap=cap)
        placed = await asyncio.to_thread(_finish, partial, target, name, graph, prompt_id, record=kind == "output")
    finally:
        partial.unlink(missing_ok=True)
    return {"filename": placed, "subfolder": local_sub, "type": kind}
