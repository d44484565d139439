"""Who holds which of ComfyUI's client ids, and which prompt wrote which temp file.

ComfyUI sends a prompt's messages to the socket of its client id, and lets anyone open a socket under
any id (taking it over). CozyGen gives each id to the first user who uses it; and, since temp files
(previews) are never indexed, remembers from ComfyUI's ``executed`` messages whose prompt wrote them.
"""

from __future__ import annotations

import collections
import secrets
import threading
from collections.abc import Mapping
from typing import Any

KEPT = 10_000  # client ids and temp files remembered (the oldest are forgotten first)


class Claims:
    """Who holds which ComfyUI client id, and which prompt wrote which temp file (any thread may call in)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._temp: collections.OrderedDict[tuple[str, str], str] = collections.OrderedDict()
        self._channels: dict[str, str] = {}  # username -> the client id that stands for all their sockets
        self._channel_users: dict[str, str] = {}  # and back
        self._sockets: dict[str, set[str]] = {}  # username -> the client ids of their open sockets
        self._inputs: collections.OrderedDict[tuple[str, str], str] = collections.OrderedDict()  # lately recorded

    @staticmethod
    def _keep(recent: collections.OrderedDict[Any, str], key: Any, value: str) -> None:
        recent[key] = value
        recent.move_to_end(key)
        while len(recent) > KEPT:
            recent.popitem(last=False)

    def claim_client(self, client_id: str, username: str) -> bool:
        """Give ``client_id`` to ``username`` unless another user holds it (False then)."""
        with self._lock:
            holder = self._clients.get(client_id)
            if holder is not None and holder != username:
                return False
            self._keep(self._clients, client_id, username)
            return True

    def channel(self, username: str) -> str:
        """The client id that stands for every socket ``username`` has open (what a prompt they post without a
        client id is sent under, so its messages reach all their sockets and no one else's)."""
        with self._lock:
            found = self._channels.get(username)
            if found is None:
                found = "cozygen-user-" + secrets.token_hex(16)
                self._channels[username], self._channel_users[found] = found, username
            return found

    def socket_opened(self, client_id: str, username: str) -> None:
        with self._lock:
            self._sockets.setdefault(username, set()).add(client_id)

    def socket_closed(self, client_id: str, username: str) -> None:
        with self._lock:
            held = self._sockets.get(username)
            if held is not None:
                held.discard(client_id)
                if not held:
                    del self._sockets[username]

    def recipients(self, client_id: Any) -> list[str] | None:
        """The sockets a message for ``client_id`` goes to when it is a user's channel; None for any other id."""
        if not isinstance(client_id, str) or not client_id.startswith("cozygen-user-"):
            return None
        with self._lock:
            username = self._channel_users.get(client_id)
            return sorted(self._sockets.get(username, ())) if username is not None else []

    def on_message(self, event: Any, data: Any) -> None:
        """ComfyUI's ``executed`` messages say which prompt wrote which temp files (previews)."""
        if event != "executed" or not isinstance(data, Mapping):
            return
        output, prompt_id = data.get("output"), data.get("prompt_id")
        if not isinstance(output, Mapping) or not isinstance(prompt_id, str):
            return
        for files in output.values():
            for item in files if isinstance(files, list) else ():
                if isinstance(item, Mapping) and item.get("type") == "temp" and isinstance(item.get("filename"), str):
                    key = (str(item.get("subfolder") or "").strip("/"), item["filename"])
                    with self._lock:
                        self._keep(self._temp, key, prompt_id)

    def input_recorded(self, subfolder: str, filename: str, username: str) -> None:
        with self._lock:
            self._keep(self._inputs, (subfolder, filename), username)

    def input_owner(self, subfolder: str, filename: str) -> str | None:
        """Who put this input file there lately (None when not known here: see core/gallery/input_owners.py)."""
        with self._lock:
            return self._inputs.get((subfolder, filename))

    def temp_prompt(self, subfolder: str, name: str) -> str | None:
        with self._lock:
            return self._temp.get((subfolder, name))
