"""Where a missing model can be downloaded from: a source suggested for each model a workflow lacks.

Three places, the first that knows a model wins:

1. a source an admin recorded (the ``model_sources`` table; ``PUT /cozygen/api/models/sources``);
2. the workflow's own ``models`` list, as ComfyUI's editor writes it in the UI format (at the top and in each
   node's ``properties.models``): ``[{name, url, directory, hash?, hash_type?}]``;
3. the catalogue shipped in ``data/model_sources.json``: ``{"<folder>/<name>": {"source": ..., "sha256"?}}``,
   covering every model the shipped example workflows name.

An entry that does not parse (a bad URL, a hash that is not SHA-256) is skipped, never an error: a suggestion is
a help, and a workflow file is not the caller's to fix.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest, CozyGenError
from .sources import Source, parse_source

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "model_sources.json"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
Key = tuple[str, str]  # (folder, name)


@dataclass(frozen=True)
class Known:
    """A source for one model, its expected hash, and where the suggestion comes from."""

    source: Source
    sha256: str | None
    origin: str  # recorded | workflow | catalogue


def sha256_value(value: Any) -> str | None:
    """A SHA-256 as 64 lowercase hex digits; None when absent or not one."""
    if isinstance(value, str) and _SHA256.fullmatch(value.strip()):
        return value.strip().lower()
    return None


def checked_sha256(value: Any) -> str | None:
    """An expected SHA-256 from a request: None when absent, else 64 hex digits or 400 ``INVALID_SHA256``."""
    if value is None or value == "":
        return None
    found = sha256_value(value)
    if found is None:
        raise BadRequest("sha256 must be the file's SHA-256: 64 hexadecimal digits", code="INVALID_SHA256")
    return found


def _key(folder: Any, name: Any) -> Key | None:
    if not isinstance(folder, str) or not isinstance(name, str) or not folder.strip() or not name.strip():
        return None
    return folder.strip().strip("/"), name.strip().replace("\\", "/").lstrip("/")


def _known(raw: Any, sha256: Any, origin: str) -> Known | None:
    try:
        source = parse_source(raw)
    except CozyGenError:
        return None
    return Known(source, sha256_value(sha256), origin)


@functools.lru_cache(maxsize=4)
def _read_catalogue(path: str, _mtime_ns: int) -> dict[Key, Known]:
    data = json.loads(Path(path).read_text())
    found: dict[Key, Known] = {}
    for target, entry in data.items() if isinstance(data, dict) else ():
        folder, _, name = str(target).partition("/")
        key = _key(folder, name)
        known = _known(entry.get("source"), entry.get("sha256"), "catalogue") if isinstance(entry, dict) else None
        if key is not None and known is not None:
            found[key] = known
    return found


def shipped(path: Path = SHIPPED) -> dict[Key, Known]:
    """The shipped catalogue (read again when the file changes; an unreadable one is empty). Blocking."""
    try:
        return _read_catalogue(str(path), path.stat().st_mtime_ns)
    except (OSError, ValueError):
        return {}


def workflow_models(data: Any) -> dict[Key, Known]:
    """The models a UI-format workflow lists (its own ``models`` and each node's ``properties.models``)."""
    if not isinstance(data, dict):
        return {}
    lists: list[Any] = [data.get("models")]
    nodes = data.get("nodes")
    for node in nodes if isinstance(nodes, list) else ():
        properties = node.get("properties") if isinstance(node, dict) else None
        if isinstance(properties, dict):
            lists.append(properties.get("models"))
    found: dict[Key, Known] = {}
    for entries in lists:
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
                continue
            key = _key(entry.get("directory"), entry.get("name"))
            kind = entry.get("hash_type")
            sha = entry.get("hash") if kind is None or str(kind).lower() == "sha256" else None
            known = _known(entry["url"], sha, "workflow")
            if key is not None and known is not None:
                found.setdefault(key, known)
    return found


def suggest(missing: Mapping[str, Iterable[str]], *places: Mapping[Key, Known]) -> list[tuple[str, str, Known | None]]:
    """Each missing ``(folder, name)`` with what the first of ``places`` that knows it says (or None)."""
    suggestions = []
    for folder, names in missing.items():
        for name in names:
            key = _key(folder, name)
            found = next((place[key] for place in places if key is not None and key in place), None)
            suggestions.append((folder, name, found))
    return suggestions


# -- the sources an admin records (the model_sources table) -----------------------------------------------------
def recorded(conn: sqlite3.Connection, keys: Iterable[Key]) -> dict[Key, Known]:
    found: dict[Key, Known] = {}
    for folder, name in set(keys):
        row = conn.execute(
            "SELECT source_json, sha256 FROM model_sources WHERE folder = ? AND name = ?", (folder, name)
        ).fetchone()
        if row is None:
            continue
        try:
            raw = json.loads(row["source_json"])
        except ValueError:
            continue
        known = _known(raw, row["sha256"], "recorded")
        if known is not None:
            found[(folder, name)] = known
    return found


def record(
    conn: sqlite3.Connection, folder: str, name: str, source: Source, sha256: str | None, by: str | None
) -> None:
    conn.execute(
        "INSERT INTO model_sources(folder, name, source_json, sha256, recorded_by, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(folder, name) DO UPDATE SET source_json = excluded.source_json, "
        "sha256 = excluded.sha256, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
        (folder, name, json.dumps(source.as_dict()), sha256, by, time.time()),
    )


def forget(conn: sqlite3.Connection, folder: str, name: str) -> bool:
    return conn.execute("DELETE FROM model_sources WHERE folder = ? AND name = ?", (folder, name)).rowcount > 0
