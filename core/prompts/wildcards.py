"""Wildcard files and the prompt language that draws from them.

A wildcard is a text file, one choice a line (blank lines and ``#`` comments are
skipped), named by its path without ``.txt`` (``animals/cats.txt`` is
``animals/cats``). CozyGen ships a set in ``data/wildcards/``; the user's own live
in ``<data dir>/wildcards/`` and replace a shipped file of the same name.

In a prompt or template:

- ``__name__`` (not inside a word) is replaced by a line of that wildcard; within
  one expansion a wildcard does not repeat a line until it has used them all;
- ``{a|b|c}`` is replaced by one of its options (options may be empty, and may
  hold braces and wildcards of their own); a ``{`` without its ``}`` stays as it is;
- what a wildcard line or an option contains is expanded in turn, down to
  ``MAX_DEPTH`` levels: a wildcard that refers to itself ends in a 400 naming the chain.

Expansion draws from one ``random.Random``, so the same seed, template and files
give the same prompt.
"""

from __future__ import annotations

import difflib
import os
import random
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadRequest

SUFFIX = ".txt"
MAX_DEPTH = 20  # nested wildcards and options
MAX_OUTPUT = 20_000  # characters of one expanded prompt
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_TEMPLATE = 4_000
SAMPLES = 3
NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-/]*[A-Za-z0-9])?")
WILDCARD = re.compile(r"__([A-Za-z0-9](?:[A-Za-z0-9\-/]|_(?!_))*?)__")
SHIPPED, USER = "shipped", "user"
DEFAULT_TEMPLATE = "__prompt__"
DEFAULT_NEGATIVE = "__negative_prompt__"


@dataclass(frozen=True)
class Wildcard:
    name: str
    lines: tuple[str, ...]
    source: str  # shipped | user
    overrides: bool = False  # a user file that replaces a shipped one

    def summary(self) -> dict:
        return {
            "name": self.name,
            "lines": len(self.lines),
            "source": self.source,
            "overrides_shipped": self.overrides,
            "samples": list(self.lines[:SAMPLES]),
        }


