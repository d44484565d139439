"""The adapter: ``ComfyUIHost``, the only code that touches ComfyUI's internals (``core.host.Host`` over it).

Everything ComfyUI-specific (PromptServer, folder_paths, the prompt queue,
validate_prompt, progress bars, socket messages) goes through here, imported
lazily so that importing CozyGen stays cheap and the rest of the code never
depends on a particular ComfyUI version. Version differences are feature-detected:

- ``validate_prompt`` became async with three arguments in 0.3.48;
- the queue item became a 6-tuple (with ``sensitive``) in 0.3.68: the entries of ``extra_data`` ComfyUI treats as
  secrets (the Comfy account key of partner nodes) go there, never into what its queue and history show;
- ``/api/jobs`` appeared after 0.3.77;
- newer releases require a lowercase UUID for a client-chosen ``prompt_id``,
  so CozyGen always sends one.

``api.setup`` builds the one ``ComfyUIHost``; services get it as ``state.host``, the nodes through
``core.host.current()``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.comfyui.partner import SECRET_EXTRA_DATA_KEYS
from ..core.host import Capabilities, Validation

log = logging.getLogger("cozygen")

__all__ = ["NOT_MODEL_FOLDERS", "Capabilities", "ComfyUIHost", "Validation"]

NOT_MODEL_FOLDERS = frozenset({"configs", "custom_nodes"})
# The request headers that carry a partner node's key (X-API-KEY) or a Comfy account's token (Authorization).
SECRET_HEADERS = frozenset({"x-api-key", "authorization"})


class ComfyUIHost:
    """The running ComfyUI, as CozyGen's ``Host``. Built before ComfyUI's server starts: nothing is read here."""

    def __init__(self) -> None:
        self._arities: dict[Any, int] = {}  # ComfyUI function -> how many parameters it takes
        self._queue_fields: int | None = None  # 5 or 6, read once
        self._partner_nodes: frozenset[str] | None = None  # read once, when first asked (after ComfyUI's start)

    # -- ComfyUI's modules, imported on demand ------------------------------------------------
    @staticmethod
    def server() -> Any:
        """ComfyUI's PromptServer instance (exists once ComfyUI loads custom nodes)."""
        from server import PromptServer

        instance = getattr(PromptServer, "instance", None)
        if instance is None:
            raise RuntimeError("ComfyUI's PromptServer is not running")
        return instance

    @staticmethod
    def _folder_paths() -> Any:
        import folder_paths

        return folder_paths

    @staticmethod
    def _execution() -> Any:
        import execution

        return execution

    # -- the server ----------------------------------------------------------------------------
    def routes(self) -> Any:
        """The route table ComfyUI later copies under ``/api``."""
        return self.server().routes

    def on_startup(self, callback: Callable[[Any], Awaitable[None]]) -> None:
        self.server().app.on_startup.append(callback)

    def on_shutdown(self, callback: Callable[[Any], Awaitable[None]]) -> None:
        self.server().app.on_shutdown.append(callback)

    def add_middleware(self, middleware: Callable[..., Any]) -> None:
        """Append an aiohttp middleware; only possible before the server starts."""
        self.server().app.middlewares.append(middleware)

    def comfyui_version(self) -> str | None:
        try:
            from comfyui_version import __version__
        except ImportError:
            return None
        return str(__version__)

    def capabilities(self) -> Capabilities:
        validate = self._execution().validate_prompt
        return Capabilities(
            async_validate_prompt=inspect.iscoroutinefunction(validate),
            validate_prompt_args=self._arity(validate),
            queue_item_fields=self._queue_item_fields(),
            jobs_api=self._has_route("GET", "/api/jobs"),
        )

    def _arity(self, fn: Callable[..., Any]) -> int:
        """How many parameters a ComfyUI function takes (read once: inspect is slow for every job)."""
        arity = self._arities.get(fn)
        if arity is None:
            arity = self._arities[fn] = len(inspect.signature(fn).parameters)
        return arity

    def _queue_item_fields(self) -> int:
        if self._queue_fields is None:
            self._queue_fields = 6 if hasattr(self._execution(), "SENSITIVE_EXTRA_DATA_KEYS") else 5
        return self._queue_fields

    def _has_route(self, method: str, path: str) -> bool:
        for resource in self.server().app.router.resources():
            if resource.canonical == path:
                return any(route.method == method for route in resource)
        return False

    def listen_addresses(self) -> list[str]:
        """The addresses ComfyUI was told to listen on (``--listen``)."""
        from comfy.cli_args import args

        return [a.strip() for a in str(getattr(args, "listen", "127.0.0.1") or "").split(",") if a.strip()]

    def restart_process(self) -> None:
        """Run ComfyUI again in this process: ``os.execv`` of the same interpreter with the same command line
        (``sys.orig_argv``: its ``-u``/``-X`` options too), as ComfyUI-Manager's reboot does. On POSIX the PID
        stays, so a supervisor that started ComfyUI still follows and stops it; the kernel closes the sockets
        and files (Python opens them close-on-exec) and ends every other thread. On Windows, ``execv`` starts
        a new process and ends this one."""
        import sys

        argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
        log.warning("CozyGen: restarting ComfyUI: %s", " ".join(argv))
        for handler in logging.getLogger().handlers + log.handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.flush()  # type: ignore[union-attr]
        os.execv(sys.executable, [sys.executable, *argv[1:]])

    # -- folders -------------------------------------------------------------------------------
    def user_directory(self) -> str:
        return self._folder_paths().get_user_directory()

    def output_directory(self) -> str:
        return self._folder_paths().get_output_directory()

    def input_directory(self) -> str:
        return self._folder_paths().get_input_directory()

    def temp_directory(self) -> str:
        return self._folder_paths().get_temp_directory()

    def save_image_path(self, filename_prefix: str, width: int, height: int) -> tuple[str, str, int, str, str]:
        """ComfyUI's own naming for saved outputs: (folder, filename, counter, subfolder, prefix)."""
        return self._folder_paths().get_save_image_path(filename_prefix, self.output_directory(), width, height)

    # -- the queue -----------------------------------------------------------------------------
    def new_prompt_id(self) -> str:
        """A prompt id every ComfyUI version accepts: a lowercase UUID4."""
        return str(uuid.uuid4()).lower()

    async def validate_prompt(self, prompt_id: str, prompt: dict[str, Any]) -> Validation:
        """ComfyUI's own validation, whichever signature this ComfyUI has."""
        validate = self._execution().validate_prompt
        arity = self._arity(validate)
        args: tuple[Any, ...] = (
            (prompt_id, prompt, None) if arity >= 3 else (prompt,) if arity == 1 else (prompt_id, prompt)
        )
        result = validate(*args)
        if inspect.isawaitable(result):
            result = await result
        return Validation(ok=bool(result[0]), error=result[1], outputs=list(result[2]), node_errors=result[3])

    def enqueue(
        self,
        prompt: dict[str, Any],
        outputs: list[str],
        *,
        prompt_id: str,
        client_id: str | None = None,
        extra_data: dict[str, Any] | None = None,
    ) -> int:
        """Put an already validated prompt on ComfyUI's queue; returns its queue number.

        Secret entries of ``extra_data`` (``api_key_comfy_org``...) go where ComfyUI's own /prompt puts them: the
        queue item's ``sensitive`` part, which ComfyUI merges into extra_data while the prompt runs and leaves out of
        its /queue and /history answers. A ComfyUI older than that part (before 0.3.68) would show them to anyone
        reading its history, so it is refused a secret (RuntimeError)."""
        instance = self.server()
        extra = dict(extra_data or {})
        secret_keys = {*SECRET_EXTRA_DATA_KEYS, *getattr(self._execution(), "SENSITIVE_EXTRA_DATA_KEYS", ())}
        secrets = {key: extra.pop(key) for key in secret_keys if key in extra}
        if secrets and self._queue_item_fields() != 6:
            raise RuntimeError(
                "this ComfyUI would keep the Comfy API key in its history; partner nodes need ComfyUI 0.3.68 or later"
            )
        if client_id:
            extra["client_id"] = client_id
        extra.setdefault("create_time", int(time.time() * 1000))
        number = instance.number
        instance.number += 1
        item: tuple[Any, ...] = (number, prompt_id, prompt, extra, outputs)
        if self._queue_item_fields() == 6:
            item += (secrets,)
        instance.prompt_queue.put(item)
        return number

    def _queue_contents(self) -> tuple[list[Any], list[Any]]:
        queue = self.server().prompt_queue
        read = getattr(queue, "get_current_queue_volatile", None) or queue.get_current_queue
        running, pending = read()
        return running, pending

    def queue_snapshot(self) -> tuple[list[str], list[str]]:
        """Prompt ids ComfyUI is running, and those waiting in the order they will run."""
        running, pending = self._queue_contents()
        ordered = sorted(pending, key=lambda item: item[0])  # the heap's order: queue number first
        return [str(item[1]) for item in running], [str(item[1]) for item in ordered]

    def queued_prompt(self, prompt_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(graph, extra_data) of a prompt ComfyUI is running or holding in its queue; None when it has none such."""
        import copy

        running, pending = self._queue_contents()
        for item in (*running, *pending):
            if str(item[1]) == prompt_id:
                graph = item[2] if isinstance(item[2], dict) else {}
                extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
                return copy.deepcopy(graph), {k: v for k, v in extra.items() if k != "extra_pnginfo"}
        return None

    def remove_pending(self, prompt_id: str) -> bool:
        """Take a prompt off ComfyUI's queue before it starts; False when it is not waiting there."""
        return bool(self.server().prompt_queue.delete_queue_item(lambda item: item[1] == prompt_id))

    def interrupt(self, prompt_id: str) -> bool:
        """Interrupt ``prompt_id`` if, and only if, it is the prompt executing now.

        ComfyUI's interrupt flag is global; it is set while the queue's lock is held and the prompt
        is still listed as running, so it cannot land on the next prompt (which clears the flag when
        it starts, after the queue hands it out under the same lock).
        """
        import comfy.model_management

        queue = self.server().prompt_queue
        lock = getattr(queue, "mutex", None) or contextlib.nullcontext()
        with lock:
            running = getattr(queue, "currently_running", None)
            items = running.values() if isinstance(running, dict) else queue.get_current_queue()[0]
            if not any(item[1] == prompt_id for item in items):
                return False
            comfy.model_management.interrupt_current_processing(True)
            return True

    def history_ids(self) -> list[str]:
        """The prompt ids ComfyUI keeps in its history."""
        return [str(p) for p in self.server().prompt_queue.get_history(max_items=None)]

    def in_history(self, prompt_id: str) -> bool:
        """Whether ComfyUI's history holds this prompt (asked without copying the entry)."""
        return bool(self.server().prompt_queue.get_history(prompt_id=prompt_id, map_function=lambda _entry: True))

    def delete_history(self, prompt_id: str) -> None:
        self.server().prompt_queue.delete_history_item(prompt_id)

    def add_prompt_handler(self, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Let ``handler`` see (and change) every prompt posted to ComfyUI's /prompt before it is queued."""
        add = getattr(self.server(), "add_on_prompt_handler", None)
        if callable(add):
            add(handler)
        else:
            log.warning("CozyGen: this ComfyUI has no on_prompt handlers; prompts without a client id broadcast")

    def run_prompt_handlers(self, prompt: dict[str, Any], client_id: str) -> dict[str, Any]:
        """What ComfyUI's own /prompt does first: let custom nodes' on_prompt handlers see (and change) it."""
        instance = self.server()
        trigger = getattr(instance, "trigger_on_prompt", None)
        if not callable(trigger) or not getattr(instance, "on_prompt_handlers", None):
            return prompt
        changed = trigger({"prompt": prompt, "client_id": client_id})
        return changed.get("prompt", prompt) if isinstance(changed, dict) else prompt

    # -- execution context, progress, messages -------------------------------------------------
    def executing_prompt_id(self) -> str | None:
        """The id of the prompt whose node is running in this thread, if any."""
        try:
            from comfy_execution.utils import get_executing_context

            context = get_executing_context()
            if context is not None:
                return context.prompt_id
        except ImportError:
            pass
        return getattr(self.server(), "last_prompt_id", None)

    def progress_bar(self, total: int) -> Any:
        """ComfyUI's progress bar: updates reach the editor and ``progress`` socket messages."""
        import comfy.utils

        return comfy.utils.ProgressBar(total)

    def send_message(self, event: str, data: dict[str, Any], client_id: str | None = None) -> None:
        """Send a socket message from any thread (to one client, or all when None)."""
        self.server().send_sync(event, data, client_id)

    def prompt_client_id(self) -> str | None:
        """The client id of the prompt executing now (ComfyUI sends its messages there)."""
        client_id = getattr(self.server(), "client_id", None)
        return client_id if isinstance(client_id, str) else None

    def route_messages(self, recipients: Callable[[Any], list[str] | None]) -> None:
        """Let ``recipients(client_id)`` turn one client id into several sockets (None: send as ComfyUI would)."""
        instance = self.server()
        original = instance.send

        async def send(event: Any, data: Any, sid: Any = None) -> None:
            targets = recipients(sid)
            if targets is None:
                await original(event, data, sid)
                return
            for target in targets:
                await original(event, data, target)

        send.__wrapped__ = original  # type: ignore[attr-defined]
        instance.send = send

    def tap_messages(self, listener: Callable[[Any, Any, Any], None]) -> bool:
        """Let ``listener(event, data, sid)`` see every message ComfyUI sends to its sockets.

        ComfyUI's ``send_sync`` is called from its executor thread (and from the event loop), so the
        listener must be quick and thread-safe. Whatever it raises is logged here, never passed to
        ComfyUI. Returns False when this ComfyUI has no ``send_sync`` to follow.
        """
        instance = self.server()
        original = getattr(instance, "send_sync", None)
        if not callable(original):
            log.warning("CozyGen: this ComfyUI has no PromptServer.send_sync; job progress cannot be followed")
            return False

        def send_sync(event: Any, data: Any, sid: Any = None, *args: Any, **kwargs: Any) -> Any:
            result = original(event, data, sid, *args, **kwargs)
            try:
                listener(event, data, sid)
            except Exception:  # CozyGen must never break ComfyUI's execution
                log.exception("CozyGen: following ComfyUI's %r message failed", event)
            return result

        send_sync.__wrapped__ = original  # type: ignore[attr-defined]
        instance.send_sync = send_sync
        return True

    # -- models and node definitions -----------------------------------------------------------
    def model_folders(self) -> list[str]:
        """Every model folder ComfyUI knows (extra_model_paths.yaml included)."""
        return sorted(set(self._folder_paths().folder_names_and_paths) - NOT_MODEL_FOLDERS)

    def model_files(self, folder: str, *, refresh: bool = False) -> list[str]:
        """File names (with subfolders) of a model folder; KeyError for a folder ComfyUI does not know."""
        paths = self._folder_paths()
        if folder not in paths.folder_names_and_paths:
            raise KeyError(folder)
        if refresh:
            paths.filename_list_cache.pop(folder, None)
        return list(paths.get_filename_list(folder))

    def models_subfolders(self) -> list[str]:
        """Sub-folders of ComfyUI's models folder (the original CozyGen offered these as choice types)."""
        models_dir = getattr(self._folder_paths(), "models_dir", None)
        if not models_dir:
            return []
        try:
            with os.scandir(models_dir) as entries:
                names = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
        except OSError:
            return []
        return sorted(set(names) - {"custom_nodes"})

    def model_file_path(self, folder: str, name: str) -> str | None:
        return self._folder_paths().get_full_path(folder, name)

    def model_folder_paths(self, folder: str) -> list[str]:
        return list(self._folder_paths().get_folder_paths(folder))

    def sampler_names(self) -> list[str]:
        import comfy.samplers

        return list(comfy.samplers.KSampler.SAMPLERS)

    def scheduler_names(self) -> list[str]:
        import comfy.samplers

        return list(comfy.samplers.KSampler.SCHEDULERS)

    def system_stats(self) -> dict[str, Any]:
        """What ComfyUI's own ``/system_stats`` answers (its handler: devices, memory, versions; it reads the
        devices' free memory, so call it from a thread). Raises RuntimeError when this ComfyUI has none."""
        import asyncio
        import json

        for route in self.server().routes:
            if getattr(route, "method", "") == "GET" and getattr(route, "path", "") == "/system_stats":
                response = asyncio.run(route.handler(None))
                return json.loads(response.body)
        raise RuntimeError("this ComfyUI has no /system_stats route")

    def object_info(self) -> dict[str, Any]:
        """What ComfyUI's own ``/object_info`` answers (its handler, so every version describes itself).

        Blocking (node definitions list model files): call it from a thread.
        """
        import asyncio
        import json

        for route in self.server().routes:
            if getattr(route, "method", "") == "GET" and getattr(route, "path", "") == "/object_info":
                response = asyncio.run(route.handler(None))
                return json.loads(response.body)
        raise RuntimeError("this ComfyUI has no /object_info route")

    def partner_nodes(self) -> frozenset[str]:
        """Class types of the partner (API) nodes ComfyUI loaded: the classes whose ``API_NODE`` is true, which
        /object_info shows as ``api_node`` (a V3 node reads it from its schema). Read once, on first use: ComfyUI
        has loaded its nodes before it serves any request."""
        if self._partner_nodes is None:
            import importlib

            comfy_nodes = importlib.import_module("nodes")  # ComfyUI's nodes.py (CozyGen's own folder has that name)
            found = set()
            for name, node_class in dict(comfy_nodes.NODE_CLASS_MAPPINGS).items():
                try:
                    flag = getattr(node_class, "API_NODE", False)
                except Exception:  # a node's schema that fails to build: ComfyUI's /object_info skips it too
                    flag = False
                if flag is True:
                    found.add(name)
            self._partner_nodes = frozenset(found)
        return self._partner_nodes

    def mask_partner_logs(self) -> bool:
        """ComfyUI's partner nodes write every request they make, headers included, to ``<temp>/api_logs``: the
        Comfy API key would be in those files (which /view serves from the temp folder). Wrap that writer so the
        key and token headers are written as ``<hidden>``. False when this ComfyUI has no such writer (partner nodes
        not loaded, or another version)."""
        import functools
        import sys

        module = sys.modules.get("comfy_api_nodes.util.request_logger")
        write = getattr(module, "log_request_response", None)
        if not callable(write):
            return False
        if getattr(write, "cozygen_masked", False):
            return True

        def masked(headers: Any) -> Any:
            if not isinstance(headers, dict):
                return headers
            return {k: "<hidden>" if str(k).lower() in SECRET_HEADERS else v for k, v in headers.items()}

        @functools.wraps(write)
        def log_request_response(*args: Any, **kwargs: Any) -> Any:
            args = tuple(masked(a) if i in (3, 7) else a for i, a in enumerate(args))  # the headers, if positional
            for name in ("request_headers", "response_headers"):
                if name in kwargs:
                    kwargs[name] = masked(kwargs[name])
            return write(*args, **kwargs)

        log_request_response.cozygen_masked = True  # type: ignore[attr-defined]
        module.log_request_response = log_request_response  # type: ignore[union-attr]
        return True

    def custom_node_packages(self) -> list[str]:
        """Folder names of the installed custom-node packages."""
        names: set[str] = set()
        for folder in self._folder_paths().get_folder_paths("custom_nodes"):
            try:
                with os.scandir(folder) as entries:
                    names.update(e.name for e in entries if e.is_dir() and not e.name.startswith((".", "__")))
            except OSError:
                continue
        return sorted(names)
