"""How the Python code is shaped: module sizes and functions nested in functions.

Prints, for ``core/``, ``api/`` and ``nodes/``: the number of modules, the median and largest module in lines
(with its name), the modules over 400 lines, and the number of functions defined inside another function (route
handlers written as closures show up here; a decorator's inner wrapper is counted too).

    python3 bench/structure.py
"""

from __future__ import annotations

import ast
import statistics
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "api", "nodes")
LONG = 400


def nested_functions(tree: ast.AST) -> int:
    count = 0

    def visit(node: ast.AST, inside: bool) -> None:
        nonlocal count
        for child in ast.iter_child_nodes(node):
            is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if is_function and inside and not isinstance(child, ast.Lambda):
                count += 1
            visit(child, inside or is_function)

    visit(tree, False)
    return count


def main() -> None:
    sizes: dict[str, int] = {}
    nested = 0
    for layer in LAYERS:
        for path in sorted((PROJECT / layer).rglob("*.py")):
            text = path.read_text()
            sizes[str(path.relative_to(PROJECT))] = len(text.splitlines())
            nested += nested_functions(ast.parse(text))
    largest = max(sizes, key=sizes.__getitem__)
    print(f"modules: {len(sizes)} in {', '.join(LAYERS)}")
    print(f"lines per module: median {statistics.median(sizes.values()):.0f}, largest {sizes[largest]} ({largest})")
    long = sorted((n, m) for m, n in sizes.items() if n > LONG)
    print(f"over {LONG} lines: {len(long)}" + "".join(f"\n  {n:5d} {m}" for n, m in reversed(long)))
    print(f"functions nested in functions: {nested}")


if __name__ == "__main__":
    main()
