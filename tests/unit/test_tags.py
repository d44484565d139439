"""core.tags.index: tagcomplete CSV lists and the user's prompts, indexed and searched; api.tags' reload on change."""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import PROJECT

from cozygen.api import tags as tags_api
from cozygen.core.events import EventHub
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS
from cozygen.core.tags import history as tag_history
from cozygen.core.tags import index as tags
from cozygen.core.tags import lists as tag_lists

DANBOORU_CSV = PROJECT.parent / "shared" / "data" / "danbooru.csv"
real_list = pytest.mark.skipif(not DANBOORU_CSV.is_file(), reason="the shared danbooru.csv is not here")

SAMPLE = """\
1girl,0,6000000,"1girls,sole_female"
long_hair,0,4350000,"/lh,longhair"
very_long_hair,0,950000,
hair_ornament,0,1400000,"hair_ornaments"
hairband,0,470000,
breasts,0,3400000,"/b,boobs,oppai"
bow,0,900000,
hair_bow,0,530000,"hairbow"
long_sleeves,0,1500000,
highres,5,5200000,"high_res,hires"
hatsune_miku,4,90000,"miku"
saber_(fate),4,80000,
fate_(series),3,300000,
wlop,1,5000,
name only
broken,zero,1,
negative,0,-5,
,0,10,
"quoted,name",0,7,"a b,  c_d  "
"""


def index_of(text: str, history: Counter | None = None) -> tags.TagIndex:
    parsed = tag_lists.Parsed()
    rows, parsed.skipped = tag_lists.parse_csv(text)
    tag_lists.merge_rows(parsed, rows, e621=False)
    return tags.TagIndex.build(parsed, history)


@pytest.fixture(scope="module")
def sample() -> tags.TagIndex:
    return index_of(SAMPLE)


def names(found: tags.Found) -> list[str]:
    return [hit.tag for hit in found.items]


# -- reading -------------------------------------------------------------------------------
def test_parse_reads_quotes_and_aliases_and_skips_bad_lines() -> None:
    rows, skipped = tag_lists.parse_csv(SAMPLE)
    by_name = {r[0]: r for r in rows}
    assert by_name["1girl"] == ("1girl", 0, 6000000, ["1girls", "sole_female"])
    assert by_name["quoted,name"] == ("quoted,name", 0, 7, ["a_b", "c_d"])  # spaces in aliases become underscores
    assert by_name["very_long_hair"][3] == []
    assert by_name["name_only"] == ("name_only", 0, 0, [])  # a bare name: general, no count
    assert "broken" not in by_name and "negative" not in by_name and "" not in by_name
    assert skipped == 3
    assert tag_lists.parse_csv("name,category,post_count,aliases\nx,0,1,\n") == ([("x", 0, 1, [])], 1)  # a header


def test_categories_follow_danbooru_or_e621_numbering(tmp_path: Path) -> None:
    assert [tag_lists.category_of(n, e621=False) for n in (0, 1, 3, 4, 5, 2, 9)] == [
        "general", "artist", "copyright", "character", "meta", "general", "general",
    ]  # fmt: skip
    assert [tag_lists.category_of(n, e621=True) for n in (0, 1, 3, 4, 5, 6, 7, 8)] == [
        "general", "artist", "copyright", "character", "species", "invalid", "meta", "lore",
    ]  # fmt: skip
    (tmp_path / "e621.csv").write_text("canine,5,900,\nwolf,5,800,\n")
    (tmp_path / "danbooru.csv").write_text("highres,5,5000,\n")
    (tmp_path / "other.csv").write_text("fox,5,10,\nferal,6,3,\n")  # 6 only exists in e621's numbering
    (tmp_path / "notes.txt").write_text("ignored,0,1,\n")
    index = tags.TagIndex.build(tag_lists.read_folder(tmp_path))
    category = {hit.tag: hit.category for hit in index.search("", limit=200).items}
    assert category == {
        "highres": "meta", "canine": "species", "wolf": "species", "fox": "species", "feral": "invalid",
    }  # fmt: skip
    assert {c["key"]: c["count"] for c in index.categories()} == {"species": 3, "meta": 1, "invalid": 1}
    assert [f["name"] for f in index.files] == ["danbooru.csv", "e621.csv", "other.csv"]


