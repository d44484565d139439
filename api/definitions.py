"""ComfyUI's node definitions and model lists, shared by every route that needs them, and the workflows' forms
taken from them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, NamedTuple

from ..core.graph.parameter import Parameter
from ..core.graph.schema import extract_form
from ..core.host import Host
from ..core.workflows.store import WorkflowStore

Definitions = tuple[dict[str, Any], dict[str, list[str]]]  # (object_info, model folder -> files)


class Form(NamedTuple):
    """A workflow's API graph, its parameters, and the output nodes whose images its results show (empty: all)."""

    graph: dict[str, Any]
    schema: list[Parameter]
    outputs: list[str]


class HostDefinitions:
    """ComfyUI's node definitions and model lists, read in a thread and kept for a few seconds.

    Once that time is up, callers get the copy they had while a fresh one is read in the background,
    so no request waits for ComfyUI's /object_info (several milliseconds) except the first and a refresh.
    The background read first compares what the definitions list (the model folders' files and the input
    folder's time) with what they listed when read: unchanged, the copy is kept, up to ``MAX_AGE`` (a read of
    /object_info holds the interpreter for a long while, 0.1 s and more, and under a steady stream of jobs it
    came every 15 s). ``forms`` keeps each workflow's form as long as its file and these definitions stay the same.
    """

    TTL = 15.0
    MAX_AGE = 120.0

    def __init__(self, host: Host) -> None:
        self.host = host
        self._value: Definitions | None = None
        self._read_at = self._fresh_at = 0.0
        self._listed: Any = None  # what the kept definitions were read from (listing)
        self._generation = 0  # invalidations so far: a read that overlaps one is not kept
        self._lock = asyncio.Lock()
        self._renewing: asyncio.Task | None = None
        self.forms = WorkflowForms()

    def invalidate(self) -> None:
        """Read afresh next time (after a client asked ComfyUI to re-read its model folders, or a model was
        installed or deleted). Any thread may call it."""
        self._generation += 1
        self._value = None

    async def get(self, *, refresh: bool = False) -> Definitions:
        value = self._value
        if value is not None and not refresh:
            if asyncio.get_running_loop().time() - self._read_at > self.TTL and self._renewing is None:
                self._renewing = asyncio.create_task(self._renew())
            return value
        async with self._lock:
            if refresh or self._value is None:
                return await self._read(refresh)
            return self._value

    async def _read(self, refresh: bool) -> Definitions:
        """Read the definitions; keep them unless an invalidation came while they were read (they may predate a
        model that arrived meanwhile): this caller gets them, the next reads afresh."""
        generation = self._generation
        inputs, value = await asyncio.to_thread(lambda: (input_time(self.host), read_definitions(self.host, refresh)))
        if generation == self._generation:
            self._value, self._listed = value, (value[1], inputs)
            self._read_at = self._fresh_at = asyncio.get_running_loop().time()
        return value

    async def _renew(self) -> None:
        try:
            async with self._lock:
                loop = asyncio.get_running_loop()
                if loop.time() - self._read_at <= self.TTL:
                    return
                generation = self._generation
                listed = await asyncio.to_thread(listing, self.host)
                kept = generation == self._generation and self._value is not None and listed == self._listed
                if kept and loop.time() - self._fresh_at < self.MAX_AGE:
                    self._read_at = loop.time()  # nothing it lists has changed: the copy holds
                else:
                    await self._read(False)
        finally:
            self._renewing = None


def listing(host: Host) -> tuple[dict[str, list[str]], int]:
    """What ComfyUI's definitions list that can change while it runs: each model folder's files (ComfyUI keeps
    them by the folders' times) and the input folder's time (LoadImage lists its files)."""
    return {folder: host.model_files(folder) for folder in host.model_folders()}, input_time(host)


def input_time(host: Host) -> int:
    try:
        return os.stat(host.input_directory()).st_mtime_ns
    except OSError:
        return 0


def read_definitions(host: Host, refresh: bool) -> Definitions:
    models = {folder: host.model_files(folder, refresh=refresh) for folder in host.model_folders()}
    return host.object_info(), models


class WorkflowForms:
    """Each workflow's graph and form, kept while its file and ComfyUI's definitions stay the same.

    Filling copies the graph and leaves both alone. At most ``limit`` workflows are kept.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        # path -> ((mtime, size, inode), definitions, form)
        self._known: dict[Path, tuple[tuple[int, int, int], Any, Form]] = {}

    def known(self, store: WorkflowStore, name: str, definitions: Any) -> Form | None:
        """The kept graph and form of a workflow whose file has not changed (two ``stat`` calls); else None."""
        try:
            path = store.path(name)
            stat = path.stat()
        except OSError:
            return None
        known = self._known.get(path)
        if known is not None and known[0] == file_stamp(stat) and known[1] is definitions:
            return known[2]
        return None

    def read(self, store: WorkflowStore, name: str, definitions: Any) -> Form:
        """Read a workflow and take its form from ComfyUI's definitions (in a thread), and keep both."""
        path = store.path(name)
        stat = path.stat()
        object_info, models = definitions
        workflow = store.graph(name, object_info)  # an editor-format file converted with these definitions
        schema, outputs = extract_form(workflow, object_info, models=models, ui=store.ui_document(name))
        form = Form(workflow, schema, outputs)
        if len(self._known) >= self.limit:
            self._known.clear()
        self._known[path] = (file_stamp(stat), definitions, form)
        return form


def file_stamp(stat: os.stat_result) -> tuple[int, int, int]:
    """What changes when a workflow file is saved again (saves replace the file: a new inode)."""
    return stat.st_mtime_ns, stat.st_size, stat.st_ino
