"""Tag autocomplete under ``gallery_visibility: per_user``: the words learnt from prompts are their owner's.

Alice's job prompt in the household is "alicesecret lighthouse at dusk". Bob (a user) and vera (a viewer)
get the tag lists and their own prompts' tags only; alice gets hers; the admin gets everyone's.
"""

from __future__ import annotations

import time
from typing import Any

from household import Household
from support import get, post

SECRET = "alicesecret"


def search(home: Household, who: str, q: str, **params: Any) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in {"q": q, "limit": 200, **params}.items())
    reply = get(f"{home.url}/cozygen/api/tags/search?{query}", headers=home.as_(who))
    assert reply.status == 200, reply.body
    return reply.json()


def tags_of(found: dict[str, Any]) -> list[str]:
    return [item["tag"] for item in found["items"]]


def learnt(home: Household, who: str) -> list[str]:
    """``who``'s suggestions for alice's word, once the server has read alice's prompt (it reads prompts in
    the background after a job ends): waits until alice herself is offered it."""
    deadline = time.monotonic() + 60
    while not any(SECRET in tag for tag in tags_of(search(home, "alice", SECRET))):
        assert time.monotonic() < deadline, "alice's own prompt never became a tag suggestion for her"
        time.sleep(0.2)
    return tags_of(search(home, who, SECRET))


def test_alice_and_the_admin_are_offered_alices_word(household: Household) -> None:
    assert any(tag.startswith(SECRET) for tag in learnt(household, "alice"))
    assert any(tag.startswith(SECRET) for tag in learnt(household, "admin"))
    hit = next(i for i in search(household, "alice", SECRET)["items"] if i["tag"].startswith(SECRET))
    assert hit["source"] == "history"


def test_bob_and_vera_are_not_offered_alices_word(household: Household) -> None:
    for who in ("bob", "vera"):
        assert learnt(household, who) == [], who
        for q in ("alice", "a", "al", "alicesecret_lighthouse", "lighthouse", "dusk"):
            assert not any(SECRET in tag for tag in tags_of(search(household, who, q))), (who, q)
        browsed = search(household, who, "", category="general", sort="alpha")
        assert not any(SECRET in tag for tag in tags_of(browsed)), who


def test_validate_does_not_confirm_or_suggest_alices_word(household: Household) -> None:
    learnt(household, "alice")
    word = next(t for t in tags_of(search(household, "alice", SECRET)) if t.startswith(SECRET))
    near = word[:-1]  # one edit away: a suggestion would name alice's word
    for who in ("bob", "vera"):
        reply = post(f"{household.url}/cozygen/api/tags/validate", {"tags": [word, near]}, headers=household.as_(who))
        assert reply.status == 200, reply.body
        body = reply.json()
        assert body["invalid"] == [word, near], (who, body)
        assert body["suggestions"] == {word: [], near: []}, (who, body)
    for who in ("alice", "admin"):
        reply = post(f"{household.url}/cozygen/api/tags/validate", {"tags": [word, near]}, headers=household.as_(who))
        body = reply.json()
        assert body["invalid"] == [near] and word in body["suggestions"][near], (who, body)


def test_a_viewer_has_learnt_nothing(household: Household) -> None:
    learnt(household, "alice")
    reply = get(f"{household.url}/cozygen/api/tags/categories", headers=household.as_("vera"))
    assert reply.status == 200 and reply.json()["history"] == 0, reply.body
    assert get(f"{household.url}/cozygen/api/tags/categories", headers=household.as_("admin")).json()["history"] >= 1
