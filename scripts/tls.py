#!/usr/bin/env python3
"""HTTPS on the home network: make a local certificate authority (once) and this machine's certificate, and print
how to start ComfyUI with them. Run it with ComfyUI's Python:

python custom_nodes/ComfyUI-CozyGen/scripts/tls.py
python custom_nodes/ComfyUI-CozyGen/scripts/tls.py --name nas.home --address 10.0.0.5 --port 8188
python custom_nodes/ComfyUI-CozyGen/scripts/tls.py --help
"""

import sys
import types
from pathlib import Path

# The package uses relative imports and is named after its folder; load its core
# under a fixed name without running the ComfyUI entry (__init__.py).
package = types.ModuleType("cozygen_cli")
package.__path__ = [str(Path(__file__).resolve().parent.parent)]
sys.modules["cozygen_cli"] = package

from cozygen_cli.core.tls.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
