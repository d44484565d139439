"""core.tags.cache and api.tags' start-up: the index saved on disk, loaded again, rebuilt when the lists change or
the file is damaged, and answers with what is ready while the lists are read (issue 20)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import PROJECT

from cozygen.api import tags as tags_api
from cozygen.core.events import EventHub
from cozygen.core.tags import build as tag_build
from cozygen.core.tags import cache as tag_cache
from cozygen.core.tags import history as tag_history
from cozygen.core.tags import index as tags
from cozygen.core.tags import lists as tag_lists
from cozygen.core.tags.table import TagTable

DANBOORU_CSV = PROJECT.parent / "shared" / "data" / "danbooru.csv"
LIST = """\
1girl,0,6000000,"1girls,sole_female"
long_hair,0,4350000,"/lh,longhair"
very_long_hair,0,950000,
hair_ornament,0,1400000,"hair_ornaments"
breasts,0,3400000,"/b,boobs"
hair_bow,0,530000,"hairbow"
highres,5,5200000,"high_res,hires"
hatsune_miku,4,90000,"miku"
saber_(fate),4,80000,
fate_(series),3,300000,
wlop,1,5000,
caf\u00e9_au_lait,0,70,
"""
QUERIES = ("", "h", "ha", "hair", "long h", "boo", "fate", "miku", "/l", "caf", "zzz")


@pytest.fixture(autouse=True)
def complete_at_once(monkeypatch) -> None:
    """A loaded index is completed at once (a server waits ``COMPLETE_AFTER``: the test below)."""
    monkeypatch.setattr(tags_api, "COMPLETE_AFTER", 0.0)


def tag_folder(root: Path, text: str = LIST, name: str = "danbooru.csv") -> Path:
    folder = root / "tags"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def answers(index: tags.TagIndex) -> list:
    found = []
    for q in QUERIES:
        for kwargs in ({}, {"sort": "alpha"}, {"category": "character"}, {"min_count": 100_000}):
            result = index.search(q, limit=50, **kwargs)
            found.append((q, kwargs, result.total, [h.to_dict() for h in result.items]))
    found.append(index.validate(["long hair", "boobs", "long_hiar", "hairbow", "zz"]))
    found.append(index.categories())
    return found


def saved_and_loaded(folder: Path, path: Path) -> tag_cache.Saved | None:
    key = tag_cache.content_key(folder)
    tag_build.build(folder, path, key, lambda _stage: None)
    return tag_cache.load(path, key)


# -- the file ------------------------------------------------------------------------------
def test_a_saved_index_answers_as_a_fresh_build(tmp_path: Path) -> None:
    folder = tag_folder(tmp_path)
    saved = saved_and_loaded(folder, tmp_path / "cache" / "tags.bin")
    assert saved is not None and saved.complete
    assert saved.files == [{"name": "danbooru.csv", "tags": 12, "skipped": 0}]
    restored = tags.TagIndex(TagTable(saved.columns, lazy=True), TagTable(tag_lists.Parsed()), saved.files)
    fresh = tags.load_index(folder)
    assert answers(restored) == answers(fresh)
    restored.lists.finish()  # the lists and the name map made later change nothing
    assert answers(restored) == answers(fresh)
    assert restored.lists.id_of("long_hair") == fresh.lists.id_of("long_hair") and restored.lists.id_of("nope") is None


@pytest.mark.skipif(not DANBOORU_CSV.is_file(), reason="the shared danbooru.csv is not here")
def test_the_real_list_round_trips(tmp_path: Path) -> None:
    folder = tmp_path / "tags"
    folder.mkdir()
    os.symlink(DANBOORU_CSV, folder / "danbooru.csv")  # linked, never copied
    saved = saved_and_loaded(folder, tmp_path / "tags.bin")
    fresh = tags.load_index(folder)
    assert saved is not None and saved.columns == fresh.lists.columns()
    restored = TagTable(saved.columns, lazy=True)
    assert [restored.lookup(n) for n in ("1girl", "sole_female", "long_hair", "nope")] == [
        fresh.lists.lookup(n) for n in ("1girl", "sole_female", "long_hair", "nope")
    ]


def test_other_lists_or_another_format_are_a_miss(tmp_path: Path, monkeypatch) -> None:
    folder = tag_folder(tmp_path)
    path = tmp_path / "tags.bin"
    key = tag_cache.content_key(folder)
    assert saved_and_loaded(folder, path) is not None
    (folder / "danbooru.csv").write_text(LIST + "new_tag,0,1,\n")
    assert tag_cache.content_key(folder) != key and tag_cache.load(path, tag_cache.content_key(folder)) is None
    (folder / "danbooru.csv").write_text(LIST)
    os.utime(folder / "danbooru.csv", ns=(5, 5))  # the same bytes at another time: the same key
    assert tag_cache.content_key(folder) == key and tag_cache.load(path, key) is not None
    (folder / "e621.csv").write_text("")
    assert tag_cache.content_key(folder) != key  # a file's name counts (e621's numbering goes by it)
    (folder / "e621.csv").unlink()
    monkeypatch.setattr(tag_cache, "FORMAT", tag_cache.FORMAT + 1)
    assert tag_cache.content_key(folder) != key


def test_a_damaged_or_cut_short_file_is_a_miss(tmp_path: Path) -> None:
    folder = tag_folder(tmp_path)
    path = tmp_path / "tags.bin"
    key = tag_cache.content_key(folder)
    assert saved_and_loaded(folder, path) is not None
    data = path.read_bytes()
    header_end = len(tag_cache.MAGIC) + 4 + int.from_bytes(data[len(tag_cache.MAGIC) : len(tag_cache.MAGIC) + 4], "big")
    flipped = bytearray(data)
    flipped[header_end + 10] ^= 0x40  # a bit of a name
    damaged = [
        b"",
        data[:5],
        data[: header_end - 3],  # cut inside the header
        data[:header_end],  # the header alone
        data[:-1],  # one byte short
        data + b"\0",
        bytes(flipped),
        data.replace(b'"format":1', b'"format":"1"'),
        b"\0" * len(data),
        tag_cache.MAGIC + (2**31).to_bytes(4, "big") + data[len(tag_cache.MAGIC) + 4 :],  # a header length too large
    ]
    for bad in damaged:
        assert tag_cache.decode(bad, key) is None, bad[:40]
    path.write_bytes(data[: len(data) // 2])
    assert tag_cache.load(path, key) is None
    assert tag_cache.load(tmp_path / "missing.bin", key) is None


def test_an_id_out_of_range_is_found(tmp_path: Path) -> None:
    saved = saved_and_loaded(tag_folder(tmp_path), tmp_path / "tags.bin")
    assert saved is not None and tag_cache.ids_in_range(saved.columns)
    word_ids = saved.columns.word_ids[:]
    word_ids[0] = len(saved.columns.names)
    assert not tag_cache.ids_in_range(saved.columns._replace(word_ids=word_ids))


def test_the_file_is_replaced_whole(tmp_path: Path) -> None:
    folder = tag_folder(tmp_path)
    path = tmp_path / "cache" / "tags.bin"
    assert saved_and_loaded(folder, path) is not None
    tag_folder(tmp_path, LIST + "another,0,3,\n")
    assert saved_and_loaded(folder, path) is not None
    assert [p.name for p in path.parent.iterdir()] == ["tags.bin"]  # no temporary file left
    assert path.stat().st_mode & 0o077 == 0  # the owner's alone, as the rest of the data folder


def test_the_helper_process_saves_both_stages(tmp_path: Path) -> None:
    folder = tag_folder(tmp_path)
    path = tmp_path / "tags.bin"
    key = tag_cache.content_key(folder)
    worker = tag_build.Worker(folder, path, key)
    try:
        assert worker.next_stage() == tag_build.PREFIX
        assert worker.next_stage() == tag_build.FULL
        assert worker.next_stage() is None and worker.process.returncode == 0
    finally:
        worker.stop()
    saved = tag_cache.load(path, key)
    assert saved is not None and saved.complete and saved.columns == tags.load_index(folder).lists.columns()


# -- the service ---------------------------------------------------------------------------
def service_on(data_dir: Path, prompts: list | None = None, *, read=None) -> tags_api.TagService:
    uses = prompts if prompts is not None else [tag_history.Use(None, "cozy cabin")]
    state = SimpleNamespace(
        db_ready_data_dir=data_dir,
        job_hub=EventHub(),
        gallery_hub=EventHub(),
        db=SimpleNamespace(read=read or (lambda fn: list(uses))),
    )
    return tags_api.TagService(state)  # type: ignore[arg-type]


def names(current: tags_api.Current, q: str) -> list[str]:
    return [hit.tag for hit in current.tags.search(q).items]


def test_a_restart_loads_the_saved_index_without_reading_the_lists(tmp_path: Path, monkeypatch) -> None:
    tag_folder(tmp_path)

    async def first_start() -> None:
        service = service_on(tmp_path)
        await service.start()
        assert await service.settle(30)
        await asyncio.gather(*service._background)

    asyncio.run(first_start())
    assert tag_cache.cache_path(tmp_path).is_file()

    def no_reading(folder):
        raise AssertionError("the lists were read again")

    monkeypatch.setattr(tag_build, "stages", no_reading)
    monkeypatch.setattr(tag_build, "Worker", no_reading)

    monkeypatch.setattr(tags_api, "START_WAIT", 30.0)  # a loaded machine: still never the build's time

    async def restart() -> None:
        service = service_on(tmp_path)
        await service.start()  # the start waits for the saved index (tens of milliseconds)
        current = await service.current(wait=0)
        assert not current.partial
        assert names(current, "hair")[:2] == ["long_hair", "hair_ornament"]
        assert names(current, "coz") == ["cozy_cabin"]  # the prompts' tags are read as before
        await asyncio.gather(*service._background)

    asyncio.run(restart())


def test_the_completion_of_a_loaded_index_waits_for_the_first_searches(tmp_path: Path, monkeypatch) -> None:
    """The name map and the short answers are made ``COMPLETE_AFTER`` after the load, not beside the first
    searches; the lazy table answers the same before."""
    tag_folder(tmp_path)

    async def start(after: float) -> tuple[bool, list[str], TagTable]:
        monkeypatch.setattr(tags_api, "COMPLETE_AFTER", after)
        service = service_on(tmp_path)
        await service.start()
        assert await service.settle(30)
        current = await service.current()
        lists = current.tags.lists
        completed_at_once = lists._ids is not None
        found = names(current, "hair")
        if after:
            await service.stop()  # the waiting completion is cancelled with the service
        else:
            await asyncio.gather(*service._background)
        return completed_at_once, found, lists

    asyncio.run(start(0.0))  # a build, saved
    assert tag_cache.cache_path(tmp_path).is_file()
    completed_at_once, waiting, lists = asyncio.run(start(3600.0))
    assert not completed_at_once and lists._ids is None and not lists.parts[None].short
    completed_at_once, found, lists = asyncio.run(start(0.0))
    assert lists._ids is not None and lists.parts[None].short  # made in the background once the wait is over
    assert waiting == found and found[:2] == ["long_hair", "hair_ornament"]


@pytest.mark.parametrize("in_process", [False, True], ids=["thread", "helper process"])
def test_a_changed_or_damaged_file_is_built_again(tmp_path: Path, monkeypatch, in_process: bool) -> None:
    monkeypatch.setattr(tags_api, "IN_THREAD", 0 if in_process else 1 << 30)
    folder = tag_folder(tmp_path)
    path = tag_cache.cache_path(tmp_path)

    async def start_and_search(q: str) -> list[str]:
        service = service_on(tmp_path)
        await service.start()
        assert await service.settle(60)
        await asyncio.gather(*service._background)
        return names(await service.current(), q)

    assert asyncio.run(start_and_search("long")) == ["long_hair", "very_long_hair"]
    first = path.read_bytes()
    tag_folder(tmp_path, LIST + "long_sleeves,0,1500000,\n")
    assert asyncio.run(start_and_search("long")) == ["long_hair", "long_sleeves", "very_long_hair"]
    assert path.read_bytes() != first
    for damage in (lambda data: data[: len(data) // 3], lambda data: data[:-7] + b"garbage"):
        path.write_bytes(damage(path.read_bytes()))
        assert asyncio.run(start_and_search("long")) == ["long_hair", "long_sleeves", "very_long_hair"]
        assert tag_cache.load(path, tag_cache.content_key(folder)) is not None  # saved whole again


def test_a_search_during_the_first_build_answers_with_what_is_ready(tmp_path: Path, monkeypatch) -> None:
    """Before any stage: at once, empty but for the prompts' tags; after the prefix stage: prefix matches alone;
    each marked partial until the whole index is in."""
    monkeypatch.setattr(tags_api, "IN_THREAD", 1 << 30)  # built in a thread, which this test holds
    tag_folder(tmp_path)
    real_stages = tag_build.stages
    gates = [threading.Event(), threading.Event()]

    def held_stages(folder: Path):
        for gate, stage in zip(gates, real_stages(folder), strict=True):
            gate.wait(30)
            yield stage

    monkeypatch.setattr(tag_build, "stages", held_stages)
    monkeypatch.setattr(tags_api, "START_WAIT", 30.0)

    async def scenario() -> None:
        service = service_on(tmp_path)
        await asyncio.wait_for(service.start(), 10)  # the start never waits for a build
        # it waits for the first answerable index (the prompts'), never for the build (held here)
        before = await asyncio.wait_for(service.current(wait=30), 10)
        assert before.partial and names(before, "coz") == ["cozy_cabin"] and names(before, "long") == []
        gates[0].set()
        for _ in range(3000):
            prefix_only = await service.current()
            if len(prefix_only.tags.lists):
                break
            await asyncio.sleep(0.01)
        assert prefix_only.partial
        assert names(prefix_only, "long") == ["long_hair"]  # very_long_hair is a word start: not yet
        assert names(prefix_only, "hair") == ["hair_ornament", "hair_bow"]
        assert names(prefix_only, "coz") == ["cozy_cabin"]
        gates[1].set()
        assert await service.settle(30)
        whole = await service.current()
        assert not whole.partial and names(whole, "long") == ["long_hair", "very_long_hair"]
        assert names(whole, "boo") == ["breasts"]
        await asyncio.gather(*service._background)

    asyncio.run(scenario())


class Held:
    """tag_build.stages, each stage held until released; ``asked[i]``: the service wants stage i (so it has taken
    the one before)."""

    def __init__(self, monkeypatch) -> None:
        self.real = tag_build.stages
        self.gates = [threading.Event(), threading.Event()]
        self.asked = [threading.Event(), threading.Event()]
        monkeypatch.setattr(tags_api, "IN_THREAD", 1 << 30)  # built in a thread, which this holds
        monkeypatch.setattr(tag_build, "stages", self.stages)

    def stages(self, folder: Path):
        for gate, asked, stage in zip(self.gates, self.asked, self.real(folder), strict=True):
            asked.set()
            gate.wait(30)
            yield stage

    def again(self) -> None:
        self.gates = [threading.Event(), threading.Event()]
        self.asked = [threading.Event(), threading.Event()]


def test_a_list_added_later_answers_prefixes_first_and_a_changed_one_keeps_the_whole_index(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(tags_api, "CHECK_EVERY", 0.0)
    held = Held(monkeypatch)

    async def scenario() -> None:
        service = service_on(tmp_path, [])
        await service.start()
        assert await service.settle(30) and len((await service.current()).tags.lists) == 0  # no list yet
        tag_folder(tmp_path)
        assert (await service.current()).partial
        held.gates[0].set()
        while not held.asked[1].is_set():
            await asyncio.sleep(0.01)
        prefix_only = await service.current()
        assert prefix_only.partial and names(prefix_only, "long") == ["long_hair"]
        held.gates[1].set()
        assert await service.settle(30)
        assert names(await service.current(), "long") == ["long_hair", "very_long_hair"]

        held.again()
        tag_folder(tmp_path, LIST + "long_sleeves,0,1500000,\n")
        assert (await service.current()).partial
        held.gates[0].set()
        while not held.asked[1].is_set():
            await asyncio.sleep(0.01)
        stale = await service.current()  # the prefix stage of a rebuild replaces no whole index
        assert stale.partial and names(stale, "long") == ["long_hair", "very_long_hair"]
        held.gates[1].set()
        assert await service.settle(30)
        assert names(await service.current(), "long") == ["long_hair", "long_sleeves", "very_long_hair"]
        await asyncio.gather(*service._background)

    asyncio.run(scenario())


def test_the_prompts_not_yet_read_make_an_answer_partial(tmp_path: Path) -> None:
    tag_folder(tmp_path)
    reading = threading.Event()

    def slow_read(fn):
        reading.wait(30)
        return [tag_history.Use("ann", "cozy cabin")]

    async def scenario() -> None:
        service = service_on(tmp_path, read=slow_read)
        await service.start()
        for _ in range(3000):
            current = await service.current()
            if len(current.tags.lists) and service._lists_whole:
                break
            await asyncio.sleep(0.01)
        assert current.partial and names(current, "long") == ["long_hair", "very_long_hair"]
        assert names(current, "coz") == []
        reading.set()
        assert await service.settle(30)
        assert names(await service.current(), "coz") == ["cozy_cabin"]
        assert names(await service.current("ann"), "coz") == ["cozy_cabin"]
        assert names(await service.current("bob"), "coz") == []  # per user, as before
        await asyncio.gather(*service._background)

    asyncio.run(scenario())


def test_nothing_is_read_or_started_at_construction(tmp_path: Path) -> None:
    tag_folder(tmp_path)
    service = service_on(tmp_path, read=lambda fn: pytest.fail("the prompts were read"))
    assert service._index is None and service._loading is None and not service._background
    assert not tag_cache.cache_path(tmp_path).exists()
    assert Counter() == service._owner_counts("anyone")
