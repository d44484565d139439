"""Host rules that hold for the source tree itself."""

from __future__ import annotations

import ast
from pathlib import Path

from support import PROJECT

HOST_MODULES = {
    "server",
    "execution",
    "folder_paths",
    "nodes",
    "comfy",
    "comfy_execution",
    "comfyui_version",
    "main",
    "latent_preview",
    "node_helpers",
}


def python_files(folder: str) -> list[Path]:
    return sorted((PROJECT / folder).rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_neither_aiohttp_nor_comfyui() -> None:
    for path in python_files("core"):
        bad = imported_roots(path) & (HOST_MODULES | {"aiohttp", "torch"})
        assert not bad, f"{path.relative_to(PROJECT)} imports {bad}"


def test_only_the_adapter_imports_comfyui() -> None:
    for folder in ("core", "api", "nodes"):
        for path in python_files(folder):
            if path == PROJECT / "api" / "host.py":
                continue
            bad = imported_roots(path) & HOST_MODULES
            assert not bad, f"{path.relative_to(PROJECT)} imports ComfyUI modules {bad}; go through api/host.py"


def test_package_code_uses_relative_imports_only() -> None:
    for folder in ("core", "api", "nodes"):
        for path in python_files(folder) + [PROJECT / "__init__.py"]:
            roots = imported_roots(path)
            assert not roots & {
                "cozygen",
                "core",
                "api",
                "nodes",
                PROJECT.name,
            }, f"{path} imports the package absolutely"


def test_web_directory_is_the_editor_extension_only() -> None:
    tree = ast.parse((PROJECT / "__init__.py").read_text())
    values = [
        n.value.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "WEB_DIRECTORY" for t in n.targets)
    ]
    assert values == ["./web/extension"]
