"""One source's tags numbered by rank (count descending, then name), and the index that answers a query on them.

Tags are numbered by rank, so "ranked by count" is "sorted by number" and ``min_count`` is one
bisect. For all tags (and, on first use, for each category): names sorted for prefix bisects; the
text after each word start (each ``_`` or ``(``) sorted, with its tag; aliases sorted. A 1- or
2-character query covers thousands of tags: its ranked answer is kept once made, and
``TagTable.warm`` makes them all ahead of time. Immutable once built, shared between threads.

The sorting work makes :class:`Columns` (plain lists and arrays, what ``cache`` saves). A table made
from them ``lazy`` is ready in milliseconds: its sorted names and word starts are views over the names
(:class:`Picked`, :class:`Suffixes`) and a name is found by bisection, until :meth:`TagTable.finish`
makes the lists and the name map (in the background). Prefix-only columns (no word starts, no aliases)
come first and cheaper: what a query is answered with while the rest is built.
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
from typing import NamedTuple, overload

from .lists import CATEGORY_KEYS, Parsed

SHORT = 2  # queries this long or shorter are answered from tables made at build
STEP = 8192  # items made at once in the background: the event loop's thread gets the GIL back in between


class Columns(NamedTuple):
    """A table's data: tags by rank, their names in name order (``key_ids``), the word starts in the order of the
    text from there on (each a tag and where in its name), and the aliases, sorted, each with its tag.
    Prefix-only columns have no word starts and no aliases."""

    names: list[str]
    counts: array  # "q"
    categories: bytes  # index into CATEGORY_KEYS
    key_ids: array  # "i": the tags in name order
    word_ids: array  # "i"
    word_at: array  # "i": where in the tag's name the word starts
    alias_keys: Sequence[str]
    alias_ids: array  # "i"


class Picked(Sequence[str]):
    """``names[ids[j]]``: the names in another order, without a list of them."""

    __slots__ = ("names", "ids")

    def __init__(self, names: list[str], ids: array) -> None:
        self.names, self.ids = names, ids

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, j: int) -> str: ...
    @overload
    def __getitem__(self, j: slice) -> list[str]: ...
    def __getitem__(self, j: int | slice) -> str | list[str]:
        if isinstance(j, slice):
            return list(map(self.names.__getitem__, self.ids[j]))
        return self.names[self.ids[j]]


class Suffixes(Sequence[str]):
    """``names[ids[j]][at[j]:]``: the text from each word start on, made when asked for."""

    __slots__ = ("names", "ids", "at")

    def __init__(self, names: list[str], ids: array, at: array) -> None:
        self.names, self.ids, self.at = names, ids, at

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, j: int) -> str: ...
    @overload
    def __getitem__(self, j: slice) -> list[str]: ...
    def __getitem__(self, j: int | slice) -> str | list[str]:
        if isinstance(j, slice):
            return [self.names[i][k:] for i, k in zip(self.ids[j], self.at[j], strict=True)]
        return self.names[self.ids[j]][self.at[j] :]


def prefix_columns(parsed: Parsed) -> tuple[Columns, list[int]]:
    """The tags ranked and in name order, without word starts or aliases; and each parsed tag's rank."""
    names0, counts0 = parsed.names, parsed.counts
    alphabetical = sorted(range(len(names0)), key=names0.__getitem__)
    order = sorted(alphabetical, key=counts0.__getitem__, reverse=True)  # stable: ties stay alphabetical
    rank = sorted(range(len(order)), key=order.__getitem__)  # the inverse permutation
    columns = Columns(
        list(map(names0.__getitem__, order)),
        array("q", map(counts0.__getitem__, order)),
        bytes(map(parsed.categories.__getitem__, order)),
        array("i", map(rank.__getitem__, alphabetical)),
        array("i"),
        array("i"),
        [],
        array("i"),
    )
    return columns, rank


def word_columns(parsed: Parsed, prefix: Columns, rank: list[int], keys_out: list[str] | None = None) -> Columns:
    """``prefix`` with the word starts and aliases added (and the word starts' text, sorted, put in ``keys_out``)."""
    names = prefix.names
    known = set(names)
    aliases: dict[str, int] = {}
    for k in compress(range(len(rank)), parsed.aliases):  # the tags that have aliases
        i = rank[k]
        for alias in parsed.aliases[k]:
            if alias not in known and aliases.get(alias, i) >= i:  # a real tag wins, then the most used
                aliases[alias] = i
    word_keys, word_ids, word_at = [], [], []  # the text after each word start, its tag and where it starts
    starts = _WORD_START.finditer
    for i, name in enumerate(names):
        if "_" in name or "(" in name:
            for found in starts(name):
                word_keys.append(found.group(1))
                word_ids.append(i)
                word_at.append(found.start(1))
    word_order = sorted(range(len(word_keys)), key=word_keys.__getitem__)
    if keys_out is not None:
        keys_out += map(word_keys.__getitem__, word_order)
    alias_keys = sorted(aliases)
    return prefix._replace(
        word_ids=array("i", map(word_ids.__getitem__, word_order)),
        word_at=array("i", map(word_at.__getitem__, word_order)),
        alias_keys=alias_keys,
        alias_ids=array("i", map(aliases.__getitem__, alias_keys)),
    )


