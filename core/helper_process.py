"""Starting a helper process that runs CozyGen's code alone: plain ``python -c``, importing only the package's
``core`` under a name of its own, so nothing of ComfyUI is forked or imported again (the describe helpers of the
gallery's scans, the tag index's cold build)."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder that holds core/


def command(module: str, *args: str) -> list[str]:
    """The command running ``serve()`` of ``core.<module>`` (``module`` dotted, e.g. ``gallery.describe_pool``)
    in a new interpreter; ``args`` follow the package root in its ``sys.argv``."""
    name = f"cozygen_{module.replace('.', '_')}_worker"
    boot = (
        "import sys, types\n"
        f"package = types.ModuleType({name!r})\n"
        "package.__path__ = [sys.argv[1]]\n"
        f"sys.modules[{name!r}] = package\n"
        f"from {name}.core.{module} import serve\n"
        "serve()\n"
    )
    return [sys.executable, "-c", boot, str(PACKAGE_ROOT), *args]
