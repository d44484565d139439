"""Tag lists in the a1111-sd-webui-tagcomplete CSV format, read and merged.

One tag a line and no header: ``name,category,post_count,"alias1,alias2"``.
Danbooru numbers its categories 0 general, 1 artist, 3 copyright, 4 character,
5 meta; e621 uses 5 species, 6 invalid, 7 meta, 8 lore. A file is read with
e621's numbering when its name contains ``e621`` or its first 256 KB use 6, 7
or 8; any other number is general. Several files merge: the larger count (and
its category) wins, aliases unite. Names are lower case, spaces as underscores.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

CATEGORY_KEYS = ("general", "artist", "copyright", "character", "meta", "species", "lore", "invalid")
DANBOORU = {0: "general", 1: "artist", 3: "copyright", 4: "character", 5: "meta"}
E621 = {0: "general", 1: "artist", 3: "copyright", 4: "character", 5: "species", 6: "invalid", 7: "meta", 8: "lore"}
MAX_NAME = 500
CHUNK = 8192  # lines read and checked at once
E621_SNIFF = 256 * 1024  # bytes read to tell e621's numbering from Danbooru's
NO_ALIASES: list[str] = []  # shared by the many tags without aliases (never changed in place)


def normalize(text: str) -> str:
    """Lower case, runs of white space as one underscore: ``Long  Hair`` is ``long_hair``."""
    return "_".join(text.lower().split())


@dataclass
class Parsed:
    """What one or more lists hold, as parallel lists in the order first read; ``at`` finds a name."""

    names: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    categories: list[int] = field(default_factory=list)  # index into CATEGORY_KEYS
    aliases: list[list[str]] = field(default_factory=list)
    at: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, tags: dict[str, tuple[int, str, list[str]]]) -> Parsed:
        """From ``{name: (count, category key, aliases)}``."""
        parsed = cls()
        for name, (count, category, aliases) in tags.items():
            parsed.at[name] = len(parsed.names)
            parsed.names.append(name)
            parsed.counts.append(count)
            parsed.categories.append(CATEGORY_KEYS.index(category))
            parsed.aliases.append(list(aliases))
        return parsed


def parse_rows(records: Iterable[list[str]], skipped: list[int]) -> Iterator[tuple[str, int, int, list[str]]]:
    """Rows ``(name, category number, count, aliases)`` of CSV records; unusable ones are counted in ``skipped[0]``."""
    for fields in records:
        try:  # the usual line: name,category,count[,aliases]
            name, number, count = fields[0].lower(), int(fields[1]), int(fields[2])
        except (IndexError, ValueError):
            if not "".join(fields).strip():
                continue
            try:  # a shorter line: name[,category[,count]]
                name = fields[0].lower()
                number = int(fields[1]) if len(fields) > 1 and fields[1].strip() else 0
                count = int(fields[2]) if len(fields) > 2 and fields[2].strip() else 0
            except ValueError:  # a header, or a broken line
                skipped[0] += 1
                continue
        if " " in name or not name.isprintable() or name != name.strip():
            name = normalize(name)
        if not name or count < 0 or len(name) > MAX_NAME:
            skipped[0] += 1
            continue
        aliases = (
            [a for a in map(normalize, fields[3].split(",")) if a] if len(fields) > 3 and fields[3] else NO_ALIASES
        )
        yield name, number, count, aliases


def parse_csv(text: str) -> tuple[list[tuple[str, int, int, list[str]]], int]:
    """All the rows of a list's text, and how many lines were unusable."""
    skipped = [0]
    rows = list(parse_rows(csv.reader(io.StringIO(text)), skipped))
    return rows, skipped[0]


_E621_ONLY = re.compile(rb"^[^,\n]*,[678],", re.MULTILINE)  # categories only e621 numbers


