"""Shared stores in a household: who may change the workflows everyone sees, the aliases, presets and caches.

The rule: a shipped workflow, the aliases and the thumbnail cache are changed by admins only; a workflow a
user saved by that user and admins; presets are each user's own. A refused change is a 403 JSON error that
says what to do, and changes nothing. Spoon Feeder's workflow mount obeys the same rule.
"""

from __future__ import annotations

from typing import Any

from household import Household
from support import Reply, get, post, request

SHIPPED = "cozygen_procedural_form.json"
SF = "/cozygen/compat/spoonfeeder/api/comfyui/workflows"


def graph(width: int) -> dict[str, Any]:
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": width, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "shared_stores"}},
    }


def refused(reply: Reply, code: str | None = None) -> dict[str, Any]:
    assert reply.status == 403, (reply.status, reply.body)
    body = reply.json()
    assert isinstance(body.get("error"), str) and body["error"].strip(), body
    assert isinstance(body.get("code"), str) and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def workflow(home: Household, name: str) -> Any:
    reply = get(f"{home.url}/cozygen/workflows/{name}", headers=home.as_("admin"))
    assert reply.status == 200, reply.body
    return reply.json()


def save(home: Household, who: str, name: str, data: Any) -> Reply:
    return post(f"{home.url}/cozygen/workflows/{name}", data, headers=home.as_(who))


def alices(home: Household, name: str) -> str:
    """A workflow alice saves (hers), as ``graph(16)``."""
    saved = save(home, "alice", name, graph(16))
    assert saved.status == 200 and saved.json() == {"status": "ok", "filename": name}, saved.body
    return name


def test_a_shipped_workflow_is_changed_by_admins_only(household: Household) -> None:
    before = workflow(household, SHIPPED)
    for who in ("alice", "bob"):
        for name in (SHIPPED, SHIPPED.upper(), SHIPPED.removesuffix(".json")):
            body = refused(save(household, who, name, graph(99)), "SHIPPED_WORKFLOW")
            assert "admin" in body["error"] and "another name" in body["error"]
    refused(save(household, "vera", SHIPPED, graph(99)))  # a viewer changes nothing at all
    assert workflow(household, SHIPPED) == before
    assert (
        SHIPPED.upper()
        not in get(f"{household.url}/cozygen/workflows", headers=household.as_("bob")).json()["workflows"]
    )


def test_a_users_workflow_is_changed_by_them_and_admins(household: Household) -> None:
    mine = alices(household, "shared_stores_alice.json")
    refused(save(household, "bob", mine, graph(99)), "NOT_YOUR_WORKFLOW")
    refused(save(household, "bob", mine.upper(), graph(99)), "NOT_YOUR_WORKFLOW")
    assert workflow(household, mine) == graph(16)
    assert save(household, "alice", mine, graph(24)).status == 200
    assert workflow(household, mine) == graph(24)
    assert save(household, "admin", mine, graph(32)).status == 200
    assert save(household, "alice", mine, graph(40)).status == 200  # still hers after an admin's change
    assert workflow(household, mine) == graph(40)
    bobs = save(household, "bob", "shared_stores_bob.json", graph(8))  # a new name is anyone's to take
    assert bobs.status == 200, bobs.body
    refused(save(household, "alice", "shared_stores_bob.json", graph(99)), "NOT_YOUR_WORKFLOW")


def test_workflow_types_follow_the_workflows(household: Household) -> None:
    mine = alices(household, "shared_stores_typed.json")
    url = f"{household.url}/cozygen/api/workflow_types"
    before = get(url, headers=household.as_("admin")).json()["workflows"]
    refused(post(url, {"workflow": SHIPPED, "mode": "i2v"}, headers=household.as_("bob")), "SHIPPED_WORKFLOW")
    refused(post(url, {"workflow": mine, "mode": "i2v"}, headers=household.as_("bob")), "NOT_YOUR_WORKFLOW")
    assert get(url, headers=household.as_("admin")).json()["workflows"] == before
    typed = post(url, {"workflow": mine, "mode": "t2i"}, headers=household.as_("alice"))
    assert typed.status == 200 and typed.json()["workflows"][mine] == "text-to-image", typed.body
    assert post(url, {"workflow": SHIPPED, "mode": "t2i"}, headers=household.as_("admin")).status == 200


def test_the_aliases_are_changed_by_admins_only(household: Household) -> None:
    url = f"{household.url}/cozygen/api/aliases"
    before = get(url, headers=household.as_("bob")).json()
    for who in ("alice", "bob", "vera"):
        refused(post(url, {"items": {"shared_stores": f"{who} was here"}}, headers=household.as_(who)))
    assert get(url, headers=household.as_("admin")).json() == before
    changed = post(url, {**before, "items": {**before.get("items", {}), "shared_stores": "lamplight"}},
                   headers=household.as_("admin"))  # fmt: skip
    assert changed.status == 200, changed.body
    assert get(url, headers=household.as_("bob")).json()["items"]["shared_stores"] == "lamplight"