def columns_of(parsed: Parsed) -> Columns:
    return word_columns(parsed, *prefix_columns(parsed))


class TagTable:
    """Tags of one source numbered by rank (count descending, then name), with their index.

    The index of all tags is built at once; a category's on its first use. Answers
    to 1- and 2-character queries (the largest ranges) are kept once made, and
    :meth:`warm` makes them all ahead of time.
    """

    def __init__(self, data: Parsed | Columns, source: str = "list", *, lazy: bool = False) -> None:
        """From parsed lists (the sorting work) or from their columns. ``lazy``: in milliseconds, with views
        for the sorted names and word starts and no name map, until :meth:`finish` (in the background)."""
        word_keys: list[str] | None = None
        if isinstance(data, Columns):
            columns = data
        else:
            word_keys = []
            columns = word_columns(data, *prefix_columns(data), keys_out=word_keys)
        names = columns.names
        self.source = source
        self.names: list[str] = names
        self.counts = columns.counts
        self.cat_index = columns.categories
        self._ids: dict[str, int] | None = None
        self.aliases: dict[str, int] = dict(zip(columns.alias_keys, columns.alias_ids, strict=True))
        self._lock = threading.Lock()
        self.word_at = columns.word_at
        everything = Part(
            self,
            Picked(names, columns.key_ids),
            columns.key_ids,
            Suffixes(names, columns.word_ids, columns.word_at) if word_keys is None else word_keys,
            columns.word_ids,
            columns.alias_keys,
            columns.alias_ids,
        )
        self.parts: dict[str | None, Part] = {None: everything}
        if not lazy:
            self.finish()

    def finish(self) -> None:
        """The sorted names and word starts as lists, and the map from name to tag (a bisection before: validation
        makes thousands of lookups). Answers are the same before and after."""
        every = self.parts[None]
        if isinstance(every.keys, Picked):
            every.keys = _in_steps(every.keys)
        if isinstance(every.word_keys, Suffixes):
            every.word_keys = _in_steps(every.word_keys)
        if self._ids is None:
            ids: dict[str, int] = {}
            for start in range(0, len(self.names), STEP):
                ids.update(zip(self.names[start : start + STEP], range(start, start + STEP), strict=False))
            self._ids = ids

    def id_of(self, name: str) -> int | None:
        """The tag named ``name`` (not an alias), or None."""
        ids = self._ids
        if ids is not None:
            return ids.get(name)
        every = self.parts[None]
        at = bisect.bisect_left(every.keys, name)
        return every.key_ids[at] if at < len(every.keys) and every.keys[at] == name else None

    def columns(self) -> Columns:
        """What the table was made from (for saving)."""
        every = self.parts[None]
        return Columns(
            self.names,
            self.counts,
            self.cat_index,
            every.key_ids,
            every.word_ids,
            self.word_at,
            every.alias_keys,
            every.alias_ids,
        )

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
        found = self.id_of(name)
        return found if found is not None else self.aliases.get(name)


def _in_steps(view: Picked | Suffixes) -> list[str]:
    """The view as a list, made a step at a time (run in a thread, a single long C call would hold the GIL)."""
    made: list[str] = []
    for start in range(0, len(view), STEP):
        made += view[start : start + STEP]
    return made


_WORD_START = re.compile(r"[_(](?=(.+))")  # the text after each word start


def _range(keys: Sequence[str], q: str) -> tuple[int, int]:
    lo = bisect.bisect_left(keys, q)
    return lo, bisect.bisect_left(keys, q + "\U0010ffff", lo)


class Part:
    """The index of some of a table's tags (all, or one category)."""

    def __init__(
        self,
        table: TagTable,
        keys: Sequence[str],
        by_name: Sequence[int],
        word_keys: Sequence[str],
        word_ids: array,
        alias_keys: Sequence[str],
        alias_ids: array,
    ) -> None:
        self.table = table
        self.keys = keys  # names in order
        self.key_ids = by_name if isinstance(by_name, array) else array("i", by_name)  # and their tags
        self.word_keys, self.word_ids = word_keys, word_ids  # the text from a word start on, sorted; its tag
        self.alias_keys, self.alias_ids = alias_keys, alias_ids
        self.all_ranked: Sequence[int] = (  # every tag, by rank
            range(len(table)) if len(keys) == len(table) else array("i", sorted(by_name))
        )
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