def read_list(path: Path, parsed: Parsed) -> dict[str, Any]:
    """Merge one list into ``parsed``, streaming it (a 140,000-line list never sits in memory whole)."""
    with path.open("rb") as head:  # e621's own categories show up among its most used tags
        e621 = "e621" in path.name.lower() or _E621_ONLY.search(head.read(E621_SNIFF)) is not None
    skipped, n = [0], 0
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as lines:
        records = csv.reader(lines)
        while chunk := list(islice(records, CHUNK)):
            if _merge_clean(parsed, chunk, e621=e621):
                n += len(chunk)
            else:
                n += merge_rows(parsed, parse_rows(chunk, skipped), e621=e621)
    parsed.skipped += skipped[0]
    return {"name": path.name, "tags": n, "skipped": skipped[0]}


def _merge_clean(parsed: Parsed, chunk: list[list[str]], *, e621: bool) -> bool:
    """Add a chunk of well-formed lines with new names column by column (fast); False, having added nothing, if not."""
    try:
        counts = [int(r[2]) for r in chunk]
        numbers = [int(r[1]) for r in chunk]
    except (IndexError, ValueError):
        return False
    names = [r[0].lower() for r in chunk]
    joined = "".join(names)
    if (
        " " in joined
        or not joined.isprintable()
        or min(counts) < 0
        or min(map(len, names)) == 0
        or max(map(len, names)) > MAX_NAME
        or not parsed.at.keys().isdisjoint(names)
        or len(set(names)) < len(names)
    ):
        return False
    numbering = {n: CATEGORY_KEYS.index(k) for n, k in (E621 if e621 else DANBOORU).items()}
    base = len(parsed.names)
    parsed.at.update(zip(names, range(base, base + len(names)), strict=True))
    parsed.names += names
    parsed.counts += counts
    parsed.categories += [numbering.get(n, 0) for n in numbers]
    parsed.aliases += [
        [a for a in map(normalize, r[3].split(",")) if a] if len(r) > 3 and r[3] else NO_ALIASES for r in chunk
    ]
    return True


def category_of(number: int, *, e621: bool) -> str:
    """The category key of a list's category number."""
    return (E621 if e621 else DANBOORU).get(number, "general")


def merge_rows(parsed: Parsed, rows: Iterable[tuple[str, int, int, list[str]]], *, e621: bool) -> int:
    """Add one list's rows: a name seen before keeps the larger count (with its category) and all aliases."""
    numbering = {n: CATEGORY_KEYS.index(k) for n, k in (E621 if e621 else DANBOORU).items()}
    at, counts, categories, aliases = parsed.at, parsed.counts, parsed.categories, parsed.aliases
    add_name, add_count, add_category, add_aliases = (
        parsed.names.append, counts.append, categories.append, aliases.append
    )  # fmt: skip
    n = 0
    for n, (name, number, count, more) in enumerate(rows, 1):  # noqa: B007 (n, the rows read, is returned)
        k = at.setdefault(name, len(at))
        if k == len(counts):  # new
            add_name(name)
            add_count(count)
            add_category(numbering.get(number, 0))
            add_aliases(more)
            continue
        if count > counts[k]:
            counts[k], categories[k] = count, numbering.get(number, 0)
        if more:
            aliases[k] = list(dict.fromkeys([*aliases[k], *more]))
    return n


def folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of each list in the folder: cheap enough to compare on every request."""
    try:
        with os.scandir(folder) as entries:
            found = [
                (e.name, s.st_size, s.st_mtime_ns)
                for e in entries
                if e.name.lower().endswith(".csv") and e.is_file() and (s := e.stat())
            ]
    except OSError:
        return ()
    return tuple(sorted(found))


def read_folder(folder: Path) -> Parsed:
    """Every ``*.csv`` list in the folder, merged (files in name order; unreadable ones are reported)."""
    parsed = Parsed()
    for name, _size, _mtime in folder_signature(folder):
        try:
            parsed.files.append(read_list(folder / name, parsed))
        except OSError as exc:
            parsed.files.append({"name": name, "tags": 0, "error": str(exc)})
    return parsed
