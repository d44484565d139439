"""Routing, pure: who can run a graph, the pin, the shortest queue, ties to the local ComfyUI, max_jobs as a cap
(all full: held, not refused), and the 409 that names what each backend lacks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cozygen.core.backends.model import DOWN, LOCAL_ID, UNKNOWN, UP, Backend
from cozygen.core.backends.routing import Candidate, choose, find_pin, ranked, spread
from cozygen.core.errors import BadRequest, Conflict

LOCAL = Backend(id=LOCAL_ID, name="local", url=None)
ATTIC = Backend(id="b1", name="attic", url="http://10.0.0.2:8188")
DEN = Backend(id="b2", name="Den", url="http://10.0.0.3:8188", max_jobs=2)


def best(candidates: list[Candidate], pinned: Backend | None = None) -> Backend | None:
    found = choose(candidates, pinned)
    return found.backend if found is not None else None


def test_ties_go_to_the_local_comfyui_and_the_shorter_queue_wins() -> None:
    local, attic = replace(LOCAL, max_jobs=8), replace(ATTIC, max_jobs=8)
    assert best([Candidate(attic, UP), Candidate(local, UP)]) is local
    assert best([Candidate(local, UP, queued=2), Candidate(attic, UP, mine=1)]) is attic
    assert best([Candidate(local, UP, queued=1), Candidate(attic, UP, mine=1, queued=3)]) is local


def test_max_jobs_is_a_cap_all_full_is_held_not_refused() -> None:
    full = [Candidate(LOCAL, UP, queued=1), Candidate(DEN, UP, mine=1, queued=2)]
    assert best(full) is DEN  # the local one holds its max_jobs (its whole queue counts); the den takes two
    full[1].mine = 2
    assert ranked(full) == [] and best(full) is None  # both full: held
    assert best([Candidate(ATTIC, UP, queued=9)]) is ATTIC  # another client's prompts there are not CozyGen's
    assert best(full, DEN) is None  # pinned to a full one: held for it, never sent elsewhere
    with pytest.raises(Conflict):
        choose([*full, Candidate(ATTIC, DOWN)], ATTIC)  # able never (down): still a 409


def test_only_enabled_backends_that_are_up_and_lack_nothing_are_candidates() -> None:
    off = Backend(id="b3", name="off", url="http://10.0.0.4:8188", enabled=False)
    found = [Candidate(LOCAL, UP, ["file x.safetensors (CheckpointLoaderSimple.ckpt_name)"]), Candidate(ATTIC, DOWN),
             Candidate(DEN, UNKNOWN), Candidate(off, UP)]  # fmt: skip
    assert ranked(found) == []
    with pytest.raises(Conflict) as refused:
        choose(found)
    assert refused.value.code == "NO_BACKEND" and refused.value.status == 409
    by_name = {b["name"]: b for b in refused.value.extra["backends"]}
    assert by_name["local"]["missing"] == ["file x.safetensors (CheckpointLoaderSimple.ckpt_name)"]
    assert by_name["attic"]["state"] == DOWN and by_name["off"]["state"] == "disabled"
    assert "local lacks file x.safetensors" in refused.value.message


def test_a_pin_keeps_one_backend_by_id_or_name_and_refuses_the_unknown() -> None:
    backends = [LOCAL, ATTIC, DEN]
    assert find_pin(backends, None) is None and find_pin(backends, "any") is None and find_pin(backends, " ") is None
    assert find_pin(backends, "b1") is ATTIC and find_pin(backends, "den") is DEN
    for bad in ("nowhere", 3):
        with pytest.raises(BadRequest):
            find_pin(backends, bad)
    found = [Candidate(LOCAL, UP), Candidate(ATTIC, UP, queued=5)]
    assert choose(found, ATTIC).backend is ATTIC
    with pytest.raises(Conflict) as refused:
        choose([Candidate(LOCAL, UP), Candidate(ATTIC, UP, ["node Foo"])], ATTIC)
    assert [b["name"] for b in refused.value.extra["backends"]] == ["attic"]  # only the pinned one is named


def test_a_job_of_several_prompts_is_spread_as_the_queues_grow() -> None:
    chosen = spread([Candidate(replace(LOCAL, max_jobs=2), UP), Candidate(replace(ATTIC, max_jobs=2), UP)], 5)
    assert [c.backend.name if c else None for c in chosen] == ["local", "attic", "local", "attic", None]
