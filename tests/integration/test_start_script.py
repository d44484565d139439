"""scripts/start: stopping it (SIGTERM, or SIGINT as Ctrl+C sends) stops the ComfyUI it started, and waits for it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import comfyui_host
import pytest
from support import get

PROJECT = Path(__file__).resolve().parent.parent.parent


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running, or a zombie nobody reaped (both mean the script did not wait for it)."""
    return Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_start_script_stops_comfyui(tmp_path: Path, signum: int) -> None:
    port = comfyui_host.free_port()
    output = tmp_path / "start.out"
    with open(output, "w") as out:
        script = subprocess.Popen(
            [str(PROJECT / "scripts" / "start"), "--port", str(port), "--base", str(tmp_path / "comfyui")],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert script.poll() is None, output.read_text()[-3000:]
            if "Press Ctrl+C to stop." in output.read_text():  # printed once ComfyUI answers
                break
            assert time.monotonic() < deadline, output.read_text()[-3000:]
            time.sleep(0.5)
        assert get(f"http://127.0.0.1:{port}/cozygen/api/health").json()["status"] == "ok"
        comfy = children(script.pid)
        assert len(comfy) == 1, comfy  # bash exec'd python, whose one child is ComfyUI

        script.send_signal(signum)  # to the script alone, as a service manager or `kill` sends it
        assert script.wait(timeout=30) == 0, output.read_text()[-3000:]
        assert not alive(comfy[0]), "ComfyUI outlived scripts/start"
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
