"""Fixtures: a real ComfyUI 0.3.75 with CozyGen linked into a fresh custom_nodes folder."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import import_project_as

import_project_as("cozygen")

import comfyui_host  # noqa: E402  (scripts/ is put on sys.path by tests.support)


def import_failures(log: str, folder_name: str) -> list[str]:
    """Lines where ComfyUI reports that this package failed to import."""
    pattern = re.compile(rf"(IMPORT FAILED\)?:?.*{re.escape(folder_name)}|Cannot import .*{re.escape(folder_name)})")
    return [line for line in log.splitlines() if pattern.search(line)]


@pytest.fixture(scope="session")
def front_end_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frontend")
    (root / "index.html").write_text("<!doctype html><title>ComfyUI test front end</title>")
    return root


@pytest.fixture(scope="session")
def start_comfyui(tmp_path_factory: pytest.TempPathFactory, front_end_root: Path) -> Iterator[Callable]:
    """Start extra ComfyUI servers; all are stopped at the end of the session."""
    started: list[comfyui_host.ComfyUI] = []

    def start(
        folder_name: str = "ComfyUI-CozyGen", env: dict[str, str] | None = None, listen: str = "127.0.0.1"
    ) -> comfyui_host.ComfyUI:
        base = tmp_path_factory.mktemp(f"comfyui-{folder_name}")
        server = comfyui_host.start(
            base, folder_name=folder_name, env=env, listen=listen, front_end_root=front_end_root
        )
        started.append(server)
        failures = import_failures(server.log(), folder_name)
        if failures:
            pytest.fail("CozyGen failed to import in ComfyUI:\n" + "\n".join(failures) + "\n" + server.log()[-3000:])
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def comfyui(start_comfyui: Callable) -> comfyui_host.ComfyUI:
    """The shared ComfyUI server most integration tests talk to."""
    return start_comfyui("ComfyUI-CozyGen")
