"""A ComfyUI for unit tests: ``FakeHost`` implements core.host.Host in memory.

Its queue numbers prompts as ComfyUI does; a test moves them along (``start``, ``finish``) and the messages a
real ComfyUI would send go to the tapped listeners. Validation passes unless told to refuse (``refuse``), the
queue can be told to refuse (``enqueue_error``), folders live under a temporary directory, and the model lists
and node definitions are plain attributes a test may set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cozygen.core.host import Capabilities, Host, Validation


@dataclass
class Queued:
    number: int
    prompt_id: str
    graph: dict[str, Any]
    outputs: list[str]
    client_id: str | None
    extra_data: dict[str, Any]


@dataclass
class Progress:
    total: int
    value: int = 0

    def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
        self.value, self.total = value, total if total is not None else self.total

    def update(self, value: int) -> None:
        self.value += value


@dataclass
class FakeHost:
    root: Path
    version: str | None = "0.3.75"
    refuse: Validation | Callable[[str, dict[str, Any]], Validation | None] | None = None
    enqueue_error: Exception | None = None
    models: dict[str, list[str]] = field(default_factory=lambda: {"checkpoints": [], "loras": []})
    definitions: dict[str, Any] = field(default_factory=dict)
    samplers: list[str] = field(default_factory=lambda: ["euler"])
    schedulers: list[str] = field(default_factory=lambda: ["normal"])
    packages: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    # what happened
    pending: list[Queued] = field(default_factory=list)
    running: list[Queued] = field(default_factory=list)
    history: dict[str, Queued] = field(default_factory=dict)
    validated: list[str] = field(default_factory=list)
    interrupts: list[str] = field(default_factory=list)
    restarts: int = 0
    messages: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    startup: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)
    shutdown: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)
    middlewares: list[Callable[..., Any]] = field(default_factory=list)
    prompt_handlers: list[Callable[[dict[str, Any]], dict[str, Any]]] = field(default_factory=list)
    listeners: list[Callable[[Any, Any, Any], None]] = field(default_factory=list)
    recipients: Callable[[Any], list[str] | None] | None = None
    table: list[Any] = field(default_factory=list)
    _number: int = 0

    def __post_init__(self) -> None:
        for name in ("user", "output", "input", "temp", "models"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    # -- the server ------------------------------------------------------------------------
    def routes(self) -> Any:
        return self.table

    def on_startup(self, callback: Callable[[Any], Awaitable[None]]) -> None:
        self.startup.append(callback)

    def on_shutdown(self, callback: Callable[[Any], Awaitable[None]]) -> None:
        self.shutdown.append(callback)

    def add_middleware(self, middleware: Callable[..., Any]) -> None:
        self.middlewares.append(middleware)

    def comfyui_version(self) -> str | None:
        return self.version

    def capabilities(self) -> Capabilities:
        return Capabilities(async_validate_prompt=True, validate_prompt_args=3, queue_item_fields=5, jobs_api=False)

    def listen_addresses(self) -> list[str]:
        return list(self.addresses)

    def restart_process(self) -> None:
        self.restarts += 1  # a real host never returns from here

    # -- folders ---------------------------------------------------------------------------
    def user_directory(self) -> str:
        return str(self.root / "user")

    def output_directory(self) -> str:
        return str(self.root / "output")

    def input_directory(self) -> str:
        return str(self.root / "input")

    def temp_directory(self) -> str:
        return str(self.root / "temp")

    def save_image_path(self, filename_prefix: str, width: int, height: int) -> tuple[str, str, int, str, str]:
        subfolder, _, name = filename_prefix.replace("\\", "/").rpartition("/")
        folder = self.root / "output" / subfolder
        folder.mkdir(parents=True, exist_ok=True)
        taken = [f for f in os.listdir(folder) if f.startswith(f"{name}_")]
        return str(folder), name, len(taken) + 1, subfolder, filename_prefix

    # -- the queue -------------------------------------------------------------------------
    def new_prompt_id(self) -> str:
        return str(uuid.uuid4())

    async def validate_prompt(self, prompt_id: str, prompt: dict[str, Any]) -> Validation:
        self.validated.append(prompt_id)
        refusal = self.refuse(prompt_id, prompt) if callable(self.refuse) else self.refuse
        if refusal is not None:
            return refusal
        outputs = [str(k) for k, node in prompt.items() if "Save" in str((node or {}).get("class_type", ""))]
        return Validation(ok=True, error=None, outputs=outputs or [str(k) for k in prompt], node_errors={})

    def enqueue(
        self,
        prompt: dict[str, Any],
        outputs: list[str],
        *,
        prompt_id: str,
        client_id: str | None = None,
        extra_data: dict[str, Any] | None = None,
    ) -> int:
        if self.enqueue_error is not None:
            raise self.enqueue_error
        self._number += 1
        self.pending.append(Queued(self._number, prompt_id, prompt, outputs, client_id, dict(extra_data or {})))
        return self._number

    def queue_snapshot(self) -> tuple[list[str], list[str]]:
        return [q.prompt_id for q in self.running], [q.prompt_id for q in self.pending]

    def _find(self, prompt_id: str) -> Queued | None:
        return next((q for q in [*self.running, *self.pending] if q.prompt_id == prompt_id), None)

    def queued_prompt(self, prompt_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        found = self._find(prompt_id)
        return (found.graph, found.extra_data) if found is not None else None

    def remove_pending(self, prompt_id: str) -> bool:
        kept = [q for q in self.pending if q.prompt_id != prompt_id]
        removed = len(kept) != len(self.pending)
        self.pending = kept
        return removed

    def interrupt(self, prompt_id: str) -> bool:
        self.interrupts.append(prompt_id)
        return any(q.prompt_id == prompt_id for q in self.running)

    def history_ids(self) -> list[str]:
        return list(self.history)

    def in_history(self, prompt_id: str) -> bool:
        return prompt_id in self.history

    def delete_history(self, prompt_id: str) -> None:
        self.history.pop(prompt_id, None)

    def add_prompt_handler(self, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.prompt_handlers.append(handler)

    def run_prompt_handlers(self, prompt: dict[str, Any], client_id: str) -> dict[str, Any]:
        body = {"prompt": prompt, "client_id": client_id}
        for handler in self.prompt_handlers:
            body = handler(body)
        return body["prompt"]

    # -- moving prompts along (what ComfyUI's executor does) -------------------------------------
    def emit(self, event: str, data: dict[str, Any]) -> None:
        """A message as ComfyUI sends it: to every tapped listener."""
        for listener in self.listeners:
            listener(event, data, None)

    def start(self, prompt_id: str | None = None) -> str:
        """Hand the first (or the named) pending prompt to the executor; execution_start is sent."""
        found = next(q for q in self.pending if prompt_id is None or q.prompt_id == prompt_id)
        self.pending.remove(found)
        self.running.append(found)
        self.emit("execution_start", {"prompt_id": found.prompt_id})
        return found.prompt_id

    def finish(self, prompt_id: str, event: str = "execution_success", **data: Any) -> None:
        """End a running prompt with ``event`` (success, error or interrupted) and keep it in the history."""
        found = next(q for q in self.running if q.prompt_id == prompt_id)
        self.emit(event, {"prompt_id": prompt_id, **data})
        self.running.remove(found)
        self.history[prompt_id] = found

    # -- execution, progress, messages -----------------------------------------------------
    def executing_prompt_id(self) -> str | None:
        return self.running[0].prompt_id if self.running else None

    def progress_bar(self, total: int) -> Any:
        return Progress(total)

    def send_message(self, event: str, data: dict[str, Any], client_id: str | None = None) -> None:
        self.messages.append((event, data, client_id))

    def prompt_client_id(self) -> str | None:
        return self.running[0].client_id if self.running else None

    def route_messages(self, recipients: Callable[[Any], list[str] | None]) -> None:
        self.recipients = recipients

    def tap_messages(self, listener: Callable[[Any, Any, Any], None]) -> bool:
        self.listeners.append(listener)
        return True

    # -- models and node definitions -------------------------------------------------------
    def model_folders(self) -> list[str]:
        return list(self.models)

    def model_files(self, folder: str, *, refresh: bool = False) -> list[str]:
        if folder not in self.models:
            raise KeyError(folder)
        return list(self.models[folder])

    def models_subfolders(self) -> list[str]:
        return list(self.models)

    def model_file_path(self, folder: str, name: str) -> str | None:
        return str(self.root / "models" / folder / name) if name in self.models.get(folder, []) else None

    def model_folder_paths(self, folder: str) -> list[str]:
        return [str(self.root / "models" / folder)] if folder in self.models else []

    def sampler_names(self) -> list[str]:
        return list(self.samplers)

    def scheduler_names(self) -> list[str]:
        return list(self.schedulers)

    def object_info(self) -> dict[str, Any]:
        return dict(self.definitions)

    def partner_nodes(self) -> frozenset[str]:
        return frozenset(k for k, v in self.definitions.items() if isinstance(v, dict) and v.get("api_node") is True)

    def system_stats(self) -> dict[str, Any]:
        return {
            "system": {
                "os": "posix", "ram_total": 32 * 2**30, "ram_free": 20 * 2**30, "comfyui_version": self.version,
                "python_version": "3.11.7 (main) [GCC 12]", "pytorch_version": "2.5.1+cu124",
                "argv": ["/home/ann/ComfyUI/main.py", "--listen", "0.0.0.0"], "embedded_python": False,
            },
            "devices": [
                {"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda", "index": 0,
                 "vram_total": 24 * 2**30, "vram_free": 18 * 2**30, "torch_vram_total": 0, "torch_vram_free": 0},
            ],
        }  # fmt: skip

    def custom_node_packages(self) -> list[str]:
        return list(self.packages)


def _conforms(host: FakeHost) -> Host:
    return host  # mypy checks that FakeHost is a Host