def parse_lines(text: str) -> tuple[str, ...]:
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def scan(root: Path) -> dict[str, Path]:
    """Every ``*.txt`` below root by wildcard name; files that lead outside root (symlinks) are skipped."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    base = Path(os.path.realpath(root))
    for path in sorted(root.rglob(f"*{SUFFIX}")):
        real = Path(os.path.realpath(path))
        if base not in real.parents or not real.is_file():
            continue
        name = path.relative_to(root).as_posix()[: -len(SUFFIX)]
        if NAME.fullmatch(name) and "__" not in name:
            found[name] = path
    return found


class Library:
    """The wildcards of a shipped folder and a user folder, re-read only when a file changes."""

    def __init__(self, shipped: Path, user: Path | None = None) -> None:
        self.roots = [(SHIPPED, shipped)] + ([(USER, user)] if user is not None else [])
        self._cache: dict[Path, tuple[tuple[int, int], tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def _lines(self, path: Path) -> tuple[str, ...]:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        if stat.st_size > MAX_FILE_BYTES:
            lines: tuple[str, ...] = ()
        else:
            lines = parse_lines(path.read_bytes().decode("utf-8", errors="replace"))
        with self._lock:
            self._cache[path] = (key, lines)
        return lines

    def load(self) -> dict[str, Wildcard]:
        """Every wildcard by name (blocking: call it in a thread)."""
        found: dict[str, Wildcard] = {}
        for source, root in self.roots:
            for name, path in scan(root).items():
                try:
                    lines = self._lines(path)
                except OSError:
                    continue
                found[name] = Wildcard(name, lines, source, overrides=source == USER and name in found)
        return dict(sorted(found.items()))


class Expander:
    """One expansion: a random source, the wildcards, and the lines each wildcard has left to give."""

    def __init__(self, wildcards: Mapping[str, Wildcard], rng: random.Random) -> None:
        self.wildcards = wildcards
        self.rng = rng
        self._left: dict[str, list[str]] = {}
        self._size = 0

    def expand(self, text: str, *, tidied: bool = True) -> str:
        """The text with its choices and wildcards expanded (and tidied, unless it is a part of a larger text)."""
        expanded = self._expand(text, ())
        return tidy(expanded) if tidied else expanded

    def _expand(self, text: str, chain: tuple[str, ...]) -> str:
        if len(chain) > MAX_DEPTH:
            raise BadRequest(
                f"wildcards and {{..}} choices nest deeper than {MAX_DEPTH} levels "
                f"(does a wildcard refer to itself?): {' > '.join(chain[-6:])}",
                code="WILDCARD_RECURSION",
            )
        out: list[str] = []
        i = 0
        while i < len(text):
            char = text[i]
            if char == "{":
                end = matching_brace(text, i)
                if end is not None:
                    choice = self.rng.choice(split_options(text[i + 1 : end]))
                    out.append(self._expand(choice, chain + ("{..}",)))
                    i = end + 1
                    continue
            elif char == "_" and (i == 0 or not text[i - 1].isalnum()):  # not inside a word like snake__case
                match = WILDCARD.match(text, i)
                if match:
                    name = match.group(1)
                    self._size += 1
                    out.append(self._expand(self.draw(name), chain + (f"__{name}__",)))
                    i = match.end()
                    continue
            out.append(char)
            i += 1
            self._size += 1
            if self._size > MAX_OUTPUT:
                raise BadRequest(
                    f"the expanded prompt grows past {MAX_OUTPUT} characters; use fewer nested wildcards",
                    code="WILDCARD_TOO_LARGE",
                )
        return "".join(out)

    def draw(self, name: str) -> str:
        wildcard = self.wildcards.get(name)
        if wildcard is None:
            raise unknown_wildcard(name, self.wildcards)
        if not wildcard.lines:
            raise BadRequest(f"the wildcard {name!r} has no lines", code="EMPTY_WILDCARD")
        left = self._left.get(name)
        if not left:
            left = self._left[name] = list(wildcard.lines)
        return left.pop(self.rng.randrange(len(left)))


def has_choices(text: str) -> bool:
    """Whether a text may hold a wildcard or a {a|b} choice (a quick test before any expansion)."""
    return "{" in text or WILDCARD.search(text) is not None


def unknown_wildcard(name: str, wildcards: Iterable[str]) -> BadRequest:
    names = list(wildcards)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(f'__{c}__' for c in close)}?" if close else ""
    return BadRequest(
        f"unknown wildcard __{name}__{hint} (GET /cozygen/api/prompts/wildcards lists {len(names)})",
        code="UNKNOWN_WILDCARD",
        extra={"wildcard": name},
    )


def matching_brace(text: str, start: int) -> int | None:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def split_options(inner: str) -> list[str]:
    """``a|{b|c}|d`` → ``["a", "{b|c}", "d"]``: split on the ``|`` outside nested braces."""
    options, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "|" and depth == 0:
            options.append(inner[start:i])
            start = i + 1
    options.append(inner[start:])
    return options


_SPACES = re.compile(r"[ \t]{2,}")
_BEFORE_COMMA = re.compile(r"\s+,")
_COMMAS = re.compile(r",(\s*,)+")


def tidy(text: str) -> str:
    """What empty options leave behind: doubled spaces and commas, and commas at either end."""
    text = _COMMAS.sub(",", _BEFORE_COMMA.sub(",", _SPACES.sub(" ", text)))
    return text.strip().strip(",").strip()


def parse_seed(value: object) -> int | None:
    """A seed from a query string or JSON: a whole number from 0 to 2**64 - 1, or None for a random one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("seed must be a whole number from 0 to 18446744073709551615", code="INVALID_SEED")
    try:
        seed = int(value)
    except ValueError:
        raise BadRequest(
            f"seed must be a whole number from 0 to 18446744073709551615, not {value!r}", code="INVALID_SEED"
        ) from None
    if not 0 <= seed < 2**64:
        raise BadRequest("seed must be a whole number from 0 to 18446744073709551615", code="INVALID_SEED")
    return seed


def check_template(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be text", code="INVALID_TEMPLATE")
    if len(value) > MAX_TEMPLATE:
        raise BadRequest(f"{what} is longer than {MAX_TEMPLATE} characters", code="TEMPLATE_TOO_LONG")
    return value


def random_prompt(
    wildcards: Mapping[str, Wildcard],
    seed: int | None = None,
    template: str | None = None,
    negative_template: str | None = None,
) -> dict:
    """``{"positive", "negative", "seed"}``: the templates (by default ``__prompt__`` and
    ``__negative_prompt__``) expanded with one random source seeded by ``seed`` (random when None)."""
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    positive = check_template(DEFAULT_TEMPLATE if template is None else template, "template")
    negative = check_template(DEFAULT_NEGATIVE if negative_template is None else negative_template, "negative_template")
    expander = Expander(wildcards, random.Random(seed))
    return {"positive": expander.expand(positive), "negative": expander.expand(negative), "seed": seed}
