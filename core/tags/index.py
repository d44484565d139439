"""Tag autocomplete and validation over the tag lists and the user's own prompts, in well under a millisecond.

Two tables, searched as one: the lists (``tag_lists``) and the tags of the
user's prompts that no list knows (``tag_history``; category general, count =
prompts that used it, source ``history``).

Index (per table, immutable once built, shared between threads)
    Tags are numbered by rank (count descending, ties by name), so "ranked by
    count" is "sorted by number" and ``min_count`` is one bisect. For all tags
    (and, on first use, for each category): names sorted for prefix bisects; the
    text after each word start (each ``_`` or ``(``) sorted, with its tag; aliases
    sorted. A 1- or 2-character query covers thousands of tags: its ranked answer
    is kept once made, and ``TagTable.warm`` makes them all ahead of time.

Matching: prefix first, then word start (``hair`` finds ``long_hair``), then an
alias prefix (answered with the real tag and the alias that matched); a tag
appears once, in its first kind. Spaces and underscores are the same.
"""

from __future__ import annotations

import bisect
import difflib
import gc
import heapq
import re
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, islice
from operator import neg
from pathlib import Path
from typing import Any, NamedTuple

from .history import prompt_tag
from .lists import CATEGORY_KEYS, Parsed, normalize, read_folder

TAGS_FOLDER = "tags"
KINDS = ("prefix", "word", "alias")
SORTS = ("count", "alpha")
SHORT = 2  # queries this long or shorter are answered from tables made at build
SUGGESTIONS = 5
EDIT_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-"


# -- tables and their index -------------------------------------------------------------------
class TagTable:
    """Tags of one source numbered by rank (count descending, then name), with their index.

    The index of all tags is built at once; a category's on its first use. Answers
    to 1- and 2-character queries (the largest ranges) are kept once made, and
    :meth:`warm` makes them all ahead of time.
    """

    def __init__(self, parsed: Parsed, source: str = "list") -> None:
        names0, counts0 = parsed.names, parsed.counts
        alphabetical = sorted(range(len(names0)), key=names0.__getitem__)
        order = sorted(alphabetical, key=counts0.__getitem__, reverse=True)  # stable: ties stay alphabetical
        rank = sorted(range(len(order)), key=order.__getitem__)  # the inverse permutation
        self.source = source
        self.names: list[str] = list(map(names0.__getitem__, order))
        self.counts = array("q", map(counts0.__getitem__, order))
        self.cat_index = bytes(map(parsed.categories.__getitem__, order))
        self.ids: dict[str, int] = dict(zip(self.names, range(len(order)), strict=True))
        aliases: dict[str, int] = {}
        for k in compress(range(len(order)), parsed.aliases):  # the tags that have aliases
            i = rank[k]
            for alias in parsed.aliases[k]:
                if alias not in self.ids and aliases.get(alias, i) >= i:  # a real tag wins, then the most used
                    aliases[alias] = i
        self.aliases = aliases
        by_name = list(map(rank.__getitem__, alphabetical))
        word_keys, word_ids = [], []  # the text after each word start, and its tag
        suffixes = _WORD_START.findall
        for i, name in enumerate(self.names):
            if "_" in name or "(" in name:
                found = suffixes(name)
                word_keys += found
                word_ids += [i] * len(found)
        word_order = sorted(range(len(word_keys)), key=word_keys.__getitem__)
        alias_keys = sorted(aliases)
        self._lock = threading.Lock()
        everything = _Part(
            self,
            list(map(names0.__getitem__, alphabetical)),
            by_name,
            list(map(word_keys.__getitem__, word_order)),
            array("i", map(word_ids.__getitem__, word_order)),
            alias_keys,
            array("i", map(aliases.__getitem__, alias_keys)),
        )
        self.parts: dict[str | None, _Part] = {None: everything}

    def part(self, category: str | None) -> _Part | None:
        """The index of one category (made on first use), or of all tags for None."""
        found = self.parts.get(category)
        if found is not None or category not in CATEGORY_KEYS:
            return found
        with self._lock:
            if category not in self.parts:
                c = CATEGORY_KEYS.index(category)
                cats = self.cat_index
                every = self.parts[None]
                words = [k for k, i in enumerate(every.word_ids) if cats[i] == c]
                aliases = [k for k, i in enumerate(every.alias_ids) if cats[i] == c]
                by_name = [i for i in every.key_ids if cats[i] == c]
                self.parts[category] = _Part(
                    self,
                    list(map(self.names.__getitem__, by_name)),
                    by_name,
                    [every.word_keys[k] for k in words],
                    array("i", [every.word_ids[k] for k in words]),
                    [every.alias_keys[k] for k in aliases],
                    array("i", [every.alias_ids[k] for k in aliases]),
                )
            return self.parts[category]

    def warm(self) -> None:
        self.parts[None].warm()

    def __len__(self) -> int:
        return len(self.names)

    def category(self, tag_id: int) -> str:
        return CATEGORY_KEYS[self.cat_index[tag_id]]

    def limit_of(self, min_count: int) -> int:
        """How many tags have at least ``min_count`` (they are the ids below it)."""
        return bisect.bisect_right(self.counts, -min_count, key=neg) if min_count > 0 else len(self.names)

    def category_counts(self) -> Counter:
        return Counter({CATEGORY_KEYS[c]: n for c, n in Counter(self.cat_index).items()})

    def lookup(self, name: str) -> int | None:
        found = self.ids.get(name)
        return found if found is not None else self.aliases.get(name)


