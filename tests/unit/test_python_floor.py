"""The Python floor (requires-python >=3.10): what the type check at python_version 3.10 cannot see.

mypy (scripts/test) rejects the 3.11+ APIs themselves (datetime.UTC, asyncio.timeout...). What it cannot see
is a catch that means something else on 3.10: asyncio's and concurrent.futures' TimeoutError became the
builtin one only in 3.11, so ``except TimeoutError`` around ``asyncio.wait_for`` or ``Future.result`` misses
the timeout there.
"""

from __future__ import annotations

import ast
from pathlib import Path

from support import PROJECT

SHIPPED = [PROJECT / "__init__.py", *(p for d in ("core", "api", "nodes") for p in (PROJECT / d).rglob("*.py"))]


def _caught_names(handler: ast.ExceptHandler) -> list[str]:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [k.id for k in kinds if isinstance(k, ast.Name)]


def builtin_timeout_catches(path: Path) -> list[int]:
    """Lines catching the bare builtin ``TimeoutError`` in a module that uses asyncio or concurrent.futures."""
    tree = ast.parse(path.read_text())
    imported = {
        alias.name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    if not imported & {"asyncio", "concurrent", "concurrent.futures"}:
        return []
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler) and "TimeoutError" in _caught_names(node)
    ]


def test_timeouts_are_caught_as_asyncio_or_futures_timeouts() -> None:
    found = {str(p.relative_to(PROJECT)): lines for p in SHIPPED if (lines := builtin_timeout_catches(p))}
    assert found == {}, "catch asyncio.TimeoutError / concurrent.futures.TimeoutError (Python 3.10)"


def test_the_check_sees_the_old_sse_catch(tmp_path: Path) -> None:
    old = tmp_path / "sse.py"
    old.write_text(
        "import asyncio\n"
        "async def f(q):\n"
        "    try:\n"
        "        await asyncio.wait_for(q.get(), 1)\n"
        "    except (ValueError, TimeoutError):\n"
        "        pass\n"
    )
    assert builtin_timeout_catches(old) == [5]