def test_presets_are_each_users_own(household: Household) -> None:
    url = f"{household.url}/cozygen/api/workflow_presets"
    made = post(url, {"workflow": SHIPPED, "preset": {"name": "Dusk", "values": {"steps": 2}}},
                headers=household.as_("alice"))  # fmt: skip
    assert made.status == 200, made.body
    hers = made.json()["preset"]
    bobs = post(url, {"workflow": SHIPPED, "preset": {"id": hers["id"], "name": "Dusk", "values": {"steps": 9}}},
                headers=household.as_("bob"))  # fmt: skip
    assert bobs.status == 200 and bobs.json()["user"] == "bob" and bobs.json()["preset"]["id"] != hers["id"]
    deleted = post(url, {"workflow": SHIPPED, "delete": hers["id"]}, headers=household.as_("bob"))
    assert deleted.status == 200 and hers["id"] not in [p["id"] for p in deleted.json()["presets"]]
    refused(post(url, {"workflow": SHIPPED, "delete": hers["id"]}, headers=household.as_("vera")))
    kept = get(f"{url}?workflow={SHIPPED}", headers=household.as_("alice")).json()["presets"]
    assert [(p["id"], p["values"]) for p in kept] == [(hers["id"], {"steps": 2})]
    assert hers["id"] not in str(get(url, headers=household.as_("bob")).json())


def test_the_thumbnail_cache_is_cleared_by_admins_only(household: Household) -> None:
    url = f"{household.url}/cozygen/api/clear_cache"
    for who in ("alice", "bob", "vera"):
        refused(post(url, {}, headers=household.as_(who)))
    cleared = post(url, {}, headers=household.as_("admin"))
    assert cleared.status == 200 and cleared.json()["status"] == "ok", cleared.body


def test_spoonfeeder_workflows_obey_the_same_rule(household: Household) -> None:
    mine = alices(household, "shared_stores_sf.json")
    url = f"{household.url}{SF}"
    bob, alice, admin = (household.as_(who) for who in ("bob", "alice", "admin"))
    refused(request("PUT", f"{url}/{mine}", {"workflowJson": graph(99)}, headers=bob), "NOT_YOUR_WORKFLOW")
    refused(request("PUT", f"{url}/{mine}", {"name": "bob's now"}, headers=bob), "NOT_YOUR_WORKFLOW")
    refused(request("PUT", f"{url}/{SHIPPED}", {"description": "bob's"}, headers=bob), "SHIPPED_WORKFLOW")
    refused(
        request("PATCH", f"{url}/{mine}/parameters", {"default_parameters": {"steps": 9}}, headers=bob),
        "NOT_YOUR_WORKFLOW",
    )
    refused(
        request("PATCH", f"{url}/{SHIPPED}/parameters", {"default_parameters": {}, "is_default": True}, headers=bob)
    )
    refused(post(url, {"name": mine.removesuffix(".json"), "workflowJson": graph(99)}, headers=bob))
    refused(request("DELETE", f"{url}/{mine}", headers=bob), "NOT_YOUR_WORKFLOW")
    assert workflow(household, mine) == graph(16)
    seen = get(f"{url}/{mine}", headers=admin).json()["data"]
    assert seen["name"] != "bob's now" and seen["default_parameters"] == {}

    made = post(url, {"name": "shared_stores_bob_sf", "workflowJson": graph(8)}, headers=bob)
    assert made.status == 201, made.body
    refused(
        request("PATCH", f"{url}/shared_stores_bob_sf.json/parameters", {"is_default": True}, headers=bob),
        "ADMIN_REQUIRED",
    )
    own = request("PATCH", f"{url}/shared_stores_bob_sf.json/parameters", {"default_parameters": {"steps": 3}},
                  headers=bob)  # fmt: skip
    assert own.status == 200 and own.json()["data"]["default_parameters"] == {"steps": 3}, own.body
    refused(request("DELETE", f"{url}/shared_stores_bob_sf.json", headers=alice), "NOT_YOUR_WORKFLOW")
    assert request("DELETE", f"{url}/shared_stores_bob_sf.json", headers=bob).status == 200

    assert request("PUT", f"{url}/{mine}", {"description": "at dusk"}, headers=alice).status == 200
    assert request("PUT", f"{url}/{SHIPPED}", {"description": "the admin's"}, headers=admin).status == 200
    assert request("DELETE", f"{url}/{mine}", headers=admin).status == 200
    assert get(f"{household.url}/cozygen/workflows/{mine}", headers=alice).status == 404
