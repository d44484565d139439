"""What importing CozyGen adds to ComfyUI's start.

Each run is a fresh subprocess in the test venv that sets ComfyUI up as main.py
does (arguments, folder_paths, PromptServer), then loads custom nodes through
ComfyUI's own ``nodes.load_custom_node``: a warm-up package, an empty package
(the loader's own cost, reading a registry package's ``pyproject.toml`` included: ComfyUI parses
every package's with tomllib and pydantic after importing it), then CozyGen. The figure is
CozyGen's load time minus the empty package's, median over the runs. Two cases: every start
(CozyGen's bytecode cached in __pycache__, as Python keeps it after the first start; the target,
under 150 ms, is for this) and a first start (every module compiled from source).

    python3 bench/import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))

import comfyui_host  # noqa: E402

TARGET_MS = 150.0
EMPTY_PYPROJECT = '[project]\nname = "empty-pack"\nversion = "0.1.0"\n\n[tool.comfy]\nPublisherId = "bench"\n'

PROBE = r"""
import asyncio, json, os, sys, time
base, project, empty = sys.argv[1:4]
sys.argv = ["main.py", "--cpu", "--base-directory", base, "--disable-auto-launch"]
sys.path.insert(0, os.getcwd())
import comfy.options
comfy.options.enable_args_parsing()
import folder_paths, utils.extra_config  # main.py imports these first
import execution, nodes, server
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
server.PromptServer(loop)

def timed(path):
    start = time.perf_counter()
    ok = loop.run_until_complete(nodes.load_custom_node(path))
    return (time.perf_counter() - start) * 1000, ok

timed(empty + "_warmup")  # the loader imports its own helpers on first use
empty_ms, empty_ok = timed(empty)
cozygen_ms, cozygen_ok = timed(project)
print(json.dumps({"empty_ms": empty_ms, "cozygen_ms": cozygen_ms, "ok": empty_ok and cozygen_ok}))
"""


def one_run(python: Path, comfy_dir: Path, *, cached: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        custom = base / "custom_nodes"
        (custom / "empty_pack").mkdir(parents=True)
        (custom / "empty_pack" / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
        (custom / "empty_pack" / "pyproject.toml").write_text(EMPTY_PYPROJECT)
        shutil.copytree(custom / "empty_pack", custom / "empty_pack_warmup")
        (custom / "ComfyUI-CozyGen").symlink_to(PROJECT, target_is_directory=True)
        env = dict(os.environ)
        if cached:  # what every start after the first one sees: bytecode in __pycache__ (git ignores it)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:  # a first start: every CozyGen module compiled from source
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = str(base / "no-cache")
        out = subprocess.run(
            [str(python), "-c", PROBE, str(base), str(custom / "ComfyUI-CozyGen"), str(custom / "empty_pack")],
            cwd=comfy_dir,
            capture_output=True,
            text=True,
            env=env,
        )
        if out.returncode != 0:
            raise SystemExit(f"the probe failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if not result["ok"]:
            raise SystemExit(f"CozyGen failed to load:\n{out.stderr[-3000:]}")
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = comfyui_host.ensure()
    comfy_dir = comfyui_host.comfyui_dir()
    print(f"ComfyUI {comfyui_host.COMFYUI_VERSION}, {args.runs} runs per case, each in a fresh process")
    one_run(python, comfy_dir, cached=True)  # writes CozyGen's bytecode once, as a user's first start does
    for cached, label in ((True, "every start (bytecode cached)"), (False, "first start (compiling sources)")):
        runs = [one_run(python, comfy_dir, cached=cached) for _ in range(args.runs)]
        added = [r["cozygen_ms"] - r["empty_ms"] for r in runs]
        median = statistics.median(added)
        print(f"{label}:")
        print(f"  empty package load (loader cost): median {statistics.median(r['empty_ms'] for r in runs):7.1f} ms")
        print(
            f"  added by CozyGen:                 median {median:7.1f} ms  (min {min(added):.1f}, max {max(added):.1f})"
        )
        if cached:
            verdict = "OK" if median < TARGET_MS else "OVER"
            print(f"  target {TARGET_MS:.0f} ms: {median / TARGET_MS:.2f}x of the budget -> {verdict}")


if __name__ == "__main__":
    main()
