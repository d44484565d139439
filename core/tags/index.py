"""Tag autocomplete and validation over the tag lists and the user's own prompts, in well under a millisecond.

Two tables, searched as one: the lists (``tag_lists``) and the tags of the
user's prompts that no list knows (``tag_history``; category general, count =
prompts that used it, source ``history``).

Each table (:class:`.table.TagTable`) is indexed on its own; this module searches, validates and
suggests over both.

Matching: a prefix, a word start (``hair`` finds ``long_hair``), or an alias prefix (answered with the
real tag and the alias that matched); a tag appears once, in its first kind. Spaces and underscores are the
same. By count (the default), an exact match comes first, then a blend: ``log(count)`` plus a bonus for a
prefix over a word start, and less for an alias, so a far more used word-start match (``long_hair`` for
``hair``) beats a rare prefix one (``hair_tie_in_mouth``), as tag-autocomplete users expect. By name, the
kinds come in that order, each alphabetical.
"""

from __future__ import annotations

import bisect
import difflib
import gc
import heapq
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from .history import prompt_tag
from .lists import Parsed, normalize, read_folder
from .table import NONE, Matches, TagTable

TAGS_FOLDER = "tags"
KINDS = ("prefix", "word", "alias")
SORTS = ("count", "alpha")
SUGGESTIONS = 5
# The blend's bonus per kind, in log(count) units: a word-start match must be used about 3 times as much as a
# prefix match to come before it, an alias match 3 times as much again as a word start.
KIND_BONUS = {"prefix": math.log(3), "word": 0.0, "alias": -math.log(3)}
EXACT = math.inf
EDIT_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-"


class Hit(NamedTuple):
    """One tag found, and how."""

    tag: str
    count: int  # type: ignore[assignment]  # shadows tuple.count: the name is the API's
    category: str
    match: str
    source: str
    alias: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": self.tag, "count": self.count, "category": self.category, "match": self.match}
        if self.alias is not None:
            out["alias"] = self.alias
        if self.source != "list":
            out["source"] = self.source
        return out


class Found(NamedTuple):
    items: list[Hit]
    total: int


