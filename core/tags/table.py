"""One source's tags numbered by rank (count descending, then name), and the index that answers a query on them.

Tags are numbered by rank, so "ranked by count" is "sorted by number" and ``min_count`` is one
bisect. For all tags (and, on first use, for each category): names sorted for prefix bisects; the
text after each word start (each ``_`` or ``(``) sorted, with its tag; aliases sorted. A 1- or
2-character query covers thousands of tags: its ranked answer is kept once made, and
``TagTable.warm`` makes them all ahead of time. Immutable once built, shared between threads.
"""

from __future__ import annotations

import bisect
import re
import threading
from array import array
from collections import Counter
from collections.abc import Sequence
from itertools import compress
from operator import neg
from typing import NamedTuple

from .lists import CATEGORY_KEYS, Parsed

SHORT = 2  # queries this long or shorter are answered from tables made at build


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
        everything = Part(
            self,
            list(map(names0.__getitem__, alphabetical)),
            by_name,
            list(map(word_keys.__getitem__, word_order)),
            array("i", map(word_ids.__getitem__, word_order)),
            alias_keys,
            array("i", map(aliases.__getitem__, alias_keys)),
        )
        self.parts: dict[str | None, Part] = {None: everything}

    def part(self, category: str | None) -> Part | None:
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
                self.parts[category] = Part(
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


class Part:
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
