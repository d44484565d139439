"""Which of ComfyUI's own routes a user who is not an admin may call: an explicit allowlist.

ComfyUI's API is single-user, and every release adds routes. So while auth guards ComfyUI's routes, a
route reaches a non-admin only when it is listed here (by method and route template, ``/api`` copies
mapped back), each either harmless or marked with the adapter (``api/comfyui_gate.py``) that understands
its parameters and keeps one user's prompts and files from another. Anything unlisted, including what a
future ComfyUI adds, needs an admin. Static files (the editor, extensions' scripts) are harmless reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..accounts.access import ADMIN, USER, VIEWER


@dataclass(frozen=True)
class Rule:
    level: str  # the least role that may call it
    adapter: str | None = None  # api/comfyui_gate.py's name for the adapter that filters it
    shared_only: bool = False  # for admins alone while outputs are per user (a store ComfyUI keeps for one user)


READ, CHANGE = Rule(VIEWER), Rule(USER)
EDITOR_FILES_READ, EDITOR_FILES_CHANGE = Rule(VIEWER, shared_only=True), Rule(USER, shared_only=True)

COMFYUI_ROUTES: dict[tuple[str, str], Rule] = {
    # the editor's page and what it reads to start: node definitions, model lists, translations, templates
    ("GET", "/"): READ,
    ("GET", "/object_info"): READ,
    ("GET", "/object_info/{node_class}"): READ,
    ("GET", "/embeddings"): READ,
    ("GET", "/models"): READ,
    ("GET", "/models/{folder}"): READ,
    ("GET", "/experiment/models"): READ,
    ("GET", "/experiment/models/{folder}"): READ,
    ("GET", "/experiment/models/preview/{folder}/{path_index}/{filename}"): READ,
    ("GET", "/view_metadata/{folder_name}"): READ,  # a model file's safetensors header
    ("GET", "/extensions"): READ,
    ("GET", "/system_stats"): READ,
    ("GET", "/features"): READ,
    ("GET", "/i18n"): READ,
    ("GET", "/workflow_templates"): READ,
    ("GET", "/templates/{path}"): READ,
    ("GET", "/global_subgraphs"): READ,
    ("GET", "/global_subgraphs/{id}"): READ,
    ("GET", "/users"): READ,  # whether ComfyUI runs multi-user; creating its users is the admin's
    ("GET", "/prompt"): READ,  # how many prompts wait (a count)
    # the editor's settings and saved workflows: one store for every user of this ComfyUI
    ("GET", "/settings"): EDITOR_FILES_READ,
    ("GET", "/settings/{id}"): EDITOR_FILES_READ,
    # (changing the editor's settings, which every user of the editor shares, stays the admin's)
    ("GET", "/userdata"): EDITOR_FILES_READ,
    ("GET", "/v2/userdata"): EDITOR_FILES_READ,
    ("GET", "/userdata/{file}"): EDITOR_FILES_READ,
    ("POST", "/userdata/{file}"): EDITOR_FILES_CHANGE,
    ("DELETE", "/userdata/{file}"): EDITOR_FILES_CHANGE,
    ("POST", "/userdata/{file}/move/{dest}"): EDITOR_FILES_CHANGE,
    # prompts, files and messages: each through its adapter
    ("GET", "/ws"): Rule(VIEWER, "socket"),
    ("GET", "/view"): Rule(VIEWER, "view"),
    ("POST", "/upload/image"): Rule(USER, "upload"),
    ("POST", "/upload/mask"): Rule(USER, "upload"),
    ("POST", "/prompt"): Rule(USER, "prompt"),
    ("GET", "/history"): Rule(VIEWER, "history"),
    ("GET", "/history/{prompt_id}"): Rule(VIEWER, "history"),
    ("POST", "/history"): Rule(USER, "history_change"),
    ("GET", "/queue"): Rule(VIEWER, "queue"),
    ("POST", "/queue"): Rule(USER, "queue_change"),
    ("POST", "/interrupt"): Rule(USER, "interrupt"),
}
UNLISTED = Rule(ADMIN)
STATIC_READ = READ


def comfyui_rule(method: str, template: str | None, *, static: bool = False) -> Rule:
    """The rule for one of ComfyUI's routes, by method and route template (without the ``/api`` prefix);
    ``static`` for a static-files resource. HEAD is read as GET."""
    method = "GET" if method == "HEAD" else method
    if static and method == "GET":
        return STATIC_READ
    if template is None:
        return UNLISTED
    return COMFYUI_ROUTES.get((method, template), UNLISTED)
