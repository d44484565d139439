"""Spoon Feeder (seed 003) at /cozygen/compat/spoonfeeder/api/: health, profiles (the backends and LLM
providers), ComfyUI options, workflows, sessions, generations, the image proxy, tasks and results (CozyGen's jobs
and their outputs) and the task history export, over CozyGen's backends, workflow store, job service and gallery.

The answers follow what the real Spoon Feeder client (``frontend/src/api/comfyui.ts`` and its pages) reads,
where it differs from the seed's API document: generations end ``completed``, ``options.dimensions`` is
``{common, sdxl_optimal}``, ``workflow_json`` of a workflow is JSON text. Errors answer in Spoon Feeder's shape
(``{"success": false, "error", "code", "statusCode"}``) with CozyGen's fields kept.

Modules: :mod:`.shapes` (envelope, generations, task rows), :mod:`.prompts` (which fields are prompts),
:mod:`.profiles` (profiles over the backends), :mod:`.workflows` (options, workflows), :mod:`.sessions`
(sessions, generating, generations), :mod:`.files` (images, history export, health), :mod:`.tasks` (tasks over
jobs), :mod:`.results` (results over completed jobs' outputs), :mod:`.chat`, :mod:`.models` and :mod:`.settings`
(chat, the LLM providers' models with Ollama's load and unload, and the provider settings, over CozyGen's LLM
providers).
"""

from __future__ import annotations

from ....core.accounts.access import ADMIN, USER, VIEWER
from ...routing import Routes
from ...state import CozyGenState
from .chat import ChatRoutes
from .files import FileRoutes
from .models import ModelRoutes
from .profiles import ProfileRoutes
from .results import ResultRoutes
from .sessions import SessionRoutes
from .settings import SettingsRoutes
from .shapes import BASE, in_seed_shape
from .tasks import TaskRoutes
from .workflows import WorkflowRoutes

__all__ = ["BASE", "add_routes"]


