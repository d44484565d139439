"""Routing, pure: who can run a graph, the pin, the shortest queue, ties to the local ComfyUI, and the 409 that
names what each backend lacks."""

from __future__ import annotations

import pytest

from cozygen.core.backends.model import DOWN, LOCAL_ID, UNKNOWN, UP, Backend
from cozygen.core.backends.routing import Candidate, choose, find_pin, ranked, spread
from cozygen.core.errors import BadRequest, Conflict

LOCAL = Backend(id=LOCAL_ID, name="local", url=None)
ATTIC = Backend(id="b1", name="attic", url="http://10.0.0.2:8188")
DEN = Backend(id="b2", name="Den", url="http://10.0.0.3:8188", max_jobs=2)


def test_ties_go_to_the_local_comfyui_and_the_shorter_queue_wins() -> None:
    assert choose([Candidate(ATTIC, UP), Candidate(LOCAL, UP)]).backend is LOCAL
    assert choose([Candidate(LOCAL, UP, queued=2), Candidate(ATTIC, UP, mine=1)]).backend is ATTIC
    assert choose([Candidate(LOCAL, UP, queued=1), Candidate(ATTIC, UP, mine=1, queued=3)]).backend is LOCAL
    full = [Candidate(LOCAL, UP, mine=1, queued=1), Candidate(DEN, UP, mine=1, queued=2)]
    assert choose(full).backend is DEN  # the local one holds its max_jobs; the den takes two


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
    chosen = spread([Candidate(LOCAL, UP), Candidate(ATTIC, UP)], 4)
    assert [c.backend.name for c in chosen] == ["local", "attic", "local", "attic"]
