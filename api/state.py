"""CozyGen's server-side state: the data folder and the database, opened at server start.

Nothing here runs at import. ``startup`` is registered on ComfyUI's aiohttp
``on_startup``; it creates the data folder and migrates the database in a
thread, so ComfyUI's event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..core import settings
from ..core.accounts import users
from ..core.accounts.access import auth_mode
from ..core.accounts.cache import CredentialCache
from ..core.accounts.login_throttle import LoginLimits
from ..core.accounts.tokens import load_or_create_secret
from ..core.comfyui.claims import Claims
from ..core.errors import HostNotReady
from ..core.events import EventHub
from ..core.gallery.service import Gallery
from ..core.gallery.thumbnail_warm import ThumbnailWarmer, mode_from_env
from ..core.gallery.thumbnails import ThumbnailCache
from ..core.graph import models
from ..core.graph.summary import summarize
from ..core.host import Host
from ..core.jobs import model, records
from ..core.jobs.model import Job
from ..core.jobs.ratelimit import RateLimiter, llm_limiter
from ..core.jobs.service import JobService
from ..core.jobs.sessions import SessionService
from ..core.jobs.tracker import JobTracker
from ..core.models.library import ModelLibrary
from ..core.models.service import DownloadService
from ..core.prompts.wildcards import Library
from ..core.store.datadir import DB_NAME, ensure_data_dir, resolve_data_dir
from ..core.store.db import Database
from ..core.store.migrations import MIGRATIONS
from .definitions import HostDefinitions
from .live import LiveConnections

if TYPE_CHECKING:  # the backends load when the server starts, not when ComfyUI imports CozyGen (bench/import_time.py)
    from ..core.backends.dispatch import Dispatcher
    from ..core.backends.profiles import ProfileService
    from ..core.backends.service import BackendService
    from ..core.llm.client import LLMClient
    from ..core.llm.providers import ProviderService
    from .tags import TagService

ENV_ADMIN_USER, ENV_ADMIN_PASSWORD = "COZYGEN_ADMIN_USER", "COZYGEN_ADMIN_PASSWORD"
ENV_THUMB_CACHE_MB, ENV_UPLOAD_MAX_MB = "COZYGEN_THUMB_CACHE_MB", "COZYGEN_UPLOAD_MAX_MB"


def _megabytes(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default))) * 1024 * 1024
    except ValueError:
        log.warning("CozyGen: %s must be a whole number of megabytes; using %d", name, default)
        return default * 1024 * 1024


log = logging.getLogger("cozygen")
T = TypeVar("T")


class CozyGenState:
    def __init__(self, host: Host, *, job_service: Callable[[CozyGenState], JobService] | None = None) -> None:
        """``job_service`` builds the job service once the database is open (``api.setup`` wires it)."""
        self.host = host  # the one way to ComfyUI (core/host.py)
        self._build_job_service = job_service
        self._db: Database | None = None
        self.data_dir: Path | None = None
        self.startup_error: str | None = None
        self.secret: bytes = b""
        self.login_limits = LoginLimits.from_env()
        self.live = LiveConnections()  # open streams and sockets, closed when their sign-in is revoked
        self.credentials = CredentialCache()  # what authentication read, until the next commit (or a second)
        self.job_limits = RateLimiter.from_env()  # job submissions per minute per user (COZYGEN_RATE_LIMIT)
        self.llm_limits = llm_limiter()  # calls to a language model per minute per user: assistant and seeds' chat
        self.auth_enabled, self.auth_reason = True, "not decided yet"
        self.settings: dict[str, Any] = settings.defaults()
        self.gallery_hub = EventHub()
        self.job_hub = EventHub()
        self._jobs: JobTracker | None = None
        self._job_service: JobService | None = None
        self._sessions: SessionService | None = None
        self.gate = Claims()  # ComfyUI client ids and temp files: whose they are
        self._gallery: Gallery | None = None
        self._thumbnails: ThumbnailCache | None = None
        self.warmer: ThumbnailWarmer | None = None  # thumbnails of new outputs, made while ComfyUI is idle
        self._models: ModelLibrary | None = None  # the model browser
        self._downloads: DownloadService | None = None  # the model download queue
        self._backends: BackendService | None = None  # the ComfyUI servers jobs go to (local first)
        self._profiles: ProfileService | None = None  # Spoon Feeder's profiles: the backends and LLM providers
        self.dispatcher: Dispatcher | None = None  # jobs sent to the other backends (core/backends/dispatch.py)
        self._llm: LLMClient | None = None  # the one client that asks a language model (core/llm/client.py)
        self._providers: ProviderService | None = None  # the language-model providers (core/llm/providers.py)
        self.roots: dict[str, Path] = {}
        self.upload_max_bytes = _megabytes(ENV_UPLOAD_MAX_MB, 50)
        self.definitions = HostDefinitions(host)  # one cache of ComfyUI's node definitions for every route
        self.aliases: dict[str, str] | None = None  # the alias document, read once, replaced when saved
        self.wildcards: Library | None = None  # api.prompts' wildcard library of the data folder, made on first use
        self.tag_service: TagService | None = None  # the tag index (api/tags.py); the assistant checks tags with it
        # Thumbnails and image work get their own threads so they never starve the database readers.
        self.image_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cozygen-image")
        self.stoppers: list[Callable[[], Awaitable[None]]] = []  # parts started on demand (the MCP server)
        self.starters: list[Callable[[], Awaitable[None]]] = []  # parts started once the database is open (push)

    def _started(self, part: T | None) -> T:
        """A part opened at server start, or 503 until it is (with the start-up error, if any)."""
        if part is None:
            raise HostNotReady(self.startup_error or "CozyGen is still starting; try again in a moment")
        return part

    @property
    def db(self) -> Database:
        return self._started(self._db)

    @property
    def gallery(self) -> Gallery:
        return self._started(self._gallery)

    @property
    def jobs(self) -> JobTracker:
        return self._started(self._jobs)

    @property
    def job_service(self) -> JobService:
        return self._started(self._job_service)

    @property
    def sessions(self) -> SessionService:
        return self._started(self._sessions)

    @property
    def models(self) -> ModelLibrary:
        return self._started(self._models)

    @property
    def downloads(self) -> DownloadService:
        return self._started(self._downloads)

    @property
    def backends(self) -> BackendService:
        return self._started(self._backends)

    @property
    def profiles(self) -> ProfileService:
        return self._started(self._profiles)

    @property
    def llm(self) -> LLMClient:
        return self._started(self._llm)

    @property
    def providers(self) -> ProviderService:
        return self._started(self._providers)

    @property
    def backends_started(self) -> bool:
        return self._backends is not None

    @property
    def downloads_started(self) -> bool:
        return self._downloads is not None

    def models_changed(self, folder: str) -> None:
        """A model arrived in (or left) ``folder``: ComfyUI reads that folder again, and so do CozyGen's forms and
        checks. From the event loop the walk runs in a thread (ComfyUI's cache already follows the folders'
        mtimes, so a read before it ends sees the file too); from another thread it runs there."""
        self.definitions.invalidate()

        def refresh() -> None:
            try:
                self.host.model_files(folder, refresh=True)
            except KeyError:
                pass  # a folder ComfyUI no longer knows
            self.definitions.invalidate()

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            refresh()
            return
        loop.run_in_executor(None, refresh)

    def _comfyui_busy(self) -> bool:
        """Whether ComfyUI is running a prompt or holding one in its queue (blocking: from a thread)."""
        running, pending = self.host.queue_snapshot()
        return bool(running or pending)

    def client_id_for(self, job_id: str) -> str:
        """The ComfyUI client id a job's prompts are queued under (its messages go to that socket alone): one
        per job, derived from the server's secret, so nobody can open a socket under another user's."""
        digest = hmac.new(self.secret or b"cozygen", f"client:{job_id}".encode(), hashlib.sha256).hexdigest()
        return "cozygen-" + digest[:32]

    def on_host_message(self, event: Any, data: Any, _sid: Any = None) -> None:
        """Every message ComfyUI sends (from its executor thread): dropped until the database is open."""
        self.gate.on_message(event, data)
        tracker = self._jobs
        if tracker is None:
            return
        if event == "execution_start" and isinstance(data, dict):
            prompt_id = data.get("prompt_id")
            if isinstance(prompt_id, str) and not tracker.follows(prompt_id):
                self._adopt(tracker, prompt_id)
            if isinstance(prompt_id, str) and tracker.cancel_requested(prompt_id):
                # a cancel that came as ComfyUI handed the prompt out: its start cleared the interrupt flag
                # (execution_start is sent after that, before any node runs), so interrupt it again now
                self.host.interrupt(prompt_id)
        tracker.on_message(event, data)

    def _adopt(self, tracker: JobTracker, prompt_id: str) -> None:
        """A prompt no job has starts: queued straight into ComfyUI, so record it as a job of its own."""
        found = self.host.queued_prompt(prompt_id)
        graph, extra = found if found is not None else ({}, {})
        if "cozygen_job_id" in extra:
            return  # one of CozyGen's own, no longer followed (the rest of a job that failed)
        created = extra.get("create_time")
        summary = summarize(graph)
        tracker.adopt(
            Job(
                id=prompt_id if model.JOB_ID.match(prompt_id) else self.host.new_prompt_id(),
                prompt_id=prompt_id,
                workflow=None,
                username=None,
                params={k: v for k, v in summary.items() if v not in (None, [], "")},
                graph=graph,
                created_at=created / 1000 if isinstance(created, int | float) else time.time(),
                model=models.graph_model(graph),
            )
        )

    def drop_prompts(self, prompt_ids: list[str]) -> None:
        """Take prompts off ComfyUI's queue (the rest of a job of several that failed), and off other backends'."""
        for prompt_id in prompt_ids:
            self.host.remove_pending(prompt_id)
        dispatcher = self.dispatcher
        if dispatcher is not None and dispatcher.loop is not None:
            dispatcher.loop.call_soon_threadsafe(dispatcher.drop, prompt_ids)

    @property
    def db_ready_data_dir(self) -> Path:
        return self._started(self.data_dir)

    @property
    def gallery_started(self) -> bool:
        return self._gallery is not None

    @property
    def thumbnails(self) -> ThumbnailCache:
        return self._started(self._thumbnails)

    @property
    def ready(self) -> bool:
        return self._db is not None

    def _open(self) -> tuple[Path, Database, list[int], int]:
        data_dir = ensure_data_dir(resolve_data_dir(self.host.user_directory()))
        db = Database(data_dir / DB_NAME)
        applied = db.open(MIGRATIONS)
        self.secret = load_or_create_secret(data_dir)
        user_count = db.submit_write(_bootstrap_admin).result()
        self.settings = db.submit_write(settings.load).result()
        stale = db.submit_write(lambda conn: records.interrupt_unfinished(conn, time.time())).result()
        if stale:
            log.warning("CozyGen: %d job(s) left unfinished by the last run are marked interrupted", stale)
        self._thumbnails = ThumbnailCache(data_dir / "thumbs", _megabytes(ENV_THUMB_CACHE_MB, 512))
        return data_dir, db, applied, user_count

    async def startup(self, _app: Any = None) -> None:
        # Until the store is open, auth counts as on: nothing is served unguarded by accident.
        self.auth_enabled, self.auth_reason = auth_mode(self.host.listen_addresses())
        self.roots = {"output": Path(self.host.output_directory()), "input": Path(self.host.input_directory())}
        try:
            data_dir, db, applied, user_count = await asyncio.to_thread(self._open)
        except Exception as exc:  # CozyGen must never take ComfyUI down with it
            self.startup_error = f"CozyGen could not open its data folder: {exc}"
            log.exception("CozyGen: %s", self.startup_error)
            return
        self.data_dir, self._db = data_dir, db
        self.live.start(db.execute_fn)
        self._jobs = JobTracker(db, self.job_hub, drop_prompts=self.drop_prompts)
        self._sessions = SessionService(db, self.host.new_prompt_id)
        if self._build_job_service is not None:
            self._job_service = self._build_job_service(self)
        gallery = Gallery(db, self.roots, data_dir, self.gallery_hub)
        try:
            await asyncio.to_thread(gallery.start)
        except Exception:
            log.exception("CozyGen: the gallery watcher could not start")
        self._gallery = gallery
        if self._thumbnails is not None:
            self.warmer = ThumbnailWarmer(
                self._thumbnails, {"output": self.roots["output"]}, busy=self._comfyui_busy, mode=mode_from_env()
            )
            self.warmer.start()
            self.warmer.follow(self.gallery_hub)
        await self._start_models(db, data_dir)
        self._start_llm(db)
        await self._start_backends(db)
        await self._start_dispatch(db)
        for start in self.starters:
            try:
                await start()
            except Exception:
                log.exception("CozyGen: a part could not start")
        if applied:
            log.info("CozyGen: database %s migrated to version %d", db.path, applied[-1])
        log.info("CozyGen: data folder %s", data_dir)
        if not self.auth_enabled:
            log.warning("CozyGen: authentication is OFF (%s)", self.auth_reason)
        elif user_count == 0:
            banner = "!" * 78
            log.warning(
                "\n%s\nCozyGen: authentication is ON (%s) but no user exists.\n"
                "Everything is locked. Open http://127.0.0.1:<port>/cozygen on this machine to create the\n"
                "first admin, or set %s and %s, or run the user command (see README).\n%s",
                banner,
                self.auth_reason,
                ENV_ADMIN_USER,
                ENV_ADMIN_PASSWORD,
                banner,
            )
        else:
            log.info("CozyGen: authentication is ON (%s)", self.auth_reason)

    async def _start_models(self, db: Database, data_dir: Path) -> None:
        """The model browser and the download queue (downloads left running by the last run are resumed)."""
        self._models = ModelLibrary(db, self.host, data_dir, self.models_changed)
        downloads = DownloadService(db, self.host, self.job_hub, data_dir, lambda: self.settings, self.models_changed)
        try:
            await downloads.start()
        except Exception:
            log.exception("CozyGen: the model download queue could not start")
            return
        self._downloads = downloads

    async def _start_backends(self, db: Database) -> None:
        """The backends (the health monitor starts with them); their one HTTP session is closed at shutdown."""
        from ..core.backends.profiles import ProfileService
        from ..core.backends.service import BackendService
        from .backends.client import connector

        connect, fetch_json, close = connector()

        async def local_object_info() -> dict[str, Any]:
            return (await self.definitions.get())[0]

        def local_queue() -> tuple[int, int]:
            running, pending = self.host.queue_snapshot()
            return len(running), len(pending)

        service = BackendService(
            db, self.job_hub, connect, local_queue=local_queue, local_object_info=local_object_info,
            local_version=self.host.comfyui_version,
        )  # fmt: skip
        try:
            await service.start()
        except Exception:
            log.exception("CozyGen: the backends could not start")
            await close()
            return
        self._backends = service
        self._profiles = ProfileService(db, service, fetch_json, providers=self._providers)

        async def stop() -> None:
            await service.stop()
            await close()

        self.stoppers.append(stop)

    def _start_llm(self, db: Database) -> None:
        """The LLM client (one aiohttp session, closed at shutdown) and the providers."""
        from ..core.llm.client import LLMClient
        from ..core.llm.providers import ProviderService
        from .llm.transport import AiohttpTransport

        transport = AiohttpTransport()
        self._llm = LLMClient(transport)
        self._providers = ProviderService(db, self._llm, lambda: self.settings)
        self.stoppers.append(transport.close)

    async def _start_dispatch(self, db: Database) -> None:
        """Jobs on other backends: the dispatcher over the backends, handed to the job service; the jobs a previous
        run left on other backends are re-attached (interrupted when the backends could not start)."""
        if self._backends is None or self._jobs is None:
            stale = await db.execute_write_fn(lambda conn: records.interrupt_remote(conn, time.time()))
            if stale:
                log.warning("CozyGen: %d job(s) on other backends are marked interrupted (no backends)", stale)
            return
        from ..core.backends.dispatch import Dispatcher

        digest = hmac.new(self.secret or b"cozygen", b"backends", hashlib.sha256).hexdigest()
        dispatcher = Dispatcher(
            self._backends, self._jobs, db, self.host, roots=self.roots, client_id="cozygen-" + digest[:32],
            client_id_for=self.client_id_for,
        )  # fmt: skip
        self.dispatcher = dispatcher
        if self._job_service is not None:
            self._job_service.remote = dispatcher
        self.stoppers.insert(0, dispatcher.stop)
        try:
            found = await dispatcher.start()
        except Exception:
            log.exception("CozyGen: jobs on other backends could not be re-attached")
            return
        if found:
            log.info("CozyGen: %d prompt(s) on other backends re-attached", found)

    async def shutdown(self, _app: Any = None) -> None:
        for stop in self.stoppers:
            await stop()
        downloads, self._downloads = self._downloads, None
        if downloads is not None:
            await downloads.stop()  # running downloads keep their partial files: the next start resumes them
        if self._models is not None:
            await self._models.stop()
        self._jobs = None  # ComfyUI's last messages find no database to write to
        self._job_service = self._sessions = None
        await self.live.stop()
        if self.warmer is not None:
            await self.warmer.close()
        if self._gallery is not None:
            await asyncio.to_thread(self._gallery.stop)
        self.image_pool.shutdown(wait=False, cancel_futures=True)
        if self._db is not None:
            await asyncio.to_thread(self._db.close)
            self._db = None


def _bootstrap_admin(conn: Any) -> int:
    """Create the admin named in the environment when no user exists yet; returns the user count."""
    count = users.count_users(conn)
    name, password = os.environ.get(ENV_ADMIN_USER, "").strip(), os.environ.get(ENV_ADMIN_PASSWORD, "")
    if count == 0 and name and password:
        users.create_user(conn, name, password, "admin")
        users.audit(conn, "user.create", actor="environment", target=name, detail="admin from environment")
        log.info("CozyGen: created admin %r from %s", name, ENV_ADMIN_USER)
        return 1
    return count
