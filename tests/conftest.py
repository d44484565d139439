"""Fixtures: a real ComfyUI 0.3.75 with CozyGen linked into a fresh custom_nodes folder."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import import_project_as

import_project_as("cozygen")

import comfyui_host  # noqa: E402  (scripts/ is put on sys.path by tests.support)

# A run started in the background by a shell without job control (`nohup scripts/test &` in a script) inherits
# SIGINT ignored, and so would every ComfyUI it starts: they would never stop on the SIGINT that ComfyUI.stop and
# scripts/start send. Python's own handler here is reset to the default in each child, which Python then handles.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def import_failures(log: str, folder_name: str) -> list[str]:
    """Lines where ComfyUI reports that this package failed to import."""
    pattern = re.compile(rf"(IMPORT FAILED\)?:?.*{re.escape(folder_name)}|Cannot import .*{re.escape(folder_name)})")
    return [line for line in log.splitlines() if pattern.search(line)]


@pytest.fixture(scope="session")
def front_end_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frontend")
    (root / "index.html").write_text("<!doctype html><title>ComfyUI test front end</title>")
    return root


class Servers:
    """Starts ComfyUI servers and stops all of them on `stop_all` (each is about 1 GB: torch)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, front_end_root: Path) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.front_end_root = front_end_root
        self.started: list[comfyui_host.ComfyUI] = []

    def __call__(
        self,
        folder_name: str = "ComfyUI-CozyGen",
        env: dict[str, str] | None = None,
        listen: str = "127.0.0.1",
        extra_args: list[str] | None = None,  # more ComfyUI arguments (--comfy-api-base ...)
    ) -> comfyui_host.ComfyUI:
        base = self.tmp_path_factory.mktemp(f"comfyui-{folder_name}")
        server = comfyui_host.start(
            base, folder_name=folder_name, env=env, listen=listen, front_end_root=self.front_end_root,
            extra_args=extra_args,
        )  # fmt: skip
        self.started.append(server)
        failures = import_failures(server.log(), folder_name)
        if failures:
            pytest.fail("CozyGen failed to import in ComfyUI:\n" + "\n".join(failures) + "\n" + server.log()[-3000:])
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture(scope="module")
def start_comfyui(tmp_path_factory: pytest.TempPathFactory, front_end_root: Path) -> Iterator[Callable]:
    """Start extra ComfyUI servers for one test module; they stop when the module ends, so a full
    run never holds more than a few at once (45 kept for the whole session exhausted 24 GiB)."""
    servers = Servers(tmp_path_factory, front_end_root)
    yield servers
    servers.stop_all()


@pytest.fixture(scope="session")
def session_servers(tmp_path_factory: pytest.TempPathFactory, front_end_root: Path) -> Iterator[Servers]:
    """Starts the few servers shared by a whole session (`comfyui`, the security household)."""
    servers = Servers(tmp_path_factory, front_end_root)
    yield servers
    servers.stop_all()


@pytest.fixture(scope="session")
def comfyui(session_servers: Servers) -> comfyui_host.ComfyUI:
    """The shared ComfyUI server most integration tests talk to."""
    return session_servers("ComfyUI-CozyGen")
