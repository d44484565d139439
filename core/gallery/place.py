"""Putting a file under a free name without ever overwriting one: the name is claimed on the file system itself.

Choosing a free name and then moving a file there is two steps: two restores (two threads, two processes) can
both find ``x.png`` free and the second move replaces the first file. Here the claim and the placing are one
step the file system refuses when the name exists: a hard link (``os.link`` fails with ``EEXIST``), then the
source name is removed. Where hard links are not possible (another file system, FAT, some network shares) the
name is claimed by creating it with ``O_CREAT | O_EXCL`` and the file then replaces that empty placeholder.

A copy is written first to a hidden ``.cozygen-copy-<hex>.part`` file at the top of its root (never under a
name a reader could take for the finished file) and then placed the same way; a copy cut short by a crash
leaves only that file, which :func:`remove_abandoned` clears at the next start. Outputs the CozyGen nodes save
are written the same way (:func:`saved_whole`): a kill while a PNG or a video is half written never leaves a
truncated file under an output's name.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import Conflict

log = logging.getLogger("cozygen")
COPY_PREFIX = ".cozygen-copy-"  # a copy being written (see copy_to_free_name)
UPLOAD_PREFIX = ".cozygen-upload-"  # an upload being received (api/files.py receive_upload)
PARTIAL_SUFFIX = ".part"
OUTPUT_PREFIX = ".cozygen-output-"  # an output being saved (see saved_whole)
TAKEN_PREFIX = ".cozygen-taken-"  # a file being moved, beside where it was (see move_to_free_name)


def move_to_free_name(source: Path, folder: Path, names: Iterable[str]) -> str:
    """Move ``source`` into ``folder`` under the first of ``names`` that is free there; the name it got.

    Never replaces an existing file, whoever else places files there at the same moment, and moves a source
    once: it is first taken under a private name (a rename, which only one of two movers can do). Raises
    ``FileNotFoundError`` when ``source`` is gone (moved by someone else first), ``Conflict`` when every name
    is taken (``source`` is then left where it was).
    """
    taken = source.with_name(f"{TAKEN_PREFIX}{uuid.uuid4().hex}")  # short: the source's name may be at the limit
    os.rename(source, taken)
    try:
        return _place(taken, folder, names)
    except BaseException:
        try:
            os.rename(taken, source)  # as it was
        except OSError:
            pass
        raise


_AT_FDCWD, _RENAME_NOREPLACE = -100, 1


def rename_exclusive(source: str | Path, target: str | Path) -> None:
    """Move ``source`` to ``target`` (same file system) without ever replacing what is at ``target``.

    Raises FileExistsError when ``target`` exists, FileNotFoundError when ``source`` is gone. A file is hard-linked
    to its new name, then unlinked from the old: the link is refused when the name is taken, and a kill in between
    leaves two names of one file (the mover's ``recover`` drops the old one). A link is used rather than a rename
    for the gallery's watcher: watchdog pairs the two halves of every inotify rename by searching its queue, which
    for thousands of renames at once costs seconds of CPU and holds up the whole process, while a link and an unlink
    are two plain events. A folder (or a file where hard links are not possible) is renamed with Linux's
    ``renameat2(RENAME_NOREPLACE)``, else after checking that the name is free.
    """
    if not os.path.isdir(source) or os.path.islink(source):
        try:
            os.link(source, target, follow_symlinks=False)
        except (FileExistsError, FileNotFoundError):
            raise
        except OSError:
            pass  # no hard links here
        else:
            os.unlink(source)
            return
    function = _renameat2_function()
    if function is not None:
        import ctypes

        if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # else: this file system has no such flag
            raise OSError(code, os.strerror(code), str(source), None, str(target))
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(source, target)


@functools.cache
def _renameat2_function() -> Any:
    """libc's renameat2, or None (not Linux, or a libc older than glibc 2.28)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None


def copy_to_free_name(source: Path, folder: Path, names: Iterable[str], scratch: Path) -> str:
    """Copy ``source`` into ``folder`` under the first of ``names`` that is free there; the name it got.

    The copy is written to a hidden file in ``scratch`` (the top of the destination's root) and appears under
    its name only once complete.
    """
    temp = scratch / f"{COPY_PREFIX}{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
    try:
        shutil.copy2(source, temp)
        return _place(temp, folder, names)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def saved_whole(path: Path, scratch: Path) -> Iterator[Path]:
    """The path to write what becomes ``path``: a hidden partial file at the top of ``scratch`` (the root ``path``
    is under), renamed to ``path`` when the block ends without error (replacing a file of that name, as ComfyUI's
    own savers overwrite). An error or a kill part-way never leaves a half-written file under ``path``; a killed
    save leaves the partial file, which :func:`remove_abandoned` clears at the next start.
    """
    partial = scratch / f"{OUTPUT_PREFIX}{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
    try:
        yield partial
        try:
            os.replace(partial, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            beside = path.with_name(f"{OUTPUT_PREFIX}{uuid.uuid4().hex}{PARTIAL_SUFFIX}")  # a folder on another disk
            try:
                shutil.copyfile(partial, beside)
                os.replace(beside, path)
            finally:
                beside.unlink(missing_ok=True)
    finally:
        partial.unlink(missing_ok=True)


def remove_abandoned(folder: Path) -> list[str]:
    """Remove the partial files a killed upload, copy or save left at the top of ``folder``; their names.

    Call it at start, before an upload or copy of this run can be in flight.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.endswith(PARTIAL_SUFFIX) or not name.startswith((UPLOAD_PREFIX, COPY_PREFIX, OUTPUT_PREFIX)):
            continue
        try:
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                os.unlink(entry.path)
                removed.append(name)
        except OSError as exc:
            log.warning("CozyGen: could not remove the abandoned %s: %s", entry.path, exc)
    return removed


def _place(source: Path, folder: Path, names: Iterable[str]) -> str:
    """Give ``source`` (a name no one else uses) the first free name of ``names`` in ``folder``; it loses its own."""
    candidates = iter(names)
    for name in candidates:
        target = folder / name
        try:
            os.link(source, target, follow_symlinks=False)  # fails when the name exists, on the file system
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise
        except OSError:  # another file system, or no hard links on this one
            return _replace_placeholder(source, folder, _chain(name, candidates))
        os.unlink(source)
        return name
    raise _no_free_name(folder)


def _replace_placeholder(source: Path, folder: Path, names: Iterator[str]) -> str:
    for name in names:
        target = folder / name
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            continue
        try:
            try:
                os.replace(source, target)  # over our own empty placeholder
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.copyfile(source, target)  # another file system: into the name that is ours
                shutil.copystat(source, target)
                os.unlink(source)
        except BaseException:
            _drop_placeholder(target)
            raise
        return name
    raise _no_free_name(folder)


def _drop_placeholder(target: Path) -> None:
    """Remove a name claimed for a file that could not be placed (only while it is still the empty claim)."""
    try:
        if target.stat().st_size == 0:
            target.unlink()
    except OSError:
        pass


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _no_free_name(folder: Path) -> Conflict:
    return Conflict(f"no free file name left for that file in {folder.name or 'the folder'}", code="NAME_TAKEN")