def test_files_merge_with_the_larger_count_and_all_aliases(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('long_hair,0,100,"lh"\nsolo,0,50,\n')
    (tmp_path / "b.csv").write_text('long_hair,4,900,"longhair,lh"\nsolo,4,10,"alone"\n')
    index = tags.TagIndex.build(tag_lists.read_folder(tmp_path))
    hits = {hit.tag: hit for hit in index.search("", limit=10).items}
    assert (hits["long_hair"].count, hits["long_hair"].category) == (900, "character")
    assert (hits["solo"].count, hits["solo"].category) == (50, "general")
    assert index.validate(["lh", "longhair", "alone"])["aliases"] == {
        "lh": "long_hair",
        "longhair": "long_hair",
        "alone": "solo",
    }
    assert len(index) == 2


# -- searching -----------------------------------------------------------------------------
def test_prefix_word_start_and_alias_blend_by_count(sample: tags.TagIndex) -> None:
    found = sample.search("hair")  # a far more used word start (long_hair) beats the prefix matches
    assert [(h.tag, h.match) for h in found.items] == [
        ("long_hair", "word"),
        ("hair_ornament", "prefix"),
        ("hair_bow", "prefix"),
        ("hairband", "prefix"),
        ("very_long_hair", "word"),
    ]
    assert found.total == 5
    bow = sample.search("bow")
    assert [(h.tag, h.match) for h in bow.items] == [("bow", "prefix"), ("hair_bow", "word")]
    boo = sample.search("boo")
    assert [(h.tag, h.match, h.alias) for h in boo.items] == [("breasts", "alias", "boobs")]
    assert boo.items[0].to_dict() == {
        "tag": "breasts", "count": 3400000, "category": "general", "match": "alias", "alias": "boobs",
    }  # fmt: skip


def test_a_tag_appears_once_in_its_first_kind(sample: tags.TagIndex) -> None:
    found = sample.search("long")  # long_hair matches by prefix; its alias "longhair" must not repeat it
    assert names(found) == ["long_hair", "long_sleeves", "very_long_hair"]
    assert [h.match for h in found.items] == ["prefix", "prefix", "word"]
    assert names(sample.search("h")) == [
        "highres", "long_hair", "hair_ornament", "hair_bow", "hairband", "very_long_hair", "hatsune_miku",
    ]  # fmt: skip
    assert sample.search("h").total == 7 and sample.search("h", limit=2, offset=4).total == 7


def test_spaces_and_underscores_are_the_same(sample: tags.TagIndex) -> None:
    assert names(sample.search("long hair")) == names(sample.search("long_hair")) == ["long_hair", "very_long_hair"]
    assert names(sample.search("  Long   HAIR ")) == ["long_hair", "very_long_hair"]
    assert names(sample.search("fate")) == ["fate_(series)", "saber_(fate)"]  # a word starts after "(" too


def test_category_min_count_paging_and_alpha(sample: tags.TagIndex) -> None:
    assert names(sample.search("", category="character")) == ["hatsune_miku", "saber_(fate)"]
    assert names(sample.search("h", category="meta")) == ["highres"]
    assert names(sample.search("mi", category="character")) == ["hatsune_miku"]  # an alias? no: word start
    assert sample.search("miku").items[0].match == "word"
    assert names(sample.search("hair", min_count=600000)) == ["long_hair", "hair_ornament", "very_long_hair"]
    assert sample.search("hair", min_count=600000).total == 3
    pages = [names(sample.search("h", limit=3, offset=o)) for o in (0, 3, 6, 9)]
    assert pages == [
        ["highres", "long_hair", "hair_ornament"],
        ["hair_bow", "hairband", "very_long_hair"],
        ["hatsune_miku"],
        [],
    ]
    assert names(sample.search("hair", sort="alpha")) == [
        "hair_bow", "hair_ornament", "hairband", "long_hair", "very_long_hair",
    ]  # fmt: skip
    assert sample.search("zzz").total == 0 and sample.search("h", category="lore").items == []


def test_history_tags_join_the_lists(sample: tags.TagIndex) -> None:
    history = tag_history.history_counts(
        [
            "(masterpiece:1.2), long hair, cozy cabin, <lora:x:0.8>",
            "masterpiece, cozy cabin, ((cozy lamp)), boobs",
            "Cozy Cabin, a very long sentence that is clearly not a tag at all because it rambles on",
        ]
    )
    assert history == Counter({"cozy_cabin": 3, "masterpiece": 2, "long_hair": 1, "cozy_lamp": 1, "boobs": 1})
    index = tags.TagIndex.build(tag_lists.Parsed.of({"cozy": (5, "general", [])}), history)
    assert len(index.history) == 5  # every tag no list knows
    found = index.search("coz")
    assert [(h.tag, h.count, h.source) for h in found.items] == [
        ("cozy", 5, "list"), ("cozy_cabin", 3, "history"), ("cozy_lamp", 1, "history"),
    ]  # fmt: skip
    assert found.items[1].to_dict()["source"] == "history" and "source" not in found.items[0].to_dict()
    with_lists = index_of(SAMPLE, history)
    assert with_lists.history.id_of("boobs") is None and with_lists.history.id_of("long_hair") is None  # listed
    assert with_lists.validate(["cozy cabin"])["invalid"] == []
    assert {c["key"]: c["count"] for c in index.categories()} == {"general": 6}


def test_prompt_pieces_become_tags() -> None:
    assert tag_history.prompt_tag("(long hair:1.3)") == "long_hair"
    assert tag_history.prompt_tag("[[blue eyes]]") == "blue_eyes"
    assert tag_history.prompt_tag("saber \\(fate\\)") == "saber_(fate)"
    assert tag_history.prompt_tag("(saber_(fate):1.1)") == "saber_(fate)"
    assert tag_history.prompt_tag("12:00") == "12:00"
    assert tag_history.prompt_tags("a, embedding:bad, BREAK, <lora:y:1>, \n b") == {"a", "b"}


def test_history_reads_jobs_and_gallery_once_per_prompt(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite3")
    db.open(MIGRATIONS)

    def fill(conn) -> None:
        job = (
            "INSERT INTO jobs (id, prompt_id, status, params_json, created_at, prompt_ids_json, username) "
            "VALUES (?,?,?,?,?,?,?)"
        )
        conn.execute(job, ("j1", "p1", "completed", json.dumps({"prompt": "cat, hat"}), 1.0, '["p1", "p2"]', "ann"))
        conn.execute(job, ("j2", "p3", "completed", json.dumps({"seed": 1}), 2.0, "[]", "ann"))
        conn.execute(job, ("j3", "p4", "completed", json.dumps({"prompt": "owl"}), 3.0, "[]", "ben"))
        conn.execute(job, ("j4", "p5", "completed", json.dumps({"prompt": "fox"}), 4.0, "[]", None))  # auth off
        media = (
            "INSERT INTO media (root, subfolder, filename, kind, size, mtime, mtime_ns, prompt_id, positive) "
            "VALUES ('output', '', ?, 'image', 1, 1, 1, ?, ?)"
        )
        conn.execute(media, ("a.png", "p1", "cat, hat"))  # the job's own image: counted with the job
        conn.execute(media, ("b.png", None, "cat, dog"))
        conn.execute(media, ("c.png", "p9", "dog"))  # no job made it: nobody's
        conn.execute(media, ("d.png", "p2", "cat, hat"))  # the second image of ann's job: counted with it
        conn.execute(media, ("e.png", "", "elk"))

    db.submit_write(fill).result()
    try:
        uses = db.read(tag_history.read_history)
    finally:
        db.close()
    assert tag_history.history_counts(u.prompt for u in uses) == Counter(
        {"cat": 3, "hat": 2, "dog": 2, "owl": 1, "fox": 1, "elk": 1}
    )
    by_owner = tag_history.counts_by_owner(uses)
    assert by_owner == {
        "ann": Counter({"cat": 2, "hat": 2}),  # one job, two prompts (images)
        "ben": Counter({"owl": 1}),
        None: Counter({"cat": 1, "dog": 2, "fox": 1, "elk": 1}),
    }
    assert tag_history.everyone(by_owner) == tag_history.history_counts(u.prompt for u in uses)


def test_gallery_images_belong_to_the_user_whose_job_saved_them(tmp_path: Path) -> None:
    """An image whose job is older than the jobs read still counts as its owner's (through job_prompts)."""
    db = Database(tmp_path / "db.sqlite3")
    db.open(MIGRATIONS)

    def fill(conn) -> None:
        conn.execute(
            "INSERT INTO jobs (id, prompt_id, status, params_json, created_at, username) VALUES (?,?,?,?,?,?)",
            ("j1", "p1", "completed", json.dumps({"seed": 1}), 1.0, "ann"),
        )
        conn.execute(
            "INSERT INTO media (root, subfolder, filename, kind, size, mtime, mtime_ns, prompt_id, positive) "
            "VALUES ('output', '', 'a.png', 'image', 1, 1, 1, 'p1', 'secret lighthouse')"
        )

    db.submit_write(fill).result()
    try:
        uses = db.read(tag_history.read_history)
    finally:
        db.close()
    assert uses == [tag_history.Use("ann", "secret lighthouse")]


# -- validating ----------------------------------------------------------------------------
def test_validate_resolves_aliases_and_suggests_near_misses(sample: tags.TagIndex) -> None:
    answer = sample.validate(
        ["long hair", "Boobs", "long_hiar", "hair-bow", "(hairband:1.2)", "long hair", 5, " ", "zzzzzzzz", "longhiar"]
    )
    assert answer["invalid"] == ["long_hiar", "hair-bow", "zzzzzzzz", "longhiar"]
    assert answer["aliases"] == {"Boobs": "breasts"}
    assert answer["suggestions"]["long_hiar"][0] == "long_hair"
    assert answer["suggestions"]["hair-bow"][0] == "hair_bow"
    assert answer["suggestions"]["longhiar"][0] == "long_hair"  # one edit from the alias "longhair"
    assert answer["suggestions"]["zzzzzzzz"] == []
    assert all(len(s) <= 5 for s in answer["suggestions"].values())


# -- the real list -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def danbooru(tmp_path_factory: pytest.TempPathFactory) -> tags.TagIndex:
    folder = tmp_path_factory.mktemp("tags")
    os.symlink(DANBOORU_CSV, folder / "danbooru.csv")  # linked, never copied
    return tags.load_index(folder)


@real_list
def test_real_list_autocompletes(danbooru: tags.TagIndex) -> None:
    assert len(danbooru) == 140782
    assert names(danbooru.search("long_h", limit=3)) == ["long_hair", "very_long_hair", "low-tied_long_hair"]
    assert names(danbooru.search("long_h", limit=3, sort="alpha")) == [
        "long_hair", "long_hair_between_eyes", "long_hoodie",
    ]  # fmt: skip
    assert names(danbooru.search("long h", limit=1)) == ["long_hair"]
    hair = danbooru.search("hair", limit=200)
    words = [h.tag for h in hair.items if h.match == "word"]
    assert names(hair)[:4] == ["long_hair", "hair_ornament", "hair_between_eyes", "short_hair"]
    assert words[:2] == ["long_hair", "short_hair"]
    assert names(danbooru.search("l", limit=2)) == ["long_hair", "looking_at_viewer"]
    assert danbooru.search("l").total > 9000
    lh = danbooru.search("/lh").items[0]
    assert (lh.tag, lh.match, lh.alias) == ("long_hair", "alias", "/lh")
    counts = [h.count for h in danbooru.search("bl", limit=200).items if h.match == "prefix"]
    assert counts == sorted(counts, reverse=True) and len(counts) > 150  # word starts blend in
    characters = danbooru.search("hatsune", category="character").items
    assert characters[0].tag == "hatsune_miku" and {h.category for h in characters} == {"character"}
    assert danbooru.search("h", category="meta").items[0].tag == "highres"
    assert {c["key"] for c in danbooru.categories()} == {"general", "artist", "copyright", "character", "meta"}


@real_list
def test_real_list_validates(danbooru: tags.TagIndex) -> None:
    answer = danbooru.validate(["1girl", "solo", "blonde_har", "sole_female", "looking at viewr"])
    assert answer["invalid"] == ["blonde_har", "looking at viewr"]
    assert answer["aliases"] == {"sole_female": "1girl"}
    assert answer["suggestions"]["blonde_har"][0] == "blonde_hair"
    assert answer["suggestions"]["looking at viewr"][0] == "looking_at_viewer"


@real_list
def test_search_agrees_with_a_linear_scan(danbooru: tags.TagIndex) -> None:
    table = danbooru.lists
    for q in ("a", "ha", "hai", "long_", "(fa", "sword"):
        prefix = [n for n in table.names if n.startswith(q)]
        word = [n for n in table.names if not n.startswith(q) and ("_" + q in n or "(" + q in n)]
        found = danbooru.search(q, limit=200, sort="alpha")
        assert found.total >= len(prefix) + len(word)
        expected = (sorted(prefix) + sorted(word))[:200]
        assert [h.tag for h in found.items if h.match != "alias"][: len(expected)] == expected, q
        counts = dict(zip(table.names, table.counts, strict=True))
        score = {n: math.log(counts[n] + 1) + (math.log(3) if n in prefix else 0.0) for n in prefix + word}
        score.pop(q, None)
        blended = ([q] if q in counts else []) + sorted(score, key=lambda n: (-score[n], n))
        found = danbooru.search(q, limit=200)
        shown = [h.tag for h in found.items if h.match != "alias"]  # aliases are blended in too
        assert shown == blended[: len(shown)] and len(shown) >= min(150, len(blended)), q


# -- reload on change (api.tags) -----------------------------------------------------------
async def settled(service: tags_api.TagService, owner: str | None = None) -> tags.TagIndex:
    """The service's index once whole (the lists and the prompts read)."""
    assert await service.settle(30)
    return await service.index(owner)


def test_the_service_loads_lazily_and_reloads_when_a_list_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tags_api, "CHECK_EVERY", 0.0)
    monkeypatch.setattr(tags_api, "HISTORY_EVERY", 0.0)
    prompts = [tag_history.Use(None, "cozy cabin")]
    state = SimpleNamespace(
        db_ready_data_dir=tmp_path,
        job_hub=EventHub(),
        gallery_hub=EventHub(),
        db=SimpleNamespace(read=lambda fn: list(prompts)),
    )
    service = tags_api.TagService(state)  # type: ignore[arg-type]
    assert service._index is None  # nothing at construction

    async def scenario() -> None:
        first = await settled(service)
        assert len(first.lists) == 0 and first.history.names == ["cozy_cabin"]
        folder = tmp_path / "tags"
        folder.mkdir()
        (folder / "danbooru.csv").write_text("long_hair,0,10,\n")
        assert names((await settled(service)).search("long")) == ["long_hair"]
        (folder / "danbooru.csv").write_text("long_hair,0,10,\nlong_sleeves,0,20,\n")
        os.utime(folder / "danbooru.csv", ns=(1, 1))
        assert names((await settled(service)).search("long")) == ["long_sleeves", "long_hair"]
        prompts.append(tag_history.Use("ann", "lamp"))
        state.job_hub.publish("job.completed", {})
        await service.index()  # notices the event, reads the prompts in the background
        for _ in range(100):
            if (await service.index()).history.id_of("lamp") is not None:
                break
            await asyncio.sleep(0.01)
        assert (await service.index()).history.id_of("lamp") is not None
        (folder / "danbooru.csv").unlink()
        assert len((await settled(service)).lists) == 0

    asyncio.run(scenario())


def test_each_user_is_suggested_the_lists_and_their_own_prompts_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tags_api, "HISTORY_EVERY", 0.0)
    (tmp_path / "tags").mkdir()
    (tmp_path / "tags" / "danbooru.csv").write_text("lighthouse,0,10,\n")
    uses = [
        tag_history.Use("alice", "alicesecret, lighthouse"),
        tag_history.Use("bob", "bobsecret"),
        tag_history.Use(None, "oldsecret"),  # nobody's: the admins'
    ]
    state = SimpleNamespace(
        db_ready_data_dir=tmp_path, job_hub=EventHub(), gallery_hub=EventHub(), db=SimpleNamespace(read=lambda fn: uses)
    )
    service = tags_api.TagService(state)  # type: ignore[arg-type]

    async def scenario() -> None:
        every = await settled(service)
        assert sorted(every.history.names) == ["alicesecret", "bobsecret", "oldsecret"]
        alice, bob, vera = [await service.index(who) for who in ("alice", "bob", "vera")]
        assert names(alice.search("alice")) == ["alicesecret"] and alice.history.names == ["alicesecret"]
        assert names(bob.search("alice")) == [] and names(bob.search("bob")) == ["bobsecret"]
        assert names(bob.search("old")) == [] and names(every.search("old")) == ["oldsecret"]
        assert names(vera.search("alice")) == [] and len(vera.history) == 0
        assert names(vera.search("light")) == ["lighthouse"]  # the lists are everyone's
        assert bob.validate(["alicesecret"])["invalid"] == ["alicesecret"]
        assert "alicesecret" not in bob.validate(["alicesecre"])["suggestions"]["alicesecre"]
        assert alice.validate(["alicesecret"])["invalid"] == []
        assert {c["key"]: c["count"] for c in bob.categories()} == {"general": 2}
        assert await service.index("bob") is bob  # kept
        uses.append(tag_history.Use("bob", "bobsecond"))
        state.job_hub.publish("job.completed", {})
        for _ in range(200):
            if (await service.index("bob")).history.id_of("bobsecond") is not None:
                break
            await asyncio.sleep(0.01)
        assert sorted((await service.index("bob")).history.names) == ["bobsecond", "bobsecret"]
        assert (await service.index("alice")).history.names == ["alicesecret"]

    asyncio.run(scenario())
