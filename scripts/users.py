#!/usr/bin/env python3
"""Add, reset or remove CozyGen users from the shell. Run it with ComfyUI's Python:

python custom_nodes/ComfyUI-CozyGen/scripts/users.py add alice --role admin
python custom_nodes/ComfyUI-CozyGen/scripts/users.py reset-password alice
python custom_nodes/ComfyUI-CozyGen/scripts/users.py --help
"""

import sys
import types
from pathlib import Path

# The package uses relative imports and is named after its folder; load its core
# under a fixed name without running the ComfyUI entry (__init__.py).
package = types.ModuleType("cozygen_cli")
package.__path__ = [str(Path(__file__).resolve().parent.parent)]
sys.modules["cozygen_cli"] = package

from cozygen_cli.core.accounts.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
