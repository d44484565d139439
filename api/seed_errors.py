"""Seed 004's exact error answers on its routes.

Where the seed names a status and a body for an error (``403 {"error": "forbidden"}``), a seed route answers
exactly that: its ``error`` is the seed's text, with CozyGen's ``code`` kept beside it and CozyGen's own
explanation moved to ``detail``. :func:`seed_errors` maps the errors a block raises, by code, to the seed's
status and text.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from ..core.errors import CozyGenError

T = TypeVar("T")
SeedError = tuple[type[CozyGenError], str]  # the seed's status (as an error class) and text


def as_seed(error: CozyGenError, kind: type[CozyGenError], text: str) -> CozyGenError:
    """``error`` with the seed's status (``kind``'s) and ``text``; its code and explanation kept."""
    extra = dict(error.extra)
    if error.message != text:
        extra.setdefault("detail", error.message)
    return kind(text, code=error.code, extra=extra)


@contextmanager
def seed_errors(by_code: Mapping[str, SeedError]) -> Iterator[None]:
    """Re-raise a CozyGenError whose code is in ``by_code`` as the seed names it; others pass unchanged."""
    try:
        yield
    except CozyGenError as error:
        found = by_code.get(error.code)
        if found is None:
            raise
        raise as_seed(error, *found) from None


Handler = Callable[..., Awaitable[T]]


def seed_route(by_code: Mapping[str, SeedError]) -> Callable[[Handler[T]], Handler[T]]:
    """A handler whose errors answer as :func:`seed_errors` maps them."""

    def wrap(fn: Handler[T]) -> Handler[T]:
        @functools.wraps(fn)
        async def wrapped(*args: Any, **kwargs: Any) -> T:
            with seed_errors(by_code):
                return await fn(*args, **kwargs)

        return wrapped

    return wrap
