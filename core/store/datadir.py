"""Where CozyGen keeps what users make: ``<ComfyUI user dir>/cozygen/`` by default.

ComfyUI wipes its temp folder at start, so nothing persistent lives there.
``COZYGEN_DATA_DIR`` overrides the location (for tests and unusual set-ups).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ENV_VAR = "COZYGEN_DATA_DIR"
DB_NAME = "cozygen.sqlite3"


def resolve_data_dir(comfy_user_dir: str | os.PathLike[str]) -> Path:
    """The data folder to use, without creating it."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    return (Path(comfy_user_dir) / "cozygen").resolve()


def ensure_data_dir(path: Path) -> Path:
    """Create the folder (owner-only) on first use and return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def put_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Put ``data`` under ``path`` whole, readable by the owner only: written to a private file beside it first,
    then linked (kept when another start made it a moment ago) or, with ``replace``, renamed over it. A kill
    mid-write never leaves a cut-short file under the name."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if replace:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)  # fails when another start made it a moment ago: that one is used
            except FileExistsError:
                pass
    finally:
        Path(temp).unlink(missing_ok=True)