class TagIndex:
    """The tag lists and the history tags, searched as one."""

    def __init__(self, lists: TagTable, history: TagTable, files: Sequence[dict[str, Any]] = ()) -> None:
        self.lists, self.history, self.files = lists, history, list(files)
        self.tables = (lists, history)

    @classmethod
    def build(cls, parsed: Parsed, history: Counter | None = None) -> TagIndex:
        lists = TagTable(parsed)
        return cls(lists, history_table(lists, history or Counter()), parsed.files)

    def with_history(self, history: Counter) -> TagIndex:
        return TagIndex(self.lists, history_table(self.lists, history), self.files)

    def __len__(self) -> int:
        return len(self.lists) + len(self.history)

    def ready(self, category: str | None) -> bool:
        """Whether a search in this category is instant (its index made), or first builds it."""
        return all(category in t.parts or not len(t) for t in self.tables)

    def categories(self) -> list[dict[str, Any]]:
        counts = self.lists.category_counts() + self.history.category_counts()
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"key": k, "count": n, "actual": n} for k, n in ordered]

    def search(
        self,
        q: str,
        *,
        category: str | None = None,
        sort: str = "count",
        limit: int = 80,
        offset: int = 0,
        min_count: int = 0,
    ) -> Found:
        q = normalize(q)
        per_table = []
        for table in self.tables:
            part = table.part(category) if len(table) else None
            per_table.append(part.kinds(q, table.limit_of(min_count)) if part is not None else [NONE] * 3)
        total = sum(len(m.ids) for kinds in per_table for m in kinds)
        if sort == "count":
            return Found(self._blended(q, per_table, offset, limit), total)
        items: list[Hit] = []
        skip, want = offset, limit
        for k, kind in enumerate(KINDS):
            size = sum(len(kinds[k].ids) for kinds in per_table)
            if want <= 0:
                break
            if skip >= size:
                skip -= size
                continue
            streams = [
                self._stream(table, kinds[k], kind, sort, skip + want)
                for table, kinds in zip(self.tables, per_table, strict=True)
                if kinds[k].ids
            ]
            key = (lambda h: h.tag) if sort == "alpha" else (lambda h: (-h.count, h.tag))
            merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=key)
            page = list(islice(merged, skip, skip + want))
            items.extend(page)
            want -= len(page)
            skip = 0
        return Found(items, total)

    def _blended(self, q: str, per_table: list[list[Matches]], offset: int, limit: int) -> list[Hit]:
        """One page by score (an exact match, then log(count) plus the kind's bonus): each kind's ids are
        ranked by count, so each stream is already in score order and a lazy merge reads only the page.
        Streams yield plain ``(-score, name, stream, j)`` tuples; hits are made for the page alone."""
        sources = [
            (table, kinds[k], kind)
            for table, kinds in zip(self.tables, per_table, strict=True)
            for k, kind in enumerate(KINDS)
            if kinds[k].ids
        ]
        streams = [_scored(table, found, kind, q, n, offset + limit) for n, (table, found, kind) in enumerate(sources)]
        page = []
        for _, name, n, j in islice(heapq.merge(*streams), offset, offset + limit):
            table, found, kind = sources[n]
            i = found.ids[j]
            page.append(Hit(name, table.counts[i], table.category(i), kind, table.source, found.alias(j)))
        return page

    @staticmethod
    def _stream(table: TagTable, found: Matches, kind: str, sort: str, need: int) -> Iterator[Hit]:
        ids, names = found.ids, table.names
        order: Iterable[int] = range(len(ids))
        if sort == "alpha":
            order = sorted(order, key=lambda j: names[ids[j]])
        for j in islice(order, need):
            i = ids[j]
            yield Hit(names[i], table.counts[i], table.category(i), kind, table.source, found.alias(j))

    # -- validate -------------------------------------------------------------------
    def lookup(self, name: str) -> tuple[TagTable, int] | None:
        for table in self.tables:
            found = table.lookup(name)
            if found is not None:
                return table, found
        return None

    def validate(self, tags: Iterable[Any]) -> dict[str, Any]:
        """``{"invalid", "suggestions", "aliases"}``: aliases resolve to their tag, near misses get suggestions."""
        invalid, suggestions, aliases, seen = [], {}, {}, set()
        for raw in tags:
            if not isinstance(raw, str) or not raw.strip() or raw.strip().lower() in seen:
                continue
            text = raw.strip()
            seen.add(text.lower())
            name = prompt_tag(text)
            found = self.lookup(name)
            if found is not None:
                table, i = found
                if table.names[i] != name:
                    aliases[text] = table.names[i]
                continue
            invalid.append(text)
            suggestions[text] = self.suggest(name)
        return {"invalid": invalid, "suggestions": suggestions, "aliases": aliases}

    def suggest(self, name: str, limit: int = SUGGESTIONS) -> list[str]:
        """Near misses: those one edit away, most used first, or else close spellings among tags sharing a word."""
        if not name:
            return []
        hits: dict[str, int] = {}
        for candidate in edits1(name):
            found = self.lookup(candidate)
            if found is not None:
                table, i = found
                hits.setdefault(table.names[i], -table.counts[i])
        out = sorted(hits, key=lambda n: (hits[n], n))[:limit]
        if not out:  # nothing one edit away: close spellings among tags that share a start or a word
            pool: dict[str, None] = {}
            for piece in dict.fromkeys([name[:3], *(w for w in name.split("_") if len(w) >= 3)]):
                for hit in self.search(piece, limit=40).items:
                    pool.setdefault(hit.tag)
            for close in difflib.get_close_matches(name, list(pool), n=limit, cutoff=0.6):
                if close not in out and close != name and len(out) < limit:
                    out.append(close)
        return out


def _scored(table: TagTable, found: Matches, kind: str, q: str, n: int, need: int) -> Iterator[tuple]:
    """One kind of one table's matches as ``(-score, name, n, j)``, best first (``j``: where in ``found``)."""
    ids, names, counts, bonus = found.ids, table.names, table.counts, KIND_BONUS[kind]
    exact = table.id_of(q) if kind == "prefix" else None
    if exact is not None:  # ids are sorted by rank: is the exact match among them (category, min_count)?
        at = bisect.bisect_left(ids, exact)
        if at < len(ids) and ids[at] == exact:
            yield -EXACT, names[exact], n, at
            need -= 1
        else:
            exact = None
    log = math.log
    for j in range(min(len(ids), need + (exact is not None))):
        i = ids[j]
        if i != exact:
            yield -(log(counts[i] + 1) + bonus), names[i], n, j


def edits1(word: str) -> set[str]:
    """Every string one deletion, swap, replacement or insertion away (Norvig's spelling corrector)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return {
        *(a + b[1:] for a, b in splits if b),
        *(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1),
        *(a + c + b[1:] for a, b in splits if b for c in EDIT_ALPHABET),
        *(a + c + b for a, b in splits for c in EDIT_ALPHABET),
    } - {word}


def history_table(lists: TagTable, counts: Counter) -> TagTable:
    """The tags of the user's prompts that no list knows (by name or alias)."""
    return TagTable(Parsed.of({t: (n, "general", []) for t, n in counts.items() if lists.lookup(t) is None}), "history")


def load_index(folder: Path, history: Counter | None = None) -> TagIndex:
    """Read the lists in ``folder`` and index them with the history tags (blocking: call it in a thread)."""
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of new objects, none of them cyclic: the collector only slows this
    try:
        parsed = read_folder(folder)
        parsed.at.clear()  # not needed to index: free it before the index's own name map is made
        return TagIndex.build(parsed, history)
    finally:
        if collecting:
            gc.enable()