def add_routes(routes: Routes, state: CozyGenState) -> None:
    w = WorkflowRoutes(state)
    s, f = SessionRoutes(state, w), FileRoutes(state)
    t = TaskRoutes(state, s)
    r = ResultRoutes(state, t.metas)
    comfy = f"{BASE}/comfyui"
    p = ProfileRoutes(state)
    routes.get(f"{BASE}/profiles", access=VIEWER)(in_seed_shape(p.listing))
    routes.post(f"{BASE}/profiles", access=ADMIN)(in_seed_shape(p.create))
    routes.post(f"{BASE}/profiles/test-connection", access=ADMIN)(in_seed_shape(p.test_connection))
    routes.get(f"{BASE}/profiles/{{profile_id}}", access=VIEWER)(in_seed_shape(p.one))
    routes.put(f"{BASE}/profiles/{{profile_id}}", access=ADMIN)(in_seed_shape(p.update))
    routes.delete(f"{BASE}/profiles/{{profile_id}}", access=ADMIN)(in_seed_shape(p.delete))
    routes.get(f"{BASE}/profiles/{{profile_id}}/models", access=VIEWER)(in_seed_shape(p.models))
    routes.post(f"{BASE}/profiles/{{profile_id}}/models", access=ADMIN)(in_seed_shape(p.add_model))
    routes.post(f"{BASE}/profiles/{{profile_id}}/models/sync", access=ADMIN)(in_seed_shape(p.sync))
    routes.delete(f"{BASE}/profiles/{{profile_id}}/models/{{model_id}}", access=ADMIN)(in_seed_shape(p.delete_model))
    routes.get(f"{comfy}/options", access=VIEWER)(in_seed_shape(w.options))
    routes.get(f"{comfy}/workflows", access=VIEWER)(in_seed_shape(w.list_workflows))
    routes.post(f"{comfy}/workflows", access=USER)(in_seed_shape(w.create))
    routes.get(f"{comfy}/workflows/{{workflow_id}}", access=VIEWER)(in_seed_shape(w.get_one))
    routes.put(f"{comfy}/workflows/{{workflow_id}}", access=USER)(in_seed_shape(w.update))
    routes.patch(f"{comfy}/workflows/{{workflow_id}}/parameters", access=USER)(in_seed_shape(w.parameters))
    routes.delete(f"{comfy}/workflows/{{workflow_id}}", access=USER)(in_seed_shape(w.delete))
    routes.get(f"{comfy}/sessions", access=VIEWER)(in_seed_shape(s.list_sessions))
    routes.post(f"{comfy}/sessions", access=USER)(in_seed_shape(s.create_session))
    routes.get(f"{comfy}/sessions/{{session_id}}", access=VIEWER)(in_seed_shape(s.get_session))
    routes.put(f"{comfy}/sessions/{{session_id}}", access=USER)(in_seed_shape(s.update_session))
    routes.delete(f"{comfy}/sessions/{{session_id}}", access=USER)(in_seed_shape(s.delete_session))
    routes.post(f"{comfy}/sessions/{{session_id}}/generate", access=USER)(in_seed_shape(s.generate))
    routes.get(f"{comfy}/generations/{{job_id}}", access=VIEWER)(in_seed_shape(s.get_generation))
    routes.get(f"{comfy}/generations/{{job_id}}/workflow", access=VIEWER)(in_seed_shape(s.generation_workflow))
    routes.delete(f"{comfy}/generations/{{job_id}}", access=USER)(in_seed_shape(s.delete_generation))
    routes.get(f"{comfy}/image/{{filename}}", access=VIEWER)(in_seed_shape(f.image))
    routes.get(f"{BASE}/tasks", access=VIEWER)(in_seed_shape(t.list_tasks))
    routes.post(f"{BASE}/tasks", access=USER)(in_seed_shape(t.create))
    routes.get(f"{BASE}/tasks/history", access=VIEWER)(in_seed_shape(t.history))
    routes.get(f"{BASE}/tasks/history/export", access=VIEWER)(in_seed_shape(f.export_history))
    routes.get(f"{BASE}/tasks/{{task_id}}", access=VIEWER)(in_seed_shape(t.get_one))
    routes.delete(f"{BASE}/tasks/{{task_id}}", access=USER)(in_seed_shape(t.delete))
    routes.post(f"{BASE}/tasks/{{task_id}}/retry", access=USER)(in_seed_shape(t.retry))
    routes.get(f"{BASE}/results", access=VIEWER)(in_seed_shape(r.list_results))
    routes.get(f"{BASE}/results/{{result_id}}", access=VIEWER)(in_seed_shape(r.get_one))
    routes.get(f"{BASE}/results/{{result_id}}/download", access=VIEWER)(in_seed_shape(r.download))
    routes.delete(f"{BASE}/results/{{result_id}}", access=USER)(in_seed_shape(r.delete))
    routes.get(f"{BASE}/health", access=VIEWER)(in_seed_shape(f.health))
    add_llm_routes(routes, state, p)


def add_llm_routes(routes: Routes, state: CozyGenState, p: ProfileRoutes) -> None:
    """chat, models (Ollama's load and unload) and the provider settings, over CozyGen's LLM providers."""
    c, m, st = ChatRoutes(state), ModelRoutes(state, p), SettingsRoutes(state, p)
    routes.post(f"{BASE}/chat", access=USER)(in_seed_shape(c.chat))
    routes.get(f"{BASE}/models", access=VIEWER)(in_seed_shape(m.list_models))
    routes.get(f"{BASE}/models/{{name}}", access=VIEWER)(in_seed_shape(m.one))
    routes.get(f"{BASE}/models/{{name}}/status", access=VIEWER)(in_seed_shape(m.status))
    routes.post(f"{BASE}/models/{{name}}/load", access=ADMIN)(in_seed_shape(m.load))
    routes.post(f"{BASE}/models/{{name}}/unload", access=ADMIN)(in_seed_shape(m.unload))
    routes.get(f"{BASE}/settings", access=ADMIN)(in_seed_shape(st.listing))
    routes.get(f"{BASE}/settings/{{provider}}", access=ADMIN)(in_seed_shape(st.one))
    routes.put(f"{BASE}/settings/{{provider}}", access=ADMIN)(in_seed_shape(st.update))
    routes.delete(f"{BASE}/settings/{{provider}}", access=ADMIN)(in_seed_shape(st.delete))
    routes.post(f"{BASE}/settings/{{provider}}/test", access=ADMIN)(in_seed_shape(st.test))
