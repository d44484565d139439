"""core.gallery.thumbnail_warm: new outputs' thumbnails made ahead, on real files and a real cache folder."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from unit.fake_host import FakeHost

from cozygen.api.state import CozyGenState
from cozygen.core.events import EventHub
from cozygen.core.gallery import thumbnail_render, thumbnail_warm
from cozygen.core.gallery.thumbnail_warm import DEFAULT_SIZES, ThumbnailWarmer
from cozygen.core.gallery.thumbnails import ThumbnailCache

WAIT = 20.0  # seconds a background step is given (a bound for a hang, not a speed assert)


def until(predicate, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("the condition did not come true in time")


def picture(path: Path, size: tuple[int, int] = (600, 400)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path, "PNG")
    return path


def files_in(cache: ThumbnailCache) -> list[Path]:
    return sorted(p for p in cache.folder.rglob("*") if p.is_file())


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "output"
    folder.mkdir()
    return folder


@pytest.fixture
def cache(tmp_path: Path) -> ThumbnailCache:
    return ThumbnailCache(tmp_path / "thumbs", max_bytes=50 * 1024 * 1024)


def warmer_of(cache: ThumbnailCache, output: Path, **options) -> ThumbnailWarmer:
    options.setdefault("busy", lambda: False)
    return ThumbnailWarmer(cache, {"output": output}, **options)


def test_a_warmed_thumbnail_is_the_one_a_request_finds(cache: ThumbnailCache, output: Path) -> None:
    source = picture(output / "CozyGen" / "a.png")
    warmer = warmer_of(cache, output)

    assert warmer.offer("output", "CozyGen", "a.png", source.stat().st_mtime)
    assert warmer.step() and warmer.made == len(DEFAULT_SIZES)

    for width, fmt in DEFAULT_SIZES:  # the route's own call (width and format as it normalizes them)
        thumb = cache.get_or_make(source, width=width, fmt=fmt)
        assert not thumb.made and thumb.media_type == "image/webp"
        with Image.open(thumb.path) as image:
            assert image.size == thumbnail_render.fit_size((600, 400), width)
    assert cache.get_or_make(source, width=384, fmt="jpeg").made  # a size nobody warmed


def test_the_widest_size_is_byte_for_byte_what_a_request_renders(output: Path) -> None:
    source = picture(output / "b.png")
    many = thumbnail_render.render_many(source, [(192, "webp"), (384, "webp"), (384, "jpeg")])
    assert many[(384, "webp")] == thumbnail_render.render(source, 384, "webp")
    assert many[(384, "jpeg")] == thumbnail_render.render(source, 384, "jpeg")
    with Image.open(io.BytesIO(many[(192, "webp")])) as image:
        assert image.size == (192, 128)


def test_offers_are_deduplicated_and_the_newest_goes_first(cache: ThumbnailCache, output: Path) -> None:
    for name in ("1.png", "2.png", "3.png"):
        picture(output / name, (64, 64))
    warmer = warmer_of(cache, output)
    for name in ("1.png", "2.png", "3.png", "1.png"):  # 1.png changed again: it is the newest now
        warmer.offer("output", "", name)
    assert warmer.pending() == 3

    order = []
    while warmer.pending():
        order.append(next(reversed(warmer._queue))[2])
        warmer.step()
    assert order == ["1.png", "3.png", "2.png"]
    made = warmer.made
    warmer.offer("output", "", "1.png")
    warmer.step()
    assert warmer.made == made  # already warm: nothing rendered again


def test_the_queue_is_capped_and_drops_the_oldest(cache: ThumbnailCache, output: Path) -> None:
    warmer = warmer_of(cache, output, max_queue=3)
    for n in range(5):
        picture(output / f"{n}.png", (32, 32))
        warmer.offer("output", "", f"{n}.png")

    assert warmer.pending() == 3 and warmer.dropped == 2
    assert [key[2] for key in warmer._queue] == ["2.png", "3.png", "4.png"]


def test_what_is_not_a_new_output_is_not_queued(cache: ThumbnailCache, output: Path) -> None:
    now = time.time()
    warmer = warmer_of(cache, output, max_age=3600, clock=lambda: now)

    assert not warmer.offer("output", "", "old.png", now - 7200)  # an hour past the window: a restored backup
    assert not warmer.offer("input", "", "upload.png", now)  # not a root it warms
    assert not warmer.offer("output", "", "notes.txt", now)  # no thumbnail route serves it
    assert warmer.offer("output", "", "new.png", now) and warmer.pending() == 1

    old = picture(output / "stale.png", (32, 32))
    os.utime(old, (now - 7200, now - 7200))
    warmer.offer("output", "", "stale.png")  # no mtime in the event: the file's own is read at its turn
    picture(output / "new.png", (32, 32))
    warmer.step()
    warmer.step()
    assert warmer.skipped == 1 and warmer.made == len(DEFAULT_SIZES)


def test_a_file_gone_before_its_turn_is_skipped(cache: ThumbnailCache, output: Path) -> None:
    source = picture(output / "gone.png")
    warmer = warmer_of(cache, output)
    warmer.offer("output", "", "gone.png")
    source.unlink()

    assert warmer.step()
    assert warmer.skipped == 1 and warmer.made == 0 and files_in(cache) == []


def test_an_unreadable_file_gets_its_placeholder_warmed(cache: ThumbnailCache, output: Path) -> None:
    (output / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    warmer = warmer_of(cache, output)
    warmer.offer("output", "", "broken.png")
    warmer.step()
    assert warmer.made == len(DEFAULT_SIZES)
    assert not cache.get_or_make(output / "broken.png", width=384, fmt="webp").made


def test_nothing_renders_while_comfyui_is_busy(cache: ThumbnailCache, output: Path) -> None:
    picture(output / "job.png")
    busy = threading.Event()
    busy.set()
    asked = []

    def is_busy() -> bool:
        asked.append(1)
        return busy.is_set()

    warmer = warmer_of(cache, output, busy=is_busy)
    warmer.start()
    try:
        warmer.offer("output", "", "job.png")
        until(lambda: len(asked) >= 3)  # it looked at the queue three times, each time busy
        assert warmer.made == 0 and files_in(cache) == [] and warmer.pending() == 1
        busy.clear()
        until(lambda: warmer.made == len(DEFAULT_SIZES))
        assert warmer.pending() == 0
    finally:
        warmer.stop()
    assert warmer._thread is not None and not warmer._thread.is_alive()


def test_always_mode_renders_during_a_generation(cache: ThumbnailCache, output: Path) -> None:
    picture(output / "job.png")
    warmer = warmer_of(cache, output, busy=lambda: True, mode="always")
    warmer.start()
    try:
        warmer.offer("output", "", "job.png")
        until(lambda: warmer.made == len(DEFAULT_SIZES))
    finally:
        warmer.stop()


def test_rendering_waits_for_arrivals_to_pause(cache: ThumbnailCache, output: Path) -> None:
    steady = warmer_of(cache, output, settle=3600)  # a bulk copy still arriving
    assert steady.settling() == 0
    steady.offer("output", "", "a.png")
    assert steady.settling() > 3000
    assert warmer_of(cache, output, settle=0).settling() == 0


def test_a_queue_that_cannot_be_read_counts_as_busy(cache: ThumbnailCache, output: Path) -> None:
    def broken() -> bool:
        raise RuntimeError("ComfyUI's PromptServer is not running")

    assert warmer_of(cache, output, busy=broken)._busy() is True


def test_off_queues_nothing_and_starts_no_thread(cache: ThumbnailCache, output: Path, monkeypatch) -> None:
    picture(output / "a.png")
    warmer = warmer_of(cache, output, mode="off")
    warmer.start()
    assert not warmer.offer("output", "", "a.png") and warmer.pending() == 0 and warmer._thread is None
    warmer.stop()

    for raw, mode in [("", "idle"), ("1", "idle"), ("off", "off"), ("0", "off"), ("ALWAYS", "always"), ("x", "idle")]:
        monkeypatch.setenv(thumbnail_warm.ENV_WARM, raw)
        assert thumbnail_warm.mode_from_env() == mode


def test_a_clear_drops_what_was_queued_before_it(cache: ThumbnailCache, output: Path) -> None:
    picture(output / "a.png")
    warmer = warmer_of(cache, output)
    warmer.offer("output", "", "a.png")
    cache.clear()

    warmer.step()
    assert warmer.made == 0 and files_in(cache) == []
    warmer.offer("output", "", "a.png")  # offered after the clear: warmed
    warmer.step()
    assert warmer.made == len(DEFAULT_SIZES)


def test_the_sizes_requests_ask_for_most_are_warmed_too(cache: ThumbnailCache, output: Path) -> None:
    asked = picture(output / "asked.png")
    for _ in range(5):
        cache.get_or_make(asked, width=512, fmt="jpeg")  # a "large" grid in a browser without WebP
    cache.get_or_make(asked, width=256, fmt="webp")  # asked once in six: too rare to warm
    warmer = warmer_of(cache, output)
    assert warmer.sizes() == [*DEFAULT_SIZES, (512, "jpeg")]

    source = picture(output / "new.png")
    warmer.offer("output", "", "new.png")
    warmer.step()
    assert not cache.get_or_make(source, width=512, fmt="jpeg").made


def test_the_cache_cap_holds_while_warming(tmp_path: Path, output: Path) -> None:
    cache = ThumbnailCache(tmp_path / "small", max_bytes=120 * 1024)
    warmer = warmer_of(cache, output)
    for n in range(12):
        picture(output / f"{n}.png", (500, 500))  # noise: each thumbnail is tens of kilobytes
        warmer.offer("output", "", f"{n}.png")
        warmer.step()
    assert warmer.made == 12 * len(DEFAULT_SIZES)
    assert cache.stats()["bytes"] <= 120 * 1024


def test_stop_ends_the_thread_and_empties_the_queue(cache: ThumbnailCache, output: Path) -> None:
    warmer = warmer_of(cache, output, busy=lambda: True)
    warmer.start()
    for n in range(10):
        warmer.offer("output", "", f"{n}.png")
    warmer.stop()
    assert warmer._thread is not None and not warmer._thread.is_alive() and warmer._thread.daemon
    assert warmer.pending() == 0


def test_files_the_gallery_hub_announces_are_queued(cache: ThumbnailCache, output: Path) -> None:
    warmer = warmer_of(cache, output)
    hub = EventHub()

    def announced(kind: str, filename: str, root: str = "output") -> None:
        item = {"filename": filename, "type": root, "subfolder": "CozyGen", "mtime": time.time(), "id": 1}
        hub.publish(f"file.{kind}", {"event": kind, "type": root, "subfolder": "CozyGen", "item": item})

    async def scenario() -> list[str]:
        warmer.follow(hub)
        await asyncio.sleep(0)  # the follower subscribes
        announced("created", "new.png")
        announced("modified", "changed.png")
        announced("deleted", "gone.png")
        announced("moved", "moved.png")
        announced("created", "upload.png", root="input")
        for _ in range(100):
            if warmer.pending() >= 2:
                break
            await asyncio.sleep(0.01)
        names = [key[2] for key in warmer._queue]
        await warmer.close()
        return names

    assert asyncio.run(scenario()) == ["new.png", "changed.png"]
    assert hub.subscriber_count == 0 and not hub._subscribers


def test_the_server_warms_what_the_watcher_finds_while_the_queue_is_empty(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(thumbnail_warm.ENV_WARM, raising=False)

    async def scenario() -> None:
        host = FakeHost(tmp_path)
        state = CozyGenState(host)
        await state.startup()
        warmer = state.warmer
        try:
            assert warmer is not None and warmer.mode == "idle" and not state._comfyui_busy()
            prompt_id = host.new_prompt_id()
            host.enqueue({}, [], prompt_id=prompt_id)
            assert state._comfyui_busy()  # a prompt waits: the warm thread waits too
            assert host.remove_pending(prompt_id) and not state._comfyui_busy()
            await asyncio.to_thread(picture, tmp_path / "output" / "CozyGen" / "new.png")
            for _ in range(int(WAIT / 0.02)):
                if warmer.made == len(DEFAULT_SIZES):
                    break
                await asyncio.sleep(0.02)
            assert warmer.made == len(DEFAULT_SIZES) and len(files_in(state.thumbnails)) == len(DEFAULT_SIZES)
        finally:
            await state.shutdown()
        assert warmer._thread is not None and not warmer._thread.is_alive()

    asyncio.run(scenario())