_WORD_START = re.compile(r"[_(](?=(.+))")  # the text after each word start


def _range(keys: Sequence[str], q: str) -> tuple[int, int]:
    lo = bisect.bisect_left(keys, q)
    return lo, bisect.bisect_left(keys, q + "\U0010ffff", lo)


class _Part:
    """The index of some of a table's tags (all, or one category)."""

    def __init__(
        self,
        table: TagTable,
        keys: list[str],
        by_name: list[int],
        word_keys: list[str],
        word_ids: array,
        alias_keys: list[str],
        alias_ids: array,
    ) -> None:
        self.table = table
        self.keys, self.key_ids = keys, array("i", by_name)  # names in order, and their tags
        self.word_keys, self.word_ids = word_keys, word_ids  # the text from a word start on, sorted; its tag
        self.alias_keys, self.alias_ids = alias_keys, alias_ids
        self.all_ranked = array("i", range(len(table)) if len(keys) == len(table) else sorted(by_name))
        self.short: dict[str, tuple[array, ...]] = {}

    def warm(self) -> None:
        """Make the answer to every 1- and 2-character query now rather than on its first use."""
        for keys in (self.keys, self.word_keys, self.alias_keys):
            for n in range(1, SHORT + 1):
                lo = 0
                while lo < len(keys):
                    q = keys[lo][:n]
                    lo = bisect.bisect_left(keys, q + "\U0010ffff", lo)
                    if q not in self.short:
                        self.short[q] = self._compute(q)

    def _compute(self, q: str) -> tuple[array, ...]:
        """(prefix ids, word-start ids, alias ids, each alias's index): by rank, each without the kinds before."""
        lo, hi = _range(self.keys, q)
        prefix = self.key_ids[lo:hi]
        lo, hi = _range(self.word_keys, q)
        word = set(self.word_ids[lo:hi])
        word.difference_update(prefix)
        lo, hi = _range(self.alias_keys, q)
        alias: dict[int, int] = {}
        if hi > lo:
            names = self.table.names
            for j in range(lo, hi):
                t = self.alias_ids[j]
                if t not in alias and t not in word and not names[t].startswith(q):
                    alias[t] = j
        alias_ids = sorted(alias)
        return (
            array("i", sorted(prefix)),
            array("i", sorted(word)),
            array("i", alias_ids),
            array("i", [alias[t] for t in alias_ids]),
        )

    def kinds(self, q: str, limit: int) -> list[Matches]:
        """Per match kind, the ids by rank below ``limit`` (and for aliases, which alias matched)."""
        if not q:
            return [Matches(self.all_ranked[: bisect.bisect_left(self.all_ranked, limit)]), NONE, NONE]
        if len(q) <= SHORT:
            found = self.short.get(q)
            if found is None:
                found = self._compute(q)
                if any(found):  # only real prefixes are kept: junk queries cannot grow memory
                    self.short[q] = found
        else:
            found = self._compute(q)
        prefix, word, alias_ids, alias_at = found
        if limit < len(self.table):
            prefix = prefix[: bisect.bisect_left(prefix, limit)]
            word = word[: bisect.bisect_left(word, limit)]
            n = bisect.bisect_left(alias_ids, limit)
            alias_ids, alias_at = alias_ids[:n], alias_at[:n]
        return [Matches(prefix), Matches(word), Matches(alias_ids, alias_at, self.alias_keys)]


class Matches(NamedTuple):
    """The tags of one table that match one way, most used first; for aliases, where the alias is."""

    ids: Sequence[int]
    alias_at: Sequence[int] | None = None
    alias_keys: Sequence[str] | None = None

    def alias(self, j: int) -> str | None:
        return self.alias_keys[self.alias_at[j]] if self.alias_keys is not None and self.alias_at is not None else None


NONE = Matches(())


class Hit(NamedTuple):
    """One tag found, and how."""

    tag: str
    count: int
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
